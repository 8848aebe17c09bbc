//! Windows only (`.ci/windows` runs it under Wine): ipc-compat against
//! node-ipc 9.2.1 (Node 20) and 14.0.0 (Node 22) on Windows Node, over named
//! pipes named the way node-ipc names them: `socketRoot + appspace + id`, then
//! `\\.\pipe\` + that path without its leading `/`, every `/` a `-`. Each
//! server's pipe name is checked against the one the node-ipc server reports.
//!
//! Both pairings of the README's world and hello, raw buffers, the ids of
//! `socket.disconnected`, a restarted node server the Rust client reconnects
//! to; and node-ipc 14's Windows rules: an Assured local server is refused, a
//! pipe name in use is an address in use, `unlink` has nothing to remove.
//!
//! Ids are unique per test (process id and a counter): pipe names are global.
#![cfg(windows)]

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use interop::{within, NodeIpc, PeerBuilder, PeerRuntime};
use ipc_compat::{Config, Encoding, Error, Ipc, Lifecycle, Profile};
use ipc_transport::local::windows_pipe_name;
use serde_json::{json, Value};
use support::{seq_across_a_restart, wait_lifecycle, Peer};

/// A socket root and appspace of our own, with a `/` inside the root: node-ipc
/// turns each `/` into `-`.
const CUSTOM_ROOT: &str = "/ipc-rs-test/nested/";
const CUSTOM_APPSPACE: &str = "svc.";

/// An id no other test (or test run) uses at the same time.
fn unique(base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{base}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The preset of `flavor`, quiet, with a short retry.
fn preset(flavor: NodeIpc) -> Config {
    let mut config = match flavor {
        NodeIpc::V9 => Config::v9(),
        NodeIpc::V14 => Config::v14(),
    };
    config.silent = true;
    config.retry = Duration::from_millis(100);
    config
}

/// Where a server of `flavor` is named: node-ipc's default socket root and
/// appspace, or [`CUSTOM_ROOT`] and [`CUSTOM_APPSPACE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    Default,
    Custom,
}

impl Naming {
    const BOTH: [Naming; 2] = [Naming::Default, Naming::Custom];

    /// `config` with this naming.
    fn apply(self, mut config: Config) -> Config {
        if self == Naming::Custom {
            config.socket_root = CUSTOM_ROOT.into();
            config.appspace = CUSTOM_APPSPACE.into();
        }
        config
    }

    /// The same for a node peer: `config=<json>` merged into `ipc.config`
    /// (plus `extra` members), or nothing for node-ipc's defaults.
    fn peer_config(self, extra: Value) -> Option<String> {
        let mut config = extra;
        if self == Naming::Custom {
            config["socketRoot"] = json!(CUSTOM_ROOT);
            config["appspace"] = json!(CUSTOM_APPSPACE);
        }
        (config != json!({})).then(|| format!("config={config}"))
    }
}

/// The pipe name node-ipc gives the server `id` under `config`, as we derive it.
fn our_pipe_name(config: &Config, id: &str) -> String {
    windows_pipe_name(&config.socket_path_for(id).to_string_lossy())
}

/// The pipe name written out by hand from node-ipc's rules, for the default
/// roots (9.x: `/tmp/`; 14.x: `/node-ipc-<user>/`) and for [`CUSTOM_ROOT`].
fn expected_pipe_name(flavor: NodeIpc, naming: Naming, id: &str) -> String {
    match (naming, flavor) {
        (Naming::Custom, _) => format!(r"\\.\pipe\ipc-rs-test-nested-svc.{id}"),
        (Naming::Default, NodeIpc::V9) => format!(r"\\.\pipe\tmp-app.{id}"),
        (Naming::Default, NodeIpc::V14) => {
            let user: String = std::env::var("USERNAME")
                .unwrap_or_default()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' })
                .collect();
            format!(r"\\.\pipe\node-ipc-{user}-app.{id}")
        }
    }
}

