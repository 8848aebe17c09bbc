//! Fault injection on a server's input, over real local sockets (named pipes
//! on Windows): garbage from one peer while others stream events, a slow peer
//! that never finishes a frame, a peer killed in the middle of a frame. In
//! every case the server goes on serving its other peers, and their events
//! arrive complete and in order.
//!
//! (Oversized frames and peers that stop reading are in `fault_resources.rs`,
//! which measures memory; killed servers and socket files in `fault_restart.rs`.)

mod support;

use std::time::{Duration, Instant};

use interop::within;
use ipc_compat::{Client, Config, Ipc, Profile, Server};
use ipc_transport::local::LocalStream;
use serde_json::json;
use support::{child_arg, tell_parent, v14, v9, ChildProcess, Log};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Good clients per test, and events each sends.
const GOOD: usize = 4;
const PER_CLIENT: u64 = 1000;

/// What a server's handlers saw.
#[derive(Clone)]
struct Seen {
    /// `seq` events: (client name, n).
    seq: Log<(String, u64)>,
    /// `after` events (the bad peer's valid frames): (socket serial, n).
    after: Log<(u64, u64)>,
    /// `error` events: (socket serial, text, whether it is a frame/codec error).
    errors: Log<(Option<u64>, String, bool)>,
    connects: Log<u64>,
    gone: Log<u64>,
}

async fn watched_server(config: Config) -> (Server, Seen) {
    let server = Ipc::new(config).serve(None).unwrap();
    let seen = Seen {
        seq: Log::new(),
        after: Log::new(),
        errors: Log::new(),
        connects: Log::new(),
        gone: Log::new(),
    };
    let s = seen.clone();
    server.on("seq", move |event, _| {
        let data: serde_json::Value = event.data_as().unwrap();
        s.seq.push((data["c"].as_str().unwrap().to_owned(), data["n"].as_u64().unwrap()));
    });
    let s = seen.clone();
    server.on("after", move |event, socket| {
        let data: serde_json::Value = event.data_as().unwrap();
        s.after.push((socket.serial(), data["n"].as_u64().unwrap()));
    });
    let s = seen.clone();
    server.on_error(move |error, socket| {
        let codec = matches!(error, ipc_events::Error::Codec(_));
        s.errors.push((socket.map(|s| s.serial()), error.to_string(), codec));
    });
    let s = seen.clone();
    server.on_connect(move |socket| s.connects.push(socket.serial()));
    let s = seen.clone();
    server.on_socket_disconnected(move |socket, _| s.gone.push(socket.serial()));
    within("server start", server.start()).await.unwrap();
    (server, seen)
}

/// `GOOD` connected clients of `server`.
async fn good_clients(config: &Config, server: &Server, seen: &Seen) -> (Ipc, Vec<Client>) {
    let ipc = Ipc::new(config.clone());
    let path = server.path().unwrap();
    let clients: Vec<Client> =
        (0..GOOD).map(|i| ipc.connect_to(&format!("good-{i}"), Some(&path)).unwrap()).collect();
    for c in &clients {
        within("a good client connects", c.connected()).await.unwrap();
    }
    seen.connects.until_len("the good clients' sockets", GOOD).await;
    (ipc, clients)
}

