//! Load: 10,000 ipc-compat clients connected at once to one ipc-compat server
//! over a Unix socket, each exchanging events with it (pings answered by
//! pongs, in order, then one broadcast to all): nothing is lost, nothing
//! arrives twice or out of order. Prints the peak RSS and the open file
//! descriptors of the server process and of the client process.
//!
//! The server runs in the test process, the clients in a child process (a
//! copy of this test binary), so each needs one descriptor per connection:
//! both raise `RLIMIT_NOFILE` (the hard limit too, when allowed), and the test
//! skips, saying so, only when that is impossible.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use interop::within_for;
use ipc_compat::{Client, Config, Ipc};
#[cfg(unix)]
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use serde_json::json;
use support::{child_arg, open_fds, peak_rss_kib, reset_peak_rss, tell_parent, v14, ChildProcess};
use tokio::sync::watch;

const CONNECTIONS: usize = 10_000;
/// Pings each client sends.
const PINGS: u64 = 5;
/// Clients connecting at once (the listen backlog is finite).
const WAVE: usize = 500;
/// Descriptors each process needs: one per connection, and some to spare.
#[cfg_attr(windows, allow(dead_code))]
const FDS_NEEDED: u64 = CONNECTIONS as u64 + 1_000;
/// How long one phase (connecting, the exchange) may take, debug build, 2 cores.
const PHASE: Duration = Duration::from_secs(120);

/// Raises the soft (and if need be the hard) descriptor limit; `Err` says why it cannot.
#[cfg(unix)]
fn raise_fd_limit() -> Result<u64, String> {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    let enough = |v: Option<u64>| v.is_none_or(|v| v >= FDS_NEEDED);
    if enough(current) {
        return Ok(current.unwrap_or(u64::MAX));
    }
    let maximum = if enough(maximum) {
        maximum
    } else {
        // only a privileged process may raise its hard limit
        setrlimit(Resource::Nofile, Rlimit { current: Some(FDS_NEEDED), maximum: Some(FDS_NEEDED) }).map_err(|e| {
            format!("RLIMIT_NOFILE's hard limit is {maximum:?}, {FDS_NEEDED} are needed, and raising it failed: {e}")
        })?;
        Some(FDS_NEEDED)
    };
    setrlimit(Resource::Nofile, Rlimit { current: Some(FDS_NEEDED), maximum })
        .map_err(|e| format!("cannot raise RLIMIT_NOFILE to {FDS_NEEDED}: {e}"))?;
    Ok(FDS_NEEDED)
}

/// Windows has no descriptor limit to raise (the test is ignored there).
#[cfg(windows)]
fn raise_fd_limit() -> Result<u64, String> {
    Err("Windows has no RLIMIT_NOFILE".into())
}

/// A counter handlers bump and the test waits on.
#[derive(Clone)]
struct Count(Arc<watch::Sender<u64>>);

impl Count {
    fn new() -> Count {
        Count(Arc::new(watch::channel(0).0))
    }

