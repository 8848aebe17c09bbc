//! Dead peers are noticed: a connection from which nothing arrives for
//! `idle_timeout` is closed (server sockets and clients; a client then
//! reconnects), and a server that vanishes without a FIN (its link taken
//! down, in a network namespace behind a veth pair) is noticed by TCP
//! keepalive within the configured time, by the client and by the server,
//! and the client reconnects once the link is back. The namespace test needs
//! Linux, root and `ip`; elsewhere it says `skipped: ...`.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use interop::{within, within_for};
use ipc_compat::{Client, Error, Ipc, Keepalive, Lifecycle};
use ipc_transport::local::LocalStream;
use support::{child_arg, next_error, tell_parent, v9, wait_for, wait_lifecycle, watched, ChildProcess};

/// The idle timeout of these tests: short, since only silence is waited for.
const IDLE: Duration = Duration::from_millis(300);

async fn pong(client: &Client) {
    let mut pongs = client.subscribe("pong", 4);
    client.emit("ping", 1).unwrap();
    within("pong", pongs.next()).await.expect("a pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaves_a_silent_server_after_idle_timeout_and_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.silent");
    let config = v9(dir.path());
    // a server that never says anything unless asked
    let server = Ipc::new(config.clone()).serve(Some(&path)).unwrap();
    server.on("ping", |_, socket| socket.emit("pong", 1).unwrap());
    let mut server_life = server.lifecycle(64);
    within("start", server.start()).await.unwrap();

    let mut client_config = config;
    client_config.idle_timeout = Some(IDLE);
    let ipc = Ipc::new(client_config);
    let (client, mut life) = watched(&ipc, "silent", Some(&path));
    wait_for(&mut life, "connect").await;
    pong(&client).await; // an answer moves the deadline
    let (_, error) = next_error(&mut life).await;
    assert!(matches!(Error::of(&error), Some(Error::IdleTimeout { after }) if *after == IDLE), "{error}");
    let (_, seen) = wait_lifecycle(&mut life, "connect").await;
    assert!(seen.contains(&"disconnect"), "{seen:?}");
    pong(&client).await;
    // the server saw the first connection go and the second come
    let (_, seen) = wait_lifecycle(&mut server_life, "socket.disconnected").await;
    assert!(seen.iter().filter(|n| **n == "connect").count() >= 1, "{seen:?}");
    ipc.disconnect("silent");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closes_a_silent_socket_after_idle_timeout_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.idle");
    let mut config = v9(dir.path());
    config.idle_timeout = Some(IDLE);
    let server = Ipc::new(config).serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(64);
    within("start", server.start()).await.unwrap();
    let silent = within("connect", LocalStream::connect(&path)).await.unwrap();
    let (peer, error) = next_error(&mut life).await;
    assert!(peer.is_some(), "reported with its socket");
    assert!(matches!(Error::of(&error), Some(Error::IdleTimeout { .. })), "{error}");
    assert!(error.to_string().contains("idle_timeout"), "{error}");
    let Lifecycle::SocketDisconnected { .. } = wait_for(&mut life, "socket.disconnected").await else {
        unreachable!()
    };
    let mut silent = silent;
    let mut buf = [0u8; 1];
    assert_eq!(within("EOF", tokio::io::AsyncReadExt::read(&mut silent, &mut buf)).await.unwrap(), 0);
    server.stop().await;
}

/// Keepalive for both ends of the namespace test: a dead peer is noticed at
/// most 3 s after the last traffic.
fn keepalive() -> Keepalive {
    Keepalive::new(Duration::from_secs(1)).interval(Duration::from_secs(1)).count(2)
}

#[test]
#[ignore = "helper: runs as a child process (inside a network namespace) of the tests of this file"]
fn netns_server() {
    let Some(host) = child_arg() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut config = v9(dir.path());
        config.keepalive = Some(keepalive());
        let server = Ipc::new(config).serve_net(Some(&host), Some(0), None).unwrap();
        server.on("ping", |_, socket| socket.emit("pong", 1).unwrap());
        server.on_connect(|socket| tell_parent(format!("connect {}", socket.serial())));
        server.on_socket_disconnected(|socket, _| tell_parent(format!("disconnected {}", socket.serial())));
        server.start().await.unwrap();
        tell_parent(format!("port {}", server.local_addr().unwrap().port()));
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_link_is_noticed_by_keepalive_and_the_client_reconnects() {
    let test = "a_dead_link_is_noticed_by_keepalive_and_the_client_reconnects";
    let Some(ns) = interop::NetNs::create_or_skip(test) else { return };
    let exe = std::env::current_exe().unwrap();
    let server = ChildProcess::spawn_from(ns.exec(exe), "netns_server", &ns.ns_addr().to_string());
    let line = |want: &str| {
        let said = tokio::task::block_in_place(|| server.next_line()).expect("the server's next line");
        assert!(said.starts_with(want), "the server said {said:?}, expected {want}");
        said
    };
    let port: u16 = line("port").trim_start_matches("port ").parse().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.keepalive = Some(keepalive());
    config.retry = Duration::from_millis(500);
    let ipc = Ipc::new(config);
    let mut life = None;
    let host = ns.ns_addr().to_string();
    let client =
        ipc.connect_to_net_with("netns", Some(&host), Some(port), |c| life = Some(c.lifecycle(256))).unwrap();
    let mut life = life.unwrap();
    wait_for(&mut life, "connect").await;
    line("connect 1");
    pong(&client).await;

    // the server's end of the link goes: no FIN, no RST, nothing more from it
    ns.set_link(false).unwrap();
    let down = Instant::now();
    let bound = keepalive().max_detection_time().unwrap();
    // without keepalive an idle connection to a vanished peer never fails:
    // this would time out
    let (_, error) =
        within_for(bound + Duration::from_secs(10), "the client notices", next_error(&mut life)).await;
    let noticed = down.elapsed();
    eprintln!(
        "{test}: the client noticed after {noticed:?} (bound {bound:?} after the last traffic): {error}"
    );
    let ipc_events::Error::Codec(ipc_codec::CodecError::Io(io)) = &*error else {
        panic!("an I/O error: {error:?}")
    };
    assert!(
        matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::HostUnreachable),
        "keepalive's verdict: {io}"
    );
    assert!(
        noticed <= bound + Duration::from_secs(2),
        "noticed after {noticed:?}, configured bound {bound:?}"
    );
    wait_for(&mut life, "disconnect").await;

    // the link comes back: the client reconnects and is served
    ns.set_link(true).unwrap();
    let up = Instant::now();
    let (_, seen) = within("the client reconnects", wait_lifecycle(&mut life, "connect")).await;
    assert!(seen.iter().all(|n| *n == "error" || *n == "disconnect"), "{seen:?}");
    eprintln!("{test}: reconnected {:?} after the link came back", up.elapsed());
    pong(&client).await;
    // the server noticed too (by its own keepalive, or by the reset its probe
    // met once the link was back), and served the new connection
    let mut said = vec![line(""), line("")];
    said.sort();
    assert_eq!(said, ["connect 2", "disconnected 1"]);
    ipc.disconnect("netns");
}