/// Each good client sends `seq` 0..PER_CLIENT, a few at a time.
fn stream_good_events(clients: &[Client]) -> Vec<tokio::task::JoinHandle<()>> {
    clients
        .iter()
        .map(|client| {
            let client = client.clone();
            tokio::spawn(async move {
                for n in 0..PER_CLIENT {
                    client.emit("seq", json!({"c": client.id(), "n": n})).unwrap();
                    if n % 25 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                within("the good client's events are written", client.flush()).await.unwrap();
            })
        })
        .collect()
}

/// Every good client's events arrived, each exactly once and in order.
async fn check_good_events(seen: &Seen) {
    let total = GOOD * PER_CLIENT as usize;
    let seq = seen.seq.until_len("every good event", total).await;
    assert_eq!(seq.len(), total, "no event arrives twice");
    for i in 0..GOOD {
        let name = format!("good-{i}");
        let mine: Vec<u64> = seq.iter().filter(|(c, _)| *c == name).map(|(_, n)| *n).collect();
        assert_eq!(mine, (0..PER_CLIENT).collect::<Vec<_>>(), "{name}'s events, complete and in order");
    }
}

/// Malformed frames of every kind the decoder knows.
fn garbage() -> Vec<Vec<u8>> {
    vec![
        b"{not json".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        b"[1,2,3]".to_vec(),
        b"null".to_vec(),
        b"{\"data\":1}".to_vec(),
        b"{\"type\":42,\"data\":1}".to_vec(),
        Vec::new(), // an empty frame: two delimiters in a row
        b"{\"type\":\"a\",\"data\":1} trailing".to_vec(),
        b"{\"type\":\"x\",\"data\":\"\xc3\x28\"}".to_vec(),
        vec![b'['; 100_000], // nesting deeper than the parser allows
        b"{\"type\":\"a\",\"data\":{\"b\":".to_vec(),
    ]
}

/// The bad peer's bytes: every garbage frame, then `after` 0..100, written
/// in 7-byte pieces so that frames straddle reads.
fn bad_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for frame in garbage() {
        bytes.extend_from_slice(&frame);
        bytes.push(0x0c);
    }
    for n in 0..100 {
        bytes.extend_from_slice(format!("{{\"type\":\"after\",\"data\":{{\"n\":{n}}}}}\x0c").as_bytes());
    }
    bytes
}

async fn garbage_then_valid(config: Config, closes: bool) {
    let (server, seen) = watched_server(config.clone()).await;
    let (_ipc, clients) = good_clients(&config, &server, &seen).await;
    let bad = within("the bad peer connects", LocalStream::connect(server.path().unwrap())).await.unwrap();
    let bad_serial = seen.connects.until_len("the bad peer's socket", GOOD + 1).await[GOOD];
    let (mut bad_read, mut bad_write) = tokio::io::split(bad);

    let senders = stream_good_events(&clients);
    let writer = tokio::spawn(async move {
        for piece in bad_bytes().chunks(7) {
            if bad_write.write_all(piece).await.is_err() {
                break; // closed by the server (14.x)
            }
            tokio::task::yield_now().await;
        }
        bad_write
    });
    for s in senders {
        within("a good sender", s).await.unwrap();
    }
    check_good_events(&seen).await;

    if closes {
        // 14.x: one error (the first bad frame), then that connection is closed
        seen.gone.until("the bad peer's socket closes", |g| g.contains(&bad_serial)).await;
        let errors: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(bad_serial)).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].2 && errors[0].1.contains("not valid JSON"), "{errors:?}");
        assert!(seen.after.snapshot().is_empty(), "nothing of a closed connection is dispatched");
        let mut rest = Vec::new();
        let read = within("the bad peer sees the close", bad_read.read_to_end(&mut rest)).await;
        assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
        drop(within("the bad writer", writer).await);
    } else {
        // 9.x: an error per bad frame, the valid frames after them all arrive, in order
        let after = seen.after.until_len("the bad peer's valid frames", 100).await;
        assert_eq!(after, (0..100).map(|n| (bad_serial, n)).collect::<Vec<_>>());
        let errors: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(bad_serial)).collect();
        assert_eq!(errors.len(), garbage().len(), "one error per bad frame: {errors:?}");
        assert!(errors.iter().all(|e| e.2), "every one a typed frame error: {errors:?}");
        assert!(!seen.gone.snapshot().contains(&bad_serial), "the bad peer is still connected");
        drop(within("the bad writer", writer).await);
    }
    let others: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 != Some(bad_serial)).collect();
    assert!(others.is_empty(), "no error for any other connection: {others:?}");
    assert!(clients.iter().all(Client::is_connected));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_then_valid_frames_9x_reports_each_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.id = "garbage9".into();
    garbage_then_valid(config, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_then_valid_frames_14x_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v14(dir.path());
    config.id = "garbage14".into();
    garbage_then_valid(config, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_peer_that_never_finishes_a_frame_is_closed_after_message_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(400);
    let mut config = v14(dir.path());
    config.id = "slow".into();
    config.parser = Profile::Guarded;
    config.message_timeout = Some(timeout);
    let (server, seen) = watched_server(config.clone()).await;
    let (_ipc, clients) = good_clients(&config, &server, &seen).await;

    let mut slow =
        within("the slow peer connects", LocalStream::connect(server.path().unwrap())).await.unwrap();
    let slow_serial = seen.connects.until_len("the slow peer's socket", GOOD + 1).await[GOOD];
    // one whole frame, then a frame it trickles a byte at a time and never ends
    let started = Instant::now(); // the deadline starts later, when the server reads the partial frame
    within(
        "write",
        slow.write_all(b"{\"type\":\"after\",\"data\":{\"n\":0}}\x0c{\"type\":\"after\",\"data\":"),
    )
    .await
    .unwrap();
    seen.after.until_len("the slow peer's whole frame", 1).await;
    let senders = stream_good_events(&clients);
    let trickle = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(50));
        loop {
            interval.tick().await;
            if slow.write_all(b" ").await.is_err() {
                return slow; // closed by the server
            }
        }
    });
    seen.gone.until("the slow peer is closed", |g| g.contains(&slow_serial)).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "closed too early: {elapsed:?}");
    // a byte every 50 ms must not extend the deadline (if it did, the peer would never be closed)
    assert!(elapsed < timeout * 10, "closed too late: {elapsed:?}");
    let errors: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(slow_serial)).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("message timeout"), "{errors:?}");
    let mut slow = within("the trickle stops", trickle).await.unwrap();
    let mut rest = Vec::new();
    let read = within("the slow peer sees the close", slow.read_to_end(&mut rest)).await;
    assert!(read.is_err() || rest.is_empty());

    for s in senders {
        within("a good sender", s).await.unwrap();
    }
    check_good_events(&seen).await;
    assert_eq!(seen.after.snapshot(), vec![(slow_serial, 0)], "the unfinished frame is never dispatched");
    server.stop().await;
}

