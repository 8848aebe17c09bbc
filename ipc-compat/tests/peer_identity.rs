//! Who is on the other end of a local socket: `Socket::peer_credentials`, and
//! `Config::allowed_peers` turning away a client of another uid (a real one:
//! a child process running as `nobody`) while a client of the server's uid,
//! connected before and after, keeps working. The other uid needs root; without
//! it that test says `skipped: ...`.
#![cfg(unix)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use futures::{SinkExt, StreamExt};
use interop::within;
use ipc_codec::{Event, JsonCodec};
use ipc_compat::{AllowedPeers, Client, Config, Ipc, Lifecycle, PeerAddr, Profile, Server};
use ipc_transport::local::LocalStream;
use serde_json::json;
use support::{child_arg, next_error, tell_parent, transport_error, v14, v9, ChildProcess};

/// `nobody`'s uid and gid on Debian and most Linux systems.
const NOBODY: u32 = 65534;

/// Our effective uid: the owner of a file we create.
fn own_uid(dir: &Path) -> u32 {
    std::fs::metadata(dir).unwrap().uid()
}

/// A server at `path` that answers `hello` with `welcome`.
async fn welcoming(config: Config, path: &Path) -> Server {
    let server = Ipc::new(config).serve(Some(path)).unwrap();
    server.on("hello", |_, socket| socket.emit("welcome", true).unwrap());
    within("start", server.start()).await.unwrap();
    server
}

async fn welcomed(client: &Client) {
    let mut welcome = client.subscribe("welcome", 4);
    client.emit("hello", json!({"id": "same-uid"})).unwrap();
    within("welcome", welcome.next()).await.expect("a welcome");
}

/// This test binary, where `nobody` can run it: in place when every
/// directory above it lets others through, else a copy in `dir`.
fn runnable_by_others(dir: &Path) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let open = exe.ancestors().skip(1).all(|d| std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 != 0))
        && std::fs::metadata(&exe).is_ok_and(|m| m.mode() & 0o005 == 0o005);
    if open {
        return exe;
    }
    let copy = dir.join("peer_identity_as_nobody");
    std::fs::copy(&exe, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[test]
#[ignore = "helper: runs as a child process (as nobody) of the tests of this file"]
fn nobody_client() {
    let Some(path) = child_arg() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let stream = match LocalStream::connect(&path).await {
            Ok(stream) => stream,
            Err(e) => return tell_parent(format!("cannot connect: {e}")),
        };
        let mut events = ipc_transport::framed(stream, JsonCodec::default());
        if let Err(e) = events.send(Event::new("hello", json!({"id": "nobody"}))).await {
            return tell_parent(format!("closed: {e}"));
        }
        match tokio::time::timeout(interop::STEP_LIMIT, events.next()).await {
            Ok(None) => tell_parent("closed"),
            Ok(Some(Err(e))) => tell_parent(format!("closed: {e}")),
            Ok(Some(Ok(event))) => tell_parent(format!("answered: {}", event.event_type())),
            Err(_) => tell_parent("neither answered nor closed"),
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_uid_is_refused_and_the_others_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let me = own_uid(dir.path());
    if me != 0 {
        eprintln!("skipped: a_peer_of_another_uid_is_refused_and_the_others_keep_working: not root (uid {me}), so no client can run as another uid");
        return;
    }
    // nobody must reach the socket: through the directory, and write to the socket file
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("app.guarded");
    let mut config = v9(dir.path());
    config.writable_all = true;
    config.allowed_peers = Some(AllowedPeers::default().same_uid(true));
    let server = welcoming(config.clone(), &path).await;
    let mut life = server.lifecycle(64);

    let ipc = Ipc::new(config);
    let friend = ipc.connect_to("guarded", Some(&path)).unwrap();
    welcomed(&friend).await;
    let [socket] = server.sockets().try_into().expect("one socket");
    let who = socket.peer_credentials().expect("a local socket's credentials");
    assert_eq!((who.uid(), who.pid()), (me, Some(std::process::id())));

    let mut as_nobody = Command::new(runnable_by_others(dir.path()));
    as_nobody.uid(NOBODY).gid(NOBODY);
    let mut stranger = ChildProcess::spawn_from(as_nobody, "nobody_client", path.to_str().unwrap());
    let said = tokio::task::block_in_place(|| stranger.next_line()).expect("the nobody client's verdict");
    assert!(said.starts_with("closed"), "the nobody client: {said}");

    let (peer, error) = next_error(&mut life).await;
    assert!(peer.is_none(), "refused before it was a socket");
    match transport_error(&error) {
        Some(ipc_transport::Error::PeerRefused { peer, credentials: Some(c) }) => {
            assert_eq!(peer, &PeerAddr::Local(path.clone()));
            assert_eq!((c.uid(), c.gid(), c.pid()), (NOBODY, NOBODY, Some(stranger.id())));
        }
        other => panic!("expected PeerRefused with credentials, got {other:?} ({error})"),
    }
    let (ok, _) = tokio::task::block_in_place(|| stranger.finish(support::STEP));
    assert!(ok, "the nobody client exits cleanly");

    // nothing else was affected: the same client, the same socket, still served
    welcomed(&friend).await;
    assert_eq!(server.sockets(), vec![socket]);
    assert!(friend.is_connected());
    while let Ok(Some(event)) = tokio::time::timeout(std::time::Duration::ZERO, life.recv()).await {
        assert!(
            !matches!(event, Lifecycle::Close(_) | Lifecycle::SocketDisconnected { .. }),
            "{}",
            event.name()
        );
    }
    ipc.disconnect("guarded");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assured_admits_the_servers_own_uid_and_reports_who_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v14(dir.path());
    config.parser = Profile::Assured;
    config.allowed_events = Some(vec!["hello".into(), "welcome".into()]);
    assert_eq!(config.admitted_peers(), Some(AllowedPeers::default().same_uid(true)));
    let path = Path::new(&config.socket_root).join("app.assured");
    let server = welcoming(config.clone(), &path).await;
    let ipc = Ipc::new(config);
    let client = ipc.connect_to("assured", Some(&path)).unwrap();
    welcomed(&client).await;
    let [socket] = server.sockets().try_into().expect("one socket");
    assert_eq!(socket.peer_credentials().map(|c| c.uid()), Some(own_uid(dir.path())));
    ipc.disconnect("assured");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_sockets_have_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = v9(dir.path());
    let server = Ipc::new(config.clone()).serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    server.on("hello", |_, socket| socket.emit("welcome", true).unwrap());
    within("start", server.start()).await.unwrap();
    let port = server.local_addr().unwrap().port();
    let ipc = Ipc::new(config);
    let client = ipc.connect_to_net("net", Some("127.0.0.1"), Some(port)).unwrap();
    welcomed(&client).await;
    let [socket] = server.sockets().try_into().expect("one socket");
    assert_eq!(socket.peer_credentials(), None);
    ipc.disconnect("net");
    server.stop().await;
}
