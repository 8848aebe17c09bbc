//! Graceful close: `Client::close` and `Server::stop_within` deliver what is
//! queued, then close. "Emit 10,000 then close: all 10,000 arrive"
//! (achrinza/node-ipc#53) against real node-ipc 9.2.1 and 14.0.0 peers that
//! count what they read, both ways; what a deadline cuts short is reported
//! (`Error::Undelivered`, checked against what a peer that reads afterwards
//! actually gets); `ipc.disconnect(id)` stays immediate. Peers:
//! `interop/peers/compat/extensions.cjs` (`countServer`, `countClient`).

mod support;

#[cfg(unix)]
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use interop::{within, NodeIpc, PeerRuntime};
use ipc_compat::{ClientState, Config, Error, Ipc, Lifecycle};
use serde_json::{json, Value};
use support::{v9, wait_for, Peer};

const N: u64 = 10_000;

fn config(flavor: NodeIpc, dir: &Path) -> Config {
    let mut c = match flavor {
        NodeIpc::V9 => Config::v9(),
        NodeIpc::V14 => Config::v14(),
    };
    c.silent = true;
    c.socket_root = format!("{}/", dir.display());
    c.retry = Duration::from_millis(100);
    c
}

fn counter(rt: &PeerRuntime, role: &str) -> interop::PeerBuilder {
    rt.role("compat/extensions.cjs", role)
}

async fn count_of(peer: &Peer) -> Value {
    serde_json::from_str(&peer.line("COUNT").await).unwrap()
}

