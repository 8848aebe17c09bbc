//! Faults that try to exhaust a server, over real local sockets, with the
//! process's memory and file descriptors measured: an oversized frame (14.x:
//! typed error, connection closed; 9.x: discarded as it streams, then the next
//! frame), a peer that stops reading while the server keeps sending
//! (`maxPendingBytes`), and 1,000 connect/disconnect cycles.
//!
//! The tests of this file run one at a time (they read process-wide counters).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use interop::within;
use ipc_codec::CodecError;
use ipc_compat::{Config, Error, Ipc, Profile, Server};
use ipc_transport::local::LocalStream;
use serde_json::json;
use support::{open_fds, peak_rss_kib, reset_peak_rss, rss_kib, v14, v9, Log};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One test at a time: they measure the whole process.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a server's handlers saw.
#[derive(Clone)]
struct Seen {
    /// `after` events: (socket serial, n).
    after: Log<(u64, u64)>,
    /// `error` events: (socket serial, the error's text, the frame limit when it is `FrameTooLarge`).
    errors: Log<(Option<u64>, String, Option<usize>)>,
    connects: Log<u64>,
    gone: Log<u64>,
}

async fn watched_server(config: Config) -> (Server, Seen) {
    let server = Ipc::new(config).serve(None).unwrap();
    let seen = Seen { after: Log::new(), errors: Log::new(), connects: Log::new(), gone: Log::new() };
    let s = seen.clone();
    server.on("after", move |event, socket| {
        s.after.push((socket.serial(), event.data_as::<serde_json::Value>().unwrap()["n"].as_u64().unwrap()));
    });
    server.on("ping", |event, socket| {
        let pong = ipc_compat::Event::from_json_data("pong", event.raw_data().unwrap().to_vec()).unwrap();
        socket.emit_event(&pong).unwrap();
    });
    let s = seen.clone();
    server.on_error(move |error, socket| {
        let limit = match error {
            ipc_events::Error::Codec(CodecError::FrameTooLarge { max, .. }) => Some(*max),
            _ => None,
        };
        s.errors.push((socket.map(|s| s.serial()), error.to_string(), limit));
    });
    let s = seen.clone();
    server.on_connect(move |socket| s.connects.push(socket.serial()));
    let s = seen.clone();
    server.on_socket_disconnected(move |socket, _| s.gone.push(socket.serial()));
    within("server start", server.start()).await.unwrap();
    (server, seen)
}

/// A client of `server` that answers for the server's other peers: one ping, one pong.
async fn round_trip(ipc: &Ipc, server: &Server, id: &str, n: u64) {
    let client = ipc.connect_to(id, Some(&server.path().unwrap())).unwrap();
    let mut pongs = client.subscribe("pong", 4);
    within("connect", client.connected()).await.unwrap();
    client.emit("ping", json!({"n": n})).unwrap();
    let (pong, _) = within("pong", futures::StreamExt::next(&mut pongs)).await.unwrap();
    assert_eq!(pong.data_as::<serde_json::Value>().unwrap(), json!({"n": n}));
}

const MIB: usize = 1024 * 1024;

/// Writes an endless frame (`{"type":"after","data":"aaaa...`) in 64 KiB
/// writes until `total` bytes are written or the server closes the
/// connection; returns how many bytes were written.
async fn flood_one_frame(peer: &mut LocalStream, total: usize) -> usize {
    let head = b"{\"type\":\"after\",\"data\":\"";
    peer.write_all(head).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = head.len();
    while sent < total {
        if peer.write_all(&chunk).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "Windows: measures peak RSS and open descriptors through Linux's /proc")]
