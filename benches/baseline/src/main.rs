//! ipc-bench's `baseline` lane: the node-ipc wire as a tokio user writes it
//! without our crates. tokio's current-thread runtime, tokio-util's `Framed`
//! with `AnyDelimiterCodec`, every frame parsed into a `serde_json::Value`,
//! every message built as a `Value` and serialized; frames fed while more input
//! is ready and flushed once the read buffer is empty.
//!
//! It speaks ipc-bench's benchmark protocol (see `benches/src/harness/common.rs`):
//!
//! - `ipc-bench-baseline serve transport=unix|tcp|udp4 bind=<path or 127.0.0.1:0>`
//!   prints `READY <path or port>` and serves until stdin closes;
//! - `ipc-bench-baseline client workload=rt|ow|latency|fanout|udp transport=..
//!   target=<path or port> n=.. size=.. window=.. clients=..` prints
//!   `RESULT {"ms", "count", "sent", "us", "lat"}` (or `ERROR <text>`).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::codec::{AnyDelimiterCodec, Framed};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The payload of every data event: `{id, seq, message}`, `size` bytes of JSON.
#[derive(Serialize)]
struct Payload {
    id: &'static str,
    seq: u64,
    message: String,
}

const OVERHEAD: usize = r#"{"id":"client-1","seq":10000,"message":""}"#.len();

fn payload(size: usize, seq: u64) -> Value {
    let p = Payload {
        id: "client-1",
        seq: 10_000 + seq % 90_000,
        message: "x".repeat(size.saturating_sub(OVERHEAD)),
    };
    serde_json::to_value(p).expect("a payload serializes")
}

#[derive(Serialize, Deserialize)]
struct Ack {
    count: u64,
    us: u64,
}

#[derive(Serialize, Deserialize)]
struct Stats {
    connections: u64,
    registered: u64,
}

#[derive(Serialize, Deserialize)]
struct FanoutReq {
    count: u64,
    size: u64,
}

fn codec() -> AnyDelimiterCodec {
    AnyDelimiterCodec::new_with_max_length(b"\x0c".to_vec(), b"\x0c".to_vec(), 16 << 20)
}

/// A message as a user builds it.
fn message(event_type: &str, data: Value) -> String {
    serde_json::to_string(&json!({"type": event_type, "data": data})).expect("a Value serializes")
}

