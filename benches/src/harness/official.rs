//! The official `node-ipc = "=14.0.0"` crate: blocking, a thread per
//! connection, its own JSON value type, one write per event (`Connection::send`).

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use node_ipc::codec::CodecConfig;
use node_ipc::{Connection, Event, JsonValue, Message, Number, UdpEndpoint};

use super::common::{check_ack, ty, Job, Res, Sample, Target};
use super::serve::{ready, ServeArgs, UdpCounter};
use super::sock::Sock;
use super::workload::Workload;

fn config() -> CodecConfig {
    let mut config = CodecConfig::fast();
    config.max_message_size = 16 << 20;
    config.max_pending_bytes = 64 << 20;
    config
}

/// [`crate::payload`] as the official crate's JSON value.
fn payload(size: usize, seq: u64) -> JsonValue {
    let p = crate::payload(size, seq);
    JsonValue::Object(vec![
        ("id".to_owned(), JsonValue::String(p.id)),
        ("seq".to_owned(), JsonValue::Number(Number::new(p.seq.to_string()).expect("a number"))),
        ("message".to_owned(), JsonValue::String(p.message)),
    ])
}

fn object(fields: &[(&str, u64)]) -> JsonValue {
    JsonValue::Object(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), JsonValue::Number(Number::new(v.to_string()).expect("a number"))))
            .collect(),
    )
}

fn field(event: &Event, key: &str) -> u64 {
    event.data.get(key).and_then(|v| v.as_number()).and_then(|n| n.as_str().parse().ok()).unwrap_or(0)
}

fn recv_event(conn: &mut Connection<Sock>) -> Res<Event> {
    match conn.recv()? {
        Some(Message::Event(e)) => Ok(e),
        Some(Message::Raw(_)) => Err("a raw message".into()),
        None => Err("the server closed the connection".into()),
    }
}

type Writer = Arc<Mutex<Connection<Sock>>>;

#[derive(Default)]
struct Shared {
    connections: AtomicUsize,
    registered: Mutex<Vec<Writer>>,
}

pub(crate) fn serve(args: &ServeArgs) -> Res<()> {
    use super::common::Transport as T;
    let shared = Arc::new(Shared::default());
    let accepted = |sock: Sock| {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            shared.connections.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = conn(sock, &shared) {
                eprintln!("official connection: {e}");
            }
            shared.connections.fetch_sub(1, Ordering::Relaxed);
        });
    };
    match args.transport {
        T::Unix => {
            let _ = std::fs::remove_file(&args.bind);
            let listener = node_ipc::local::LocalListener::bind(&args.bind)?;
            ready(&args.bind);
            loop {
                if let Ok((s, _)) = listener.accept() {
                    accepted(Sock::Unix(s));
                }
            }
        }
        T::Tcp => {
            let listener: TcpListener = node_ipc::tcp::bind(&args.bind)?;
            ready(listener.local_addr()?.port());
            loop {
                if let Ok((s, _)) = node_ipc::tcp::accept(&listener) {
                    accepted(Sock::Tcp(s));
                }
            }
        }
        T::Udp => serve_udp(&args.bind),
        T::Tls => Err("the official crate has no TLS".into()),
    }
}

fn conn(sock: Sock, shared: &Arc<Shared>) -> Res<()> {
    let writer: Writer = Arc::new(Mutex::new(Connection::new(sock.try_clone()?, config())?));
    let mut reader = Connection::new(sock, config())?;
    let mut count = 0u64;
    let mut first = None;
    let mut last = None;
    loop {
        let event = match reader.recv()? {
            Some(Message::Event(e)) => e,
            Some(Message::Raw(_)) => continue,
            None => return Ok(()),
        };
        match event.event_type() {
            ty::RT => writer.lock().expect("writer").send(&event)?,
            ty::OW => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                count += 1;
            }
            ty::END => {
                let us = match (first, last) {
                    (Some(a), Some(b)) => Instant::duration_since(&b, a).as_micros() as u64,
                    _ => 0,
                };
                let ack = Event::new(ty::ACK, object(&[("count", count), ("us", us)]));
                writer.lock().expect("writer").send(&ack)?;
                (count, first, last) = (0, None, None);
            }
            ty::HELLO => shared.registered.lock().expect("registry").push(Arc::clone(&writer)),
            ty::STATS => {
                let stats = object(&[
                    ("connections", shared.connections.load(Ordering::Relaxed) as u64),
                    ("registered", shared.registered.lock().expect("registry").len() as u64),
                ]);
                writer.lock().expect("writer").send(&Event::new(ty::STATS, stats))?;
            }
            ty::FANOUT => {
                let (n, size) = (field(&event, "count"), field(&event, "size") as usize);
                let peers = shared.registered.lock().expect("registry").clone();
                std::thread::spawn(move || {
                    for seq in 0..n {
                        let event = Event::new(ty::FAN, payload(size, seq));
                        for peer in &peers {
                            let _ = peer.lock().expect("writer").send(&event);
                        }
                    }
                });
            }
            _ => {}
        }
    }
}