/// Child helper for `peer_killed_mid_frame`: connects to the socket path it
/// is given, writes one whole frame and half of the next, says so, then waits
/// to be killed.
#[test]
#[ignore = "helper: runs as a child process of peer_killed_mid_frame"]
fn child_peer_writes_half_a_frame() {
    let Some(path) = child_arg() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut stream = LocalStream::connect(path).await.unwrap();
        stream
            .write_all(b"{\"type\":\"after\",\"data\":{\"n\":0}}\x0c{\"type\":\"after\",\"data\":{\"n\":")
            .await
            .unwrap();
        tell_parent("wrote");
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_killed_mid_frame() {
    let dir = tempfile::tempdir().unwrap();
    for (mut config, name) in [(v9(dir.path()), "killed9"), (v14(dir.path()), "killed14")] {
        config.id = name.into();
        let (server, seen) = watched_server(config.clone()).await;
        let (_ipc, clients) = good_clients(&config, &server, &seen).await;
        let path = server.path().unwrap();

        let mut child = ChildProcess::spawn("child_peer_writes_half_a_frame", path.to_str().unwrap());
        let child_serial = seen.connects.until_len("the child's socket", GOOD + 1).await[GOOD];
        let senders = stream_good_events(&clients);
        child.expect_line("wrote");
        seen.after.until_len("the child's whole frame", 1).await;
        child.kill();

        seen.gone.until("the killed peer's socket is gone", |g| g.contains(&child_serial)).await;
        let errors: Vec<_> =
            seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(child_serial)).collect();
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert!(errors[0].1.contains("stream ended inside a frame"), "{name}: {errors:?}");
        for s in senders {
            within("a good sender", s).await.unwrap();
        }
        check_good_events(&seen).await;
        assert_eq!(
            seen.after.snapshot(),
            vec![(child_serial, 0)],
            "{name}: the half frame is never dispatched"
        );
        assert!(clients.iter().all(Client::is_connected));
        assert_eq!(server.sockets().len(), GOOD);
        server.stop().await;
    }
}
