//! Ours through `ipc-compat`: node-ipc's API (`Ipc`, `serve`, `connect_to`,
//! `on`, `emit`, handlers called by the dispatcher, emits queued to each
//! connection's writer) on both sides. The `acked` lane is the same
//! program with acknowledged delivery on at both ends (`Config::acks`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ipc_codec::Event;
use ipc_compat::{Acks, Client, Config, Ipc, Socket, TlsConfig, UdpType, WhenFull};
use tokio::sync::Notify;

use super::common::{
    check_ack, due, ty, Ack, FanoutReq, Job, Res, Sample, Stats, Target, TlsFiles, Transport,
};
use super::serve::{ready, ServeArgs, UdpCounter};
use super::workload::Workload;
use crate::payload;

/// The replay buffer of the acked lane: the round trips' window fits in it.
const ACK_WINDOW: usize = 16_384;

fn config(acked: bool) -> Config {
    let mut config = Config::default();
    if acked {
        config.acks = Acks::Required;
        config.ack_window = ACK_WINDOW;
        config.when_window_full = WhenFull::Wait;
    }
    config.silent = true;
    config.max_connections = 1_000_000;
    config.max_message_size = Some(64 << 20);
    config.max_pending_bytes = Some(256 << 20);
    config.max_retries = Some(0);
    config
}

/// The compat server (`acked`: with acknowledged delivery), until the process is killed.
pub(crate) fn serve(args: &ServeArgs, acked: bool) -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut config = config(acked);
        if let (Transport::Tls, Some((cert, key))) = (args.transport, &args.tls) {
            let mut tls = TlsConfig::default();
            tls.private = Some(key.clone());
            tls.public = Some(cert.clone());
            config.tls = Some(tls);
        }
        let ipc = Ipc::new(config);
        let port = || -> Res<u16> {
            // node-ipc (and so ipc-compat) reads port 0 as "the default port".
            let addr: SocketAddr = args.bind.parse()?;
            Ok(if addr.port() == 0 { interop::pick_loopback_port()? } else { addr.port() })
        };
        let server = match args.transport {
            Transport::Unix => ipc.serve(Some(std::path::Path::new(&args.bind)))?,
            Transport::Tcp | Transport::Tls => ipc.serve_net(Some("127.0.0.1"), Some(port()?), None)?,
            Transport::Udp => ipc.serve_net(Some("127.0.0.1"), Some(port()?), Some(UdpType::Udp4))?,
        };
        let counter = Arc::new(Mutex::new(UdpCounter::default()));
        let registered: Arc<Mutex<Vec<Socket>>> = Arc::default();
        server.on(ty::RT, |event, socket| {
            let _ = socket.emit_event(event);
        });
        let c = Arc::clone(&counter);
        server.on(ty::OW, move |_, _| c.lock().expect("counter").count());
        let c = Arc::clone(&counter);
        server.on(ty::END, move |_, socket| {
            let ack = {
                let mut c = c.lock().expect("counter");
                let ack = c.end();
                // The next `ow` starts a new count (UDP repeats `end` until acked).
                ack
            };
            let _ = socket.emit(ty::ACK, &ack);
        });
        let r = Arc::clone(&registered);
        server.on(ty::HELLO, move |_, socket| r.lock().expect("registry").push(socket.clone()));
        let (r, s) = (Arc::clone(&registered), server.clone());
        server.on(ty::STATS, move |_, socket| {
            let stats = Stats {
                connections: s.sockets().len() as u64,
                registered: r.lock().expect("registry").len() as u64,
            };
            let _ = socket.emit(ty::STATS, &stats);
        });
        let r = Arc::clone(&registered);
        server.on(ty::FANOUT, move |event, _| {
            let Ok(req) = event.data_as::<FanoutReq>() else { return };
            let peers = r.lock().expect("registry").clone();
            for seq in 0..req.count {
                let Ok(event) = Event::with_data(ty::FAN, &payload(req.size as usize, seq)) else { return };
                for peer in &peers {
                    let _ = peer.emit_event(&event);
                }
            }
        });
        server.start().await?;
        match args.transport {
            Transport::Unix => ready(&args.bind),
            _ => ready(server.local_addr().ok_or("no local address")?.port()),
        }
        std::future::pending::<()>().await;
        Ok(())
    })
}

fn client_config(tls: Option<&TlsFiles>, acked: bool) -> Config {
    let mut config = config(acked);
    if let Some(files) = tls {
        let mut tls = TlsConfig::default();
        tls.trusted_connections = vec![files.ca.clone()];
        tls.server_name = Some("localhost".to_owned());
        config.tls = Some(tls);
    }
    config
}