fn serve_udp(bind: &str) -> Res<()> {
    let socket = UdpSocket::bind(bind)?;
    ready(socket.local_addr()?.port());
    let mut ep = UdpEndpoint::from_socket(socket, config())?;
    let mut counter = UdpCounter::default();
    loop {
        let (message, from) = match ep.recv_from() {
            Ok(m) => m,
            Err(_) => continue,
        };
        let Message::Event(event) = message else { continue };
        match event.event_type() {
            ty::OW => counter.count(),
            ty::END => {
                let ack = counter.end();
                ep.send_to(&Event::new(ty::ACK, object(&[("count", ack.count), ("us", ack.us)])), from)?;
            }
            _ => {}
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
    let mut conn = Connection::new(Sock::connect(target)?, config())?;
    let events: Vec<Event> =
        (0..job.window as u64).map(|i| Event::new(ty::RT, payload(job.size, i))).collect();
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.window.min(job.n) {
        conn.send(&events[sent % events.len()])?;
        sent += 1;
    }
    let mut received = 0;
    while received < job.n {
        let e = recv_event(&mut conn)?;
        if e.event_type() != ty::RT {
            return Err(format!("unexpected event {}", e.event_type()).into());
        }
        received += 1;
        if sent < job.n {
            conn.send(&events[sent % events.len()])?;
            sent += 1;
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

/// One event in flight: send it, wait for the echo, time each.
fn latency(target: &Target, job: Job) -> Res<Sample> {
    let mut conn = Connection::new(Sock::connect(target)?, config())?;
    let event = Event::new(ty::RT, payload(job.size, 1));
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for _ in 0..job.n {
        let t = Instant::now();
        conn.send(&event)?;
        let echo = recv_event(&mut conn)?;
        nanos.push(t.elapsed().as_nanos() as u64);
        if echo.event_type() != ty::RT {
            return Err(format!("unexpected event {}", echo.event_type()).into());
        }
    }
    Ok(super::common::Latency::sample(nanos, start.elapsed()))
}

fn one_way(target: &Target, job: Job) -> Res<Sample> {
    let mut conn = Connection::new(Sock::connect(target)?, config())?;
    let event = Event::new(ty::OW, payload(job.size, 1));
    let start = Instant::now();
    for _ in 0..job.n {
        conn.send(&event)?;
    }
    conn.send(&Event::new(ty::END, object(&[])))?;
    let ack = recv_event(&mut conn)?;
    let elapsed = start.elapsed();
    let ack = super::common::Ack { count: field(&ack, "count"), us: field(&ack, "us") };
    check_ack(&ack, job.n)?;
    Ok(Sample { elapsed, count: job.n as u64, sent: job.n as u64, span_us: None, latency: None })
}

fn fan_out(target: &Target, job: Job) -> Res<Sample> {
    let mut readers = Vec::new();
    for _ in 0..job.clients {
        let mut conn = Connection::new(Sock::connect(target)?, config())?;
        conn.send(&Event::new(ty::HELLO, object(&[])))?;
        let n = job.n as u64;
        readers.push(std::thread::spawn(move || -> Res<u64> {
            let mut count = 0;
            while count < n {
                if recv_event(&mut conn)?.event_type() == ty::FAN {
                    count += 1;
                }
            }
            Ok(count)
        }));
    }
    let mut control = Connection::new(Sock::connect(target)?, config())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        control.send(&Event::new(ty::STATS, object(&[])))?;
        let stats = recv_event(&mut control)?;
        if field(&stats, "registered") >= job.clients as u64 {
            break;
        }
        if Instant::now() > deadline {
            return Err("fan-out clients did not register".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    control.send(&Event::new(ty::FANOUT, object(&[("count", job.n as u64), ("size", job.size as u64)])))?;
    let mut total = 0;
    for r in readers {
        total += r.join().map_err(|_| "a reader panicked")??;
    }
    Ok(Sample { elapsed: start.elapsed(), count: total, sent: total, span_us: None, latency: None })
}

fn udp(target: &Target, job: Job) -> Res<Sample> {
    let server = target.socket_addr().ok_or("udp needs an address")?;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut ep = UdpEndpoint::from_socket(socket, config())?;
    let event = Event::new(ty::OW, payload(job.size, 1));
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.n {
        let due_now = super::common::due(job.rate, job.n, start.elapsed());
        while sent < due_now {
            ep.send_to(&event, server)?;
            sent += 1;
        }
        if sent < job.n {
            std::thread::sleep(super::common::PACE_TICK);
        }
    }
    let send_time = start.elapsed();
    let end = Event::new(ty::END, object(&[]));
    for _ in 0..25 {
        ep.send_to(&end, server)?;
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            match ep.recv_from() {
                Ok((Message::Event(e), _)) if e.event_type() == ty::ACK => {
                    return Ok(Sample {
                        elapsed: send_time,
                        count: field(&e, "count"),
                        sent: job.n as u64,
                        span_us: Some(field(&e, "us")),
                        latency: None,
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    Err("no ack from the udp server".into())
}