fn role(rt: &PeerRuntime, role: &str) -> PeerBuilder {
    rt.role("compat/common.cjs", role)
}

/// node-ipc's world serving `id` (no path: node-ipc derives it), with `extra` config.
async fn node_world(rt: &PeerRuntime, naming: Naming, id: &str, extra: Value) -> (Peer, String) {
    let builder = role(rt, "world").arg(format!("id={id}"));
    let builder = match naming.peer_config(extra) {
        Some(config) => builder.arg(config),
        None => builder,
    };
    let (peer, ready) = Peer::spawn_ready(builder).await;
    let name = ready["path"].as_str().unwrap_or_else(|| panic!("READY without a path: {ready}")).to_owned();
    (peer, name)
}

/// node-ipc's hello connecting to the server `id` by id (node-ipc derives the path).
fn node_hello(rt: &PeerRuntime, naming: Naming, id: &str, extra: Value) -> PeerBuilder {
    let builder = role(rt, "hello").arg("transport=unix").arg(format!("server={id}"));
    match naming.peer_config(extra) {
        Some(config) => builder.arg(config),
        None => builder,
    }
}

/// The README's world in Rust: strings get " world!".
fn rust_world(server: &ipc_compat::Server) {
    server.on("message", |event, socket| {
        let text: String = event.data_as().unwrap_or_default();
        socket.emit("message", format!("{text} world!")).unwrap();
    });
}

// ---------------------------------------------------------------- world and hello

/// node-ipc's world ← Rust hello, both by id: the pipe node-ipc reports is
/// the one we derive and the one written out from its rules.
async fn node_world_rust_hello(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    for naming in Naming::BOTH {
        let id = unique("world");
        let config = naming.apply(preset(flavor));
        let (world, name) = node_world(&rt, naming, &id, json!({})).await;
        println!("{flavor} {naming:?}: node-ipc serves {id} on {name}");
        assert_eq!(name, expected_pipe_name(flavor, naming, &id), "{flavor} {naming:?}: node-ipc's pipe");
        assert_eq!(name, our_pipe_name(&config, &id), "{flavor} {naming:?}: our pipe");

        let hello = Ipc::new(config);
        let client = hello.connect_to(&id, None).unwrap();
        let mut replies = client.subscribe("message", 4);
        within("connect", client.connected()).await.unwrap();
        world.line("CONNECT").await;
        client.emit("message", "hello").unwrap();
        assert_eq!(world.event().await, json!({"type": "message", "data": "hello"}));
        let (reply, _) = within("reply", replies.next()).await.unwrap();
        assert_eq!(reply.data().unwrap(), json!("hello world!"));
        hello.disconnect(&id);
        world.line("DISCONNECT").await;
    }
}

/// Rust world ← node-ipc's hello, both by id; our server reports the pipe name.
async fn rust_world_node_hello(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    for naming in Naming::BOTH {
        let id = unique("world");
        let mut config = naming.apply(preset(flavor));
        config.id = id.clone();
        let ipc = Ipc::new(config.clone());
        let server = ipc.serve(None).unwrap();
        rust_world(&server);
        let mut incoming = server.subscribe("message", 4);
        let mut life = server.lifecycle(16);
        within("start", server.start()).await.unwrap();
        let name = expected_pipe_name(flavor, naming, &id);
        assert_eq!(server.path().unwrap().to_string_lossy(), name, "{flavor} {naming:?}");

        let hello = Peer::spawn(node_hello(&rt, naming, &id, json!({}))).await;
        let (event, socket) = within("hello's message", incoming.next()).await.unwrap();
        assert_eq!(event.data().unwrap(), json!("hello"));
        assert_eq!(hello.event().await, json!({"type": "message", "data": "hello world!"}));
        hello.send("QUIT");
        let (gone, _) = wait_lifecycle(&mut life, "socket.disconnected").await;
        assert!(matches!(gone, Lifecycle::SocketDisconnected { peer, .. } if peer == socket));
        server.stop().await;
    }
}

