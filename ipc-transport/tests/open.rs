//! `IpcStream::connect` and `IpcListener::bind`: every stream endpoint kind
//! through one door, and the endpoints that door refuses.

mod common;

use std::path::PathBuf;

use common::pipelined_both_ways;
use interop::within;
use ipc_transport::local::{windows_pipe_name, LocalListenerOptions, SocketPathRules};
use ipc_transport::{BindOptions, ConnectOptions, Endpoint, Error, IpcListener, IpcStream, PeerAddr};

/// Binds `endpoint`, connects to where it landed, and pipelines events both ways.
async fn round_trip(
    endpoint: Endpoint,
    bind: BindOptions,
    connect: ConnectOptions,
) -> (IpcListener, PeerAddr) {
    let mut listener = within("bind", IpcListener::bind(&endpoint, &bind)).await.unwrap();
    let target = listener.local_endpoint().unwrap();
    let (client, served) = within("connect and accept", async {
        tokio::join!(IpcStream::connect(&target, &connect), listener.accept())
    })
    .await;
    let (client, served) = (client.unwrap(), served.unwrap());
    let peer = served.peer().clone();
    assert_eq!(served.is_authorized(), None);
    pipelined_both_ways(client, served, 1_000).await;
    (listener, peer)
}

/// What a local listener reports for `path`: the path, or on Windows its pipe name.
fn local_name(path: &str) -> PathBuf {
    if cfg!(windows) {
        windows_pipe_name(path).into()
    } else {
        path.into()
    }
}

#[tokio::test]
async fn unix_path_and_id_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.open");
    let (listener, peer) =
        round_trip(Endpoint::unix(&path), BindOptions::default(), ConnectOptions::default()).await;
    let name = local_name(path.to_str().unwrap());
    assert_eq!(listener.path(), Some(name.as_path()));
    assert_eq!(listener.local_addr(), None);
    assert_eq!(peer, PeerAddr::Local(name));

    // id: goes through the rules, whose root is prepared (created 0700) as node-ipc 14 does
    // (on Unix; Windows has no root to prepare)
    let root = format!("{}/root/", dir.path().display());
    let rules = SocketPathRules::new(&root, "app.", true);
    let bind = BindOptions::default().socket_path_rules(rules.clone());
    let connect = ConnectOptions::default().socket_path_rules(rules);
    let (listener, _) = round_trip(Endpoint::id("world"), bind, connect).await;
    assert_eq!(listener.path(), Some(local_name(&format!("{root}app.world")).as_path()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
    }
    #[cfg(windows)]
    assert!(!std::path::Path::new(&root).exists());
}

#[tokio::test]
async fn tcp_endpoint_with_an_ephemeral_port() {
    let (listener, peer) =
        round_trip("tcp://127.0.0.1:0".parse().unwrap(), BindOptions::default(), ConnectOptions::default())
            .await;
    let addr = listener.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    assert_eq!(listener.local_endpoint().unwrap(), Endpoint::tcp("127.0.0.1", addr.port()));
    assert!(matches!(peer, PeerAddr::Tcp(_)) && !listener.is_tls());
}

#[tokio::test]
async fn max_connections_applies_to_every_kind() {
    let options = BindOptions::default().max_connections(1).local(LocalListenerOptions::default());
    let mut listener =
        IpcListener::bind(&"tcp://127.0.0.1:0".parse().unwrap(), &options.max_connections(1)).await.unwrap();
    let target = listener.local_endpoint().unwrap();
    let _first = IpcStream::connect(&target, &ConnectOptions::default()).await.unwrap();
    let _kept = within("accept", listener.accept()).await.unwrap();
    let _second = IpcStream::connect(&target, &ConnectOptions::default()).await.unwrap();
    assert!(matches!(
        within("accept", listener.accept()).await,
        Err(Error::TooManyConnections { max: 1, .. })
    ));
}

#[tokio::test]
async fn refused_endpoints_say_why() {
    for endpoint in ["udp4://127.0.0.1:0", "tls://127.0.0.1:0"] {
        let endpoint: Endpoint = endpoint.parse().unwrap();
        match IpcListener::bind(&endpoint, &BindOptions::default()).await {
            Err(Error::UnsupportedEndpoint { reason, .. }) => assert!(!reason.is_empty()),
            other => panic!("bind {endpoint}: {other:?}"),
        }
        match IpcStream::connect(&endpoint, &ConnectOptions::default()).await {
            Err(Error::UnsupportedEndpoint { reason, .. }) => assert!(!reason.is_empty()),
            other => panic!("connect {endpoint}: {other:?}"),
        }
    }
}
