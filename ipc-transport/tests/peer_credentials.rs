//! Who is on the other end of a local socket: credentials on both ends, and
//! a listener that admits only chosen peers. (Another uid being refused
//! needs a second user: ipc-compat's `tests/peer_identity.rs` runs a client
//! as `nobody`.)
#![cfg(all(unix, feature = "local"))]

use interop::within;
use ipc_transport::local::{AllowedPeers, LocalListener, LocalListenerOptions, LocalStream};
use ipc_transport::{BindOptions, ConnectOptions, Endpoint, Error, IpcListener, IpcStream, PeerAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Our effective uid: the owner of a file we create.
fn own_uid() -> u32 {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::MetadataExt::uid(&file.as_file().metadata().unwrap())
}

#[tokio::test]
async fn both_ends_report_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::unix(dir.path().join("app.creds"));
    let mut listener = within("bind", IpcListener::bind(&endpoint, &BindOptions::default())).await.unwrap();
    let client = within("connect", IpcStream::connect(&endpoint, &ConnectOptions::default())).await.unwrap();
    let served = within("accept", listener.accept()).await.unwrap();
    let seen = served.peer_credentials().unwrap();
    assert_eq!(seen.pid(), Some(std::process::id()));
    assert_eq!(seen.uid(), own_uid());
    assert_eq!(client.peer_credentials().unwrap(), seen, "the server is this process too");
}

#[cfg(feature = "tcp")]
#[tokio::test]
async fn tcp_streams_have_no_credentials() {
    let mut listener =
        within("bind", IpcListener::bind(&"tcp://127.0.0.1:0".parse().unwrap(), &BindOptions::default()))
            .await
            .unwrap();
    let endpoint = listener.local_endpoint().unwrap();
    let client = within("connect", IpcStream::connect(&endpoint, &ConnectOptions::default())).await.unwrap();
    let served = within("accept", listener.accept()).await.unwrap();
    for stream in [&client, &served] {
        assert_eq!(stream.peer_credentials().unwrap_err().kind(), std::io::ErrorKind::Unsupported);
    }
}

#[tokio::test]
async fn a_peer_outside_the_allowed_list_is_closed_and_the_listener_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.allowed");
    let me = own_uid();
    // only a uid that is not ours: this very process is refused
    let strangers =
        LocalListenerOptions::default().allowed_peers(AllowedPeers::default().uid(me.wrapping_add(1)));
    let listener = within("bind", LocalListener::bind_with(&path, &strangers)).await.unwrap();
    let mut refused = within("connect", LocalStream::connect(&path)).await.unwrap();
    match within("accept", listener.accept()).await {
        Err(e @ Error::PeerRefused { .. }) => {
            assert!(e.is_connection_error());
            assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::PermissionDenied);
        }
        other => panic!("expected PeerRefused, got {other:?}"),
    }
    let mut buf = [0u8; 1];
    assert_eq!(within("EOF", refused.read(&mut buf)).await.unwrap(), 0, "the refused peer is closed");
    assert_eq!(listener.open_connections(), 0, "a refused peer takes no slot");
    drop(listener);

    // same uid, or our uid on the list: admitted, and the credentials checked are kept
    for allowed in [AllowedPeers::default().same_uid(true), AllowedPeers::default().uid(me)] {
        let options = LocalListenerOptions::default().allowed_peers(allowed);
        let listener = within("bind", LocalListener::bind_with(&path, &options)).await.unwrap();
        let mut client = within("connect", LocalStream::connect(&path)).await.unwrap();
        let mut served = within("accept", listener.accept()).await.unwrap();
        assert_eq!(served.peer(), &PeerAddr::Local(path.clone()));
        assert_eq!(served.peer_credentials().unwrap().pid(), Some(std::process::id()));
        client.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        within("read", served.read_exact(&mut got)).await.unwrap();
        assert_eq!(&got, b"ping");
    }
}

#[tokio::test]
async fn the_refusal_names_the_peer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.named");
    let options = LocalListenerOptions::default().allowed_peers(AllowedPeers::default());
    let listener = within("bind", LocalListener::bind_with(&path, &options)).await.unwrap();
    let _client = within("connect", LocalStream::connect(&path)).await.unwrap();
    let Err(Error::PeerRefused { peer, credentials: Some(who) }) = within("accept", listener.accept()).await
    else {
        panic!("an empty AllowedPeers admits no one")
    };
    assert_eq!(peer, PeerAddr::Local(path.clone()));
    assert_eq!(who.pid(), Some(std::process::id()));
    let text = Error::PeerRefused { peer, credentials: Some(who) }.to_string();
    assert!(text.contains(&format!("uid {}", own_uid())) && text.contains("is not allowed"), "{text}");
}