// ---------------------------------------------------------------- raw buffers

/// Raw buffers (hex) both ways, by id: the bytes come back reversed.
async fn raw_buffers(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let mut config = preset(flavor);
    config.raw_buffer = true;
    config.encoding = Encoding::Hex;
    let raw = json!({"rawBuffer": true, "encoding": "hex"});

    // node world, Rust hello
    let id = unique("raw");
    let (world, _) = node_world(&rt, Naming::Default, &id, raw.clone()).await;
    let hello = Ipc::new(config.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let client = hello
        .connect_to_with(&id, None, |c| {
            c.on_data(move |bytes, _| tx.send(bytes.clone()).unwrap());
        })
        .unwrap();
    client.emit_raw("056d5c").unwrap();
    let event = world.event().await;
    assert_eq!(event["data"], json!({"type": "Buffer", "data": [5, 0x6d, 0x5c]}));
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend_from_slice(&within("raw reply", rx.recv()).await.unwrap());
    }
    assert_eq!(got, [0x5c, 0x6d, 0x05]);
    hello.disconnect(&id);

    // Rust world, node hello
    let id = unique("raw");
    config.id = id.clone();
    let ipc = Ipc::new(config);
    let server = ipc.serve(None).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    server.on_data(move |bytes, socket| {
        tx.send(bytes.clone()).unwrap();
        socket.emit_raw(bytes.iter().rev().copied().collect::<Vec<u8>>()).unwrap();
    });
    within("start", server.start()).await.unwrap();
    let hello = Peer::spawn(node_hello(&rt, Naming::Default, &id, raw).arg("raw=0a141e")).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend_from_slice(&within("raw bytes", rx.recv()).await.unwrap());
    }
    assert_eq!(got, [10, 20, 30]);
    assert_eq!(hello.line("DATA").await, "1e140a");
    server.stop().await;
}

// ---------------------------------------------------------------- socket.disconnected ids

/// Three node-ipc clients announce ids and leave: `socket.disconnected`
/// reports each id (14.x with `identifyPeer`, as the 9.x preset has it on).
async fn disconnected_ids(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let id = unique("hub");
    let mut config = preset(flavor);
    config.id = id.clone();
    config.identify_peer = true;
    let ipc = Ipc::new(config);
    let server = ipc.serve(None).unwrap();
    let mut life = server.lifecycle(64);
    let mut hellos = server.subscribe("hello", 8);
    within("start", server.start()).await.unwrap();

    let ids = [json!("alpha"), json!(7), json!("gamma")];
    let mut nodes = Vec::new();
    for announced in &ids {
        let builder = node_hello(&rt, Naming::Default, &id, json!({})).arg(format!("announce={announced}"));
        nodes.push(Peer::spawn(builder).await);
        within("announcement", hellos.next()).await.unwrap();
    }
    let mut reported = Vec::new();
    for node in &nodes {
        node.send("QUIT");
        let (gone, _) = wait_lifecycle(&mut life, "socket.disconnected").await;
        let Lifecycle::SocketDisconnected { id, .. } = gone else { unreachable!() };
        reported.push(id);
    }
    assert_eq!(reported, [Some("alpha".to_owned()), Some("7".to_owned()), Some("gamma".to_owned())]);
    server.stop().await;
}

// ---------------------------------------------------------------- restart

/// A node-ipc server restarted under a Rust client: it reconnects and
/// delivers what was emitted meanwhile, in order.
async fn restarted_server(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let id = unique("restart");
    let config = preset(flavor);
    let (first, name) = node_world(&rt, Naming::Default, &id, json!({})).await;
    let hello = Ipc::new(config);
    let mut life = None;
    let client = hello.connect_to_with(&id, None, |c| life = Some(c.lifecycle(256))).unwrap();
    let mut life = life.unwrap();
    let restart = async {
        let (restarted, again) = node_world(&rt, Naming::Default, &id, json!({})).await;
        assert_eq!(again, name, "the same pipe name");
        restarted
    };
    seq_across_a_restart(&client, &mut life, &first, restart).await;
    hello.disconnect(&id);
}

