//! Acknowledged delivery (`PROTOCOL.md`) under faults, with real processes
//! and real sockets: the server is a child process (this test binary run as
//! an ignored helper) that tells the parent every event its handler sees.
//!
//! - a fault-injecting TCP proxy between client and server cuts the
//!   connection 200 times at random byte counts (mid-frame included): none
//!   lost, none duplicated, in order;
//! - the server SIGKILLed and restarted 20 times while a client emits
//!   100,000 events: none lost (at least once across the crashes; each loss
//!   window measured and printed), and plain mode, for comparison, losing
//!   what the killed server had not read, as documented;
//! - a client with acks against a server without them: the plain wire with a
//!   warning, or a refusal when acks are required;
//! - a full replay buffer failing an emit, and a graceful close that waits
//!   for every acknowledgement.
//!
//! Each test prints its figures (sent, received, lost, duplicated, resent).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use interop::{within, within_for};
use ipc_compat::{Acks, Config, Error, Ipc, Keepalive, WhenFull};
use support::{child_arg, next_error, tell_parent, v9, wait_for, watched, ChildProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A config with acks as given, a window of 2,048 events, waiting when full.
fn acked(dir: &Path, acks: Acks) -> Config {
    let mut config = v9(dir);
    config.acks = acks;
    config.ack_window = 2048;
    config.when_window_full = WhenFull::Wait;
    config
}

/// Child helper: a server with acks on (`acked unix:<path>`, `acked tcp:<host>:<port>`)
/// or off (`plain unix:<path>`), whose `seq` handler tells the parent `s <n>`
/// before it returns (so before it is acknowledged); a `stats` event makes it
/// print its acknowledged-delivery counters. Says `ready <port>` once it listens.
#[test]
#[ignore = "helper: runs as a child process of the tests of this file"]
fn child_server() {
    let Some(arg) = child_arg() else { return };
    let (mode, endpoint) = arg.split_once(' ').unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = std::env::temp_dir();
        let mut config = v9(&dir);
        config.acks = if mode == "acked" { Acks::On } else { Acks::Off };
        let ipc = Ipc::new(config);
        let server = match endpoint.split_once(':').unwrap() {
            ("unix", path) => ipc.serve(Some(Path::new(path))).unwrap(),
            ("tcp", at) => {
                let (host, port) = at.rsplit_once(':').unwrap();
                ipc.serve_net(Some(host), Some(port.parse().unwrap()), None).unwrap()
            }
            other => panic!("{other:?}"),
        };
        server.on("seq", |event, _| tell_parent(format!("s {}", event.data_as::<u64>().unwrap())));
        let stats = server.clone();
        server.on("stats", move |_, _| {
            let s = stats.ack_stats();
            tell_parent(format!(
                "stats {} {} {} {} {}",
                s.delivered, s.duplicates, s.out_of_order, s.acks_sent, s.before_agreement
            ));
        });
        server.start().await.unwrap();
        tell_parent(format!("ready {}", server.local_addr().map_or(0, |a| a.port())));
        std::future::pending::<()>().await;
    });
}

/// A child server; returns it and its TCP port (0 for a local socket).
fn spawn_server(mode: &str, endpoint: &str) -> (ChildProcess, u16) {
    ready(ChildProcess::spawn("child_server", &format!("{mode} {endpoint}")))
}

/// A child server once it said it is ready, and its port.
fn ready(child: ChildProcess) -> (ChildProcess, u16) {
    let ready = tokio::task::block_in_place(|| {
        std::iter::from_fn(|| child.next_line())
            .find(|l| l.starts_with("ready "))
            .expect("the child is ready")
    });
    (child, ready["ready ".len()..].parse().unwrap())
}

fn seq_of(line: &str) -> Option<u64> {
    line.strip_prefix("s ").map(|n| n.parse().unwrap())
}

/// A small, seeded xorshift: the proxy's cut points (the seed is printed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A TCP proxy to `upstream` that cuts each of its first `cuts` connections
/// after a random number of bytes (1 to `max_bytes`, counted from the client,
/// so mid-frame more often than not): both sides closed at once. Later
/// connections are passed on whole. Returns its port and the cut counter.
async fn cutting_proxy(upstream: u16, cuts: u64, max_bytes: u64, seed: u64) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    tokio::spawn(async move {
        let mut rng = Rng(seed | 1);
        let mut made = 0;
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
            let budget = (made < cuts).then(|| 1 + rng.below(max_bytes));
            made += 1;
            tokio::spawn(relay(client, server, budget, counter.clone()));
        }
    });
    (port, done)
}

