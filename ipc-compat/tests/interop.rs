//! ipc-compat against the real node-ipc 9.2.1 (Node 20) and 14.0.0 (Node 22),
//! through the `interop` crate: the seed README's world/hello in both pairings
//! over unix, tcp, tls and udp4, raw buffers in hex, broadcast, the ids of
//! `socket.disconnected`, reconnection to a restarted server, and `destroy`
//! after `maxRetries`. Peer scripts: `interop/peers/compat/`.

mod support;

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use interop::{pki, within, NodeIpc, PeerBuilder, PeerRuntime, Pki};
use ipc_compat::{Config, Encoding, Ipc, Lifecycle, Server, UdpType};
use serde_json::{json, Value};
use support::{seq_across_a_restart, wait_lifecycle, Peer};

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

fn script(rt: &PeerRuntime, role: &str) -> PeerBuilder {
    rt.role("compat/common.cjs", role)
}

fn port() -> u16 {
    interop::pick_loopback_port().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Unix,
    Tcp,
    Tls,
    Udp4,
}

/// The README's world in Rust: strings get " world!", UDP's {from, message} an object back.
fn rust_world(server: &Server, id: &'static str) {
    server.on("message", move |event, socket| {
        let data = event.data().unwrap();
        match data {
            Value::String(s) => socket.emit("message", format!("{s} world!")),
            other => socket.emit("message", json!({"from": id, "message": format!("{} world!", other["message"].as_str().unwrap_or_default())})),
        }
        .unwrap();
    });
}

fn node_tls_server(pki: &Pki) -> String {
    json!({"tls": {"private": pki.server_key, "public": pki.server_cert}}).to_string()
}

fn node_tls_client(pki: &Pki) -> String {
    json!({"tls": {"trustedConnections": [pki.ca], "rejectUnauthorized": true}}).to_string()
}

/// node-ipc world + Rust hello.
async fn node_world_rust_hello(rt: &PeerRuntime, transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let mut cfg = config(rt.flavor(), dir.path());
    cfg.id = "hello".into();
    let world = script(rt, "world");
    let port = port();
    let world = match transport {
        Transport::Unix => world.arg(format!("path={}", dir.path().join("app.world").display())),
        Transport::Tcp => world.arg("host=127.0.0.1").arg(format!("port={port}")),
        Transport::Tls => {
            cfg.tls = Some({
                let mut tls = ipc_compat::TlsConfig::default();
                tls.trusted_connections = vec![pki.ca.clone()];
                tls
            });
            world
                .arg("host=127.0.0.1")
                .arg(format!("port={port}"))
                .arg(format!("config={}", node_tls_server(&pki)))
        }
        Transport::Udp4 => world
            .arg("host=127.0.0.1")
            .arg(format!("port={port}"))
            .arg("udp=udp4")
            .arg(r#"config={"id":"world"}"#),
    };
    let world = Peer::spawn(world).await;
    let hello = Ipc::new(cfg);
    if transport == Transport::Udp4 {
        let me = hello.serve_net(Some("127.0.0.1"), Some(0), Some(UdpType::Udp4)).unwrap();
        let mut replies = me.subscribe("message", 4);
        within("udp start", me.start()).await.unwrap();
        let to = format!("127.0.0.1:{port}").parse().unwrap();
        me.emit_to(to, "message", json!({"from": "hello", "message": "Hello"})).unwrap();
        assert_eq!(
            world.event().await,
            json!({"type": "message", "data": {"from": "hello", "message": "Hello"}})
        );
        let (reply, socket) = within("udp reply", replies.next()).await.unwrap();
        assert_eq!(reply.data().unwrap(), json!({"from": "world", "message": "Hello world!"}));
        assert_eq!(socket.addr(), Some(to));
        return;
    }
    let client = match transport {
        Transport::Unix => hello.connect_to("world", Some(&dir.path().join("app.world"))).unwrap(),
        _ => hello.connect_to_net("world", Some("127.0.0.1"), Some(port)).unwrap(),
    };
    let mut replies = client.subscribe("message", 4);
    within("connect", client.connected()).await.unwrap();
    world.line("CONNECT").await;
    client.emit("message", "hello").unwrap();
    assert_eq!(world.event().await, json!({"type": "message", "data": "hello"}));
    let (reply, _) = within("reply", replies.next()).await.unwrap();
    assert_eq!(reply.data().unwrap(), json!("hello world!"));
    hello.disconnect("world");
    world.line("DISCONNECT").await;
}

/// Rust world + node-ipc hello.
async fn rust_world_node_hello(rt: &PeerRuntime, transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let mut cfg = config(rt.flavor(), dir.path());
    cfg.id = "world".into();
    if transport == Transport::Tls {
        cfg.tls = Some({
            let mut tls = ipc_compat::TlsConfig::default();
            tls.private = Some(pki.server_key.clone());
            tls.public = Some(pki.server_cert.clone());
            tls
        });
    }
    let ipc = Ipc::new(cfg);
    let path = dir.path().join("app.world");
    let server = match transport {
        Transport::Unix => ipc.serve(Some(&path)).unwrap(),
        Transport::Tcp | Transport::Tls => ipc.serve_net(Some("127.0.0.1"), Some(0), None).unwrap(),
        Transport::Udp4 => ipc.serve_net(Some("127.0.0.1"), Some(0), Some(UdpType::Udp4)).unwrap(),
    };
    rust_world(&server, "world");
    let mut incoming = server.subscribe("message", 4);
    let mut life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let hello = script(rt, "hello");
    let hello = match transport {
        Transport::Unix => hello.arg("transport=unix").arg(format!("path={}", path.display())),
        Transport::Tcp | Transport::Tls => {
            let port = server.local_addr().unwrap().port();
            let hello = hello.arg("transport=tcp").arg("host=127.0.0.1").arg(format!("port={port}"));
            if transport == Transport::Tls {
                hello.arg(format!("config={}", node_tls_client(&pki)))
            } else {
                hello
            }
        }
        Transport::Udp4 => hello
            .arg("transport=udp4")
            .arg("host=127.0.0.1")
            .arg(format!("port={}", server.local_addr().unwrap().port()))
            .arg(format!("localPort={}", port())),
    };
    let hello = Peer::spawn(hello).await;
    let (event, socket) = within("hello's message", incoming.next()).await.unwrap();
    if transport == Transport::Udp4 {
        assert_eq!(event.data().unwrap(), json!({"from": "hello", "message": "Hello"}));
        assert!(socket.is_udp());
        assert_eq!(
            hello.event().await,
            json!({"type": "message", "data": {"from": "world", "message": "Hello world!"}})
        );
        return;
    }
    assert_eq!(event.data().unwrap(), json!("hello"));
    assert_eq!(hello.event().await, json!({"type": "message", "data": "hello world!"}));
    hello.send("QUIT");
    let (gone, _) = wait_lifecycle(&mut life, "socket.disconnected").await;
    assert!(matches!(gone, Lifecycle::SocketDisconnected { peer, .. } if peer == socket));
}

async fn world_hello(flavor: NodeIpc, transport: Transport) {
    let Some(rt) = interop::peer(flavor) else { return };
    node_world_rust_hello(&rt, transport).await;
    rust_world_node_hello(&rt, transport).await;
}

macro_rules! matrix {
    ($($name:ident: $flavor:expr, $transport:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            world_hello($flavor, $transport).await;
        }
    )*};
}