// ---------------------------------------------------------------- node-ipc 14's Windows rules

/// What node-ipc 14 throws when an Assured server starts on a local
/// endpoint on Windows: `(code, message)`.
async fn node_assured_refusal(rt: &PeerRuntime, id: &str, secure_socket_root: bool) -> (String, String) {
    let source = format!(
        "{import}\n\
         ipc.config.silent = true;\n\
         ipc.config.id = {id};\n\
         ipc.config.parser = 'assured';\n\
         ipc.config.allowedEvents = ['app.message'];\n\
         ipc.config.secureSocketRoot = {secure_socket_root};\n\
         try {{\n\
         \x20   ipc.serve(() => {{}});\n\
         \x20   ipc.server.start();\n\
         \x20   console.log('READY ' + JSON.stringify({{started: ipc.server.path}}));\n\
         }} catch (error) {{\n\
         \x20   console.log('READY ' + JSON.stringify({{code: error.code, message: error.message}}));\n\
         }}\n\
         setTimeout(() => process.exit(0), 100);\n",
        import = rt.flavor().import_line("ipc"),
        id = json!(id),
    );
    let (_peer, ready) = Peer::spawn_ready(rt.inline(source)).await;
    let code = ready["code"].as_str().unwrap_or_else(|| panic!("node-ipc 14 did not refuse: {ready}"));
    (code.to_owned(), ready["message"].as_str().unwrap().to_owned())
}

/// node-ipc 14 refuses an Assured local server on Windows before any other
/// check (even without `secureSocketRoot`); so do we, with its message.
async fn assured_local_server_refused() {
    let Some(rt) = interop::peer(NodeIpc::V14) else { return };
    for secure_socket_root in [true, false] {
        let id = unique("assured");
        let (code, message) = node_assured_refusal(&rt, &id, secure_socket_root).await;
        assert_eq!(code, "ERR_IPC_ASSURED_TRANSPORT");
        assert!(message.contains("Windows ACL"), "{message}");

        let mut config = preset(NodeIpc::V14);
        config.id = id;
        config.parser = Profile::Assured;
        config.allowed_events = Some(vec!["app.message".into()]);
        config.secure_socket_root = secure_socket_root;
        let server = Ipc::new(config).serve(None).unwrap();
        let mut life = server.lifecycle(4);
        let refused = within("start", server.start()).await;
        // node-ipc's message in our style: lowercase first letter, no full stop
        let theirs = format!("{}{}", message[..1].to_lowercase(), message[1..].trim_end_matches('.'));
        match refused {
            Err(Error::Config(ours)) => assert_eq!(ours, theirs, "secureSocketRoot {secure_socket_root}"),
            other => panic!("expected a configuration error, got {other:?}"),
        }
        wait_lifecycle(&mut life, "error").await;
        assert!(!server.is_running());
    }
}