/// Passes bytes both ways; with a budget, closes both sides once that many
/// bytes came from the client (the last read cut to fit).
async fn relay(client: TcpStream, server: TcpStream, budget: Option<u64>, cuts: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut left = budget.unwrap_or(u64::MAX);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let take = (n as u64).min(left) as usize;
        if server_write.write_all(&buf[..take]).await.is_err() {
            break;
        }
        left -= take as u64;
        if left == 0 {
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
    }
    // dropping the halves closes both connections (the server's mid-frame, often)
    down.abort();
}

/// What one server instance's handler saw, and whether it was in order.
fn check_in_order(seen: &[u64]) -> Result<(), String> {
    match seen.windows(2).find(|w| w[1] != w[0] + 1) {
        Some(w) => Err(format!("{} then {}", w[0], w[1])),
        None => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cut_200_times_by_a_proxy_none_lost_none_duplicated_in_order() {
    const CUTS: u64 = 200;
    const N: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let (child, server_port) = spawn_server("acked", "tcp:127.0.0.1:0");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    // a frame is about 60 bytes: cuts every 1 to 12,000 bytes fall mid-frame most of the time
    let (proxy, cuts) = cutting_proxy(server_port, CUTS, 12_000, seed).await;

    let ipc = Ipc::new(acked(dir.path(), Acks::Required));
    let client = ipc.connect_to_net("acked", Some("127.0.0.1"), Some(proxy)).unwrap();
    let started = Instant::now();
    let sender = tokio::spawn({
        let (client, cuts) = (client.clone(), cuts.clone());
        async move {
            // N events at least, and on until every cut has happened
            let mut n = 0;
            while n < N || cuts.load(Ordering::SeqCst) < CUTS {
                client.emit_async("seq", n).await.unwrap();
                n += 1;
                if n % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            n
        }
    });
    let sent = within("the sender", sender).await.unwrap();
    client.emit_async("stats", ()).await.unwrap();

    let (seen, stats) = tokio::task::block_in_place(|| {
        let mut seen = Vec::new();
        loop {
            let line = child.next_line().expect("the child is alive");
            if let Some(n) = seq_of(&line) {
                seen.push(n);
            } else if let Some(stats) = line.strip_prefix("stats ") {
                return (seen, stats.to_owned());
            }
        }
    });
    let stats: Vec<u64> = stats.split(' ').map(|n| n.parse().unwrap()).collect();
    let client_stats = client.ack_stats();
    let distinct: BTreeSet<u64> = seen.iter().copied().collect();
    let lost = sent - distinct.len() as u64;
    let duplicated = seen.len() as u64 - distinct.len() as u64;
    println!(
        "proxy cuts: {} (seed {seed}); events sent {sent}, received {}, lost {lost}, duplicated {duplicated}; \
         resent {} (written again after a reconnect), duplicates dropped by the server {}, out of step {}, \
         left over from a cut connection and dropped {}, acks sent {}, acks received {}; replay buffer peak {} \
         events; {:.1} s",
        cuts.load(Ordering::SeqCst),
        seen.len(),
        client_stats.resent,
        stats[1],
        stats[2],
        stats[4],
        stats[3],
        client_stats.acks_received,
        client_stats.buffered_peak,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(cuts.load(Ordering::SeqCst), CUTS);
    assert_eq!(check_in_order(&seen), Ok(()), "in order, each once");
    assert_eq!(seen.first(), Some(&0));
    assert_eq!((lost, duplicated), (0, 0));
    assert!(client_stats.resent > 0, "cuts made the client send again");
    ipc.disconnect("acked");
}

/// One kill of the restart test: what each side saw around it.
struct Kill {
    /// The last event the killed server handled.
    last_handled: Option<u64>,
    /// The first event the next server handled.
    resumed_at: u64,
    /// The client's `resent` counter across the restart.
    resent: u64,
    /// From the kill to the first event the next server handled.
    down: Duration,
}

/// Runs `instances` server processes one after another, killing each but the
/// last once it has handled `per_instance` events, while a client emits `n`
/// events (acknowledged or plain). Returns what each instance handled and the kills.
async fn kill_and_restart(
    mode: &str,
    n: u64,
    kills: usize,
    per_instance: usize,
) -> (Vec<Vec<u64>>, Vec<Kill>, ipc_compat::Client, Ipc) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.kill");
    let endpoint = format!("unix:{}", path.display());
    let (mut child, _) = spawn_server(mode, &endpoint);
    let mut config = acked(dir.path(), if mode == "acked" { Acks::Required } else { Acks::Off });
    config.max_queued_events = n as usize; // plain mode: room for what is emitted while disconnected
    let ipc = Ipc::new(config);
    let client = ipc.connect_to("kill", Some(&path)).unwrap();
    within("connect", client.connected()).await.unwrap();
    let sender = tokio::spawn({
        let client = client.clone();
        async move {
            for i in 0..n {
                client.emit_async("seq", i).await.unwrap();
                if i % 64 == 0 {
                    // paced: the server dies with events in flight, not after they all went
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        }
    });
    let mut instances = Vec::new();
    let mut record = Vec::new();
    for _ in 0..kills {
        let mut seen = Vec::new();
        tokio::task::block_in_place(|| {
            while seen.len() < per_instance {
                if let Some(n) = seq_of(&child.next_line().expect("the child is alive")) {
                    seen.push(n);
                }
            }
        });
        let resent_before = client.ack_stats().resent;
        child.kill();
        let killed_at = Instant::now();
        seen.extend(tokio::task::block_in_place(|| child.remaining_lines()).iter().filter_map(|l| seq_of(l)));
        let last_handled = seen.last().copied();
        instances.push(seen);
        child = spawn_server(mode, &endpoint).0;
        let first = tokio::task::block_in_place(|| loop {
            if let Some(n) = seq_of(&child.next_line().expect("the child is alive")) {
                break n;
            }
        });
        let down = killed_at.elapsed();
        record.push(Kill {
            last_handled,
            resumed_at: first,
            resent: client.ack_stats().resent - resent_before,
            down,
        });
        // the first event of the new instance belongs to it
        instances.push(vec![first]);
        let next = instances.pop().unwrap();
        instances.push(next);
    }
    within("the sender", sender).await.unwrap();
    // the last instance: until the last event, or (plain) until nothing more comes
    let mut last = instances.pop().unwrap_or_default();
    tokio::task::block_in_place(|| {
        while last.last() != Some(&(n - 1)) {
            match child.next_line_within(Duration::from_secs(if mode == "acked" { 20 } else { 2 })) {
                Some(line) => last.extend(seq_of(&line)),
                None => break,
            }
        }
    });
    instances.push(last);
    drop(child);
    (instances, record, client, ipc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_20_times_under_100k_acked_events_none_lost() {
    const N: u64 = 100_000;
    const KILLS: usize = 20;
    let started = Instant::now();
    let (instances, kills, client, ipc) = kill_and_restart("acked", N, KILLS, 4_000).await;
    let stats = client.ack_stats();
    let received: u64 = instances.iter().map(|seen| seen.len() as u64).sum();
    let distinct: BTreeSet<u64> = instances.iter().flatten().copied().collect();
    let lost = N - distinct.len() as u64;
    let duplicated = received - distinct.len() as u64;
    for (i, kill) in kills.iter().enumerate() {
        let redelivered = kill.last_handled.map_or(0, |last| (last + 1).saturating_sub(kill.resumed_at));
        println!(
            "kill {:2}: the killed server handled up to #{}, the next resumed at #{}: {} handled twice (its \
             acknowledgement died with it), {} resent by the client, down {} ms",
            i + 1,
            kill.last_handled.map_or("-".into(), |n| n.to_string()),
            kill.resumed_at,
            redelivered,
            kill.resent,
            kill.down.as_millis(),
        );
    }
    println!(
        "acked, {KILLS} kills: events sent {N}, received {received}, lost {lost}, duplicated {duplicated} \
         (handled again by the next server: at least once), resent {}; acks received {}, replay buffer peak {} \
         events; {:.1} s",
        stats.resent,
        stats.acks_received,
        stats.buffered_peak,
        started.elapsed().as_secs_f64(),
    );
    for (i, seen) in instances.iter().enumerate() {
        assert_eq!(check_in_order(seen), Ok(()), "server {i} handled its events in order, each once");
    }
    for kill in &kills {
        let last = kill.last_handled.expect("each killed server handled events");
        assert!(
            kill.resumed_at <= last + 1,
            "no gap after a kill: the next server resumed at or before {}",
            last + 1
        );
    }
    assert_eq!(kills.len(), KILLS);
    assert_eq!(lost, 0, "none lost");
    assert_eq!(distinct.last(), Some(&(N - 1)));
    ipc.disconnect("kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Wine: the restarted child server said nothing for 20 s under Wine 8 (not yet understood); runs on Linux"
)]
async fn plain_mode_still_loses_what_a_killed_server_had_not_read() {
    const N: u64 = 20_000;
    const KILLS: usize = 3;
    let (instances, kills, _client, ipc) = kill_and_restart("plain", N, KILLS, 4_000).await;
    let received: u64 = instances.iter().map(|seen| seen.len() as u64).sum();
    let distinct: BTreeSet<u64> = instances.iter().flatten().copied().collect();
    let lost = N - distinct.len() as u64;
    let duplicated = received - distinct.len() as u64;
    for (i, kill) in kills.iter().enumerate() {
        println!(
            "plain kill {}: the killed server handled up to #{}, the next got #{} first: {} lost in the dead \
             server's socket",
            i + 1,
            kill.last_handled.map_or("-".into(), |n| n.to_string()),
            kill.resumed_at,
            kill.resumed_at.saturating_sub(kill.last_handled.map_or(0, |n| n + 1)),
        );
    }
    println!(
        "plain, {KILLS} kills: events sent {N}, received {received}, lost {lost}, duplicated {duplicated}"
    );
    for seen in &instances {
        assert_eq!(check_in_order(seen), Ok(()), "in order within a server");
    }
    assert_eq!(duplicated, 0, "plain mode never duplicates");
    // what plain mode loses is exactly what was in the dead servers' sockets
    let gaps: u64 =
        kills.iter().map(|k| k.resumed_at.saturating_sub(k.last_handled.map_or(0, |n| n + 1))).sum();
    assert_eq!(lost, gaps + (N - 1 - distinct.last().copied().unwrap_or(0)));
    ipc.disconnect("kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_a_server_without_acks_a_client_falls_back_with_a_warning_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.fallback");
    let (child, _) = spawn_server("plain", &format!("unix:{}", path.display()));

    // acks on: the plain wire after the agreement timeout, events that waited included
    let mut config = acked(dir.path(), Acks::On);
    config.ack_agreement_timeout = Duration::from_millis(200);
    let ipc = Ipc::new(config.clone());
    let client = ipc.connect_to("fallback", Some(&path)).unwrap();
    for n in 0..10u64 {
        client.emit("seq", n).unwrap();
    }
    let seen = tokio::task::block_in_place(|| {
        let mut seen = Vec::new();
        while seen.len() < 10 {
            seen.extend(seq_of(&child.next_line().expect("the child is alive")));
        }
        seen
    });
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert_eq!(client.ack_stats().fallbacks, 1);
    client.emit("seq", 10).unwrap(); // now plain at once
    let eleventh = tokio::task::block_in_place(|| loop {
        if let Some(n) = seq_of(&child.next_line().expect("the child is alive")) {
            break n;
        }
    });
    assert_eq!(eleventh, 10);
    ipc.disconnect("fallback");

    // acks required: refused, with a typed error, and no reconnection
    config.acks = Acks::Required;
    let ipc = Ipc::new(config);
    let (client, mut life) = watched(&ipc, "refused", Some(&path));
    let (_, error) = next_error(&mut life).await;
    assert!(matches!(Error::of(&error), Some(Error::AcksUnsupported { .. })), "{error}");
    wait_for(&mut life, "destroy").await;
    assert!(matches!(client.emit("seq", 1), Err(Error::Destroyed { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_second_partition_under_load_none_lost_none_duplicated() {
    const N: u64 = 20_000;
    let test = "a_5_second_partition_under_load_none_lost_none_duplicated";
    let Some(ns) = interop::NetNs::create_or_skip(test) else { return };
    let exe = std::env::current_exe().unwrap();
    let endpoint = format!("acked tcp:{}:0", ns.ns_addr());
    let (child, port) = ready(ChildProcess::spawn_from(ns.exec(exe), "child_server", &endpoint));
    // everything the server's handler sees, until its stats line
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        loop {
            let line = child.next_line_within(Duration::from_secs(60)).expect("the child is alive");
            if let Some(n) = seq_of(&line) {
                seen.push(n);
            } else if let Some(stats) = line.strip_prefix("stats ") {
                return (seen, stats.to_owned());
            }
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let mut config = acked(dir.path(), Acks::Required);
    // a silent server (the link is down) is left after 2 s; then the client
    // tries again every 200 ms until the link is back
    config.idle_timeout = Some(Duration::from_secs(2));
    config.keepalive = Some(Keepalive::new(Duration::from_secs(1)).interval(Duration::from_secs(1)).count(2));
    config.retry = Duration::from_millis(200);
    let ipc = Ipc::new(config);
    let disconnects = Arc::new(AtomicU64::new(0));
    let counter = disconnects.clone();
    let host = ns.ns_addr().to_string();
    let client = ipc
        .connect_to_net_with("partition", Some(&host), Some(port), |c| {
            c.on_disconnect(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });
        })
        .unwrap();
    within("connect", client.connected()).await.unwrap();
    let started = Instant::now();
    // the load: 2,000 events a second, for about 10 s
    let sender = tokio::spawn({
        let client = client.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for n in 0..N {
                if n % 20 == 0 {
                    tick.tick().await;
                }
                client.emit_async("seq", n).await.unwrap();
            }
        }
    });
    // the partition: once the server has acknowledged 4,000 events, for 5 s
    within("4,000 acknowledged", async {
        while client.ack_stats().acknowledged < 4_000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    ns.set_link(false).unwrap();
    let at = client.ack_stats();
    tokio::time::sleep(Duration::from_secs(5)).await;
    ns.set_link(true).unwrap();
    let during = client.ack_stats();
    within_for(Duration::from_secs(60), "the sender", sender).await.unwrap();
    within_for(Duration::from_secs(60), "everything acknowledged", async {
        while client.ack_stats().acknowledged < N {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    client.emit_async("stats", ()).await.unwrap();
    let (seen, stats) = within_for(Duration::from_secs(60), "the server's figures", lines).await.unwrap();
    let stats: Vec<u64> = stats.split(' ').map(|n| n.parse().unwrap()).collect();
    let after = client.ack_stats();
    let distinct: BTreeSet<u64> = seen.iter().copied().collect();
    let (lost, duplicated) = (N - distinct.len() as u64, seen.len() as u64 - distinct.len() as u64);
    println!(
        "partition of 5 s after {} acknowledged ({} emitted by then, {} by its end); events sent {N}, received {}, \
         lost {lost}, duplicated {duplicated}; resent {}, duplicates dropped by the server {}, client \
         disconnects {}; replay buffer peak {} events; {:.1} s",
        at.acknowledged,
        at.sent,
        during.sent,
        seen.len(),
        after.resent,
        stats[1],
        disconnects.load(Ordering::SeqCst),
        after.buffered_peak,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(check_in_order(&seen), Ok(()), "in order, each once");
    assert_eq!(seen.first(), Some(&0));
    assert_eq!((lost, duplicated), (0, 0));
    ipc.disconnect("partition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_fails_the_emit_and_close_waits_for_every_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.window");
    let mut config = acked(dir.path(), Acks::Required);
    config.ack_window = 8;
    config.when_window_full = WhenFull::Error;
    // no server yet: events wait in the replay buffer, 8 at most
    let ipc = Ipc::new(config.clone());
    let client = ipc.connect_to("window", Some(&path)).unwrap();
    for n in 0..8u64 {
        client.emit("seq", n).unwrap();
    }
    assert!(matches!(client.emit("seq", 8), Err(Error::AckWindowFull { capacity: 8 })));
    assert_eq!((client.ack_stats().sent, client.ack_stats().buffered), (8, 8));

    let server = Ipc::new(config).serve(Some(&path)).unwrap();
    let seen = support::Log::new();
    let log = seen.clone();
    server.on("seq", move |event, _| log.push(event.data_as::<u64>().unwrap()));
    within("start", server.start()).await.unwrap();
    // close: acknowledged, every one, before the connection ends
    within("close", client.close()).await.unwrap();
    assert_eq!(seen.snapshot(), (0..8).collect::<Vec<_>>());
    assert_eq!((client.ack_stats().acknowledged, client.ack_stats().buffered), (8, 0));
    let stats = server.ack_stats();
    assert_eq!((stats.delivered, stats.duplicates, stats.sessions), (8, 0, 1));
    server.stop().await;
}

/// Server to client: the server emits on the socket its client agreed on
/// (the emits of a cut connection wait for the session's next one) while the
/// proxy cuts the connection again and again: the client's handler sees
/// each event once and in order. Prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_to_client_cut_by_a_proxy_none_lost_none_duplicated_in_order() {
    const CUTS: u64 = 60;
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let server = Ipc::new(acked(dir.path(), Acks::On)).serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    let (agreed_tx, agreed_rx) = tokio::sync::oneshot::channel();
    let agreed_tx = std::sync::Mutex::new(Some(agreed_tx));
    server.on("go", move |_, socket| {
        if let Some(tx) = agreed_tx.lock().unwrap().take() {
            let _ = tx.send(socket.clone());
        }
    });
    within("start", server.start()).await.unwrap();
    let port = server.local_addr().unwrap().port();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    // the client writes only its hello (about 80 bytes) and acknowledgements
    // (about 35 each): a cut after 1 to 400 of its bytes, the server's frames
    // cut wherever they are
    let (proxy, cuts) = cutting_proxy(port, CUTS, 400, seed).await;

    let ipc = Ipc::new(acked(dir.path(), Acks::Required));
    let client = ipc.connect_to_net("acked", Some("127.0.0.1"), Some(proxy)).unwrap();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    client.on("seq", move |event, _| {
        let _ = seen_tx.send(event.data_as::<u64>().unwrap());
    });
    client.emit("go", ()).unwrap(); // numbered: it reaches the server after the agreement
    let socket = within("the agreement", agreed_rx).await.unwrap();

    let started = Instant::now();
    let emitter = tokio::spawn({
        let cuts = cuts.clone();
        async move {
            let mut n = 0;
            while n < N || cuts.load(Ordering::SeqCst) < CUTS {
                match socket.emit("seq", n) {
                    Ok(()) => n += 1,
                    // the replay buffer is full: room comes with the client's acknowledgements
                    Err(Error::AckWindowFull { .. }) => tokio::time::sleep(Duration::from_millis(1)).await,
                    Err(e) => panic!("{e}"),
                }
                if n % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            n
        }
    });
    let sent = within("the emitter", emitter).await.unwrap();
    let mut seen = Vec::new();
    let mut distinct = BTreeSet::new();
    within("every event", async {
        while distinct.len() < sent as usize {
            let n = seen_rx.recv().await.unwrap();
            seen.push(n);
            distinct.insert(n);
        }
    })
    .await;
    // anything late (a duplicate) would come with the last acknowledgements
    within("every acknowledgement", async {
        while server.ack_stats().buffered > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    while let Ok(n) = seen_rx.try_recv() {
        seen.push(n);
    }
    let server_stats = server.ack_stats();
    let client_stats = client.ack_stats();
    let lost = sent - distinct.len() as u64;
    let duplicated = seen.len() as u64 - distinct.len() as u64;
    println!(
        "server to client, proxy cuts: {} (seed {seed}); events sent {sent}, received {}, lost {lost}, \
         duplicated {duplicated}; resent {} (written again after a reconnect), duplicates dropped by the \
         client {}, out of step {}, acks sent by the client {}, acks received by the server {}; replay \
         buffer peak {} events; {:.1} s",
        cuts.load(Ordering::SeqCst),
        seen.len(),
        server_stats.resent,
        client_stats.duplicates,
        client_stats.out_of_order,
        client_stats.acks_sent,
        server_stats.acks_received,
        server_stats.buffered_peak,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(cuts.load(Ordering::SeqCst), CUTS);
    assert_eq!(check_in_order(&seen), Ok(()), "in order, each once");
    assert_eq!(seen.first(), Some(&0));
    assert_eq!((lost, duplicated), (0, 0));
    assert!(server_stats.resent > 0, "cuts made the server send again");
    assert!(server_stats.buffered_peak <= 2048);
    ipc.disconnect("acked");
}

/// Server to client: what a server keeps for a client session that left is
/// bounded by `ack_window` (an emit past it fails), and dropped once the
/// session lingered past `ack_linger` (counted in `expired`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_to_client_replay_buffer_is_bounded_and_expires_after_the_linger() {
    const LINGER: Duration = Duration::from_millis(200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.bounded");
    let mut config = acked(dir.path(), Acks::On);
    config.ack_window = 16;
    config.ack_linger = LINGER;
    let server = Ipc::new(config.clone()).serve(Some(&path)).unwrap();
    let (agreed_tx, mut agreed_rx) = tokio::sync::mpsc::unbounded_channel();
    server.on("go", move |_, socket| {
        let _ = agreed_tx.send(socket.clone());
    });
    within("start", server.start()).await.unwrap();

    let ipc = Ipc::new(config.clone());
    let (client, mut life) = watched(&ipc, "gone", Some(&path));
    client.emit("go", ()).unwrap();
    let socket = within("the agreement", agreed_rx.recv()).await.unwrap();
    wait_for(&mut life, "connect").await;
    ipc.disconnect("gone");
    within("the server sees it go", async {
        while !server.sockets().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // the session outlives its connection: 16 events wait for it, the 17th does not fit
    for n in 0..16u64 {
        socket.emit("seq", n).unwrap();
    }
    assert!(matches!(socket.emit("seq", 16u64), Err(Error::AckWindowFull { capacity: 16 })));
    let stats = server.ack_stats();
    assert_eq!((stats.sent, stats.buffered, stats.expired), (16, 16, 0));

    // past the linger, the next agreement (any client's) drops them
    tokio::time::sleep(LINGER).await;
    let other = Ipc::new(config);
    let client = other.connect_to("other", Some(&path)).unwrap();
    client.emit("go", ()).unwrap();
    within("the second agreement", agreed_rx.recv()).await.unwrap();
    let stats = server.ack_stats();
    println!("replay bound: window 16, emitted 16 + 1 refused; after the linger: {} expired", stats.expired);
    assert_eq!((stats.buffered, stats.expired), (0, 16));
    other.disconnect("other");
}

/// `Socket::emit_async` with `WhenFull::Wait` waits for the client's
/// acknowledgements when the session's replay buffer is full: every event
/// arrives, in order, and the buffer never holds more than the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_emit_async_waits_for_room_in_a_full_window() {
    const N: u64 = 2_000;
    const WINDOW: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.wait");
    let mut config = acked(dir.path(), Acks::On);
    config.ack_window = WINDOW;
    let server = Ipc::new(config.clone()).serve(Some(&path)).unwrap();
    let (agreed_tx, mut agreed_rx) = tokio::sync::mpsc::unbounded_channel();
    server.on("go", move |_, socket| {
        let _ = agreed_tx.send(socket.clone());
    });
    within("start", server.start()).await.unwrap();

    let ipc = Ipc::new(config);
    let client = ipc.connect_to("waits", Some(&path)).unwrap();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    client.on("seq", move |event, _| {
        let _ = seen_tx.send(event.data_as::<u64>().unwrap());
    });
    client.emit("go", ()).unwrap();
    let socket = within("the agreement", agreed_rx.recv()).await.unwrap();
    // the sync form refuses once the window is full; the async one waits
    within("every emit finds room", async {
        for n in 0..N {
            socket.emit_async("seq", n).await.unwrap();
        }
    })
    .await;
    for n in 0..N {
        assert_eq!(within("the next event", seen_rx.recv()).await, Some(n));
    }
    let stats = server.ack_stats();
    println!("emit_async, window {WINDOW}: {N} sent, buffer peak {}", stats.buffered_peak);
    assert!(stats.buffered_peak <= WINDOW, "{stats:?}");
    ipc.disconnect("waits");
}

/// Acks with `sync` (one event at a time, each waiting for the server to send
/// anything) are refused with a clear error, on both ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_with_sync_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sync");
    let mut config = acked(dir.path(), Acks::On);
    config.sync = true;
    let refused = |result: Result<(), Error>| match result {
        Err(Error::Config(message)) => {
            assert!(message.contains("acks cannot be combined with sync"), "{message}")
        }
        other => panic!("{other:?}"),
    };
    refused(Ipc::new(config.clone()).connect_to("sync", Some(&path)).map(drop));
    refused(Ipc::new(config).serve(Some(&path)).map(drop));
}

/// `broadcast` numbers what goes to a client that agreed to acknowledged
/// events and sends the plain frame to one that did not (acks off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_is_acknowledged_to_acked_clients_and_plain_to_others() {
    const N: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.news");
    let server = Ipc::new(acked(dir.path(), Acks::On)).serve(Some(&path)).unwrap();
    let (agreed_tx, mut agreed_rx) = tokio::sync::mpsc::unbounded_channel();
    server.on("go", move |_, _| {
        let _ = agreed_tx.send(());
    });
    within("start", server.start()).await.unwrap();
    let mut clients = Vec::new();
    let mut received = Vec::new();
    for (id, acks) in [("acked", Acks::Required), ("plain", Acks::Off)] {
        let ipc = Ipc::new(acked(dir.path(), acks));
        let client = ipc.connect_to(id, Some(&path)).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        client.on("news", move |event, _| {
            let _ = tx.send(event.data_as::<u64>().unwrap());
        });
        within("connect", client.connected()).await.unwrap();
        client.emit("go", ()).unwrap();
        within("the server hears it", agreed_rx.recv()).await.unwrap();
        clients.push((ipc, client));
        received.push(rx);
    }
    for n in 0..N {
        assert_eq!(server.broadcast("news", n).unwrap(), 2);
    }
    for rx in &mut received {
        let mut got = Vec::new();
        within("every event", async {
            while got.len() < N as usize {
                got.push(rx.recv().await.unwrap());
            }
        })
        .await;
        assert_eq!(got, (0..N).collect::<Vec<_>>());
    }
    // the client acknowledges only what its handlers finished (and counted)
    within("every acknowledgement", async {
        while server.ack_stats().buffered > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(server.ack_stats().sent, N, "numbered for the acked client only");
    assert_eq!(clients[0].1.ack_stats().delivered, N);
    assert_eq!(clients[1].1.ack_stats(), ipc_compat::AckStats::default());
    for (ipc, client) in clients {
        ipc.disconnect(client.id());
    }
}

/// A peer written from `PROTOCOL.md` alone, on a real TCP socket, plays an
/// acked server to a Rust client: the client takes numbered events, drops a
/// duplicate, acknowledges, and on a gap (out of step) closes the connection
/// and agrees again on a new one, where the server resends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_receiving_acked_events_drops_duplicates_and_reconnects_on_a_gap() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let ipc = Ipc::new(acked(dir.path(), Acks::Required));
    let client = ipc.connect_to_net("hand", Some("127.0.0.1"), Some(port)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client.on("news", move |event, _| {
        let _ = tx.send(event.data_as::<u64>().unwrap());
    });
    let frame = |json: serde_json::Value| format!("{json}\x0c");
    // reads frames up to `want` (an event type); returns its data
    async fn read_until(
        reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        want: &str,
    ) -> serde_json::Value {
        loop {
            let mut buf = Vec::new();
            reader.read_until(b'\x0c', &mut buf).await.unwrap();
            assert!(!buf.is_empty(), "the client closed before {want}");
            let event: serde_json::Value = serde_json::from_slice(&buf[..buf.len() - 1]).unwrap();
            if event["type"] == want {
                return event["data"].clone();
            }
        }
    }
    let hello = |next: u64| {
        frame(
            serde_json::json!({"type": "ipc.hello", "data": {"acks": 1, "received": 0, "session": "hand-1", "next": next}}),
        )
    };
    let event = |seq: u64| {
        frame(serde_json::json!({"type": "ipc.event", "data": {"seq": seq, "type": "news", "data": seq}}))
    };

    // first connection: 1, 2, 2 again (a duplicate), then 4 (a gap)
    let (socket, _) = within("the first connection", listener.accept()).await.unwrap();
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    let proposal = within("the hello", read_until(&mut reader, "ipc.hello")).await;
    assert_eq!(proposal["receive"], 1, "{proposal}");
    let out = [hello(1), event(1), event(2), event(2), event(4)].concat();
    write.write_all(out.as_bytes()).await.unwrap();
    let mut eof = Vec::new();
    within("the client closes on the gap", reader.read_to_end(&mut eof)).await.unwrap();
    let acked = String::from_utf8_lossy(&eof).contains("\"ipc.ack\"");

    // second connection: the server resends from its oldest unacknowledged (1)
    let (socket, _) = within("the second connection", listener.accept()).await.unwrap();
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    within("the second hello", read_until(&mut reader, "ipc.hello")).await;
    let out = [hello(1), event(1), event(2), event(3), event(4)].concat();
    write.write_all(out.as_bytes()).await.unwrap();
    let ack = within("an acknowledgement of 4", async {
        loop {
            let data = read_until(&mut reader, "ipc.ack").await;
            if data["seq"] == 4 {
                return data;
            }
        }
    })
    .await;
    assert_eq!(ack, serde_json::json!({"seq": 4}));
    let mut seen = Vec::new();
    while let Ok(n) = rx.try_recv() {
        seen.push(n);
    }
    let stats = client.ack_stats();
    println!(
        "hand-written server: handled {seen:?}; duplicates dropped {}, out of step {}, acked on the first connection {acked}",
        stats.duplicates, stats.out_of_order
    );
    assert_eq!(seen, [1, 2, 3, 4]);
    assert_eq!(stats.out_of_order, 1);
    assert!(stats.duplicates >= 3, "2 on the first connection, 1 and 2 on the second");
    ipc.disconnect("hand");
}