async fn oversized_frame_14x_is_a_typed_error_that_closes_only_that_connection() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = v14(dir.path());
    config.id = "oversized14".into();
    config.parser = Profile::Guarded; // 1 MiB frames, node-ipc 14's default
    let (server, seen) = watched_server(config.clone()).await;
    let ipc = Ipc::new(config);
    round_trip(&ipc, &server, "bystander", 0).await;

    let peak_before = reset_peak_rss();
    let mut peer = within("connect", LocalStream::connect(server.path().unwrap())).await.unwrap();
    let serial = seen.connects.until_len("the flooder's socket", 2).await[1];
    let sent = within("the flood ends", flood_one_frame(&mut peer, 256 * MIB)).await;
    seen.gone.until("the flooder's socket closes", |g| g.contains(&serial)).await;
    let peak_growth = peak_rss_kib().saturating_sub(peak_before);
    println!("oversized frame (14.x, 1 MiB limit): peer wrote {sent} bytes before the server closed it; peak RSS grew {peak_growth} KiB");

    let errors: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(serial)).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].2, Some(MIB), "a FrameTooLarge error naming the limit: {errors:?}");
    assert!(sent < 16 * MIB, "the server read {sent} bytes of one frame before closing the connection");
    assert!(peak_growth < 16 * 1024, "peak RSS grew {peak_growth} KiB for a frame limited to 1 MiB");
    let mut rest = Vec::new();
    let read = within("the flooder sees the close", peer.read_to_end(&mut rest)).await;
    assert!(read.is_err() || rest.is_empty());
    assert!(seen.after.snapshot().is_empty());
    round_trip(&ipc, &server, "bystander", 1).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "Windows: measures peak RSS and open descriptors through Linux's /proc")]
async fn oversized_frame_9x_is_discarded_as_it_streams_then_the_next_frame_arrives() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.id = "oversized9".into();
    config.max_message_size = Some(256 * 1024);
    let (server, seen) = watched_server(config.clone()).await;
    let ipc = Ipc::new(config);
    round_trip(&ipc, &server, "bystander", 0).await;

    let peak_before = reset_peak_rss();
    let mut peer = within("connect", LocalStream::connect(server.path().unwrap())).await.unwrap();
    let serial = seen.connects.until_len("the flooder's socket", 2).await[1];
    let sent = within("a 64 MiB frame", flood_one_frame(&mut peer, 64 * MIB)).await;
    assert!(sent >= 64 * MIB, "9.x keeps the connection open: the whole frame is written");
    within(
        "the frame's end and one more",
        peer.write_all(b"\"}\x0c{\"type\":\"after\",\"data\":{\"n\":7}}\x0c"),
    )
    .await
    .unwrap();
    let after = seen.after.until_len("the frame after the oversized one", 1).await;
    let peak_growth = peak_rss_kib().saturating_sub(peak_before);
    println!("oversized frame (9.x, 256 KiB limit): {sent} bytes discarded as they came; peak RSS grew {peak_growth} KiB");

    assert_eq!(after, vec![(serial, 7)]);
    let errors: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(serial)).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].2, Some(256 * 1024), "{errors:?}");
    assert!(peak_growth < 16 * 1024, "peak RSS grew {peak_growth} KiB while a 64 MiB frame streamed through");
    assert!(!seen.gone.snapshot().contains(&serial), "the 9.x policy keeps the connection");
    round_trip(&ipc, &server, "bystander", 1).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "Windows: measures peak RSS and open descriptors through Linux's /proc")]