/// A pipe name a node-ipc server holds: our server is refused with an
/// address in use (node's `EADDRINUSE`, its kind on the `error` event too)
/// and does not start; the node-ipc server goes on serving.
async fn pipe_name_in_use(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let id = unique("taken");
    let (world, name) = node_world(&rt, Naming::Default, &id, json!({})).await;
    let mut config = preset(flavor);
    config.id = id.clone();
    let server = Ipc::new(config.clone()).serve(None).unwrap();
    let mut life = server.lifecycle(4);
    match within("start", server.start()).await {
        Err(Error::Transport(ipc_transport::Error::AddrInUse { path, live: true })) => {
            assert_eq!(path.to_string_lossy(), name);
        }
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    let (error, _) = wait_lifecycle(&mut life, "error").await;
    let Lifecycle::Error { error, .. } = error else { unreachable!() };
    match &*error {
        ipc_events::Error::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse, "{io}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(!server.is_running());

    // the node-ipc server still serves a Rust client
    let hello = Ipc::new(config);
    let client = hello.connect_to(&id, None).unwrap();
    let mut replies = client.subscribe("message", 4);
    within("connect", client.connected()).await.unwrap();
    client.emit("message", "still").unwrap();
    assert_eq!(world.event().await, json!({"type": "message", "data": "still"}));
    let (reply, _) = within("reply", replies.next()).await.unwrap();
    assert_eq!(reply.data().unwrap(), json!("still world!"));
    hello.disconnect(&id);
}

/// A file at the socket path: node-ipc 14 leaves it alone on Windows (it
/// skips `unlink` there), and so do we; both serve beside it. (node-ipc 9
/// unlinks whatever is at the path, a file included, even on Windows: we do
/// not follow it there.)
async fn file_at_the_socket_path(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();

    // node-ipc, path= a file
    let path = dir.path().join(unique("app.file"));
    std::fs::write(&path, b"precious").unwrap();
    let (world, ready) = Peer::spawn_ready(role(&rt, "world").arg(format!("path={}", path.display()))).await;
    assert_eq!(ready["path"], json!(windows_pipe_name(&path.to_string_lossy())));
    match flavor {
        NodeIpc::V14 => assert_eq!(std::fs::read(&path).unwrap(), b"precious", "node-ipc 14 left the file"),
        NodeIpc::V9 => {
            assert!(!path.exists(), "node-ipc 9.2.1 unlinks the path before listening, even on Windows")
        }
    }
    let hello = Ipc::new(preset(flavor));
    let client = hello.connect_to("world", Some(&path)).unwrap();
    within("connect to node-ipc", client.connected()).await.unwrap();
    world.line("CONNECT").await;
    hello.disconnect("world");

    // ours, the same preset, unlink on: the file stays
    let path = dir.path().join(unique("app.file"));
    std::fs::write(&path, b"precious").unwrap();
    let mut config = preset(flavor);
    config.unlink = true;
    let server = Ipc::new(config.clone()).serve(Some(&path)).unwrap();
    rust_world(&server);
    within("start", server.start()).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"precious", "we left the file");
    let hello =
        Peer::spawn(role(&rt, "hello").arg("transport=unix").arg(format!("path={}", path.display()))).await;
    assert_eq!(hello.event().await, json!({"type": "message", "data": "hello world!"}));
    server.stop().await;
    assert_eq!(std::fs::read(&path).unwrap(), b"precious", "stopping removes no file");
}

macro_rules! both_versions {
    ($($v9:ident, $v14:ident => $scenario:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $v9() {
            $scenario(NodeIpc::V9).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $v14() {
            $scenario(NodeIpc::V14).await;
        }
    )*};
}

both_versions! {
    v9_node_world_rust_hello_by_id, v14_node_world_rust_hello_by_id => node_world_rust_hello;
    v9_rust_world_node_hello_by_id, v14_rust_world_node_hello_by_id => rust_world_node_hello;
    v9_raw_buffers_by_id, v14_raw_buffers_by_id => raw_buffers;
    v9_socket_disconnected_ids_by_id, v14_socket_disconnected_ids_by_id => disconnected_ids;
    v9_restarted_node_server_reconnects, v14_restarted_node_server_reconnects => restarted_server;
    v9_pipe_name_in_use_is_addr_in_use, v14_pipe_name_in_use_is_addr_in_use => pipe_name_in_use;
    v9_file_at_the_socket_path_is_unlinked_by_node_ipc_9_only, v14_file_at_the_socket_path_unlink_has_nothing_to_remove => file_at_the_socket_path;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_assured_local_server_is_refused_as_node_ipc_14_refuses_it() {
    assured_local_server_refused().await;
}
