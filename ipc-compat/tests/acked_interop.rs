//! Acknowledged delivery (`PROTOCOL.md`) against the real node-ipc 9.2.1
//! (Node 20) and 14.0.0 (Node 22), which know nothing of it:
//!
//! - a Rust client with `Acks::On` against a node-ipc server says hello, gets
//!   no answer, falls back to the plain wire with its logged warning, and its
//!   events (those that waited for the agreement included) arrive, in order;
//! - with `Acks::Required` it refuses the server with the typed
//!   [`Error::AcksUnsupported`] and gives up;
//! - a node-ipc client of a Rust server with acks on works plainly: the
//!   server never requires the hello, and its emits and broadcasts to a
//!   client that did not agree go out on the plain wire.
//!
//! The node side is `interop/peers/compat/common.cjs` (`world`, `hello`).

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interop::{within, NodeIpc, PeerRuntime};
use ipc_compat::{Acks, Config, Error, Ipc, Logger};
use serde_json::json;
use support::{next_error, wait_for, Peer};

fn config(flavor: NodeIpc, dir: &Path, acks: Acks) -> Config {
    let mut c = match flavor {
        NodeIpc::V9 => Config::v9(),
        NodeIpc::V14 => Config::v14(),
    };
    c.silent = true;
    c.socket_root = format!("{}/", dir.display());
    c.retry = Duration::from_millis(100);
    c.acks = acks;
    c.ack_agreement_timeout = Duration::from_millis(300);
    c
}

/// A Rust client with acks against a node-ipc server: fallback or refusal.
async fn rust_client_node_server(rt: &PeerRuntime) {
    let flavor = rt.flavor();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let world =
        Peer::spawn(rt.role("compat/common.cjs", "world").arg(format!("path={}", path.display()))).await;

    // On: the plain wire after the agreement timeout, with the warning logged
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut cfg = config(flavor, dir.path(), Acks::On);
    cfg.silent = false;
    let sink = lines.clone();
    cfg.logger = Logger::new(move |line| sink.lock().unwrap().push(line.to_owned()));
    let ipc = Ipc::new(cfg);
    let client = ipc.connect_to("world", Some(&path)).unwrap();
    for n in 0..5u64 {
        client.emit("seq", n).unwrap(); // these wait for the agreement, then go plain
    }
    world.line("CONNECT").await;
    let hello = world.event().await;
    assert_eq!(hello["type"], "ipc.hello", "{hello}");
    assert_eq!((hello["data"]["next"].clone(), hello["data"]["receive"].clone()), (json!(1), json!(1)));
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let event = world.event().await;
        assert_eq!(event["type"], "seq", "plain events only: {event}");
        seen.push(event["data"].as_u64().unwrap());
    }
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    client.emit("seq", 5u64).unwrap(); // plain at once now
    assert_eq!(world.event().await, json!({"type": "seq", "data": 5}));
    assert_eq!(client.ack_stats().fallbacks, 1);
    let warned = lines.lock().unwrap().iter().any(|l| l.contains("did not agree to acknowledged delivery"));
    assert!(warned, "the fallback is logged: {:?}", lines.lock().unwrap());
    println!("{flavor:?}: acks On against node-ipc: fallback, 6 of 6 events arrived in order");
    ipc.disconnect("world");
    world.line("DISCONNECT").await;

    // Required: refused with the typed error, and no reconnection
    let ipc = Ipc::new(config(flavor, dir.path(), Acks::Required));
    let (client, mut life) = support::watched(&ipc, "world", Some(&path));
    client.emit("seq", 99u64).unwrap(); // waits for an agreement that never comes
    let (_, error) = next_error(&mut life).await;
    assert!(matches!(Error::of(&error), Some(Error::AcksUnsupported { .. })), "{error}");
    wait_for(&mut life, "destroy").await;
    assert!(matches!(client.emit("seq", 1), Err(Error::Destroyed { .. })));
    // the node server saw the hello, never the event
    assert_eq!(world.event().await["type"], "ipc.hello");
    world.send("QUIT");
}

/// A node-ipc client of a Rust server with acks on: the plain wire, both ways.
async fn node_client_rust_server(rt: &PeerRuntime) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let ipc = Ipc::new(config(rt.flavor(), dir.path(), Acks::On));
    let server = ipc.serve(Some(&path)).unwrap();
    server.on("message", |event, socket| {
        let text = event.data_as::<String>().unwrap();
        socket.emit("message", format!("{text} world!")).unwrap();
    });
    let mut life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let hello =
        rt.role("compat/common.cjs", "hello").arg("transport=unix").arg(format!("path={}", path.display()));
    let hello = Peer::spawn(hello).await;
    hello.line("CONNECT").await;
    assert_eq!(hello.event().await, json!({"type": "message", "data": "hello world!"}));
    assert_eq!(server.broadcast("message", "to everyone").unwrap(), 1);
    assert_eq!(hello.event().await, json!({"type": "message", "data": "to everyone"}));
    let stats = server.ack_stats();
    assert_eq!((stats.sent, stats.sessions), (0, 0), "nothing numbered for a client that did not agree");
    hello.send("QUIT");
    let _ = wait_for(&mut life, "socket.disconnected").await;
    let raised: Vec<_> = std::iter::from_fn(|| life.try_recv()).map(|e| e.name()).collect();
    assert!(!raised.contains(&"error"), "{raised:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_against_node_ipc_9_fall_back_or_refuse_and_a_node_client_works_plainly() {
    let Some(rt) = interop::peer(NodeIpc::V9) else { return };
    rust_client_node_server(&rt).await;
    node_client_rust_server(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_against_node_ipc_14_fall_back_or_refuse_and_a_node_client_works_plainly() {
    let Some(rt) = interop::peer(NodeIpc::V14) else { return };
    rust_client_node_server(&rt).await;
    node_client_rust_server(&rt).await;
}