fn parse(frame: &[u8]) -> Res<Value> {
    let v: Value = serde_json::from_slice(frame)?;
    if !v.is_object() {
        return Err("a frame that is not an object".into());
    }
    Ok(v)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((role, rest)) = args.split_first() else {
        eprintln!("usage: ipc-bench-baseline serve|client key=value...");
        std::process::exit(2);
    };
    let mut kv = HashMap::new();
    for arg in rest {
        if let Some((k, v)) = arg.split_once('=') {
            kv.insert(k.to_owned(), v.to_owned());
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let result = match role.as_str() {
        "serve" => {
            // The harness holds our stdin: when it closes, so do we.
            std::thread::spawn(|| {
                let mut sink = [0u8; 64];
                while let Ok(n) = std::io::stdin().read(&mut sink) {
                    if n == 0 {
                        break;
                    }
                }
                std::process::exit(0);
            });
            rt.block_on(serve(&kv))
        }
        "client" => rt.block_on(client(&kv)).map(|result| {
            println!("RESULT {result}");
        }),
        other => Err(format!("unknown role {other}").into()),
    };
    if let Err(e) = result {
        println!("ERROR {}", e.to_string().replace('\n', " "));
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
}

fn arg<'a>(kv: &'a HashMap<String, String>, key: &str) -> Res<&'a str> {
    kv.get(key).map(String::as_str).ok_or_else(|| format!("{key}= missing").into())
}

fn ready(addr: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY {addr}");
    let _ = out.flush();
}

#[derive(Default)]
struct Shared {
    connections: AtomicUsize,
    registered: Mutex<Vec<mpsc::Sender<Arc<str>>>>,
}

async fn serve(kv: &HashMap<String, String>) -> Res<()> {
    let bind = arg(kv, "bind")?;
    let shared = Arc::new(Shared::default());
    match arg(kv, "transport")? {
        "unix" => {
            let _ = std::fs::remove_file(bind);
            let listener = UnixListener::bind(bind)?;
            ready(bind);
            loop {
                let (s, _) = listener.accept().await?;
                tokio::spawn(connection(s, Arc::clone(&shared)));
            }
        }
        "tcp" => {
            let listener = TcpListener::bind(bind).await?;
            ready(listener.local_addr()?.port());
            loop {
                let (s, _) = listener.accept().await?;
                s.set_nodelay(true)?;
                tokio::spawn(connection(s, Arc::clone(&shared)));
            }
        }
        "udp4" => serve_udp(bind).await,
        other => Err(format!("unknown transport {other}").into()),
    }
}

/// What one connection of the server keeps.
#[derive(Default)]
struct Conn {
    /// Broadcasts to this connection, once it said hello.
    fan: Option<mpsc::Receiver<Arc<str>>>,
    count: u64,
    first: Option<Instant>,
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(stream: S, shared: Arc<Shared>) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let mut framed = Framed::new(stream, codec());
    let mut conn = Conn::default();
    if let Err(e) = serve_connection(&mut framed, &mut conn, &shared).await {
        eprintln!("connection ended: {e}");
    }
    shared.connections.fetch_sub(1, Ordering::Relaxed);
}

async fn next_broadcast(fan: &mut Option<mpsc::Receiver<Arc<str>>>) -> Option<Arc<str>> {
    match fan {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, AnyDelimiterCodec>,
    conn: &mut Conn,
    shared: &Arc<Shared>,
) -> Res<()> {
    loop {
        tokio::select! {
            frame = framed.next() => {
                let Some(frame) = frame else { return Ok(()) };
                let mut frame = Some(frame?);
                // Everything already read is handled before one flush.
                while let Some(f) = frame.take() {
                    handle(framed, conn, shared, &f).await?;
                    frame = match framed.next().now_or_never() {
                        Some(Some(f)) => Some(f?),
                        Some(None) => return Ok(()),
                        None => None,
                    };
                }
                SinkExt::<String>::flush(framed).await?;
            }
            Some(out) = next_broadcast(&mut conn.fan) => {
                framed.feed(out).await?;
                while let Some(Ok(out)) = conn.fan.as_mut().map(mpsc::Receiver::try_recv) {
                    framed.feed(out).await?;
                }
                SinkExt::<String>::flush(framed).await?;
            }
        }
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, AnyDelimiterCodec>,
    conn: &mut Conn,
    shared: &Arc<Shared>,
    frame: &[u8],
) -> Res<()> {
    let Ok(mut v) = parse(frame) else { return Ok(()) };
    match v["type"].as_str() {
        Some("rt") => framed.feed(message("rt", v["data"].take())).await?,
        Some("ow") => {
            conn.first.get_or_insert_with(Instant::now);
            conn.count += 1;
        }
        Some("end") => {
            let us = conn.first.take().map_or(0, |t| t.elapsed().as_micros() as u64);
            let ack = Ack { count: std::mem::take(&mut conn.count), us };
            framed.feed(message("ack", serde_json::to_value(ack)?)).await?;
        }
        Some("hello") if conn.fan.is_none() => {
            let (tx, rx) = mpsc::channel(1024);
            shared.registered.lock().expect("registry").push(tx);
            conn.fan = Some(rx);
        }
        Some("stats") => {
            let stats = Stats {
                connections: shared.connections.load(Ordering::Relaxed) as u64,
                registered: shared.registered.lock().expect("registry").len() as u64,
            };
            framed.feed(message("stats", serde_json::to_value(stats)?)).await?;
        }
        Some("fanout") => {
            let req: FanoutReq = serde_json::from_value(v["data"].take())?;
            let peers = shared.registered.lock().expect("registry").clone();
            tokio::spawn(async move {
                for seq in 0..req.count {
                    let out: Arc<str> = Arc::from(message("fan", payload(req.size as usize, seq)));
                    for peer in &peers {
                        if let Err(mpsc::error::TrySendError::Full(out)) = peer.try_send(Arc::clone(&out)) {
                            let _ = peer.send(out).await;
                        }
                    }
                }
            });
        }
        _ => {}
    }
    Ok(())
}

async fn serve_udp(bind: &str) -> Res<()> {
    let socket = UdpSocket::bind(bind).await?;
    ready(socket.local_addr()?.port());
    let (mut count, mut first, mut last, mut ended) = (0u64, None::<Instant>, None::<Instant>, false);
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        for frame in buf[..n].split(|b| *b == 0x0c).filter(|f| !f.is_empty()) {
            let Ok(v) = parse(frame) else { continue };
            match v["type"].as_str() {
                Some("ow") => {
                    if ended {
                        (count, first, ended) = (0, None, false);
                    }
                    let now = Instant::now();
                    first.get_or_insert(now);
                    last = Some(now);
                    count += 1;
                }
                Some("end") => {
                    ended = true;
                    let us = match (first, last) {
                        (Some(a), Some(b)) => b.duration_since(a).as_micros() as u64,
                        _ => 0,
                    };
                    let m = format!("{}\x0c", message("ack", serde_json::to_value(Ack { count, us })?));
                    socket.send_to(m.as_bytes(), from).await?;
                }
                _ => {}
            }
        }
    }
}

/// One client run's result, as `RESULT` prints it.
struct Outcome {
    elapsed: Duration,
    count: u64,
    sent: u64,
    us: Option<u64>,
    lat: Option<[f64; 3]>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = json!({
            "ms": self.elapsed.as_secs_f64() * 1000.0,
            "count": self.count,
            "sent": self.sent,
            "us": self.us,
            "lat": self.lat,
        });
        write!(f, "{v}")
    }
}

struct Job {
    n: usize,
    size: usize,
    window: usize,
    clients: usize,
    /// UDP: events per second offered (sent in 1 ms bursts).
    rate: usize,
}

/// Runs `$body` with `$s` bound to a fresh connection to `$target`.
macro_rules! with_stream {
    ($transport:expr, $target:expr, |$s:ident| $body:expr) => {
        match $transport {
            "unix" => {
                let $s = UnixStream::connect($target).await?;
                $body
            }
            "tcp" => {
                let $s = TcpStream::connect(tcp_addr($target)?).await?;
                $s.set_nodelay(true)?;
                $body
            }
            other => return Err(format!("not a stream transport: {other}").into()),
        }
    };
}

fn tcp_addr(port: &str) -> Res<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>()?)))
}

