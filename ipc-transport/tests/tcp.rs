//! TCP: the shared scenarios over IPv4 and IPv6, TCP_NODELAY, node-ipc's
//! `interface` options, maxConnections.
#![cfg(feature = "tcp")]

mod common;

use std::net::{IpAddr, SocketAddr};

use futures::{SinkExt, StreamExt};
use interop::within;
use ipc_codec::{Event, JsonCodec};
use ipc_transport::tcp::{IpFamily, TcpConnectOptions, TcpListener, TcpListenerOptions, TcpStream};
use ipc_transport::{framed, Endpoint, Error, PeerAddr};
use serde_json::json;
use tokio::io::AsyncReadExt;

async fn pair_on(ip: &str) -> (TcpListener, TcpStream, TcpStream) {
    let listener = within("bind", TcpListener::bind(SocketAddr::new(ip.parse().unwrap(), 0))).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = within("connect", TcpStream::connect(ip, port)).await.unwrap();
    let server = within("accept", listener.accept()).await.unwrap();
    (listener, client, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_events_each_way_v4() {
    let (_l, client, server) = pair_on("127.0.0.1").await;
    common::pipelined_both_ways(client, server, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_events_each_way_v6() {
    let (_l, client, server) = pair_on("::1").await;
    common::pipelined_both_ways(client, server, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_frame_across_many_reads() {
    let (_l, client, server) = pair_on("127.0.0.1").await;
    common::big_frame_round_trip(client, server).await;
}

#[tokio::test]
async fn half_close() {
    let (_l, client, server) = pair_on("::1").await;
    common::half_close(client, server).await;
}

#[tokio::test]
async fn abrupt_close() {
    let (l, client, server) = pair_on("127.0.0.1").await;
    common::abrupt_close_mid_frame(client, server).await;
    let client =
        within("connect", TcpStream::connect("127.0.0.1", l.local_addr().unwrap().port())).await.unwrap();
    let server = within("accept", l.accept()).await.unwrap();
    common::abrupt_close_peer_gone(client, server).await;
}

#[tokio::test]
async fn nodelay_on_both_sides_and_peers_reported() {
    for ip in ["127.0.0.1", "::1"] {
        let (_l, client, server) = pair_on(ip).await;
        assert!(client.get_ref().nodelay().unwrap(), "client {ip}");
        assert!(server.get_ref().nodelay().unwrap(), "server {ip}");
        assert_eq!(server.peer(), &PeerAddr::Tcp(client.local_addr().unwrap()));
        assert_eq!(client.peer(), &PeerAddr::Tcp(server.local_addr().unwrap()));
        assert_eq!(client.peer().socket_addr().unwrap().ip(), ip.parse::<IpAddr>().unwrap());
    }
}

#[tokio::test]
async fn interface_options_bind_the_client() {
    let listener = within("bind", TcpListener::bind("127.0.0.1:0".parse().unwrap())).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // a free local port: bind one, let it go
    let local_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let opts =
        TcpConnectOptions::default().local_address("127.0.0.1".parse().unwrap()).local_port(local_port);
    let client = within("connect", TcpStream::connect_with("127.0.0.1", port, &opts)).await.unwrap();
    let server = within("accept", listener.accept()).await.unwrap();
    assert_eq!(server.peer().socket_addr().unwrap(), SocketAddr::from(([127, 0, 0, 1], local_port)));
    assert_eq!(client.local_addr().unwrap().port(), local_port);

    // family filters the resolved addresses
    let v4_only = TcpConnectOptions::default().family(IpFamily::V4);
    within("connect v4", TcpStream::connect_with("localhost", port, &v4_only)).await.unwrap();
    match within(
        "connect v6 to a v4 literal",
        TcpStream::connect_with("127.0.0.1", port, &TcpConnectOptions::default().family(IpFamily::V6)),
    )
    .await
    {
        Err(Error::NoAddress { host, port: p, family: Some("IPv6") }) => {
            assert_eq!((host.as_str(), p), ("127.0.0.1", port))
        }
        other => panic!("expected NoAddress, got {other:?}"),
    }
}

#[tokio::test]
async fn endpoints_bind_and_connect() {
    let endpoint: Endpoint = "tcp://[::1]:0".parse().unwrap();
    let listener = within("bind", TcpListener::bind_endpoint(&endpoint, &Default::default())).await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.is_ipv6());
    let target: Endpoint = format!("tcp://[::1]:{}", addr.port()).parse().unwrap();
    let mut client = framed(
        within("connect", TcpStream::connect_endpoint(&target, &Default::default())).await.unwrap(),
        JsonCodec::default(),
    );
    let mut server = framed(within("accept", listener.accept()).await.unwrap(), JsonCodec::default());
    within("send", client.send(Event::new("hello", json!("v6")))).await.unwrap();
    assert_eq!(within("recv", server.next()).await.unwrap().unwrap().data().unwrap(), json!("v6"));
    assert!(matches!(
        TcpStream::connect_endpoint(&Endpoint::unix("/x"), &Default::default()).await,
        Err(Error::UnsupportedEndpoint { .. })
    ));
}

#[tokio::test]
async fn connect_refused_is_typed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    match within("connect", TcpStream::connect("127.0.0.1", port)).await {
        Err(Error::Connect { endpoint, source }) => {
            assert_eq!(endpoint, format!("tcp://127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn max_connections_closes_extra_clients_at_accept() {
    let opts = TcpListenerOptions::default().max_connections(2);
    let listener =
        within("bind", TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), &opts)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut pairs = Vec::new();
    for _ in 0..2 {
        let c = framed(
            within("connect", TcpStream::connect("127.0.0.1", port)).await.unwrap(),
            JsonCodec::default(),
        );
        let s = framed(within("accept", listener.accept()).await.unwrap(), JsonCodec::default());
        pairs.push((c, s));
    }
    assert_eq!(listener.open_connections(), 2);
    let mut extra = within("connect a third", TcpStream::connect("127.0.0.1", port)).await.unwrap();
    let extra_addr = extra.local_addr().unwrap();
    match within("accept the third", listener.accept()).await {
        Err(e @ Error::TooManyConnections { max: 2, .. }) => {
            assert!(e.is_connection_error());
            let Error::TooManyConnections { peer, .. } = e else { unreachable!() };
            assert_eq!(peer, PeerAddr::Tcp(extra_addr));
        }
        other => panic!("expected TooManyConnections, got {other:?}"),
    }
    let mut byte = [0u8; 1];
    let read = within("the third is closed at once", extra.read(&mut byte)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    for (c, s) in &mut pairs {
        within("send", c.send(Event::new("still", json!(1)))).await.unwrap();
        assert_eq!(within("recv", s.next()).await.unwrap().unwrap().event_type(), "still");
    }
    drop(pairs.pop());
    // the slot comes back once the server side is dropped
    assert_eq!(listener.open_connections(), 1);
    let _c = within("connect again", TcpStream::connect("127.0.0.1", port)).await.unwrap();
    within("accept again", listener.accept()).await.unwrap();
}
