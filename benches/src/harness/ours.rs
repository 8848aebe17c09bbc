//! Ours through `Framed` + `JsonCodec` directly: events validated and kept as
//! raw bytes, data serialized straight into the write buffer, re-emitted byte
//! for byte, feed while more is ready and flush once.

use std::time::{Duration, Instant};

use futures::{FutureExt, SinkExt, StreamExt};
use ipc_codec::{Event, JsonCodec};
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use tokio::io::{AsyncRead, AsyncWrite};

use super::common::{
    check_ack, due, ty, Ack, FanoutReq, Job, Latency, Res, Sample, Stats, Target, TlsFiles, PACE_TICK,
};
use super::connect::{next_item, with_stream};
use super::proto::{Proto, Request};
use super::workload::Workload;
use crate::payload;

/// Ours as the server speaks it.
pub(crate) struct Ours;

impl Proto for Ours {
    type Codec = JsonCodec;
    type In = Event;
    type Out = Event;
    type Error = ipc_codec::CodecError;

    fn codec() -> JsonCodec {
        // Large frames are 1 MiB + the envelope; the default limit is 16 MiB.
        JsonCodec::default()
    }

    fn classify(event: Event) -> Request<Event> {
        match event.event_type() {
            ty::RT => Request::Echo(event),
            ty::OW => Request::Count,
            ty::END => Request::End,
            ty::HELLO => Request::Hello,
            ty::STATS => Request::Stats,
            ty::FANOUT => match event.data_as::<FanoutReq>() {
                Ok(req) => Request::Fanout(req),
                Err(_) => Request::Other,
            },
            _ => Request::Other,
        }
    }

    fn reply(event_type: &'static str, data: &impl serde::Serialize) -> Event {
        Event::with_data(event_type, data).expect("plain structs serialize")
    }

