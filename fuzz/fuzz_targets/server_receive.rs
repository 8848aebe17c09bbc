//! The ipc-compat server's receive path: arbitrary bytes, in arbitrary chunks,
//! written into a real `tokio::io::duplex` whose other end is served by
//! `Server::serve_connection`, the same per-connection code an accepted socket
//! runs (framing with the profile's limits and deadline, the bad-frame policy,
//! dispatch, the outgoing queue with `maxPendingBytes`, `close` and
//! `socket.disconnected`).
//!
//! The first byte picks one of seven started servers (9.x and 14.x presets,
//! Guarded with a small frame limit and a two-byte delimiter, Assured, a peer
//! that never reads with a 512-byte `maxPendingBytes`, raw buffers); the next
//! seeds the chunk lengths. Checks: no panic; the connection always ends and
//! leaves `server.sockets()` empty; the events the handlers saw are exactly
//! those a reference decode of the whole input yields, in order, under the
//! preset's policy (9.x: skip bad frames; 14.x: stop at the first); raw mode
//! sees every byte once, in order; every event the server accepted can be
//! sent back (echo); the bytes a peer that never reads can make the server
//! queue stay within `maxPendingBytes` plus the duplex buffer.
#![no_main]
#![forbid(unsafe_code)]

use std::sync::{Arc, LazyLock, Mutex};

use bytes::BytesMut;
use ipc_codec::CodecError;
use ipc_compat::{Config, Error, Event, Ipc, PeerAddr, Profile, Server};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Decoder, Encoder};

#[path = "chunks.rs"]
mod chunks;

/// Bytes each direction of the duplex holds.
const DUPLEX: usize = 256;
/// The stalled case's `maxPendingBytes`.
const STALLED_PENDING: usize = 512;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// Reads everything the server sends, while writing.
    Reads,
    /// Never reads; drops the connection after writing.
    Stalled,
}

#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    raw: Vec<u8>,
    /// Bytes of echo frames the server accepted for sending.
    accepted: usize,
}

struct Case {
    server: Server,
    config: Config,
    peer: Peer,
    seen: Arc<Mutex<Seen>>,
}

struct World {
    rt: tokio::runtime::Runtime,
    cases: Vec<Case>,
    _dir: tempfile::TempDir,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}/", dir.path().display());
    let quiet = |mut c: Config| {
        c.silent = true;
        c.socket_root = root.clone();
        c
    };
    let v9 = quiet(Config::v9());
    let v14 = quiet(Config::v14());
    let mut guarded = v14.clone();
    guarded.parser = Profile::Guarded;
    guarded.max_message_size = Some(1024);
    guarded.max_event_name_length = 16;
    let mut guarded_crlf = v9.clone();
    guarded_crlf.parser = Profile::Guarded;
    guarded_crlf.delimiter = "\r\n".into();
    guarded_crlf.max_message_size = Some(512);
    let mut assured = v14.clone();
    assured.parser = Profile::Assured;
    assured.allowed_events = Some(vec!["a".into(), "b".into(), "app.message".into()]);
    let mut stalled = v14.clone();
    stalled.max_pending_bytes = Some(STALLED_PENDING);
    let mut raw = v9.clone();
    raw.raw_buffer = true;
    let specs = [
        (v9, Peer::Reads),
        (v14, Peer::Reads),
        (guarded, Peer::Reads),
        (guarded_crlf, Peer::Reads),
        (assured, Peer::Reads),
        (stalled, Peer::Stalled),
        (raw, Peer::Reads),
    ];
    let cases = specs
        .into_iter()
        .enumerate()
        .map(|(i, (config, peer))| {
            let server = Ipc::new(config.clone()).serve(Some(&dir.path().join(format!("s{i}")))).unwrap();
            let seen = Arc::new(Mutex::new(Seen::default()));
            let record = seen.clone();
            let encoder = Mutex::new(config.json_codec().unwrap());
            server.on("*", move |event, socket| {
                record.lock().unwrap().events.push(event.clone());
                let mut frame = BytesMut::new();
                let _ = encoder.lock().unwrap().encode(event, &mut frame);
                match socket.emit_event(event) {
                    Ok(()) => record.lock().unwrap().accepted += frame.len(),
                    Err(Error::Closed | Error::Backpressure { .. }) => {}
                    Err(Error::Codec(CodecError::FrameTooLarge { .. })) => {} // `{}` added for missing data
                    Err(e) => panic!("an event the server accepted cannot be sent back: {e}"),
                }
            });
            let record = seen.clone();
            server.on_data(move |bytes, _| record.lock().unwrap().raw.extend_from_slice(bytes));
            rt.block_on(server.start()).unwrap();
            Case { server, config, peer, seen }
        })
        .collect();
    World { rt, cases, _dir: dir }
});

/// What the server must have dispatched: the whole input decoded at once.
fn reference(config: &Config, stream: &[u8]) -> Vec<Event> {
    let mut codec = config.json_codec().unwrap();
    let close_on_bad = config.on_bad_frame == ipc_compat::BadFrame::Close;
    let mut buf = BytesMut::from(stream);
    let mut events = Vec::new();
    let mut eof = false;
    loop {
        let item = if eof { codec.decode_eof(&mut buf) } else { codec.decode(&mut buf) };
        match item {
            Ok(Some(event)) => events.push(event),
            Ok(None) if eof => return events,
            Ok(None) => eof = true,
            Err(_) if close_on_bad => return events,
            Err(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let world = &*WORLD;
    let case = &world.cases[usize::from(pick) % world.cases.len()];
    let (stream, lens) = chunks::plan(rest);
    *case.seen.lock().unwrap() = Seen::default();

    world.rt.block_on(async {
        let (peer, io) = tokio::io::duplex(DUPLEX);
        let server = case.server.clone();
        let served =
            tokio::spawn(async move { server.serve_connection(io, PeerAddr::Local("fuzz".into())).await });
        let (mut from_server, mut to_server) = tokio::io::split(peer);
        let reader = (case.peer == Peer::Reads).then(|| {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = from_server.read_to_end(&mut sink).await;
                sink.len()
            })
        });
        let mut start = 0;
        for len in lens {
            let end = (start + len).min(stream.len());
            if to_server.write_all(&stream[start..end]).await.is_err() {
                break; // the server closed the connection (14.x policy, backpressure)
            }
            start = end;
            tokio::task::yield_now().await;
        }
        match reader {
            Some(reader) => {
                let _ = to_server.shutdown().await;
                reader.await.unwrap();
                drop(to_server);
            }
            None => drop(to_server), // never read: both directions close now
        }
        served.await.unwrap().unwrap();
    });

    assert!(case.server.sockets().is_empty(), "the connection is still listed after it ended");
    let seen = case.seen.lock().unwrap();
    if case.config.raw_buffer {
        assert_eq!(seen.raw, stream, "raw mode delivers every byte once, in order");
        return;
    }
    match case.peer {
        Peer::Reads => {
            let want = reference(&case.config, stream);
            assert_eq!(seen.events.len(), want.len(), "events dispatched vs decoded");
            for (got, want) in seen.events.iter().zip(&want) {
                assert_eq!(got, want);
            }
        }
        Peer::Stalled => {
            // what the server takes on for a peer that never reads: the queue
            // limit plus what fits in the duplex (an emit past the limit is
            // refused whole and closes the connection)
            assert!(
                seen.accepted <= STALLED_PENDING + DUPLEX,
                "accepted {} bytes of replies for a peer that never reads",
                seen.accepted
            );
        }
    }
});
