//! Request/response (`PROTOCOL.md`) against the real node-ipc 9.2.1 (Node 20)
//! and 14.0.0 (Node 22), in both directions: a node program answers a Rust
//! client's requests and asks it; a Rust server answers a node client's
//! requests and asks it. The node side is `interop/peers/rpc.cjs`, the helper
//! `PROTOCOL.md` shows (and a test here checks that the two are the same
//! text), driven by `interop/peers/compat/extensions.cjs`. Each direction runs
//! under Fast, Guarded, and Assured with the names allow-listed (node-ipc 14
//! has the profiles on its side too; against 9.2.1 only we have them).

mod support;

use std::path::Path;
use std::time::Duration;

use futures::future::join_all;
use interop::{within, NodeIpc, PeerBuilder, PeerRuntime};
use ipc_compat::{Config, Error, Ipc, Lifecycle, Profile};
use serde_json::{json, Value};
use support::{wait_for, Peer};

/// How long a request may take when it is meant to succeed.
const T: Duration = Duration::from_secs(10);

/// Every event type the tests send, for Assured's allow-lists.
const NAMES: [&str; 7] = ["ipc.request", "ipc.reply", "sum", "fail", "sleep", "echo", "mul"];

fn config(flavor: NodeIpc, dir: &Path, profile: Profile) -> Config {
    let mut c = match flavor {
        NodeIpc::V9 => Config::v9(),
        NodeIpc::V14 => Config::v14(),
    };
    c.silent = true;
    c.socket_root = format!("{}/", dir.display());
    c.retry = Duration::from_millis(100);
    c.parser = profile;
    if profile == Profile::Assured {
        c.allowed_events = Some(NAMES.iter().map(|n| n.to_string()).collect());
    }
    c
}

/// The same profile on the node side (node-ipc 14 only: 9.2.1 has none).
fn node_config(flavor: NodeIpc, profile: Profile) -> Option<String> {
    match (flavor, profile) {
        (NodeIpc::V9, _) | (_, Profile::Fast) => None,
        (NodeIpc::V14, Profile::Assured) => {
            Some(format!("config={}", json!({"parser": "assured", "allowedEvents": NAMES})))
        }
        (NodeIpc::V14, _) => Some(format!("config={}", json!({"parser": profile.name()}))),
    }
}

fn role(rt: &PeerRuntime, role: &str, profile: Profile) -> PeerBuilder {
    let builder = rt.role("compat/extensions.cjs", role);
    match node_config(rt.flavor(), profile) {
        Some(config) => builder.arg(config),
        None => builder,
    }
}

/// Sends `ASK {tag, type, data, ms}` to a node peer and returns its `ANSWER`.
async fn node_asks(peer: &Peer, tag: u32, event_type: &str, data: Value) -> Value {
    let ask = json!({"tag": tag, "type": event_type, "data": data, "ms": 10_000});
    peer.send(&format!("ASK {ask}"));
    let answer: Value = serde_json::from_str(&peer.line("ANSWER").await).unwrap();
    assert_eq!(answer["tag"], tag, "{answer}");
    answer
}

fn remote_message(result: Result<impl std::fmt::Debug, Error>, want_type: &str) -> String {
    match result {
        Err(Error::Remote { event_type, message }) if event_type == want_type => message,
        other => panic!("expected a remote error for {want_type:?}, got {other:?}"),
    }
}

/// What a Rust answerer says to a request of a type it has no handler for:
/// under Assured, a type off the allow-list is refused before that.
fn refused(event_type: &str, profile: Profile) -> String {
    match profile {
        Profile::Assured => format!("event type {event_type:?} is not in the allow-list"),
        _ => format!("no handler for request {event_type:?}"),
    }
}

