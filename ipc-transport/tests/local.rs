//! Local sockets (Unix domain sockets; named pipes on Windows): the shared
//! scenarios, node-ipc's listener hygiene rules, maxConnections. The rules
//! about socket files (stale sockets, `unlink`, modes, socket roots) are Unix
//! only, and say so on Windows; Windows' own rules close the file.
#![cfg(feature = "local")]

mod common;

use std::fs;
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use interop::within;
use ipc_codec::{Event, JsonCodec};
use ipc_transport::local::{LocalListener, LocalListenerOptions, LocalStream, SocketPathRules};
use ipc_transport::{framed, Endpoint, Error, PeerAddr};
use serde_json::json;
use tokio::io::AsyncReadExt;

async fn pair(path: &Path) -> (LocalListener, LocalStream, LocalStream) {
    let listener = within("bind", LocalListener::bind(path)).await.unwrap();
    let client = within("connect", LocalStream::connect(path)).await.unwrap();
    let server = within("accept", listener.accept()).await.unwrap();
    (listener, client, server)
}

/// The name a local listener or stream reports for `path`: the path itself,
/// or on Windows the pipe name node-ipc maps it to.
fn local_name(path: &Path) -> PathBuf {
    if cfg!(windows) {
        ipc_transport::local::windows_pipe_name(path.to_str().unwrap()).into()
    } else {
        path.to_owned()
    }
}

/// A socket file with no server behind it, as a crashed server leaves.
#[cfg(unix)]
fn stale_socket(path: &Path) {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    assert!(fs::symlink_metadata(path).unwrap().file_type().is_socket());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_events_each_way() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, client, server) = pair(&dir.path().join("app.pipe")).await;
    common::pipelined_both_ways(client, server, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_frame_across_many_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, client, server) = pair(&dir.path().join("app.big")).await;
    common::big_frame_round_trip(client, server).await;
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: a named pipe cannot half-close (shutdown only flushes); the peer sees the end when the pipe closes"
)]
async fn half_close() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, client, server) = pair(&dir.path().join("app.half")).await;
    common::half_close(client, server).await;
}

#[tokio::test]
async fn abrupt_close() {
    let dir = tempfile::tempdir().unwrap();
    let (l, client, server) = pair(&dir.path().join("app.abrupt")).await;
    common::abrupt_close_mid_frame(client, server).await;
    let client = within("connect", LocalStream::connect(l.path())).await.unwrap();
    let server = within("accept", l.accept()).await.unwrap();
    common::abrupt_close_peer_gone(server, client).await;
}

#[tokio::test]
async fn peers_are_socket_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.peer");
    let (_l, client, server) = pair(&path).await;
    let name = local_name(&path);
    assert_eq!(client.peer(), &PeerAddr::Local(name.clone()));
    assert_eq!(server.peer(), &PeerAddr::Local(name.clone()));
    assert_eq!(client.peer().to_string(), format!("unix:{}", name.display()));
}

#[tokio::test]
async fn max_connections_closes_extra_clients_at_accept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.max");
    let opts = LocalListenerOptions::default().max_connections(2);
    let listener = within("bind", LocalListener::bind_with(&path, &opts)).await.unwrap();
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..2 {
        clients.push(framed(
            within("connect", LocalStream::connect(&path)).await.unwrap(),
            JsonCodec::default(),
        ));
        servers.push(framed(within("accept", listener.accept()).await.unwrap(), JsonCodec::default()));
    }
    assert_eq!(listener.open_connections(), 2);

    let mut extra = within("connect a third", LocalStream::connect(&path)).await.unwrap();
    match within("accept the third", listener.accept()).await {
        Err(Error::TooManyConnections { max: 2, peer }) => {
            assert_eq!(peer, PeerAddr::Local(local_name(&path)))
        }
        other => panic!("expected TooManyConnections, got {other:?}"),
    }
    assert!(Error::TooManyConnections { max: 2, peer: PeerAddr::Local(path.clone()) }.is_connection_error());
    let mut byte = [0u8; 1];
    let read = within("the third is closed at once", extra.read(&mut byte)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // the open ones are unaffected
    for (c, s) in clients.iter_mut().zip(servers.iter_mut()) {
        within("send", c.send(Event::new("still", json!(true)))).await.unwrap();
        assert_eq!(within("recv", s.next()).await.unwrap().unwrap().event_type(), "still");
    }
    // a slot frees up when a connection ends
    drop(clients.pop());
    drop(servers.pop());
    assert_eq!(listener.open_connections(), 1);
    let _again = within("connect again", LocalStream::connect(&path)).await.unwrap();
    within("accept again", listener.accept()).await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: a named pipe leaves no socket file behind, so there is nothing stale to unlink"
)]
async fn unlink_removes_a_stale_socket() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.stale");
        stale_socket(&path);
        assert!(matches!(
            within("connect to stale", LocalStream::connect(&path)).await,
            Err(Error::Connect { source, .. }) if source.kind() == std::io::ErrorKind::ConnectionRefused
        ));
        let (_l, _c, _s) = pair(&path).await;
    }
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: unlink has nothing to remove; windows_unlink_has_nothing_to_remove checks that a file at the path is left alone"
)]
async fn unlink_never_removes_a_file_that_is_not_a_socket() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.file");
        fs::write(&path, b"precious").unwrap();
        match within("bind", LocalListener::bind(&path)).await {
            Err(Error::NotASocket { path: p }) => assert_eq!(p, path),
            other => panic!("expected NotASocket, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), b"precious");
        fs::create_dir(dir.path().join("app.dir")).unwrap();
        assert!(matches!(
            within("bind a directory", LocalListener::bind(dir.path().join("app.dir"))).await,
            Err(Error::NotASocket { .. })
        ));
    }
}

