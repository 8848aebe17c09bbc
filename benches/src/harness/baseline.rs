//! What a user would otherwise write: tokio, tokio-util's `AnyDelimiterCodec`
//! and `serde_json::Value` (every frame parsed into a tree, every reply built
//! as a tree and serialized), with the same feed-then-flush batching as ours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::{FutureExt, SinkExt, StreamExt};
use ipc_codec::PartialFrameDeadline;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UdpSocket;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, Decoder, Encoder};

use super::common::{check_ack, ty, Ack, FanoutReq, Job, Res, Sample, Stats, Target, TlsFiles};
use super::connect::{next_item, with_stream};
use super::proto::{Proto, Request};
use super::workload::Workload;
use crate::payload;

/// `AnyDelimiterCodec` with node-ipc's delimiter and a 16 MiB bound.
#[derive(Debug)]
pub(crate) struct Delimited(AnyDelimiterCodec);

impl Delimited {
    pub(crate) fn new() -> Delimited {
        Delimited(AnyDelimiterCodec::new_with_max_length(b"\x0c".to_vec(), b"\x0c".to_vec(), 16 << 20))
    }
}

impl PartialFrameDeadline for Delimited {}

impl Decoder for Delimited {
    type Item = Bytes;
    type Error = AnyDelimiterCodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, AnyDelimiterCodecError> {
        self.0.decode(src)
    }
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, AnyDelimiterCodecError> {
        self.0.decode_eof(src)
    }
}

impl<T: AsRef<str>> Encoder<T> for Delimited {
    type Error = AnyDelimiterCodecError;
    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), AnyDelimiterCodecError> {
        self.0.encode(item, dst)
    }
}

/// A message as a user would build it.
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

/// The baseline as the server speaks it.
pub(crate) struct Baseline;

impl Proto for Baseline {
    type Codec = Delimited;
    type In = Bytes;
    type Out = Arc<str>;
    type Error = AnyDelimiterCodecError;

    fn codec() -> Delimited {
        Delimited::new()
    }

    fn classify(frame: Bytes) -> Request<Arc<str>> {
        let Ok(v) = parse(&frame) else { return Request::Other };
        match v["type"].as_str() {
            Some(ty::RT) => {
                Request::Echo(Arc::from(message(ty::RT, v.get("data").cloned().unwrap_or(Value::Null))))
            }
            Some(ty::OW) => Request::Count,
            Some(ty::END) => Request::End,
            Some(ty::HELLO) => Request::Hello,
            Some(ty::STATS) => Request::Stats,
            Some(ty::FANOUT) => match serde_json::from_value::<FanoutReq>(v["data"].clone()) {
                Ok(req) => Request::Fanout(req),
                Err(_) => Request::Other,
            },
            _ => Request::Other,
        }
    }

    fn reply(event_type: &'static str, data: &impl serde::Serialize) -> Arc<str> {
        Arc::from(message(event_type, serde_json::to_value(data).expect("plain structs serialize")))
    }

    fn fan(seq: u64, size: usize) -> Arc<str> {
        Arc::from(message(ty::FAN, serde_json::to_value(payload(size, seq)).expect("payloads serialize")))
    }
}

/// Runs one workload of `job` against `target` on a current-thread runtime.
pub(crate) fn client(workload: Workload, target: &Target, tls: Option<&TlsFiles>, job: Job) -> Res<Sample> {
    use Workload as W;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        match workload {
            W::RoundTrip => with_stream!(target, tls, |s| round_trips(s, job).await),
            W::OneWay64 | W::OneWay1K | W::Large => with_stream!(target, tls, |s| one_way(s, job).await),
            W::FanOut => fan_out(target, tls, job).await,
            W::Udp => udp(target, job).await,
            W::Latency => with_stream!(target, tls, |s| latency(s, job).await),
            W::Idle => Err("idle is measured by the harness".into()),
        }
    })
}

fn payload_value(size: usize, seq: u64) -> Value {
    serde_json::to_value(payload(size, seq)).expect("payloads serialize")
}