/// Asking a type nobody answers: a remote error from the node side, or,
/// under Assured, refused here before anything is sent (it is not allow-listed).
fn unknown_type(result: Result<ipc_compat::Event, Error>, profile: Profile) {
    match profile {
        Profile::Assured => assert!(
            matches!(result, Err(Error::Codec(ipc_codec::CodecError::EventNotAllowed { .. }))),
            "{result:?}"
        ),
        _ => assert_eq!(remote_message(result, "nope"), r#"no handler for request "nope""#),
    }
}

/// A node server answers a Rust client's requests, and asks it.
async fn node_answers_rust(flavor: NodeIpc, profile: Profile) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    // socketRoot + appspace + id: where node-ipc 14's assured server may listen
    let world =
        role(&rt, "rpcServer", profile).arg(format!("socketRoot={}/", dir.path().display())).arg("id=world");
    let world = Peer::spawn(world).await;
    let ipc = Ipc::new(config(flavor, dir.path(), profile));
    let mut life = None;
    // no path: socketRoot + appspace + id, as node-ipc derives it (on Windows, a pipe name)
    let client = ipc
        .connect_to_with("world", None, |c| {
            c.on_request("mul", |request, _| async move {
                let [a, b]: [i64; 2] = request.data_as()?;
                Ok::<_, Error>(a * b)
            });
            c.on_request_typed("fail", |text: String, _| async move { Err::<(), _>(text) });
            life = Some(c.lifecycle(64));
        })
        .unwrap();
    let mut life = life.unwrap();
    within("connect", client.connected()).await.unwrap();
    world.line("CONNECT").await;

    // the node side answers
    assert_eq!(client.request_typed::<_, i64>("sum", [1, 2, 3, 4], T).await.unwrap(), 10);
    assert_eq!(remote_message(client.request("fail", "boom", T).await, "fail"), "boom");
    unknown_type(client.request("nope", (), T).await, profile);
    // a handler that returns undefined: a reply without `ok`
    let undefined = client.request("sleep", json!({"ms": 1}), T).await.unwrap();
    assert!(!undefined.has_data() && undefined.data().unwrap().is_null());
    // a deadline against a handler that sleeps; its late reply is dropped without a word
    let late = client.request("sleep", json!({"ms": 800, "value": 1}), Duration::from_millis(100)).await;
    assert!(matches!(late, Err(Error::Timeout { ref event_type, .. }) if event_type == "sleep"), "{late:?}");
    assert_eq!(client.pending_requests(), 0);
    // many in flight at once, each reply matched to its request
    let asks =
        (0..300).map(|i| client.request_typed::<_, Value>("echo", json!({"i": i, "pad": "x".repeat(i)}), T));
    for (i, reply) in join_all(asks).await.into_iter().enumerate() {
        assert_eq!(reply.unwrap(), json!({"i": i, "pad": "x".repeat(i)}));
    }
    tokio::time::sleep(Duration::from_millis(900)).await; // the late reply came meanwhile
    let raised: Vec<_> = std::iter::from_fn(|| life.try_recv()).map(|e| e.name()).collect();
    assert_eq!(raised, ["connect"], "nothing raised on the client but its connection");
    assert_eq!(client.pending_requests(), 0);

    // the node side asks
    assert_eq!(node_asks(&world, 1, "mul", json!([6, 7])).await["ok"], 42);
    assert_eq!(node_asks(&world, 2, "fail", json!("no luck")).await["error"], "no luck");
    assert_eq!(node_asks(&world, 3, "nope", json!(null)).await["error"], refused("nope", profile));
    let misfit = node_asks(&world, 4, "mul", json!("six")).await;
    assert!(misfit["error"].as_str().unwrap().contains("invalid type"), "{misfit}");
    ipc.disconnect("world");
}