#[tokio::test]
async fn unlink_never_removes_a_live_servers_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.live");
    let live = within("bind", LocalListener::bind(&path)).await.unwrap();
    match within("bind again", LocalListener::bind(&path)).await {
        Err(Error::AddrInUse { path: p, live: true }) => assert_eq!(p, local_name(&path)),
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    // the probe's connection is the live server's to accept; it still serves
    let _probe = within("accept the probe", live.accept()).await.unwrap();
    let _c = within("connect", LocalStream::connect(&path)).await.unwrap();
    within("accept", live.accept()).await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: unlink has nothing to remove; a pipe name in use is AddrInUse whatever unlink says (windows_pipe_name_in_use_is_addr_in_use_whatever_unlink_says)"
)]
async fn unlink_off_leaves_the_path_alone() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.keep");
        stale_socket(&path);
        let opts = LocalListenerOptions::default().unlink(false);
        match within("bind", LocalListener::bind_with(&path, &opts)).await {
            Err(Error::AddrInUse { live: false, .. }) => {}
            other => panic!("expected AddrInUse, got {other:?}"),
        }
        assert!(
            fs::symlink_metadata(&path).unwrap().file_type().is_socket(),
            "the stale socket is still there"
        );
        fs::write(dir.path().join("app.file"), b"x").unwrap();
        assert!(matches!(
            within("bind over a file", LocalListener::bind_with(dir.path().join("app.file"), &opts)).await,
            Err(Error::AddrInUse { live: false, .. })
        ));
        // a free path binds as usual
        let free = dir.path().join("app.free");
        within("bind free", LocalListener::bind_with(&free, &opts)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listener_shared_by_several_accept_loops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.cluster");
    let listener = Arc::new(within("bind", LocalListener::bind(&path)).await.unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    for worker in 0..2 {
        let (listener, tx) = (listener.clone(), tx.clone());
        tokio::spawn(async move {
            while let Ok(stream) = listener.accept().await {
                let mut events = framed(stream, JsonCodec::default());
                if let Some(Ok(e)) = events.next().await {
                    let _ = tx.send((worker, e.event_type().to_owned())).await;
                }
            }
        });
    }
    for i in 0..4 {
        let mut c =
            framed(within("connect", LocalStream::connect(&path)).await.unwrap(), JsonCodec::default());
        within("send", c.send(Event::new(format!("hello{i}"), json!(i)))).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(within("served", rx.recv()).await.unwrap().1);
    }
    got.sort();
    assert_eq!(got, ["hello0", "hello1", "hello2", "hello3"]);
}

#[tokio::test]
#[cfg_attr(windows, ignore = "Windows: no socket file; a pipe goes with its last handle")]
async fn socket_file_removed_on_drop_but_not_a_replacement() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.drop");
        let l = within("bind", LocalListener::bind(&path)).await.unwrap();
        assert!(path.exists());
        drop(l);
        assert!(fs::symlink_metadata(&path).is_err(), "socket file left behind");

        // a listener whose file was replaced by another server's leaves that one alone
        let first = within("bind first", LocalListener::bind(&path)).await.unwrap();
        fs::remove_file(&path).unwrap();
        let second = within("bind second", LocalListener::bind(&path)).await.unwrap();
        drop(first);
        assert!(
            fs::symlink_metadata(&path).unwrap().file_type().is_socket(),
            "second server's socket removed"
        );
        let _c = within("connect to second", LocalStream::connect(&path)).await.unwrap();
        within("second accepts", second.accept()).await.unwrap();
    }
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: file modes are Unix only; node turns readableAll/writableAll into a pipe DACL, which we do not set (it needs unsafe Win32 calls)"
)]
async fn readable_all_and_writable_all_set_the_mode() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for (r, w, want) in [(true, false, 0o444), (false, true, 0o222), (true, true, 0o666)] {
            let path = dir.path().join(format!("app.mode{r}{w}"));
            let opts = LocalListenerOptions::default().readable_all(r).writable_all(w);
            let _l = within("bind", LocalListener::bind_with(&path, &opts)).await.unwrap();
            assert_eq!(mode(&path) & want, want, "{r} {w}: mode {:o}", mode(&path));
        }
        // without them, nothing is added: the mode is the umask's
        let path = dir.path().join("app.plain");
        let _l = within("bind", LocalListener::bind(&path)).await.unwrap();
        let plain = mode(&path);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(mode(&path), 0o700, "was {plain:o}");
    }
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: node-ipc 14 prepares no socket root on win32, and neither do we (windows_unlink_has_nothing_to_remove checks it)"
)]
async fn socket_root_is_created_private() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("node-ipc");
        let rules = SocketPathRules::new(format!("{}/", root.display()), "app.", true);
        let endpoint: Endpoint = "id:world".parse().unwrap();
        let listener =
            within("bind id", LocalListener::bind_endpoint(&endpoint, &rules, &Default::default()))
                .await
                .unwrap();
        assert_eq!(listener.path(), root.join("app.world"));
        assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
        let _c = within("connect id", LocalStream::connect_endpoint(&endpoint, &rules)).await.unwrap();
        within("accept", listener.accept()).await.unwrap();
        drop(listener);

        // an existing root open to others is made private again
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let _l = within("bind again", LocalListener::bind_endpoint(&endpoint, &rules, &Default::default()))
            .await
            .unwrap();
        assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[tokio::test]
