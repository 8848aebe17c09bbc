//! The raw floor: the same frames moved with no JSON work, blocking std
//! sockets, a thread per connection, reads and writes of whole buffers. It is
//! the physical limit of each workload on this machine.
//!
//! The server learns what a connection is for from its first frame: `rt`
//! connections are echoed byte for byte, `ow` connections are counted
//! (delimiters, with memchr) until the client half-closes, then acked; other
//! connections carry a few control frames (hello, stats, fanout), parsed.

use std::io::{self, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{
    check_ack, due, frame, frame_prefix, frames, ty, Ack, FanoutReq, Job, Latency, Res, Sample, Stats,
    Target, PACE_TICK,
};
use super::serve::{ready, ServeArgs, UdpCounter};
use super::sock::Sock;
use super::workload::Workload;

const READ_BUF: usize = 256 * 1024;

#[derive(Default)]
struct Shared {
    connections: AtomicUsize,
    registered: Mutex<Vec<Sock>>,
}

pub(crate) fn serve(args: &ServeArgs) -> Res<()> {
    use super::common::Transport as T;
    let shared = Arc::new(Shared::default());
    let mut held = Vec::new();
    let mut accepted = |sock: Sock| {
        if args.idle {
            held.push(sock);
            return;
        }
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            shared.connections.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = conn(sock, &shared) {
                eprintln!("floor connection: {e}");
            }
            shared.connections.fetch_sub(1, Ordering::Relaxed);
        });
    };
    match args.transport {
        T::Unix => {
            let _ = std::fs::remove_file(&args.bind);
            let listener = UnixListener::bind(&args.bind)?;
            ready(&args.bind);
            loop {
                if let Ok((s, _)) = listener.accept() {
                    accepted(Sock::Unix(s));
                }
            }
        }
        T::Tcp => {
            let listener = TcpListener::bind(&args.bind)?;
            ready(listener.local_addr()?.port());
            loop {
                if let Ok((s, _)) = listener.accept() {
                    let _ = s.set_nodelay(true);
                    accepted(Sock::Tcp(s));
                }
            }
        }
        T::Udp => serve_udp(&args.bind),
        T::Tls => Err("the floor has no TLS lane".into()),
    }
}