async fn client(kv: &HashMap<String, String>) -> Res<Outcome> {
    let number = |k: &str, default: usize| -> Res<usize> {
        kv.get(k).map_or(Ok(default), |v| v.parse().map_err(|e| format!("{k}: {e}").into()))
    };
    let job = Job {
        n: number("n", 1000)?,
        size: number("size", 64)?,
        window: number("window", 64)?,
        clients: number("clients", 100)?,
        rate: number("rate", 100_000)?,
    };
    let transport = arg(kv, "transport")?;
    let target = arg(kv, "target")?;
    match arg(kv, "workload")? {
        "rt" => with_stream!(transport, target, |s| round_trips(s, &job).await),
        "ow" => with_stream!(transport, target, |s| one_way(s, &job).await),
        "latency" => with_stream!(transport, target, |s| latency(s, &job).await),
        "fanout" => fan_out(transport, target, &job).await,
        "udp" => udp(tcp_addr(target)?, &job).await,
        other => Err(format!("unknown workload {other}").into()),
    }
}

async fn next_frame<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, AnyDelimiterCodec>,
) -> Res<Value> {
    match framed.next().await {
        Some(frame) => parse(&frame?),
        None => Err("the server closed the connection".into()),
    }
}

async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: &Job) -> Res<Outcome> {
    let mut framed = Framed::new(stream, codec());
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.window.min(job.n) {
        framed.feed(message("rt", payload(job.size, sent as u64))).await?;
        sent += 1;
    }
    SinkExt::<String>::flush(&mut framed).await?;
    let mut received = 0;
    while received < job.n {
        let mut reply = Some(next_frame(&mut framed).await?);
        // Every reply already read is answered before one flush.
        while let Some(v) = reply.take() {
            if v["type"] != "rt" {
                return Err(format!("unexpected message {v}").into());
            }
            received += 1;
            if sent < job.n {
                framed.feed(message("rt", payload(job.size, sent as u64))).await?;
                sent += 1;
            }
            reply = match framed.next().now_or_never() {
                Some(Some(frame)) => Some(parse(&frame?)?),
                Some(None) => return Err("the server closed the connection".into()),
                None => None,
            };
        }
        SinkExt::<String>::flush(&mut framed).await?;
    }
    Ok(Outcome { elapsed: start.elapsed(), count: received as u64, sent: sent as u64, us: None, lat: None })
}