#[cfg_attr(windows, ignore = "Windows: socket-root checks are Unix only (node-ipc 14 skips them on win32)")]
async fn socket_root_behind_a_symlink_is_refused() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let rules = SocketPathRules::new(format!("{}/", link.display()), "app.", true);
        match within("bind", LocalListener::bind_endpoint(&Endpoint::id("x"), &rules, &Default::default()))
            .await
        {
            Err(Error::InsecureSocketRoot { path, reason }) => {
                assert_eq!(path, link);
                assert!(reason.contains("symbolic link"), "{reason}");
            }
            other => panic!("expected InsecureSocketRoot, got {other:?}"),
        }
        assert!(fs::read_dir(&real).unwrap().next().is_none(), "nothing bound through the link");
        // with the check off (node-ipc `secureSocketRoot: false`) it binds
        let lax = SocketPathRules::new(rules.socket_root(), rules.appspace(), false);
        within("bind lax", LocalListener::bind_endpoint(&Endpoint::id("x"), &lax, &Default::default()))
            .await
            .unwrap();
    }
}

#[tokio::test]
#[cfg_attr(windows, ignore = "Windows: socket-root checks are Unix only (node-ipc 14 skips them on win32)")]
async fn socket_root_owned_by_someone_else_is_refused() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let root = if my_uid() == 0 {
            // as root: hand a fresh directory to nobody
            let root = dir.path().join("theirs");
            fs::create_dir(&root).unwrap();
            std::os::unix::fs::chown(&root, Some(65534), Some(65534)).unwrap();
            root
        } else {
            // as anyone else: / belongs to root
            Path::new("/").to_owned()
        };
        let opts = LocalListenerOptions::default().socket_root(&root);
        match within("bind", LocalListener::bind_with(root.join("app.x"), &opts)).await {
            Err(Error::InsecureSocketRoot { reason, .. }) => {
                assert!(reason.contains("owned by uid"), "{reason}")
            }
            other => panic!("expected InsecureSocketRoot, got {other:?}"),
        }
    }
}

#[cfg(unix)]
fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // the owner of a file we just created is us
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid()
}