fn conn(mut sock: Sock, shared: &Arc<Shared>) -> Res<()> {
    let mut buf = vec![0u8; READ_BUF];
    let mut filled = 0;
    // Enough bytes to tell the first frame's type.
    let rt = frame_prefix(ty::RT);
    let ow = frame_prefix(ty::OW);
    while filled < rt.len().max(ow.len()) + 1 {
        let n = sock.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
    if buf.starts_with(&rt) {
        // Echo everything, as read.
        sock.write_all(&buf[..filled])?;
        loop {
            let n = sock.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            sock.write_all(&buf[..n])?;
        }
    } else if buf.starts_with(&ow) {
        // Count delimiters until the client half-closes.
        let start = Instant::now();
        let mut count = memchr::memchr_iter(0x0c, &buf[..filled]).count() as u64;
        loop {
            let n = sock.read(&mut buf)?;
            if n == 0 {
                break;
            }
            count += memchr::memchr_iter(0x0c, &buf[..n]).count() as u64;
        }
        let ack = Ack { count, us: start.elapsed().as_micros() as u64 };
        sock.write_all(&frame(ty::ACK, &ack))?;
        Ok(())
    } else {
        control(sock, shared, buf, filled)
    }
}

/// A connection of control frames: parsed one by one (there are few).
fn control(mut sock: Sock, shared: &Arc<Shared>, mut buf: Vec<u8>, mut filled: usize) -> Res<()> {
    loop {
        while let Some(end) = memchr::memchr(0x0c, &buf[..filled]) {
            let v: serde_json::Value = serde_json::from_slice(&buf[..end])?;
            match v["type"].as_str() {
                Some(ty::HELLO) => shared.registered.lock().expect("registry").push(sock.try_clone()?),
                Some(ty::STATS) => {
                    let stats = Stats {
                        connections: shared.connections.load(Ordering::Relaxed) as u64,
                        registered: shared.registered.lock().expect("registry").len() as u64,
                    };
                    sock.write_all(&frame(ty::STATS, &stats))?;
                }
                Some(ty::FANOUT) => {
                    let req: FanoutReq = serde_json::from_value(v["data"].clone())?;
                    broadcast(shared, &req)?;
                }
                _ => {}
            }
            buf.copy_within(end + 1..filled, 0);
            filled -= end + 1;
        }
        if filled == buf.len() {
            return Err("control frame too large".into());
        }
        let n = sock.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
}

/// Writes the frames to every registered client, a writer thread each.
fn broadcast(shared: &Arc<Shared>, req: &FanoutReq) -> Res<()> {
    /// The frames of the last fan-out: count, size, bytes.
    type Frames = Option<(u64, u64, Arc<Vec<u8>>)>;
    static CACHE: Mutex<Frames> = Mutex::new(None);
    let bytes = {
        let mut cache = CACHE.lock().expect("cache");
        match &*cache {
            Some((c, s, bytes)) if *c == req.count && *s == req.size => Arc::clone(bytes),
            _ => {
                let bytes = Arc::new(frames(ty::FAN, req.size as usize, req.count as usize));
                *cache = Some((req.count, req.size, Arc::clone(&bytes)));
                bytes
            }
        }
    };
    let peers: Vec<Sock> =
        shared.registered.lock().expect("registry").iter().map(Sock::try_clone).collect::<io::Result<_>>()?;
    for mut peer in peers {
        let bytes = Arc::clone(&bytes);
        std::thread::spawn(move || peer.write_all(&bytes));
    }
    Ok(())
}

fn serve_udp(bind: &str) -> Res<()> {
    let socket = UdpSocket::bind(bind)?;
    ready(socket.local_addr()?.port());
    let ow = frame_prefix(ty::OW);
    let end = frame_prefix(ty::END);
    let mut counter = UdpCounter::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        if buf[..n].starts_with(&ow) {
            counter.count();
        } else if buf[..n].starts_with(&end) {
            socket.send_to(&frame(ty::ACK, &counter.end()), from)?;
        }
    }
}

/// Runs one workload of `job` against `target`.
pub(crate) fn client(workload: Workload, target: &Target, job: Job) -> Res<Sample> {
    match workload {
        Workload::RoundTrip => round_trips(target, job),
        Workload::OneWay64 | Workload::OneWay1K | Workload::Large => one_way(target, job),
        Workload::FanOut => fan_out(target, job),
        Workload::Udp => udp(target, job),
        Workload::Latency => latency(target, job),
        Workload::Idle => Err("idle is measured by the harness".into()),
    }
}

fn round_trips(target: &Target, job: Job) -> Res<Sample> {
    let mut sock = Sock::connect(target)?;
    let window = job.window.min(job.n);
    let wire = frames(ty::RT, job.size, window);
    let frame_len = wire.len() / window;
    let mut buf = vec![0u8; READ_BUF];
    let start = Instant::now();
    sock.write_all(&wire)?;
    let mut sent = window;
    let mut received = 0;
    while received < job.n {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        let k = memchr::memchr_iter(0x0c, &buf[..n]).count();
        received += k;
        let more = k.min(job.n - sent);
        if more > 0 {
            sock.write_all(&wire[..more * frame_len])?;
            sent += more;
        }
    }
    Ok(Sample {
        elapsed: start.elapsed(),
        count: received as u64,
        sent: sent as u64,
        span_us: None,
        latency: None,
    })
}

/// One frame in flight: write it, read the echo, time each.
fn latency(target: &Target, job: Job) -> Res<Sample> {
    let mut sock = Sock::connect(target)?;
    let one = frame(ty::RT, &crate::payload(job.size, 1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for _ in 0..job.n {
        let t = Instant::now();
        sock.write_all(&one)?;
        sock.read_reply(&mut buf)?;
        nanos.push(t.elapsed().as_nanos() as u64);
    }
    Ok(Latency::sample(nanos, start.elapsed()))
}

fn one_way(target: &Target, job: Job) -> Res<Sample> {
    let mut sock = Sock::connect(target)?;
    let one = frame(ty::OW, &crate::payload(job.size, 1));
    let batch = (READ_BUF / one.len()).max(1);
    let chunk: Vec<u8> = one.iter().copied().cycle().take(one.len() * batch.min(job.n)).collect();
    let start = Instant::now();
    let mut left = job.n;
    while left > 0 {
        let k = left.min(batch);
        sock.write_all(&chunk[..k * one.len()])?;
        left -= k;
    }
    sock.shutdown_write()?;
    let mut reply = Vec::new();
    sock.read_to_end(&mut reply)?;
    let elapsed = start.elapsed();
    let v: serde_json::Value = serde_json::from_slice(reply.strip_suffix(b"\x0c").unwrap_or(&reply))?;
    let ack: Ack = serde_json::from_value(v["data"].clone())?;
    check_ack(&ack, job.n)?;
    Ok(Sample { elapsed, count: job.n as u64, sent: job.n as u64, span_us: None, latency: None })
}

fn fan_out(target: &Target, job: Job) -> Res<Sample> {
    let mut readers = Vec::new();
    for _ in 0..job.clients {
        let mut sock = Sock::connect(target)?;
        sock.write_all(&frame(ty::HELLO, &serde_json::json!({})))?;
        let n = job.n;
        readers.push(std::thread::spawn(move || -> io::Result<u64> {
            let mut buf = vec![0u8; 64 * 1024];
            let mut count = 0;
            while count < n {
                let k = sock.read(&mut buf)?;
                if k == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                count += memchr::memchr_iter(0x0c, &buf[..k]).count();
            }
            Ok(count as u64)
        }));
    }
    let mut control = Sock::connect(target)?;
    wait_registered(&mut control, job.clients)?;
    let start = Instant::now();
    control.write_all(&frame(ty::FANOUT, &FanoutReq { count: job.n as u64, size: job.size as u64 }))?;
    let mut total = 0;
    for r in readers {
        total += r.join().map_err(|_| "a reader panicked")??;
    }
    Ok(Sample { elapsed: start.elapsed(), count: total, sent: total, span_us: None, latency: None })
}

/// Asks for stats until `clients` have registered.
fn wait_registered(control: &mut Sock, clients: usize) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 4096];
    loop {
        control.write_all(&frame(ty::STATS, &serde_json::json!({})))?;
        let mut filled = 0;
        let end = loop {
            let n = control.read(&mut buf[filled..])?;
            if n == 0 {
                return Err("the server closed the control connection".into());
            }
            filled += n;
            if let Some(end) = memchr::memchr(0x0c, &buf[..filled]) {
                break end;
            }
        };
        let v: serde_json::Value = serde_json::from_slice(&buf[..end])?;
        let stats: Stats = serde_json::from_value(v["data"].clone())?;
        if stats.registered >= clients as u64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {} of {clients} clients registered", stats.registered).into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn udp(target: &Target, job: Job) -> Res<Sample> {
    let server = target.socket_addr().ok_or("udp needs an address")?;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let one = frame(ty::OW, &crate::payload(job.size, 1));
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.n {
        let due_now = due(job.rate, job.n, start.elapsed());
        while sent < due_now {
            socket.send_to(&one, server)?;
            sent += 1;
        }
        if sent < job.n {
            std::thread::sleep(PACE_TICK);
        }
    }
    let send_time = start.elapsed();
    udp_finish(&socket, server, job, send_time)
}

/// Sends `end` until the ack arrives; the sample of a UDP run.
fn udp_finish(
    socket: &UdpSocket,
    server: std::net::SocketAddr,
    job: Job,
    send_time: Duration,
) -> Res<Sample> {
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let end = frame(ty::END, &serde_json::json!({}));
    let ack_prefix = frame_prefix(ty::ACK);
    let mut buf = vec![0u8; 65536];
    for _ in 0..25 {
        socket.send_to(&end, server)?;
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            let Ok((n, _)) = socket.recv_from(&mut buf) else { break };
            if buf[..n].starts_with(&ack_prefix) {
                let v: serde_json::Value =
                    serde_json::from_slice(buf[..n].strip_suffix(b"\x0c").unwrap_or(&buf[..n]))?;
                let ack: Ack = serde_json::from_value(v["data"].clone())?;
                return Ok(Sample {
                    elapsed: send_time,
                    count: ack.count,
                    sent: job.n as u64,
                    span_us: Some(ack.us),
                    latency: None,
                });
            }
        }
    }
    Err("no ack from the udp server".into())
}