matrix! {
    v9_world_hello_unix: NodeIpc::V9, Transport::Unix;
    v9_world_hello_tcp: NodeIpc::V9, Transport::Tcp;
    v9_world_hello_tls: NodeIpc::V9, Transport::Tls;
    v9_world_hello_udp4: NodeIpc::V9, Transport::Udp4;
    v14_world_hello_unix: NodeIpc::V14, Transport::Unix;
    v14_world_hello_tcp: NodeIpc::V14, Transport::Tcp;
    v14_world_hello_tls: NodeIpc::V14, Transport::Tls;
    v14_world_hello_udp4: NodeIpc::V14, Transport::Udp4;
}

/// Raw buffers with hex encoding, both pairings: the bytes come back reversed.
async fn raw_hex(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(flavor, dir.path());
    cfg.raw_buffer = true;
    cfg.encoding = Encoding::Hex;
    let raw_config = r#"config={"rawBuffer":true,"encoding":"hex"}"#;

    // node world, Rust hello: bytes from a hex string, as node's Buffer.from(s, 'hex')
    let path = dir.path().join("app.rawworld");
    let world =
        Peer::spawn(script(&rt, "world").arg(format!("path={}", path.display())).arg(raw_config)).await;
    let hello = Ipc::new(cfg.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let client = hello
        .connect_to_with("world", Some(&path), |c| {
            c.on_data(move |bytes, _| tx.send(bytes.clone()).unwrap());
        })
        .unwrap();
    client.emit_raw("056d5c").unwrap();
    let event: Value = world.event().await;
    assert_eq!(event["data"], json!({"type": "Buffer", "data": [5, 0x6d, 0x5c]}));
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend_from_slice(&within("raw reply", rx.recv()).await.unwrap());
    }
    assert_eq!(got, [0x5c, 0x6d, 0x05]);
    hello.disconnect("world");

    // Rust world, node hello
    let path = dir.path().join("app.rawhello");
    let ipc = Ipc::new(cfg);
    let server = ipc.serve(Some(&path)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    server.on_data(move |bytes, socket| {
        tx.send(bytes.clone()).unwrap();
        socket.emit_raw(bytes.iter().rev().copied().collect::<Vec<u8>>()).unwrap();
    });
    within("start", server.start()).await.unwrap();
    let hello = Peer::spawn(
        script(&rt, "hello")
            .arg("transport=unix")
            .arg(format!("path={}", path.display()))
            .arg(raw_config)
            .arg("raw=0a141e"),
    )
    .await;
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend_from_slice(&within("raw bytes", rx.recv()).await.unwrap());
    }
    assert_eq!(got, [10, 20, 30]);
    assert_eq!(hello.line("DATA").await, "1e140a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_raw_buffer_hex() {
    raw_hex(NodeIpc::V9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_raw_buffer_hex() {
    raw_hex(NodeIpc::V14).await;
}

/// A Rust server broadcasts to three node clients and one Rust client; then
/// the node clients leave, announcing ids, and `socket.disconnected` reports them.
async fn broadcast_and_ids(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.hub");
    let mut cfg = config(flavor, dir.path());
    cfg.identify_peer = true; // 14.x needs it; the 9.x preset has it on
    let ipc = Ipc::new(cfg.clone());
    let server = ipc.serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(64);
    let mut hellos = server.subscribe("hello", 8);
    within("start", server.start()).await.unwrap();

    let ids = [json!("alpha"), json!(7), json!("gamma")];
    let mut nodes = Vec::new();
    for id in &ids {
        let peer = script(&rt, "hello")
            .arg("transport=unix")
            .arg(format!("path={}", path.display()))
            .arg("listen=news")
            .arg(format!("announce={id}"));
        let peer = Peer::spawn(peer).await;
        nodes.push(peer);
    }
    for _ in &ids {
        within("announcement", hellos.next()).await.unwrap();
    }
    let rust = Ipc::new(cfg);
    let client = rust.connect_to("hub", Some(&path)).unwrap();
    let mut news = client.subscribe("news", 4);
    within("rust client", client.connected()).await.unwrap();
    let mut connects = 0;
    while server.sockets().len() < 4 {
        wait_lifecycle(&mut life, "connect").await;
        connects += 1;
        assert!(connects <= 4);
    }
    assert_eq!(server.broadcast("news", json!({"headline": "to everyone"})).unwrap(), 4);
    for node in &nodes {
        assert_eq!(node.event().await, json!({"type": "news", "data": {"headline": "to everyone"}}));
    }
    let (event, _) = within("rust news", news.next()).await.unwrap();
    assert_eq!(event.data().unwrap(), json!({"headline": "to everyone"}));

    let mut reported = Vec::new();
    for node in &nodes {
        node.send("QUIT");
        let (gone, _) = wait_lifecycle(&mut life, "socket.disconnected").await;
        let Lifecycle::SocketDisconnected { id, .. } = gone else { unreachable!() };
        reported.push(id);
    }
    assert_eq!(reported, [Some("alpha".to_owned()), Some("7".to_owned()), Some("gamma".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_broadcast_and_socket_disconnected_ids() {
    broadcast_and_ids(NodeIpc::V9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_broadcast_and_socket_disconnected_ids() {
    broadcast_and_ids(NodeIpc::V14).await;
}

/// A node server restarted under a Rust client: it reconnects within `retry`
/// and delivers what was emitted meanwhile, in order; then, with the server
/// gone for good, `maxRetries` runs out and the client is destroyed.
async fn restart_and_destroy(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let retry = Duration::from_millis(400);
    let mut cfg = config(flavor, dir.path());
    cfg.retry = retry;
    cfg.max_retries = Some(3);
    let world = || script(&rt, "world").arg(format!("path={}", path.display()));

    let server = Peer::spawn(world()).await;
    let hello = Ipc::new(cfg);
    let mut life = None;
    let client = hello.connect_to_with("world", Some(&path), |c| life = Some(c.lifecycle(256))).unwrap();
    let mut life = life.unwrap();
    let (restarted, took) = seq_across_a_restart(&client, &mut life, &server, Peer::spawn(world())).await;
    assert!(took <= retry + Duration::from_millis(300), "reconnected after {took:?}");

    restarted.kill();
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    // the lost connection, then three failed retries: four disconnects, the last one right before destroy
    assert_eq!(before.iter().filter(|n| **n == "disconnect").count(), 4, "{before:?}");
    assert_eq!(before.last(), Some(&"disconnect"));
    assert_eq!(client.state(), ipc_compat::ClientState::Destroyed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_restarted_server_and_max_retries() {
    restart_and_destroy(NodeIpc::V9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_restarted_server_and_max_retries() {
    restart_and_destroy(NodeIpc::V14).await;
}