#[tokio::test]
async fn connect_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("app.nobody");
    match within("a connect to a missing socket", LocalStream::connect(&missing)).await {
        Err(Error::Connect { endpoint, source }) => {
            assert_eq!(endpoint, format!("unix:{}", missing.display()));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(matches!(
        LocalStream::connect_endpoint(&Endpoint::tcp("127.0.0.1", 1), &SocketPathRules::v9()).await,
        Err(Error::UnsupportedEndpoint { .. })
    ));
}

#[tokio::test]
async fn guarded_profile_closes_a_connection_stuck_in_a_frame() {
    use std::time::{Duration, Instant};

    use ipc_codec::{CodecError, Profile, Rules};
    use tokio::io::AsyncWriteExt;

    let dir = tempfile::tempdir().unwrap();
    let (_l, mut client, server) = pair(&dir.path().join("app.guarded")).await;
    let timeout = Duration::from_millis(200);
    let codec = JsonCodec::builder()
        .rules(Rules::builder(Profile::Guarded).message_timeout(Some(timeout)).build())
        .build()
        .unwrap();
    let mut server = framed(server, codec);
    within("write", client.write_all(b"{\"type\":\"ok\",\"data\":1}\x0c{\"type\":\"stuck\"")).await.unwrap();
    assert_eq!(within("whole frame", server.next()).await.unwrap().unwrap().event_type(), "ok");
    let started = Instant::now();
    match within("the deadline", server.next()).await {
        Some(Err(CodecError::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(within("then the end", server.next()).await.is_none());
}

#[cfg(windows)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_pipe_name_in_use_is_addr_in_use_whatever_unlink_says() {
    use tokio::io::AsyncWriteExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.taken");
    let live = Arc::new(within("bind", LocalListener::bind(&path)).await.unwrap());
    let name = live.path().to_owned();
    assert_eq!(name, local_name(&path));
    // the live server accepts whatever comes: the refusals' probes (connections
    // that close at once), then a real client
    let (tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let acceptor = tokio::spawn({
        let live = live.clone();
        async move {
            while let Ok(stream) = live.accept().await {
                if tx.send(stream).is_err() {
                    break;
                }
            }
        }
    });
    for unlink in [true, false] {
        let opts = LocalListenerOptions::default().unlink(unlink);
        match within("bind again", LocalListener::bind_with(&path, &opts)).await {
            Err(Error::AddrInUse { path: p, live: true }) => assert_eq!(p, name),
            other => panic!("unlink {unlink}: expected AddrInUse, got {other:?}"),
        }
    }
    // node reports the same refusal as EADDRINUSE; our io kind is AddrInUse
    let refused = within("bind a third time", LocalListener::bind(&path)).await.unwrap_err();
    assert_eq!(std::io::Error::from(refused).kind(), std::io::ErrorKind::AddrInUse);

    // the live server still serves: a real client's bytes arrive (probes read as closed)
    let mut client = within("connect", LocalStream::connect(&path)).await.unwrap();
    within("write", client.write_all(b"hi")).await.unwrap();
    within("the client's connection", async {
        loop {
            let mut stream = accepted.recv().await.expect("the acceptor runs");
            let mut got = [0u8; 2];
            if stream.read_exact(&mut got).await.is_ok() {
                assert_eq!(&got, b"hi");
                break;
            }
        }
    })
    .await;

    // once it is gone the name is free at once (nothing to unlink), even
    // though the runtime closes dropped pipes a moment later (a pipe lives
    // while any handle to it does, clients' included: drop those first)
    drop((client, accepted));
    acceptor.abort();
    let _ = acceptor.await;
    drop(live);
    let again = within("bind after drop", LocalListener::bind(&path)).await.unwrap();
    let _c = within("connect again", LocalStream::connect(&path)).await.unwrap();
    within("accept again", again.accept()).await.unwrap();
}

#[cfg(windows)]
#[tokio::test]
async fn windows_unlink_has_nothing_to_remove() {
    let dir = tempfile::tempdir().unwrap();
    // a file at the socket path is not the pipe: binding (unlink on) leaves it alone
    let path = dir.path().join("app.file");
    fs::write(&path, b"precious").unwrap();
    let listener = within("bind", LocalListener::bind(&path)).await.unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"precious");
    let _c = within("connect", LocalStream::connect(&path)).await.unwrap();
    within("accept", listener.accept()).await.unwrap();
    drop(listener);
    assert_eq!(fs::read(&path).unwrap(), b"precious", "dropping the listener removes no file");
    // a socket root is not created (node-ipc 14 skips prepareSocketRoot on win32)
    let root = dir.path().join("node-ipc");
    let rules = SocketPathRules::new(format!("{}/", root.display()), "app.", true);
    let endpoint = Endpoint::id("world");
    let listener = within("bind id", LocalListener::bind_endpoint(&endpoint, &rules, &Default::default()))
        .await
        .unwrap();
    assert_eq!(listener.path(), local_name(&rules.path_for("world")));
    assert!(!root.exists(), "no socket root made on Windows");
    let _c = within("connect id", LocalStream::connect_endpoint(&endpoint, &rules)).await.unwrap();
    within("accept id", listener.accept()).await.unwrap();
}