    fn bump(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    fn get(&self) -> u64 {
        *self.0.borrow()
    }

    async fn reach(&self, what: &str, n: u64) {
        let mut rx = self.0.subscribe();
        within_for(PHASE, what, rx.wait_for(|v| *v >= n)).await.unwrap();
    }
}

/// Child helper: `CONNECTIONS` clients of the socket path it is given. Says
/// `connected`, then pings (each client `PINGS` times) and says `pongs <n>
/// <in order>` once every pong is back, then says `broadcasts <n>` once every
/// client got the server's broadcast, then `rss <peak KiB> fds <open>` and exits.
#[test]
#[ignore = "helper: runs as a child process of ten_thousand_concurrent_connections_lose_nothing"]
fn child_clients() {
    let Some(path) = child_arg() else { return };
    raise_fd_limit().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut config = Config::v14();
        config.silent = true;
        let ipc = Ipc::new(config);
        let (pongs, broadcasts) = (Count::new(), Count::new());
        let in_order = Arc::new(AtomicBool::new(true));
        let mut clients: Vec<Client> = Vec::with_capacity(CONNECTIONS);
        for wave in 0..CONNECTIONS / WAVE {
            for i in wave * WAVE..(wave + 1) * WAVE {
                let client = ipc.connect_to(&format!("c{i}"), Some(path.as_ref())).unwrap();
                let (p, next, ordered) = (pongs.clone(), Arc::new(AtomicU64::new(0)), in_order.clone());
                client.on("pong", move |event, _| {
                    let data = event.data_as::<serde_json::Value>().unwrap();
                    let (c, n) = (data["c"].as_u64().unwrap(), data["n"].as_u64().unwrap());
                    if c != i as u64 || n != next.fetch_add(1, Ordering::Relaxed) {
                        ordered.store(false, Ordering::Relaxed);
                    }
                    p.bump();
                });
                let b = broadcasts.clone();
                client.on("all", move |_, _| b.bump());
                clients.push(client);
            }
            for client in &clients[wave * WAVE..] {
                within_for(PHASE, "a client connects", client.connected()).await.unwrap();
            }
        }
        tell_parent("connected");

        for n in 0..PINGS {
            for (i, client) in clients.iter().enumerate() {
                client.emit("ping", json!({"c": i, "n": n})).unwrap();
            }
            tokio::task::yield_now().await;
        }
        let total = CONNECTIONS as u64 * PINGS;
        pongs.reach("every pong", total).await;
        tell_parent(format!("pongs {} {}", pongs.get(), in_order.load(Ordering::Relaxed)));
        broadcasts.reach("the broadcast at every client", CONNECTIONS as u64).await;
        assert!(clients.iter().all(Client::is_connected));
        tell_parent(format!("broadcasts {}", broadcasts.get()));
        tell_parent(format!("rss {} fds {}", peak_rss_kib(), open_fds()));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Windows: counts descriptors and RSS through Linux's /proc and raises RLIMIT_NOFILE, which Windows has not"
)]
async fn ten_thousand_concurrent_connections_lose_nothing() {
    let limit = match raise_fd_limit() {
        Ok(limit) => limit,
        Err(why) => {
            eprintln!("SKIPPED ten_thousand_concurrent_connections_lose_nothing: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = v14(dir.path());
    config.id = "load".into();
    config.max_connections = 0; // no limit
    let server = Ipc::new(config).serve(None).unwrap();
    let (received, connected, gone) = (Count::new(), Count::new(), Count::new());
    let r = received.clone();
    server.on("ping", move |event, socket| {
        r.bump();
        socket.emit("pong", event.data_as::<serde_json::Value>().unwrap()).unwrap();
    });
    let c = connected.clone();
    server.on_connect(move |_| c.bump());
    let g = gone.clone();
    server.on_socket_disconnected(move |_, _| g.bump());
    within_for(PHASE, "start", server.start()).await.unwrap();
    let (fds_start, rss_start) = (open_fds(), reset_peak_rss());

    let started = Instant::now();
    let mut clients = ChildProcess::spawn("child_clients", server.path().unwrap().to_str().unwrap());
    let line = |clients: &ChildProcess| {
        tokio::task::block_in_place(|| clients.next_line_within(PHASE)).expect("the client process is alive")
    };
    assert_eq!(line(&clients), "connected");
    connected.reach("the server sees every connection", CONNECTIONS as u64).await;
    assert_eq!(server.sockets().len(), CONNECTIONS, "all connections open at once");
    let fds_connected = open_fds();
    let connect_time = started.elapsed();

    let exchange = Instant::now();
    let total = CONNECTIONS as u64 * PINGS;
    assert_eq!(line(&clients), format!("pongs {total} true"), "every pong back, each once, in order");
    assert_eq!(received.get(), total, "every ping at the server, each once");
    assert_eq!(server.broadcast("all", json!({"to": "everyone"})).unwrap(), CONNECTIONS);
    assert_eq!(line(&clients), format!("broadcasts {CONNECTIONS}"));
    let exchange_time = exchange.elapsed();
    let client_report = line(&clients);
    let (fds_peak, peak_rss) = (open_fds().max(fds_connected), peak_rss_kib());

    // the client process exits: every connection closes, every descriptor comes back
    let (ok, rest) = tokio::task::block_in_place(|| clients.finish(PHASE));
    assert!(ok && rest.is_empty(), "the client process failed: {rest:?}");
    gone.reach("the server sees every client go", CONNECTIONS as u64).await;
    assert!(server.sockets().is_empty());
    let fds_end = open_fds();
    server.stop().await;
    println!(
        "{CONNECTIONS} concurrent connections (RLIMIT_NOFILE {limit}): connected in {connect_time:.1?}; \
         {total} pings + {total} pongs + {CONNECTIONS} broadcast events in {exchange_time:.1?}; \
         server: open fds {fds_start} -> {fds_peak} at peak -> {fds_end} after, \
         RSS {rss_start} KiB -> peak {peak_rss} KiB ({:.1} KiB per connection); clients: peak {client_report}",
        (peak_rss - rss_start) as f64 / CONNECTIONS as f64
    );
    assert!(fds_peak >= fds_start + CONNECTIONS, "every connection was open at once");
    assert!(fds_end <= fds_start, "descriptors leaked: {fds_start} -> {fds_end}");
}