async fn peer_that_stops_reading_hits_max_pending_bytes_and_only_it_is_closed() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let max_pending = 256 * 1024;
    let mut config = v14(dir.path());
    config.id = "stalled".into();
    config.max_pending_bytes = Some(max_pending);
    let (server, seen) = watched_server(config.clone()).await;
    // on `flood`, the server sends 4 KiB events to that socket until an emit fails
    let accepted = Arc::new(AtomicUsize::new(0));
    let refused: Log<String> = Log::new();
    let (a, r) = (accepted.clone(), refused.clone());
    server.on("flood", move |_, socket| {
        let (socket, accepted, refused) = (socket.clone(), a.clone(), r.clone());
        tokio::spawn(async move {
            let payload = "x".repeat(4096);
            for n in 0u64.. {
                match socket.emit("news", json!({"n": n, "text": payload})) {
                    Ok(()) => accepted.fetch_add(4096 + 40, Ordering::Relaxed),
                    Err(e) => {
                        let backpressure = matches!(e, Error::Backpressure { max, .. } if max == 256 * 1024);
                        refused.push(format!("{backpressure} {e}"));
                        return;
                    }
                };
                if n % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    });
    let ipc = Ipc::new(config);
    round_trip(&ipc, &server, "bystander", 0).await;

    let peak_before = reset_peak_rss();
    let mut peer = within("connect", LocalStream::connect(server.path().unwrap())).await.unwrap();
    let serial = seen.connects.until_len("the stalled peer's socket", 2).await[1];
    within("ask for the flood", peer.write_all(b"{\"type\":\"flood\",\"data\":{}}\x0c")).await.unwrap();
    // the peer never reads from here on
    let refused = refused.until_len("an emit is refused", 1).await;
    seen.gone.until("the stalled peer's socket closes", |g| g.contains(&serial)).await;
    let accepted = accepted.load(Ordering::Relaxed);
    let peak_growth = peak_rss_kib().saturating_sub(peak_before);
    println!("stalled peer (maxPendingBytes 256 KiB): server queued {accepted} bytes before refusing ({}); peak RSS grew {peak_growth} KiB", refused[0]);

    assert!(refused[0].starts_with("true"), "the refusal is Backpressure naming the limit: {refused:?}");
    // what the kernel took plus what was still queued: the limit, and the socket buffers
    assert!(accepted <= max_pending + 4 * MIB, "{accepted} bytes accepted for a peer that reads nothing");
    assert!(peak_growth < 16 * 1024, "peak RSS grew {peak_growth} KiB");
    let errors: Vec<_> = seen.errors.snapshot().into_iter().filter(|e| e.0 == Some(serial)).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("maxPendingBytes"), "{errors:?}");
    round_trip(&ipc, &server, "bystander", 1).await;
    drop(peer);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "Windows: measures peak RSS and open descriptors through Linux's /proc")]
async fn thousand_connect_disconnect_cycles_leak_no_fds_and_no_memory() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = v14(dir.path());
    config.id = "cycles".into();
    let (server, seen) = watched_server(config.clone()).await;
    let path = server.path().unwrap();
    let ipc = Ipc::new(config);

    // one cycle: a client connects, pings, gets its pong and disconnects; every
    // fourth, a raw peer connects, writes half a frame and drops the socket
    let cycle = |n: u64| {
        let (ipc, path, seen, server) = (ipc.clone(), path.clone(), seen.clone(), server.clone());
        async move {
            let before = seen.gone.snapshot().len();
            if n % 4 == 3 {
                let mut raw = within("raw connect", LocalStream::connect(&path)).await.unwrap();
                within("half a frame", raw.write_all(b"{\"type\":\"ping\",\"da")).await.unwrap();
                drop(raw);
            } else {
                round_trip(&ipc, &server, "cycler", n).await;
                let client = ipc.of("cycler").unwrap();
                assert!(ipc.disconnect("cycler"));
                within("the client ends", client.destroyed()).await;
            }
            seen.gone.until_len("the server sees the socket go", before + 1).await;
        }
    };
    for n in 0..50 {
        cycle(n).await; // warm-up: lazily made buffers, thread-locals, the runtime's pools
    }
    let (fds_before, rss_before) = (open_fds(), rss_kib());
    for n in 0..1000 {
        cycle(n).await;
    }
    assert!(server.sockets().is_empty());
    let (fds_after, rss_after) = (open_fds(), rss_kib());
    println!(
        "1,000 connect/disconnect cycles: open fds {fds_before} -> {fds_after}, RSS {rss_before} KiB -> {rss_after} KiB"
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    assert!(rss_after <= rss_before + 8 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB");
    assert_eq!(seen.gone.snapshot().len(), 1050);
    server.stop().await;
}