/// One event in flight: send it, wait for the echo, time each.
async fn latency<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: &Job) -> Res<Outcome> {
    let mut framed = Framed::new(stream, codec());
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for seq in 0..job.n {
        let t = Instant::now();
        framed.send(message("rt", payload(job.size, seq as u64))).await?;
        let v = next_frame(&mut framed).await?;
        nanos.push(t.elapsed().as_nanos() as u64);
        if v["type"] != "rt" {
            return Err(format!("unexpected message {v}").into());
        }
    }
    let elapsed = start.elapsed();
    nanos.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len().max(1));
        nanos.get(rank - 1).map_or(f64::NAN, |ns| *ns as f64 / 1000.0)
    };
    let lat = Some([at(0.5), at(0.99), at(0.999)]);
    Ok(Outcome { elapsed, count: job.n as u64, sent: job.n as u64, us: None, lat })
}

async fn one_way<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: &Job) -> Res<Outcome> {
    let mut framed = Framed::new(stream, codec());
    let start = Instant::now();
    for seq in 0..job.n {
        framed.feed(message("ow", payload(job.size, seq as u64))).await?;
    }
    framed.send(message("end", json!({}))).await?;
    let mut v = next_frame(&mut framed).await?;
    let elapsed = start.elapsed();
    let ack: Ack = serde_json::from_value(v["data"].take())?;
    if ack.count != job.n as u64 {
        return Err(format!("the server counted {} events of {}", ack.count, job.n).into());
    }
    Ok(Outcome { elapsed, count: job.n as u64, sent: job.n as u64, us: None, lat: None })
}

async fn fan_out(transport: &str, target: &str, job: &Job) -> Res<Outcome> {
    let mut clients = Vec::with_capacity(job.clients);
    for _ in 0..job.clients {
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let n = job.n as u64;
        let done = with_stream!(transport, target, |s| {
            let mut framed = Framed::new(s, codec());
            framed.send(message("hello", json!({}))).await?;
            tokio::spawn(async move {
                let _ = go_rx.await;
                let mut count = 0u64;
                while count < n {
                    if next_frame(&mut framed).await?["type"] == "fan" {
                        count += 1;
                    }
                }
                Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(count)
            })
        });
        clients.push((go_tx, done));
    }
    with_stream!(transport, target, |s| {
        let mut control = Framed::new(s, codec());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            control.send(message("stats", json!({}))).await?;
            let mut v = next_frame(&mut control).await?;
            let stats: Stats = serde_json::from_value(v["data"].take())?;
            if stats.registered >= job.clients as u64 {
                break;
            }
            if Instant::now() > deadline {
                return Err("fan-out clients did not register".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut waits = Vec::new();
        for (go, done) in clients {
            let _ = go.send(());
            waits.push(done);
        }
        let start = Instant::now();
        control.send(message("fanout", json!({"count": job.n, "size": job.size}))).await?;
        let mut total = 0;
        for done in waits {
            total += done.await.map_err(|_| "a fan-out client died")??;
        }
        Ok(Outcome { elapsed: start.elapsed(), count: total, sent: total, us: None, lat: None })
    })
}

async fn udp(server: SocketAddr, job: &Job) -> Res<Outcome> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.n {
        let due = ((start.elapsed().as_secs_f64() * job.rate as f64) as usize + 1).min(job.n);
        for seq in sent..due {
            let mut m = message("ow", payload(job.size, seq as u64));
            m.push('\x0c');
            socket.send_to(m.as_bytes(), server).await?;
        }
        sent = due;
        if sent < job.n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let send_time = start.elapsed();
    let mut buf = vec![0u8; 65536];
    let end = format!("{}\x0c", message("end", json!({})));
    for _ in 0..25 {
        socket.send_to(end.as_bytes(), server).await?;
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await
        {
            let mut v = parse(buf[..n].strip_suffix(b"\x0c").unwrap_or(&buf[..n]))?;
            if v["type"] == "ack" {
                let ack: Ack = serde_json::from_value(v["data"].take())?;
                return Ok(Outcome {
                    elapsed: send_time,
                    count: ack.count,
                    sent: job.n as u64,
                    us: Some(ack.us),
                    lat: None,
                });
            }
        }
    }
    Err("no ack from the udp server".into())
}