async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: Job) -> Res<Sample> {
    let mut framed = ipc_transport::framed(stream, Delimited::new());
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.window.min(job.n) {
        framed.feed(message(ty::RT, payload_value(job.size, sent as u64))).await?;
        sent += 1;
    }
    SinkExt::<String>::flush(&mut framed).await?;
    let mut received = 0;
    while received < job.n {
        let mut frame = Some(next_item(&mut framed).await?);
        while let Some(f) = frame.take() {
            let v = parse(&f)?;
            if v["type"] != ty::RT {
                return Err(format!("unexpected message {v}").into());
            }
            received += 1;
            if sent < job.n {
                framed.feed(message(ty::RT, payload_value(job.size, sent as u64))).await?;
                sent += 1;
            }
            frame = match framed.next().now_or_never() {
                Some(Some(Ok(f))) => Some(f),
                Some(Some(Err(e))) => return Err(e.into()),
                Some(None) => return Err("the server closed the connection".into()),
                None => None,
            };
        }
        SinkExt::<String>::flush(&mut framed).await?;
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
async fn latency<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: Job) -> Res<Sample> {
    let mut framed = ipc_transport::framed(stream, Delimited::new());
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for seq in 0..job.n {
        let t = Instant::now();
        framed.send(message(ty::RT, payload_value(job.size, seq as u64))).await?;
        let v = parse(&next_item(&mut framed).await?)?;
        nanos.push(t.elapsed().as_nanos() as u64);
        if v["type"] != ty::RT {
            return Err(format!("unexpected message {v}").into());
        }
    }
    Ok(super::common::Latency::sample(nanos, start.elapsed()))
}

async fn one_way<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: Job) -> Res<Sample> {
    let mut framed = ipc_transport::framed(stream, Delimited::new());
    let start = Instant::now();
    for seq in 0..job.n {
        framed.feed(message(ty::OW, payload_value(job.size, seq as u64))).await?;
    }
    framed.send(message(ty::END, json!({}))).await?;
    let ack = parse(&next_item(&mut framed).await?)?;
    let elapsed = start.elapsed();
    let ack: Ack = serde_json::from_value(ack["data"].clone())?;
    check_ack(&ack, job.n)?;
    Ok(Sample { elapsed, count: job.n as u64, sent: job.n as u64, span_us: None, latency: None })
}

async fn fan_out(target: &Target, tls: Option<&TlsFiles>, job: Job) -> Res<Sample> {
    let mut clients = Vec::with_capacity(job.clients);
    for _ in 0..job.clients {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Res<u64>>();
        let go = with_stream!(target, tls, |s| {
            let mut framed = ipc_transport::framed(s, Delimited::new());
            framed.send(message(ty::HELLO, json!({}))).await?;
            let n = job.n as u64;
            tokio::spawn(async move {
                let _ = rx.await;
                let result = async {
                    let mut count = 0u64;
                    while count < n {
                        let v = parse(&next_item(&mut framed).await?)?;
                        if v["type"] == ty::FAN {
                            count += 1;
                        }
                    }
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(count)
                }
                .await;
                let _ = done_tx.send(result);
            });
            tx
        });
        clients.push((go, done_rx));
    }
    with_stream!(target, tls, |s| {
        let mut control = ipc_transport::framed(s, Delimited::new());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            control.send(message(ty::STATS, json!({}))).await?;
            let v = parse(&next_item(&mut control).await?)?;
            let stats: Stats = serde_json::from_value(v["data"].clone())?;
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
        control.send(message(ty::FANOUT, json!({"count": job.n, "size": job.size}))).await?;
        let mut total = 0;
        for done in waits {
            total += done.await.map_err(|_| "a fan-out client died")??;
        }
        Ok(Sample { elapsed: start.elapsed(), count: total, sent: total, span_us: None, latency: None })
    })
}

async fn udp(target: &Target, job: Job) -> Res<Sample> {
    let server = target.socket_addr().ok_or("udp needs an address")?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let start = Instant::now();
    for seq in 0..job.n {
        let mut m = message(ty::OW, payload_value(job.size, seq as u64));
        m.push('\x0c');
        socket.send_to(m.as_bytes(), server).await?;
    }
    let send_time = start.elapsed();
    let mut buf = vec![0u8; 65536];
    let end = format!("{}\x0c", message(ty::END, json!({})));
    for _ in 0..25 {
        socket.send_to(end.as_bytes(), server).await?;
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await
        {
            let frame = buf[..n].strip_suffix(b"\x0c").unwrap_or(&buf[..n]);
            let v = parse(frame)?;
            if v["type"] == ty::ACK {
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

/// The baseline's UDP server: one frame per datagram, parsed into a `Value`.
pub(crate) fn serve_udp(bind: &str) -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let socket = UdpSocket::bind(bind).await?;
        super::serve::ready(socket.local_addr()?.port());
        let mut counter = super::serve::UdpCounter::default();
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await?;
            for frame in buf[..n].split(|b| *b == 0x0c).filter(|f| !f.is_empty()) {
                let Ok(v) = parse(frame) else { continue };
                match v["type"].as_str() {
                    Some(ty::OW) => counter.count(),
                    Some(ty::END) => {
                        let ack = counter.end();
                        let m = format!("{}\x0c", message(ty::ACK, serde_json::to_value(ack)?));
                        socket.send_to(m.as_bytes(), from).await?;
                    }
                    _ => {}
                }
            }
        }
    })
}