fn connect(ipc: &Ipc, id: &str, target: &Target) -> Res<Client> {
    Ok(match target {
        Target::Unix(path) => ipc.connect_to(id, Some(path))?,
        Target::Tcp(addr) | Target::Tls(addr) => {
            ipc.connect_to_net(id, Some("127.0.0.1"), Some(addr.port()))?
        }
        Target::Udp(_) => return Err("not a stream target".into()),
    })
}

/// Runs one workload of `job` against `target` on a current-thread runtime
/// (`acked`: with acknowledged delivery, whose figures go to stderr).
pub(crate) fn client(
    workload: Workload,
    target: &Target,
    tls: Option<&TlsFiles>,
    job: Job,
    acked: bool,
) -> Res<Sample> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tls = if matches!(target, Target::Tls(_)) { tls } else { None };
    let ipc = Ipc::new(client_config(tls, acked));
    rt.block_on(async move {
        match workload {
            Workload::RoundTrip => round_trips(&ipc, target, job).await,
            Workload::OneWay64 | Workload::OneWay1K | Workload::Large => {
                one_way(&ipc, target, job, acked).await
            }
            Workload::FanOut => fan_out(&ipc, target, job).await,
            Workload::Udp => udp(&ipc, target, job).await,
            Workload::Latency => latency(&ipc, target, job).await,
            Workload::Idle => Err("idle is measured by the harness".into()),
        }
    })
}

async fn round_trips(ipc: &Ipc, target: &Target, job: Job) -> Res<Sample> {
    let client = connect(ipc, "bench", target)?;
    client.connected().await?;
    let payloads = Arc::new((0..job.window as u64).map(|i| payload(job.size, i)).collect::<Vec<_>>());
    let sent = Arc::new(AtomicUsize::new(job.window.min(job.n)));
    let received = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let (c, p, s, r, d, n) = (
        client.clone(),
        Arc::clone(&payloads),
        Arc::clone(&sent),
        Arc::clone(&received),
        Arc::clone(&done),
        job.n,
    );
    client.on(ty::RT, move |_, _| {
        let got = r.fetch_add(1, Ordering::Relaxed) + 1;
        let next = s.fetch_add(1, Ordering::Relaxed);
        if next < n {
            let _ = c.emit(ty::RT, &p[next % p.len()]);
        }
        if got == n {
            d.notify_one();
        }
    });
    let start = Instant::now();
    for i in 0..job.window.min(job.n) {
        client.emit(ty::RT, &payloads[i % payloads.len()])?;
    }
    done.notified().await;
    let elapsed = start.elapsed();
    report_acks("rt", &client, job.n);
    ipc.disconnect("bench");
    Ok(Sample {
        elapsed,
        count: received.load(Ordering::Relaxed) as u64,
        sent: job.n as u64,
        span_us: None,
        latency: None,
    })
}

/// One event in flight: emit it, wait for the echo on a subscription, time each.
async fn latency(ipc: &Ipc, target: &Target, job: Job) -> Res<Sample> {
    let client = connect(ipc, "bench", target)?;
    client.connected().await?;
    let mut echoes = client.subscribe(ty::RT, 4);
    let p = payload(job.size, 1);
    let mut nanos = Vec::with_capacity(job.n);
    let start = Instant::now();
    for _ in 0..job.n {
        let t = Instant::now();
        client.emit(ty::RT, &p)?;
        echoes.next().await.ok_or("the subscription ended")?;
        nanos.push(t.elapsed().as_nanos() as u64);
    }
    let elapsed = start.elapsed();
    ipc.disconnect("bench");
    Ok(super::common::Latency::sample(nanos, elapsed))
}

async fn one_way(ipc: &Ipc, target: &Target, job: Job, acked: bool) -> Res<Sample> {
    let client = connect(ipc, "bench", target)?;
    client.connected().await?;
    let mut acks = client.subscribe(ty::ACK, 4);
    let p = payload(job.size, 1);
    let start = Instant::now();
    for i in 0..job.n {
        if acked {
            // waits while ACK_WINDOW events are unacknowledged
            client.emit_async(ty::OW, &p).await?;
        } else {
            client.emit(ty::OW, &p)?;
        }
        // Bound what waits in the queue, as a node-ipc sender waits for 'drain'.
        if i % 4096 == 4095 {
            client.flush().await?;
        }
    }
    client.emit(ty::END, serde_json::json!({}))?;
    let (ack, _) = acks.next().await.ok_or("no ack")?;
    let elapsed = start.elapsed();
    let ack: Ack = ack.data_as()?;
    check_ack(&ack, job.n)?;
    report_acks("oneway", &client, job.n);
    ipc.disconnect("bench");
    Ok(Sample { elapsed, count: job.n as u64, sent: job.n as u64, span_us: None, latency: None })
}

