//! Rust <-> Rust behaviour of the node-ipc API over real sockets: client
//! retries, the offline queue, socket ids, connection limits, malformed input,
//! broadcast, raw buffers, sync mode, UDP, the cluster pattern.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use interop::{pki, within};
use ipc_compat::{
    ClientState, Config, Encoding, Error, Event, Ipc, Lifecycle, Server, Socket, StopRetrying, TlsConfig,
    UdpType,
};
use ipc_transport::local::{LocalListener, LocalStream};
use serde_json::json;
use support::{local_name, v14, v9, wait_lifecycle, watched};
use tokio::io::AsyncWriteExt;

/// A socket's serial number and the id `socket.disconnected` reported.
type Gone = (u64, Option<String>);

/// A server answering `message` with `<data> world!`, as the README's world.
async fn world(server: Server) -> Server {
    server.on("message", |event, socket| {
        let text: String = event.data_as().unwrap_or_default();
        socket.emit("message", format!("{text} world!")).unwrap();
    });
    within("server start", server.start()).await.unwrap();
    server
}

async fn hello_round_trip(client: &ipc_compat::Client) {
    let mut replies = client.subscribe("message", 8);
    within("connect", client.connected()).await.unwrap();
    client.emit("message", "hello").unwrap();
    let (reply, _) = within("reply", replies.next()).await.unwrap();
    assert_eq!(reply.data_as::<String>().unwrap(), "hello world!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_and_hello_over_every_stream_transport() {
    let dir = tempfile::tempdir().unwrap();
    // unix, default path socketRoot + appspace + id
    let mut config = v9(dir.path());
    config.id = "world".into();
    let w = Ipc::new(config.clone());
    let server = world(w.serve(None).unwrap()).await;
    assert_eq!(server.path().unwrap(), local_name(&config.socket_path_for("world")));
    let h = Ipc::new(config.clone());
    hello_round_trip(&h.connect_to("world", None).unwrap()).await;
    server.stop().await;
    assert!(!dir.path().join("app.world").exists());

    // tcp, ephemeral port
    let w = Ipc::new(config.clone());
    let server = world(w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap()).await;
    let port = server.local_addr().unwrap().port();
    hello_round_trip(&h.connect_to_net("tcp-world", None, Some(port)).unwrap()).await;
    server.stop().await;

    // tls, certificates made now
    let pki = pki();
    let mut tls = config.clone();
    tls.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = Some(pki.server_key.clone());
        tls.public = Some(pki.server_cert.clone());
        tls
    });
    let w = Ipc::new(tls);
    let server = world(w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap()).await;
    let port = server.local_addr().unwrap().port();
    let mut tls_client = config.clone();
    tls_client.tls = Some({
        let mut tls = TlsConfig::default();
        tls.trusted_connections = vec![pki.ca.clone()];
        tls
    });
    let h = Ipc::new(tls_client);
    let client = h.connect_to_net("world", Some("localhost"), Some(port)).unwrap();
    assert_eq!(client.endpoint().scheme(), "tls");
    hello_round_trip(&client).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_reports_authorized_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let mut config = v14(dir.path());
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = Some(pki.server_key.clone());
        tls.public = Some(pki.server_cert.clone());
        tls.dhparam = Some("/nonexistent/dhparam.pem".into()); // accepted, unused
        tls.trusted_connections = vec![pki.ca.clone()];
        tls
    });
    let w = Ipc::new(config.clone());
    let server = w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    let mut connects = server.lifecycle(8);
    world(server.clone()).await;
    let port = server.local_addr().unwrap().port();
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = Some(pki.client_key.clone());
        tls.public = Some(pki.client_cert.clone());
        tls.trusted_connections = vec![pki.ca.clone()];
        tls
    });
    let h = Ipc::new(config);
    hello_round_trip(&h.connect_to_net("world", Some("127.0.0.1"), Some(port)).unwrap()).await;
    let (event, _) = wait_lifecycle(&mut connects, "connect").await;
    let Lifecycle::Connect(socket) = event else { unreachable!() };
    assert_eq!(socket.is_authorized(), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_world_replies_to_the_sender_and_broadcasts_to_peers_heard_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.id = "world".into();
    let w = Ipc::new(config.clone());
    let server = w.serve_net(Some("127.0.0.1"), Some(0), Some(UdpType::Udp4)).unwrap();
    server.on("message", |event, socket| {
        let data = event.data().unwrap();
        socket
            .emit(
                "message",
                json!({"from": "world", "message": format!("{} world!", data["message"].as_str().unwrap())}),
            )
            .unwrap();
    });
    within("udp start", server.start()).await.unwrap();
    let world_addr = server.local_addr().unwrap();

    config.id = "hello".into();
    let mut hellos = Vec::new();
    for _ in 0..2 {
        let h = Ipc::new(config.clone());
        let me = h.serve_net(Some("127.0.0.1"), Some(0), Some(UdpType::Udp4)).unwrap();
        let sub = me.subscribe("*", 8);
        within("udp hello start", me.start()).await.unwrap();
        me.emit_to(world_addr, "message", json!({"from": "hello", "message": "Hello"})).unwrap();
        hellos.push((h, me, sub));
    }
    for (_, _, sub) in &mut hellos {
        let (reply, socket) = within("udp reply", sub.next()).await.unwrap();
        assert_eq!(reply.data().unwrap(), json!({"from": "world", "message": "Hello world!"}));
        assert_eq!(socket.addr(), Some(world_addr));
    }
    assert_eq!(server.sockets().len(), 2);
    assert_eq!(server.broadcast("news", "to all").unwrap(), 2);
    for (_, _, sub) in &mut hellos {
        let (news, _) = within("udp broadcast", sub.next()).await.unwrap();
        assert_eq!((news.event_type(), news.data_as::<String>().unwrap().as_str()), ("news", "to all"));
    }
    assert!(matches!(w.serve(None).unwrap().emit_to(world_addr, "x", 1), Err(Error::NotRunning)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reconnects_within_retry_and_sends_queued_events_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let config = v9(dir.path());
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let mut received = server.subscribe("seq", 64);
    within("start", server.start()).await.unwrap();

    let h = Ipc::new(config);
    let (client, mut life) = watched(&h, "world", Some(&path));
    within("connect", client.connected()).await.unwrap();
    client.emit("seq", 0).unwrap();
    assert_eq!(within("first", received.next()).await.unwrap().0.data_as::<u32>().unwrap(), 0);

    server.stop().await;
    wait_lifecycle(&mut life, "disconnect").await;
    for i in 1..=20 {
        client.emit("seq", i).unwrap();
    }
    let flushed = tokio::spawn({
        let client = client.clone();
        async move { client.flush().await }
    });
    within("restart", server.start()).await.unwrap();
    let (_, before) = wait_lifecycle(&mut life, "connect").await;
    assert!(before.iter().all(|n| *n == "error" || *n == "disconnect"), "{before:?}");
    for i in 1..=20 {
        let (event, _) = within("queued event", received.next()).await.unwrap();
        assert_eq!(event.data_as::<u32>().unwrap(), i);
    }
    within("flush", flushed).await.unwrap().unwrap();
    assert_eq!(client.retries_remaining(), u32::MAX);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_overflow_is_reported_with_the_number_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.late");
    let mut config = v9(dir.path());
    config.max_queued_events = 3;
    let h = Ipc::new(config.clone());
    let (client, mut life) = watched(&h, "late", Some(&path));
    for i in 0..5 {
        let result = client.emit("seq", i);
        assert_eq!(result.is_ok(), i < 3, "{result:?}");
        if i >= 3 {
            assert!(matches!(result, Err(Error::QueueFull { capacity: 3 })));
        }
    }
    let w = Ipc::new(config);
    let server = w.serve(Some(&path)).unwrap();
    let mut received = server.subscribe("seq", 8);
    within("start", server.start()).await.unwrap();
    wait_lifecycle(&mut life, "connect").await;
    let (dropped, _) = wait_lifecycle(&mut life, "error").await;
    let Lifecycle::Error { error, .. } = dropped else { unreachable!() };
    assert!(matches!(Error::of(&error), Some(Error::EventsDropped { dropped: 2, capacity: 3 })), "{error}");
    for i in 0..3 {
        assert_eq!(within("queued", received.next()).await.unwrap().0.data_as::<u32>().unwrap(), i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_exhausted_gives_destroy_after_one_attempt_and_n_retries() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.max_retries = Some(2);
    let h = Ipc::new(config);
    let (client, mut life) = watched(&h, "nobody", None);
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    assert_eq!(before, ["error", "disconnect", "error", "disconnect", "error", "disconnect"]);
    assert_eq!(client.state(), ClientState::Destroyed);
    assert!(matches!(client.emit("x", 1), Err(Error::Destroyed { .. })));
    assert!(matches!(client.connected().await, Err(Error::Destroyed { .. })));
    // a destroyed client is replaced by connect_to
    let again = h.connect_to("nobody", None).unwrap();
    assert_ne!(again, client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_counts_again_after_each_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.flaky");
    let mut config = v9(dir.path());
    config.max_retries = Some(3);
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let h = Ipc::new(config);
    let (client, mut life) = watched(&h, "flaky", Some(&path));
    // two failed attempts use up two retries...
    wait_lifecycle(&mut life, "disconnect").await;
    wait_lifecycle(&mut life, "disconnect").await;
    within("start", server.start()).await.unwrap();
    wait_lifecycle(&mut life, "connect").await;
    // ...and a connection gives all three back
    assert_eq!(client.retries_remaining(), 3);
    server.stop().await;
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    // disconnect, then 3 failed retries (error + disconnect each, the last one before destroy)
    assert_eq!(before.iter().filter(|n| **n == "disconnect").count(), 4, "{before:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_retrying_true_zero_and_live() {
    let dir = tempfile::tempdir().unwrap();
    for stop in [StopRetrying::Now, StopRetrying::After(0)] {
        let mut config = v9(dir.path());
        config.stop_retrying = stop;
        let h = Ipc::new(config);
        let (_client, mut life) = watched(&h, "nobody", None);
        let (_, before) = wait_lifecycle(&mut life, "destroy").await;
        assert_eq!(before, ["error", "disconnect"], "{stop:?}");
    }
    // a number is a limit
    let mut config = v9(dir.path());
    config.stop_retrying = StopRetrying::After(1);
    let h = Ipc::new(config);
    let (_client, mut life) = watched(&h, "nobody", None);
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    assert_eq!(before, ["error", "disconnect", "error", "disconnect"]);

    // set in real time, it stops a client that waits to retry
    let mut config = v9(dir.path());
    config.retry = Duration::from_millis(300);
    let h = Ipc::new(config);
    let (_client, mut life) = watched(&h, "nobody", None);
    wait_lifecycle(&mut life, "disconnect").await;
    h.configure(|c| c.stop_retrying = true.into());
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    assert!(before.is_empty(), "{before:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_ends_the_client_quietly_and_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let config = v9(dir.path());
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let mut server_life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let h = Ipc::new(config);
    let client = h.connect_to("world", Some(&path)).unwrap();
    within("connect", client.connected()).await.unwrap();
    assert_eq!(h.of("world"), Some(client.clone()));
    assert_eq!(h.connect_to("world", Some(&path)).unwrap(), client, "already connected: same client");
    assert!(h.disconnect("world"));
    assert!(!h.disconnect("world"));
    assert!(h.of("world").is_none());
    within("destroyed", client.destroyed()).await;
    let (event, _) = wait_lifecycle(&mut server_life, "socket.disconnected").await;
    assert!(matches!(event, Lifecycle::SocketDisconnected { id: None, .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_disconnected_once_per_socket_with_the_announced_id() {
    let dir = tempfile::tempdir().unwrap();
    for (config, identify) in [
        (v9(dir.path()), true),
        (v14(dir.path()), false),
        (
            {
                let mut c = v14(dir.path());
                c.identify_peer = true;
                c
            },
            true,
        ),
    ] {
        let path = dir.path().join("ids.sock");
        let w = Ipc::new(config.clone());
        let server = w.serve(Some(&path)).unwrap();
        let seen: Arc<Mutex<Vec<Gone>>> = Arc::default();
        let log = seen.clone();
        server.on_socket_disconnected(move |socket, id| {
            log.lock().unwrap().push((socket.serial(), id.map(str::to_owned)))
        });
        let mut life = server.lifecycle(64);
        let mut hello = server.subscribe("hello", 8);
        within("start", server.start()).await.unwrap();
        for (i, id) in [json!("alpha"), json!(7), json!(null)].into_iter().enumerate() {
            let h = Ipc::new(config.clone());
            let c = h.connect_to("ids", Some(&path)).unwrap();
            c.emit("hello", json!({"id": id})).unwrap();
            within("hello", hello.next()).await.unwrap();
            h.disconnect("ids");
            let (event, _) = wait_lifecycle(&mut life, "socket.disconnected").await;
            let Lifecycle::SocketDisconnected { id, .. } = event else { unreachable!() };
            let want = match (identify, i) {
                (true, 0) => Some("alpha".to_owned()),
                (true, 1) => Some("7".to_owned()),
                _ => None,
            };
            assert_eq!(id, want);
        }
        server.stop().await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "exactly once per socket: {seen:?}");
        let mut serials: Vec<_> = seen.iter().map(|s| s.0).collect();
        serials.dedup();
        assert_eq!(serials.len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_turns_away_extra_clients_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.small");
    let mut config = v9(dir.path());
    config.max_connections = 1;
    config.stop_retrying = StopRetrying::Now;
    let w = Ipc::new(config.clone());
    let server = world(w.serve(Some(&path)).unwrap()).await;
    let first = Ipc::new(config.clone());
    let a = first.connect_to("small", Some(&path)).unwrap();
    hello_round_trip(&a).await;
    let second = Ipc::new(config);
    let (_b, mut life) = watched(&second, "small", Some(&path));
    wait_lifecycle(&mut life, "destroy").await;
    hello_round_trip(&a).await;
    assert_eq!(server.sockets().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_follows_the_preset_and_spares_other_connections() {
    let dir = tempfile::tempdir().unwrap();
    for (config, closes) in [(v9(dir.path()), false), (v14(dir.path()), true)] {
        let path = dir.path().join("bad.sock");
        let w = Ipc::new(config.clone());
        let server = w.serve(Some(&path)).unwrap();
        let mut events = server.subscribe("ok", 8);
        let mut life = server.lifecycle(64);
        within("start", server.start()).await.unwrap();
        let h = Ipc::new(config.clone());
        let good = h.connect_to("bad", Some(&path)).unwrap();
        within("good connects", good.connected()).await.unwrap();
        let mut raw = LocalStream::connect(&path).await.unwrap();
        raw.write_all(b"{not json\x0c{\"type\":\"ok\",\"data\":\"after\"}\x0c").await.unwrap();
        let (error, _) = wait_lifecycle(&mut life, "error").await;
        let Lifecycle::Error { peer, .. } = error else { unreachable!() };
        assert!(peer.is_some());
        if closes {
            wait_lifecycle(&mut life, "socket.disconnected").await;
        } else {
            let (event, _) = within("event after the bad frame", events.next()).await.unwrap();
            assert_eq!(event.data_as::<String>().unwrap(), "after");
        }
        good.emit("ok", "good").unwrap();
        let (event, _) = within("good event", events.next()).await.unwrap();
        assert_eq!(event.data_as::<String>().unwrap(), "good");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.hub");
    let config = v9(dir.path());
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let mut connects = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let mut subs = Vec::new();
    let ipcs: Vec<Ipc> = (0..3).map(|_| Ipc::new(config.clone())).collect();
    for h in &ipcs {
        let c = h.connect_to("hub", Some(&path)).unwrap();
        subs.push(c.subscribe("news", 8));
        within("connect", c.connected()).await.unwrap();
        wait_lifecycle(&mut connects, "connect").await;
    }
    assert_eq!(server.broadcast("news", json!({"n": 1})).unwrap(), 3);
    assert_eq!(server.broadcast_event(&Event::without_data("news")).unwrap(), 3);
    for sub in &mut subs {
        assert_eq!(within("news", sub.next()).await.unwrap().0.data().unwrap(), json!({"n": 1}));
        assert_eq!(within("news", sub.next()).await.unwrap().0.data().unwrap(), json!({}));
    }
    within("flush", server.flush()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_buffers_with_hex_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.raw");
    let mut config = v9(dir.path());
    config.raw_buffer = true;
    config.encoding = Encoding::Hex;
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    server.on_data(|bytes, socket: &Socket| {
        let mut reply = bytes.to_vec();
        reply.reverse();
        socket.emit_raw(reply).unwrap();
    });
    within("start", server.start()).await.unwrap();
    let h = Ipc::new(config);
    let client = h.connect_to("raw", Some(&path)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client.on_data(move |bytes, _| tx.send(bytes.clone()).unwrap());
    assert!(matches!(client.emit("json", 1), Err(Error::WrongMode { raw_buffer: true })));
    client.emit_raw([0x05u8, 0x6d, 0x5c]).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend_from_slice(&within("raw reply", rx.recv()).await.unwrap());
    }
    assert_eq!(got, [0x5c, 0x6d, 0x05]);
    client.emit_raw("0a141e").unwrap(); // a string goes through the encoding
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend_from_slice(&within("raw reply", rx.recv()).await.unwrap());
    }
    assert_eq!(got, [30, 20, 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mode_waits_for_an_answer_before_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sync");
    let config = v9(dir.path());
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let mut requests = server.subscribe("req", 16);
    within("start", server.start()).await.unwrap();
    let mut sync = config;
    sync.sync = true;
    let h = Ipc::new(sync);
    let client = h.connect_to("sync", Some(&path)).unwrap();
    for i in 0..3 {
        client.emit("req", i).unwrap();
    }
    let (first, socket) = within("first request", requests.next()).await.unwrap();
    assert_eq!(first.data_as::<u32>().unwrap(), 0);
    // the second waits for the server
    assert!(tokio::time::timeout(Duration::from_millis(300), requests.next()).await.is_err());
    socket.emit("ack", 0).unwrap();
    assert_eq!(within("second", requests.next()).await.unwrap().0.data_as::<u32>().unwrap(), 1);
    socket.emit("ack", 1).unwrap();
    assert_eq!(within("third", requests.next()).await.unwrap().0.data_as::<u32>().unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_servers_share_one_path_when_unlink_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.cluster");
    let mut config = v9(dir.path());
    config.unlink = false;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = Vec::new();
    for worker in 0..3 {
        let ipc = Ipc::new(config.clone());
        let server = ipc.serve(Some(&path)).unwrap();
        let tx = tx.clone();
        server.on("currentDate", move |_, _| tx.send(worker).unwrap());
        within("worker start", server.start()).await.unwrap();
        workers.push((ipc, server));
    }
    let mut seen = std::collections::HashSet::new();
    let client_ipc = Ipc::new(config.clone());
    for i in 0..30 {
        let id = format!("c{i}");
        let c = client_ipc.connect_to(&id, Some(&path)).unwrap();
        c.emit("currentDate", "now").unwrap();
        seen.insert(within("a worker", rx.recv()).await.unwrap());
        within("flush", c.flush()).await.unwrap();
        client_ipc.disconnect(&id);
    }
    assert!(!seen.is_empty());
    // with unlink on, a live server's path is refused
    let mut unlink = config;
    unlink.unlink = true;
    let other = Ipc::new(unlink);
    let err = other.serve(Some(&path)).unwrap().start().await.unwrap_err();
    assert!(matches!(err, Error::Transport(ipc_transport::Error::AddrInUse { live: true, .. })), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_profile_rejects_reserved_events_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guarded.sock");
    let mut config = v14(dir.path());
    config.parser = ipc_compat::Profile::Guarded;
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let h = Ipc::new(config);
    let c = h.connect_to("g", Some(&path)).unwrap();
    assert!(matches!(c.emit("connect", 1), Err(Error::Codec(_))));
    let mut raw = LocalStream::connect(&path).await.unwrap();
    raw.write_all(b"{\"type\":\"connect\",\"data\":1}\x0c").await.unwrap();
    wait_lifecycle(&mut life, "error").await;
    wait_lifecycle(&mut life, "socket.disconnected").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_instances_in_one_process_keep_their_own_config() {
    let a = Ipc::new(Config::v9());
    let b = Ipc::new(Config::v14());
    a.configure(|c| c.id = "a".into());
    assert_ne!(a.config().id, b.config().id);
    assert!(a.server().is_none());
    assert!(matches!(a.connect_to("", None), Err(Error::MissingId)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_pending_bytes_closes_only_the_stalled_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.slow");
    let mut config = v14(dir.path());
    config.max_pending_bytes = Some(64 * 1024);
    let w = Ipc::new(config.clone());
    let server = w.serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(64);
    within("start", server.start()).await.unwrap();
    // a peer that never reads
    let _stalled = LocalStream::connect(&path).await.unwrap();
    let (event, _) = wait_lifecycle(&mut life, "connect").await;
    let Lifecycle::Connect(socket) = event else { unreachable!() };
    let chunk = "x".repeat(16 * 1024);
    let mut refused = None;
    for _ in 0..10_000 {
        if let Err(e) = socket.emit("big", &chunk) {
            refused = Some(e);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(matches!(refused, Some(Error::Backpressure { max: 65536, .. })), "{refused:?}");
    let (error, _) = wait_lifecycle(&mut life, "error").await;
    let Lifecycle::Error { error, .. } = error else { unreachable!() };
    assert!(matches!(Error::of(&error), Some(Error::Backpressure { .. })), "{error}");
    wait_lifecycle(&mut life, "socket.disconnected").await;
    assert!(matches!(socket.emit("big", "more"), Err(Error::Closed)));
    // the server still serves others
    let h = Ipc::new(config);
    let client = h.connect_to("slow", Some(&path)).unwrap();
    within("another client", client.connected()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp6_world_and_hello() {
    let dir = tempfile::tempdir().unwrap();
    let config = v9(dir.path());
    let w = Ipc::new(config.clone());
    let world = w.serve_net(Some("::1"), Some(0), Some(UdpType::Udp6)).unwrap();
    world.on("message", |event, socket| socket.emit("message", event.data().unwrap()).unwrap());
    within("udp6 start", world.start()).await.unwrap();
    let h = Ipc::new(config);
    let hello = h.serve_net(Some("::1"), Some(0), Some(UdpType::Udp6)).unwrap();
    let mut replies = hello.subscribe("message", 4);
    within("udp6 start", hello.start()).await.unwrap();
    assert!(hello.local_addr().unwrap().is_ipv6());
    hello.emit_to(world.local_addr().unwrap(), "message", json!({"message": "Hello"})).unwrap();
    let (reply, _) = within("udp6 reply", replies.next()).await.unwrap();
    assert_eq!(reply.data().unwrap(), json!({"message": "Hello"}));
    assert_eq!(hello.endpoint().scheme(), "udp6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_message_timeout_closes_a_connection_with_an_unfinished_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeout.sock");
    let mut config = v14(dir.path());
    config.parser = ipc_compat::Profile::Guarded;
    config.message_timeout = Some(Duration::from_millis(200));
    let w = Ipc::new(config);
    let server = w.serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let mut raw = LocalStream::connect(&path).await.unwrap();
    raw.write_all(b"{\"type\":\"half").await.unwrap();
    let started = std::time::Instant::now();
    let (error, _) = wait_lifecycle(&mut life, "error").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let Lifecycle::Error { error, .. } = error else { unreachable!() };
    assert!(error.to_string().contains("timeout"), "{error}");
    wait_lifecycle(&mut life, "socket.disconnected").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fourteen_x_client_does_not_reconnect_after_a_protocol_violation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liar.sock");
    let listener = LocalListener::bind(&path).await.unwrap();
    let liar = tokio::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        conn.write_all(b"garbage\x0c").await.unwrap();
        // keep accepting: a reconnect would be seen here
        let again = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
        again.is_ok()
    });
    let h = Ipc::new(v14(dir.path()));
    let (_client, mut life) = watched(&h, "liar", Some(&path));
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    assert_eq!(before, ["connect", "error", "disconnect"]);
    assert!(!within("liar", liar).await.unwrap(), "the client reconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_client_binds_the_configured_interface() {
    let dir = tempfile::tempdir().unwrap();
    let w = Ipc::new(v9(dir.path()));
    let server = w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    let mut life = server.lifecycle(8);
    within("start", server.start()).await.unwrap();
    let mut config = v9(dir.path());
    config.interface.local_address = Some("127.0.0.1".parse().unwrap());
    config.interface.family = Some(ipc_compat::IpFamily::V4);
    let h = Ipc::new(config);
    let client = h.connect_to_net("world", Some("localhost"), server.local_addr().map(|a| a.port())).unwrap();
    within("connect", client.connected()).await.unwrap();
    let (event, _) = wait_lifecycle(&mut life, "connect").await;
    let Lifecycle::Connect(socket) = event else { unreachable!() };
    assert_eq!(socket.addr().unwrap().ip().to_string(), "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_tls_files_destroy_the_client_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.trusted_connections = vec![dir.path().join("missing-ca.pem")];
        tls
    });
    let h = Ipc::new(config);
    let mut life = None;
    let client =
        h.connect_to_net_with("world", Some("127.0.0.1"), Some(1), |c| life = Some(c.lifecycle(8))).unwrap();
    let mut life = life.unwrap();
    let (error, _) = wait_lifecycle(&mut life, "error").await;
    let Lifecycle::Error { error, .. } = error else { unreachable!() };
    assert!(error.to_string().contains("missing-ca.pem"), "{error}");
    let (_, before) = wait_lifecycle(&mut life, "destroy").await;
    assert_eq!(before, ["disconnect"]);
    assert_eq!(client.state(), ClientState::Destroyed);
    // a stopped UDP server refuses to send
    let w = Ipc::new(v9(dir.path()));
    let udp = w.serve_net(Some("127.0.0.1"), Some(0), Some(UdpType::Udp4)).unwrap();
    let mut udp_life = udp.lifecycle(8);
    within("udp start", udp.start()).await.unwrap();
    let (event, _) = wait_lifecycle(&mut udp_life, "connect").await;
    let Lifecycle::Connect(me) = event else { unreachable!() };
    udp.stop().await;
    assert!(matches!(me.emit("x", 1), Err(Error::Closed)));
}
