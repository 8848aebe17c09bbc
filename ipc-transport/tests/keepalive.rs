//! TCP keepalive, set on both ends when the connection is made. (That it
//! notices a dead peer is shown over a real broken link in ipc-compat's
//! `tests/dead_peers.rs`.)
#![cfg(feature = "tcp")]

use std::time::Duration;

use interop::within;
use ipc_transport::tcp::{Keepalive, TcpConnectOptions, TcpListener, TcpListenerOptions, TcpStream};

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Wine: setting the keepalive interval and count fails with WSAENOPROTOOPT (10042); Windows 10 1703 and later have them"
)]
async fn keepalive_is_set_on_both_ends_as_configured() {
    let keepalive = Keepalive::new(Duration::from_millis(1500)).interval(Duration::from_secs(3)).count(4);
    let options = TcpListenerOptions::default().keepalive(keepalive);
    let listener =
        within("bind", TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), &options)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = TcpConnectOptions::default().keepalive(keepalive);
    let client = within("connect", TcpStream::connect_with("127.0.0.1", port, &connect)).await.unwrap();
    let served = within("accept", listener.accept()).await.unwrap();
    for stream in [&client, &served] {
        let socket = socket2::SockRef::from(stream.get_ref());
        assert!(socket.keepalive().unwrap());
        // Windows cannot read the settings back
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        {
            // whole seconds, rounded up
            assert_eq!(socket.tcp_keepalive_time().unwrap(), Duration::from_secs(2));
            assert_eq!(socket.tcp_keepalive_interval().unwrap(), Duration::from_secs(3));
            assert_eq!(socket.tcp_keepalive_retries().unwrap(), 4);
        }
    }
    assert_eq!(keepalive.max_detection_time(), Some(Duration::from_secs(2 + 3 * 4)));
}

#[tokio::test]
async fn keepalive_is_off_by_default() {
    let listener = within("bind", TcpListener::bind("127.0.0.1:0".parse().unwrap())).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = within("connect", TcpStream::connect("127.0.0.1", port)).await.unwrap();
    let served = within("accept", listener.accept()).await.unwrap();
    for stream in [&client, &served] {
        assert!(!socket2::SockRef::from(stream.get_ref()).keepalive().unwrap());
    }
}

#[test]
fn values_are_kept_within_what_systems_take() {
    let k = Keepalive::new(Duration::ZERO).interval(Duration::from_secs(100_000)).count(0);
    assert_eq!(k.max_detection_time(), Some(Duration::from_secs(1 + 32767)));
    assert_eq!(
        Keepalive::new(Duration::from_secs(5)).max_detection_time(),
        None,
        "interval and count left to the system"
    );
}
