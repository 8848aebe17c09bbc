//! The reactor's floor: the raw floor's design (the same frames, no JSON
//! work, whole buffers) on tokio instead of blocking threads: one task per
//! connection on a current-thread runtime, as the tokio lanes run. What the
//! tokio lanes cost above it is theirs; what it costs above the raw floor is
//! the reactor's.
//!
//! As the raw floor's server, it learns what a connection is for from its
//! first frame: `rt` connections are echoed byte for byte, `ow` connections are
//! counted until the client half-closes, then acked; other connections carry
//! a few control frames (hello, stats, fanout), parsed. A connection holds no
//! buffer until its first bytes arrive.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

use super::common::{
    check_ack, due, frame, frame_prefix, frames, ty, Ack, FanoutReq, Job, Latency, Res, Sample, Stats,
    Target, PACE_TICK,
};
use super::serve::{ready, ServeArgs, UdpCounter};
use super::workload::Workload;

const READ_BUF: usize = 256 * 1024;

type Writer = Box<dyn AsyncWrite + Send + Unpin>;

#[derive(Default)]
struct Shared {
    connections: AtomicUsize,
    /// The write halves of the connections that said hello.
    registered: Mutex<Vec<Writer>>,
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Serves `args` until the process is killed (or stdin closes).
pub(crate) fn serve(args: &ServeArgs) -> Res<()> {
    use super::common::Transport as T;
    runtime()?.block_on(async move {
        let shared = Arc::new(Shared::default());
        match args.transport {
            T::Unix => {
                let _ = std::fs::remove_file(&args.bind);
                let listener = UnixListener::bind(&args.bind)?;
                ready(&args.bind);
                loop {
                    if let Ok((s, _)) = listener.accept().await {
                        let (r, w) = s.into_split();
                        spawn_conn(r, Box::new(w), &shared);
                    }
                }
            }
            T::Tcp => {
                let listener = TcpListener::bind(&args.bind).await?;
                ready(listener.local_addr()?.port());
                loop {
                    if let Ok((s, _)) = listener.accept().await {
                        let _ = s.set_nodelay(true);
                        let (r, w) = s.into_split();
                        spawn_conn(r, Box::new(w), &shared);
                    }
                }
            }
            T::Udp => serve_udp(&args.bind).await,
            T::Tls => Err("the tokio floor has no TLS lane".into()),
        }
    })
}

fn spawn_conn<R: AsyncRead + Send + Unpin + 'static>(r: R, w: Writer, shared: &Arc<Shared>) {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        shared.connections.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = conn(r, w, &shared).await {
            eprintln!("tokio-floor connection: {e}");
        }
        shared.connections.fetch_sub(1, Ordering::Relaxed);
    });
}