async fn fan_out(ipc: &Ipc, target: &Target, job: Job) -> Res<Sample> {
    let total = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let mut ids = Vec::new();
    for i in 0..job.clients {
        let id = format!("c{i}");
        let client = connect(ipc, &id, target)?;
        client.connected().await?;
        let count = Arc::new(AtomicU64::new(0));
        let (t, f, d, n, clients) =
            (Arc::clone(&total), Arc::clone(&finished), Arc::clone(&done), job.n as u64, job.clients);
        client.on(ty::FAN, move |_, _| {
            if count.fetch_add(1, Ordering::Relaxed) + 1 == n {
                t.fetch_add(n, Ordering::Relaxed);
                if f.fetch_add(1, Ordering::Relaxed) + 1 == clients {
                    d.notify_one();
                }
            }
        });
        client.emit(ty::HELLO, serde_json::json!({}))?;
        ids.push(id);
    }
    let control = connect(ipc, "ctl", target)?;
    control.connected().await?;
    let mut stats = control.subscribe(ty::STATS, 4);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        control.emit(ty::STATS, serde_json::json!({}))?;
        let (s, _) = stats.next().await.ok_or("no stats")?;
        if s.data_as::<Stats>()?.registered >= job.clients as u64 {
            break;
        }
        if Instant::now() > deadline {
            return Err("fan-out clients did not register".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let start = Instant::now();
    control.emit(ty::FANOUT, FanoutReq { count: job.n as u64, size: job.size as u64 })?;
    done.notified().await;
    let elapsed = start.elapsed();
    for id in ids.iter().chain(std::iter::once(&"ctl".to_owned())) {
        ipc.disconnect(id);
    }
    Ok(Sample { elapsed, count: total.load(Ordering::Relaxed), sent: 0, span_us: None, latency: None })
}

async fn udp(ipc: &Ipc, target: &Target, job: Job) -> Res<Sample> {
    // node-ipc has no UDP client: a UDP sender is a udp4 server that emits to an address.
    let to = target.socket_addr().ok_or("udp needs an address")?;
    let server =
        ipc.serve_net(Some("127.0.0.1"), Some(interop::pick_loopback_port()?), Some(UdpType::Udp4))?;
    let mut acks = server.subscribe(ty::ACK, 4);
    server.start().await?;
    let p = payload(job.size, 1);
    let start = Instant::now();
    let mut sent = 0;
    while sent < job.n {
        let due_now = due(job.rate, job.n, start.elapsed());
        while sent < due_now {
            server.emit_to(to, ty::OW, &p)?;
            sent += 1;
        }
        server.flush().await?;
        if sent < job.n {
            tokio::time::sleep(super::common::PACE_TICK).await;
        }
    }
    let send_time = start.elapsed();
    for _ in 0..25 {
        server.emit_to(to, ty::END, serde_json::json!({}))?;
        if let Ok(Some((ack, _))) = tokio::time::timeout(Duration::from_millis(200), acks.next()).await {
            let ack: Ack = ack.data_as()?;
            server.stop().await;
            return Ok(Sample {
                elapsed: send_time,
                count: ack.count,
                sent: job.n as u64,
                span_us: Some(ack.us),
                latency: None,
            });
        }
    }
    Err("no ack from the udp server".into())
}

/// The acked lane's own figures, on stderr: acknowledgements per event, and
/// what the replay buffer held (nothing for the plain lane).
fn report_acks(workload: &str, client: &Client, n: usize) {
    let stats = client.ack_stats();
    if stats.sent == 0 {
        return;
    }
    eprintln!(
        "acked {workload}: {} events, {} acks received (one per {:.0} events), replay buffer peak {} events \
         (window {ACK_WINDOW}), {} resent, {} still unacknowledged ({} bytes)",
        n,
        stats.acks_received,
        stats.acknowledged as f64 / stats.acks_received.max(1) as f64,
        stats.buffered_peak,
        stats.resent,
        stats.buffered,
        stats.buffered_bytes,
    );
}