/// A Rust server answers a node client's requests, and asks it.
async fn rust_answers_node(flavor: NodeIpc, profile: Profile) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let ipc = Ipc::new(config(flavor, dir.path(), profile));
    let server = ipc.serve(Some(&path)).unwrap();
    server.on_request_typed("sum", |numbers: Vec<i64>, _| async move {
        Ok::<_, Error>(numbers.iter().sum::<i64>())
    });
    server.on_request("fail", |request, _| async move { Err::<(), _>(request.data_as::<String>().unwrap()) });
    server.on_request("sleep", |request, _| async move {
        let ms = request.data()?["ms"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, Error>(request.data()?["value"].clone())
    });
    let mut life = server.lifecycle(64);
    within("start", server.start()).await.unwrap();
    let hello = Peer::spawn(role(&rt, "rpcClient", profile).arg(format!("path={}", path.display()))).await;
    hello.line("CONNECT").await;
    let Lifecycle::Connect(socket) = wait_for(&mut life, "connect").await else { unreachable!() };

    // the Rust side answers
    assert_eq!(node_asks(&hello, 1, "sum", json!([1, 2, 3])).await, json!({"tag": 1, "ok": 6}));
    assert_eq!(node_asks(&hello, 2, "fail", json!("boom")).await, json!({"tag": 2, "error": "boom"}));
    assert_eq!(node_asks(&hello, 3, "nope", json!(1)).await["error"], refused("nope", profile));
    assert_eq!(node_asks(&hello, 4, "sleep", json!({"ms": 20, "value": [1]})).await["ok"], json!([1]));
    let misfit = node_asks(&hello, 5, "sum", json!("one")).await;
    assert!(misfit["error"].as_str().unwrap().starts_with("the request's data does not fit"), "{misfit}");

    // the Rust side asks the node client through its socket
    assert_eq!(socket.request_typed::<_, i64>("sum", [5, 6], T).await.unwrap(), 11);
    assert_eq!(remote_message(socket.request("fail", "bad", T).await, "fail"), "bad");
    unknown_type(socket.request("nope", (), T).await, profile);
    let late = socket.request("sleep", json!({"ms": 500}), Duration::from_millis(50)).await;
    assert!(matches!(late, Err(Error::Timeout { .. })), "{late:?}");
    let asks = (0..300).map(|i| socket.request_typed::<_, Value>("echo", json!([i, i * 2]), T));
    for (i, reply) in join_all(asks).await.into_iter().enumerate() {
        assert_eq!(reply.unwrap(), json!([i, i * 2]));
    }
    assert_eq!(socket.pending_requests(), 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let raised: Vec<_> = std::iter::from_fn(|| life.try_recv()).map(|e| e.name()).collect();
    assert!(!raised.contains(&"error"), "{raised:?}");
    hello.send("QUIT");
    wait_for(&mut life, "socket.disconnected").await;
}

async fn both_ways(flavor: NodeIpc, profile: Profile) {
    if cfg!(windows) && profile == Profile::Assured {
        // node-ipc 14 refuses an Assured server on a local endpoint on Windows, and so do we
        interop::not_checked_here(
            "request/response under Assured (local endpoints only: refused on Windows)",
        );
        return;
    }
    node_answers_rust(flavor, profile).await;
    rust_answers_node(flavor, profile).await;
}

macro_rules! matrix {
    ($($name:ident: $flavor:expr, $profile:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            both_ways($flavor, $profile).await;
        }
    )*};
}

matrix! {
    v9_requests_both_ways: NodeIpc::V9, Profile::Fast;
    v9_requests_both_ways_guarded: NodeIpc::V9, Profile::Guarded;
    v14_requests_both_ways: NodeIpc::V14, Profile::Fast;
    v14_requests_both_ways_guarded: NodeIpc::V14, Profile::Guarded;
    v14_requests_both_ways_assured: NodeIpc::V14, Profile::Assured;
}

/// `PROTOCOL.md` shows the helper these tests run, byte for byte.
#[test]
fn protocol_md_shows_the_helper_the_tests_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let protocol = std::fs::read_to_string(root.join("PROTOCOL.md")).unwrap();
    let helper = std::fs::read_to_string(root.join("interop/peers/rpc.cjs")).unwrap();
    assert!(
        protocol.contains(&format!("```js\n{helper}```\n")),
        "PROTOCOL.md's JavaScript helper differs from interop/peers/rpc.cjs: copy the file into it"
    );
}