async fn conn<R: AsyncRead + Unpin>(mut r: R, mut w: Writer, shared: &Arc<Shared>) -> Res<()> {
    // Enough bytes to tell the first frame's type, read on the stack: an idle
    // connection holds no buffer.
    let rt = frame_prefix(ty::RT);
    let ow = frame_prefix(ty::OW);
    let mut first = [0u8; 512];
    let mut filled = 0;
    while filled < rt.len().max(ow.len()) + 1 {
        let n = r.read(&mut first[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
    let mut buf = vec![0u8; READ_BUF];
    buf[..filled].copy_from_slice(&first[..filled]);
    if buf.starts_with(&rt) {
        // Echo everything, as read.
        w.write_all(&buf[..filled]).await?;
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            w.write_all(&buf[..n]).await?;
        }
    } else if buf.starts_with(&ow) {
        // Count delimiters until the client half-closes.
        let start = Instant::now();
        let mut count = memchr::memchr_iter(0x0c, &buf[..filled]).count() as u64;
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            count += memchr::memchr_iter(0x0c, &buf[..n]).count() as u64;
        }
        let ack = Ack { count, us: start.elapsed().as_micros() as u64 };
        w.write_all(&frame(ty::ACK, &ack)).await?;
        Ok(())
    } else {
        control(r, w, shared, buf, filled).await
    }
}

/// A connection of control frames: parsed one by one (there are few).
async fn control<R: AsyncRead + Unpin>(
    mut r: R,
    w: Writer,
    shared: &Arc<Shared>,
    mut buf: Vec<u8>,
    mut filled: usize,
) -> Res<()> {
    let mut w = Some(w);
    loop {
        while let Some(end) = memchr::memchr(0x0c, &buf[..filled]) {
            let v: serde_json::Value = serde_json::from_slice(&buf[..end])?;
            match v["type"].as_str() {
                Some(ty::HELLO) => {
                    if let Some(w) = w.take() {
                        shared.registered.lock().expect("registry").push(w);
                    }
                }
                Some(ty::STATS) => {
                    let stats = Stats {
                        connections: shared.connections.load(Ordering::Relaxed) as u64,
                        registered: shared.registered.lock().expect("registry").len() as u64,
                    };
                    if let Some(w) = &mut w {
                        w.write_all(&frame(ty::STATS, &stats)).await?;
                    }
                }
                Some(ty::FANOUT) => {
                    let req: FanoutReq = serde_json::from_value(v["data"].clone())?;
                    broadcast(shared, &req);
                }
                _ => {}
            }
            buf.copy_within(end + 1..filled, 0);
            filled -= end + 1;
        }
        if filled == buf.len() {
            return Err("control frame too large".into());
        }
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
}

/// Writes the frames to every registered client (who then leave the
/// registry), a task each.
fn broadcast(shared: &Arc<Shared>, req: &FanoutReq) {
    let bytes = Arc::new(frames(ty::FAN, req.size as usize, req.count as usize));
    let peers = std::mem::take(&mut *shared.registered.lock().expect("registry"));
    for mut peer in peers {
        let bytes = Arc::clone(&bytes);
        tokio::spawn(async move { peer.write_all(&bytes).await });
    }
}

async fn serve_udp(bind: &str) -> Res<()> {
    let socket = UdpSocket::bind(bind).await?;
    ready(socket.local_addr()?.port());
    let ow = frame_prefix(ty::OW);
    let end = frame_prefix(ty::END);
    let mut counter = UdpCounter::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        if buf[..n].starts_with(&ow) {
            counter.count();
        } else if buf[..n].starts_with(&end) {
            socket.send_to(&frame(ty::ACK, &counter.end()), from).await?;
        }
    }
}

/// Runs `$body` with `$s` bound to a fresh connection to `$target`.
macro_rules! with_socket {
    ($target:expr, |$s:ident| $body:expr) => {
        match $target {
            Target::Unix(path) => {
                let $s = UnixStream::connect(path).await?;
                $body
            }
            Target::Tcp(addr) => {
                let $s = TcpStream::connect(addr).await?;
                $s.set_nodelay(true)?;
                $body
            }
            _ => return Err("the tokio floor has no such stream transport".into()),
        }
    };
}

/// Runs one workload of `job` against `target` on a current-thread runtime.
pub(crate) fn client(workload: Workload, target: &Target, job: Job) -> Res<Sample> {
    use Workload as W;
    runtime()?.block_on(async move {
        match workload {
            W::RoundTrip => with_socket!(target, |s| round_trips(s, job).await),
            W::OneWay64 | W::OneWay1K | W::Large => with_socket!(target, |s| one_way(s, job).await),
            W::Latency => with_socket!(target, |s| latency(s, job).await),
            W::FanOut => fan_out(target, job).await,
            W::Udp => udp(target, job).await,
            W::Idle => Err("idle is measured by the harness".into()),
        }
    })
}

async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, job: Job) -> Res<Sample> {
    let window = job.window.min(job.n);
    let wire = frames(ty::RT, job.size, window);
    let frame_len = wire.len() / window;
    let mut buf = vec![0u8; READ_BUF];
    let start = Instant::now();
    s.write_all(&wire).await?;
    let mut sent = window;
    let mut received = 0;
    while received < job.n {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        let k = memchr::memchr_iter(0x0c, &buf[..n]).count();
        received += k;
        let more = k.min(job.n - sent);
        if more > 0 {
            s.write_all(&wire[..more * frame_len]).await?;
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
async fn latency<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, job: Job) -> Res<Sample> {
    let one = frame(ty::RT, &crate::payload(job.size, 1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for _ in 0..job.n {
        let t = Instant::now();
        s.write_all(&one).await?;
        let mut filled = 0;
        loop {
            let n = s.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            filled += n;
            if buf[filled - 1] == 0x0c {
                break;
            }
        }
        nanos.push(t.elapsed().as_nanos() as u64);
    }
    Ok(Latency::sample(nanos, start.elapsed()))
}

async fn one_way<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, job: Job) -> Res<Sample> {
    let one = frame(ty::OW, &crate::payload(job.size, 1));
    let batch = (READ_BUF / one.len()).max(1);
    let chunk: Vec<u8> = one.iter().copied().cycle().take(one.len() * batch.min(job.n)).collect();
    let start = Instant::now();
    let mut left = job.n;
    while left > 0 {
        let k = left.min(batch);
        s.write_all(&chunk[..k * one.len()]).await?;
        left -= k;
    }
    s.shutdown().await?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await?;
    let elapsed = start.elapsed();
    let v: serde_json::Value = serde_json::from_slice(reply.strip_suffix(b"\x0c").unwrap_or(&reply))?;
    let ack: Ack = serde_json::from_value(v["data"].clone())?;
    check_ack(&ack, job.n)?;
    Ok(Sample { elapsed, count: job.n as u64, sent: job.n as u64, span_us: None, latency: None })
}

async fn fan_out(target: &Target, job: Job) -> Res<Sample> {
    let mut readers = Vec::new();
    for _ in 0..job.clients {
        let reader = with_socket!(target, |s| {
            let mut s = s;
            s.write_all(&frame(ty::HELLO, &serde_json::json!({}))).await?;
            let n = job.n;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut count = 0;
                while count < n {
                    let k = s.read(&mut buf).await?;
                    if k == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                    }
                    count += memchr::memchr_iter(0x0c, &buf[..k]).count();
                }
                Ok(count as u64)
            })
        });
        readers.push(reader);
    }
    with_socket!(target, |control| {
        let mut control = control;
        wait_registered(&mut control, job.clients).await?;
        let start = Instant::now();
        control
            .write_all(&frame(ty::FANOUT, &FanoutReq { count: job.n as u64, size: job.size as u64 }))
            .await?;
        let mut total = 0;
        for r in readers {
            total += r.await.map_err(|_| "a reader panicked")??;
        }
        Ok(Sample { elapsed: start.elapsed(), count: total, sent: total, span_us: None, latency: None })
    })
}

/// Asks for stats until `clients` have registered.
async fn wait_registered<S: AsyncRead + AsyncWrite + Unpin>(control: &mut S, clients: usize) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 4096];
    loop {
        control.write_all(&frame(ty::STATS, &serde_json::json!({}))).await?;
        let mut filled = 0;
        let end = loop {
            let n = control.read(&mut buf[filled..]).await?;
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
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn udp(target: &Target, job: Job) -> Res<Sample> {
    let server = target.socket_addr().ok_or("udp needs an address")?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let one = frame(ty::OW, &crate::payload(job.size, 1));
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.n {
        let due_now = due(job.rate, job.n, start.elapsed());
        while sent < due_now {
            socket.send_to(&one, server).await?;
            sent += 1;
        }
        if sent < job.n {
            tokio::time::sleep(PACE_TICK).await;
        }
    }
    let send_time = start.elapsed();
    let end = frame(ty::END, &serde_json::json!({}));
    let ack_prefix = frame_prefix(ty::ACK);
    let mut buf = vec![0u8; 65536];
    for _ in 0..25 {
        socket.send_to(&end, server).await?;
        let wait = tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
        if let Ok(Ok((n, _))) = wait {
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