    fn fan(seq: u64, size: usize) -> Event {
        Event::with_data(ty::FAN, &payload(size, seq)).expect("payloads serialize")
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

async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: Job) -> Res<Sample> {
    let mut framed = ipc_transport::framed(stream, JsonCodec::default());
    let payloads: Vec<_> = (0..job.window as u64).map(|i| payload(job.size, i)).collect();
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.window.min(job.n) {
        framed.feed((ty::RT, &payloads[sent % payloads.len()])).await?;
        sent += 1;
    }
    SinkExt::<&Event>::flush(&mut framed).await?;
    let mut received = 0;
    while received < job.n {
        let mut event = Some(next_item(&mut framed).await?);
        while let Some(e) = event.take() {
            if e.event_type() != ty::RT {
                return Err(format!("unexpected event {e:?}").into());
            }
            received += 1;
            if sent < job.n {
                framed.feed((ty::RT, &payloads[sent % payloads.len()])).await?;
                sent += 1;
            }
            event = match framed.next().now_or_never() {
                Some(Some(Ok(e))) => Some(e),
                Some(Some(Err(e))) => return Err(e.into()),
                Some(None) => return Err("the server closed the connection".into()),
                None => None,
            };
        }
        SinkExt::<&Event>::flush(&mut framed).await?;
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
    let mut framed = ipc_transport::framed(stream, JsonCodec::default());
    let p = payload(job.size, 1);
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for _ in 0..job.n {
        let t = Instant::now();
        framed.send((ty::RT, &p)).await?;
        let echo = next_item(&mut framed).await?;
        nanos.push(t.elapsed().as_nanos() as u64);
        if echo.event_type() != ty::RT {
            return Err(format!("unexpected event {echo:?}").into());
        }
    }
    Ok(Latency::sample(nanos, start.elapsed()))
}

async fn one_way<S: AsyncRead + AsyncWrite + Unpin>(stream: S, job: Job) -> Res<Sample> {
    let mut framed = ipc_transport::framed(stream, JsonCodec::default());
    let p = payload(job.size, 1);
    let start = Instant::now();
    for _ in 0..job.n {
        framed.feed((ty::OW, &p)).await?;
    }
    framed.send((ty::END, &serde_json::json!({}))).await?;
    let ack = next_item(&mut framed).await?;
    let elapsed = start.elapsed();
    let ack: Ack = ack.data_as()?;
    check_ack(&ack, job.n)?;
    Ok(Sample { elapsed, count: job.n as u64, sent: job.n as u64, span_us: None, latency: None })
}

async fn fan_out(target: &Target, tls: Option<&TlsFiles>, job: Job) -> Res<Sample> {
    let mut clients = Vec::with_capacity(job.clients);
    for _ in 0..job.clients {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Res<u64>>();
        let hello = with_stream!(target, tls, |s| {
            let mut framed = ipc_transport::framed(s, JsonCodec::default());
            framed.send((ty::HELLO, &serde_json::json!({}))).await?;
            let n = job.n;
            tokio::spawn(async move {
                let _ = rx.await;
                let mut count = 0u64;
                let result = async {
                    while count < n as u64 {
                        let e = next_item(&mut framed).await?;
                        if e.event_type() == ty::FAN {
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
        clients.push((hello, done_rx));
    }
    // A control connection that is not registered: it waits for every hello, then triggers.
    with_stream!(target, tls, |s| {
        let mut control = ipc_transport::framed(s, JsonCodec::default());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            control.send((ty::STATS, &serde_json::json!({}))).await?;
            let stats: Stats = next_item(&mut control).await?.data_as()?;
            if stats.registered >= job.clients as u64 {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("only {} of {} clients registered", stats.registered, job.clients).into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut waits = Vec::new();
        for (go, done) in clients {
            let _ = go.send(());
            waits.push(done);
        }
        let start = Instant::now();
        control.send((ty::FANOUT, &FanoutReq { count: job.n as u64, size: job.size as u64 })).await?;
        let mut total = 0;
        for done in waits {
            total += done.await.map_err(|_| "a fan-out client died")??;
        }
        Ok(Sample { elapsed: start.elapsed(), count: total, sent: total, span_us: None, latency: None })
    })
}

async fn udp(target: &Target, job: Job) -> Res<Sample> {
    let server = target.socket_addr().ok_or("udp needs an address")?;
    // One event per datagram, as node-ipc sends them.
    let options = UdpOptions::default().pack_frames(false);
    let mut ep = UdpEndpoint::bind_with("127.0.0.1:0".parse()?, JsonCodec::default(), options).await?;
    let p = payload(job.size, 1);
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.n {
        let due_now = due(job.rate, job.n, start.elapsed());
        while sent < due_now {
            ep.feed(((ty::OW, &p), server)).await?;
            sent += 1;
        }
        SinkExt::<(&Event, std::net::SocketAddr)>::flush(&mut ep).await?;
        if sent < job.n {
            tokio::time::sleep(PACE_TICK).await;
        }
    }
    let send_time = start.elapsed();
    let mut ack = None;
    for _ in 0..25 {
        ep.send(((ty::END, &serde_json::json!({})), server)).await?;
        match tokio::time::timeout(Duration::from_millis(200), ep.next()).await {
            Ok(Some(Ok((e, _)))) if e.event_type() == ty::ACK => {
                ack = Some(e.data_as::<Ack>()?);
                break;
            }
            Ok(Some(Err(e))) => return Err(e.into()),
            _ => {}
        }
    }
    let ack = ack.ok_or("no ack from the udp server")?;
    Ok(Sample {
        elapsed: send_time,
        count: ack.count,
        sent: job.n as u64,
        span_us: Some(ack.us),
        latency: None,
    })
}

/// Ours as a UDP server: a `UdpEndpoint` counting `ow` events and answering `end` to its source.
pub(crate) fn serve_udp(bind: &str) -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut ep = UdpEndpoint::bind(bind.parse()?, JsonCodec::default()).await?;
        super::serve::ready(ep.local_addr()?.port());
        let mut counter = super::serve::UdpCounter::default();
        while let Some(item) = ep.next().await {
            let Ok((event, from)) = item else { continue };
            match event.event_type() {
                ty::OW => counter.count(),
                ty::END => {
                    let ack = counter.end();
                    ep.send(((ty::ACK, &ack), from)).await?;
                }
                _ => {}
            }
        }
        Ok(())
    })
}