/// A Rust client emits 10,000 events and closes at once: a node server reads every one, in order.
async fn client_close_delivers_everything(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let server = Peer::spawn(counter(&rt, "countServer").arg(format!("path={}", path.display()))).await;
    let ipc = Ipc::new(config(flavor, dir.path()));
    let client = ipc.connect_to("world", Some(&path)).unwrap();
    within("connect", client.connected()).await.unwrap();
    let started = Instant::now();
    for n in 0..N {
        client.emit("seq", n).unwrap();
    }
    within("close", client.close()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(client.state(), ClientState::Destroyed);
    assert!(matches!(client.emit("seq", N), Err(Error::Destroyed { .. })));
    assert_eq!(count_of(&server).await, json!({"count": N, "ordered": true}));
    eprintln!("node-ipc {}: 10,000 emitted, closed, all read in {took:?}", rt.ipc_version());
}

/// A Rust server broadcasts 10,000 events to three node clients and stops
/// gracefully: each reads every one, in order.
async fn server_stop_delivers_everything(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let ipc = Ipc::new(config(flavor, dir.path()));
    let server = ipc.serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(64);
    within("start", server.start()).await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let client = Peer::spawn(counter(&rt, "countClient").arg(format!("path={}", path.display()))).await;
        client.line("CONNECT").await;
        wait_for(&mut life, "connect").await;
        clients.push(client);
    }
    for n in 0..N {
        assert_eq!(server.broadcast("seq", n).unwrap(), 3);
    }
    within("stop", server.stop_within(Duration::from_secs(20))).await.unwrap();
    assert!(!server.is_running());
    for client in &clients {
        assert_eq!(count_of(client).await, json!({"count": N, "ordered": true}));
    }
    let mut closed = 0;
    while let Some(event) = life.try_recv() {
        closed += usize::from(matches!(event, Lifecycle::SocketDisconnected { .. }));
    }
    assert_eq!(closed, 3, "each socket raised socket.disconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_emit_ten_thousand_then_close_all_arrive() {
    client_close_delivers_everything(NodeIpc::V9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_emit_ten_thousand_then_close_all_arrive() {
    client_close_delivers_everything(NodeIpc::V14).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_broadcast_ten_thousand_then_stop_within_all_arrive() {
    server_stop_delivers_everything(NodeIpc::V9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_broadcast_ten_thousand_then_stop_within_all_arrive() {
    server_stop_delivers_everything(NodeIpc::V14).await;
}

/// Complete frames in `bytes` (each ends with the delimiter).
#[cfg(unix)]
fn frames(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == 0x0c).count() as u64
}

/// A 1 KiB payload: 10,000 of them are far more than socket buffers hold.
fn kib() -> String {
    "x".repeat(1024)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_within_reports_what_a_peer_that_does_not_read_never_got() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let mut config = v9(dir.path());
    config.max_pending_bytes = None;
    let server = Ipc::new(config).serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(8);
    within("start", server.start()).await.unwrap();
    let mut reader = std::os::unix::net::UnixStream::connect(&path).unwrap();
    wait_for(&mut life, "connect").await;
    let payload = kib();
    for _ in 0..N {
        server.broadcast("bulk", &payload).unwrap();
    }
    let started = Instant::now();
    let stopped = server.stop_within(Duration::from_millis(300)).await;
    let took = started.elapsed();
    let Err(Error::Undelivered { events, connections: 1 }) = stopped else { panic!("{stopped:?}") };
    assert!(events > 0 && events < N, "{events}");
    assert!(took < Duration::from_secs(2), "the deadline holds: {took:?}");
    // the peer reads now: it gets what was written, never fewer than reported
    let mut got = Vec::new();
    tokio::task::block_in_place(|| reader.read_to_end(&mut got)).unwrap();
    let read = frames(&got);
    assert!(read + events >= N && read < N, "read {read}, reported {events} undelivered");
    eprintln!("stop_within(300 ms): {events} of {N} undelivered, {read} read afterwards");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_within_reports_what_a_server_that_does_not_read_never_got() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut config = v9(dir.path());
    config.max_pending_bytes = None;
    let ipc = Ipc::new(config);
    let client = ipc.connect_to("world", Some(&path)).unwrap();
    let (mut accepted, _) = tokio::task::block_in_place(|| listener.accept()).unwrap();
    within("connect", client.connected()).await.unwrap();
    let payload = kib();
    for _ in 0..N {
        client.emit("bulk", &payload).unwrap();
    }
    let closed = within("close", client.close_within(Duration::from_millis(300))).await;
    let Err(Error::Undelivered { events, connections: 1 }) = closed else { panic!("{closed:?}") };
    assert_eq!(client.state(), ClientState::Destroyed);
    let mut got = Vec::new();
    tokio::task::block_in_place(|| accepted.read_to_end(&mut got)).unwrap();
    let read = frames(&got);
    assert!(read + events >= N && read < N, "read {read}, reported {events} undelivered");
}

#[tokio::test]
async fn close_without_a_connection_or_anything_queued_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = Ipc::new(v9(dir.path()));
    let client = ipc.connect_to("nobody", Some(&dir.path().join("app.nobody"))).unwrap();
    within("close", client.close()).await.unwrap();
    assert_eq!(client.state(), ClientState::Destroyed);
    assert!(client.emit("late", 1).is_err());
    // closing twice is fine
    within("close again", client.close()).await.unwrap();
}

#[tokio::test]
async fn close_waits_for_the_server_then_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.later");
    let ipc = Ipc::new(v9(dir.path()));
    let client = ipc.connect_to("later", Some(&path)).unwrap();
    for n in 0..100 {
        client.emit("seq", n).unwrap(); // queued: nothing listens yet
    }
    let closing = tokio::spawn({
        let client = client.clone();
        async move { client.close().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!closing.is_finished(), "it waits for a connection");
    let server = Ipc::new(v9(dir.path())).serve(Some(&path)).unwrap();
    let mut seqs = server.subscribe("seq", 128);
    within("start", server.start()).await.unwrap();
    within("close", closing).await.unwrap().unwrap();
    for n in 0..100u64 {
        let (event, _) = within("seq", seqs.recv()).await.unwrap();
        assert_eq!(event.data_as::<u64>().unwrap(), n);
    }
}

#[tokio::test]
async fn disconnect_stays_immediate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let mut config = v9(dir.path());
    config.max_pending_bytes = None;
    let server = Ipc::new(config.clone()).serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(8);
    within("start", server.start()).await.unwrap();
    let ipc = Ipc::new(config);
    let client = ipc.connect_to("world", Some(&path)).unwrap();
    within("connect", client.connected()).await.unwrap();
    let payload = kib();
    for _ in 0..N {
        client.emit("bulk", &payload).unwrap();
    }
    assert!(ipc.disconnect("world"));
    within("destroyed", client.destroyed()).await;
    assert!(matches!(client.flush().await, Err(Error::Closed)), "queued events were dropped");
    wait_for(&mut life, "socket.disconnected").await;
}

#[tokio::test]
async fn a_closed_client_raises_nothing_and_never_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let server = Ipc::new(v9(dir.path())).serve(Some(&path)).unwrap();
    let mut seqs = server.subscribe("seq", 128);
    let mut server_life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let ipc = Ipc::new(v9(dir.path()));
    let (client, mut life) = support::watched(&ipc, "world", Some(&path));
    wait_for(&mut life, "connect").await;
    for n in 0..100 {
        client.emit("seq", n).unwrap();
    }
    within("close", client.close()).await.unwrap();
    for n in 0..100u64 {
        assert_eq!(within("seq", seqs.recv()).await.unwrap().0.data_as::<u64>().unwrap(), n);
    }
    wait_for(&mut server_life, "socket.disconnected").await;
    // several retry periods later: no new connection, and nothing raised after `connect`
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.sockets().is_empty());
    assert!(server_life.try_recv().is_none(), "no second connection");
    assert!(life.try_recv().is_none(), "close raises no lifecycle event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_server_sends_its_queued_datagrams_before_it_stops() {
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let ipc = Ipc::new(v9(Path::new("/nonexistent")));
    let server = ipc.serve_net(Some("127.0.0.1"), Some(0), Some(ipc_compat::UdpType::Udp4)).unwrap();
    within("start", server.start()).await.unwrap();
    let to = peer.local_addr().unwrap();
    for n in 0..1000 {
        server.emit_to(to, "seq", n).unwrap();
    }
    within("stop", server.stop_within(Duration::from_secs(5))).await.unwrap();
    let mut text = Vec::new();
    let mut datagram = [0u8; 65536];
    while let Ok(len) = tokio::task::block_in_place(|| peer.recv(&mut datagram)) {
        text.extend_from_slice(&datagram[..len]);
    }
    let got: Vec<u64> = text
        .split(|&b| b == 0x0c)
        .filter(|frame| !frame.is_empty())
        .map(|frame| serde_json::from_slice::<Value>(frame).unwrap()["data"].as_u64().unwrap())
        .collect();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}
