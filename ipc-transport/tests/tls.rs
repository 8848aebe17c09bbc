//! TLS: the shared scenarios, certificate verification both ways, typed
//! failures, maxConnections, handshakes that never finish.
#![cfg(feature = "tls")]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use interop::{pki, within, Pki};
use ipc_codec::{Event, JsonCodec};
use ipc_transport::tcp::{TcpListenerOptions, TcpStream};
use ipc_transport::tls::{TlsClientConfig, TlsListener, TlsServerConfig, TlsStream};
use ipc_transport::{framed, Endpoint, Error, PeerAddr};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server_config(pki: &Pki) -> TlsServerConfig {
    TlsServerConfig::new().private(&pki.server_key).public(&pki.server_cert)
}

fn client_config(pki: &Pki) -> TlsClientConfig {
    TlsClientConfig::new().trusted_connections([&pki.ca])
}

/// Client side and server side, each with the handshake done.
async fn pair_with(
    ip: &str,
    host: &str,
    server: &TlsServerConfig,
    client: &TlsClientConfig,
) -> (TlsListener, Result<TlsStream, Error>, Result<TlsStream, Error>) {
    let addr = SocketAddr::new(ip.parse().unwrap(), 0);
    let mut listener = within("bind", TlsListener::bind(addr, server, &Default::default())).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (c, s) = within("handshake", async {
        let connect = TlsStream::connect(host, port, client);
        tokio::join!(connect, listener.accept())
    })
    .await;
    (listener, c, s)
}

async fn pair(pki: &Pki) -> (TlsListener, TlsStream, TlsStream) {
    let (l, c, s) = pair_with("127.0.0.1", "localhost", &server_config(pki), &client_config(pki)).await;
    (l, c.unwrap(), s.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_events_each_way() {
    let pki = pki();
    let (_l, client, server) = pair(&pki).await;
    common::pipelined_both_ways(client, server, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_frame_across_many_reads() {
    let pki = pki();
    let (_l, client, server) = pair(&pki).await;
    common::big_frame_round_trip(client, server).await;
}

#[tokio::test]
async fn half_close() {
    let pki = pki();
    let (_l, client, server) = pair(&pki).await;
    common::half_close(client, server).await;
}

#[tokio::test]
async fn abrupt_close() {
    let pki = pki();
    let (mut l, client, server) = pair(&pki).await;
    common::abrupt_close_mid_frame(client, server).await;
    let port = l.local_addr().unwrap().port();
    let client = client_config(&pki);
    let (c, s) = within("handshake", async {
        tokio::join!(TlsStream::connect("localhost", port, &client), l.accept())
    })
    .await;
    common::abrupt_close_peer_gone(c.unwrap(), s.unwrap()).await;
}

#[tokio::test]
async fn post_quantum_key_exchange_between_our_peers() {
    // SECURITY.md: rustls' aws-lc-rs provider, X25519MLKEM768 first, TLS 1.3
    let pki = pki();
    let (_l, client, server) = pair(&pki).await;
    for side in [&client, &server] {
        assert_eq!(side.key_exchange_group().as_deref(), Some("X25519MLKEM768"));
        assert_eq!(side.protocol_version().as_deref(), Some("TLSv1_3"));
    }
}

#[tokio::test]
async fn ipv6_and_ip_address_names_verify() {
    let pki = pki();
    for (ip, host) in [("::1", "::1"), ("127.0.0.1", "127.0.0.1")] {
        let (_l, c, s) = pair_with(ip, host, &server_config(&pki), &client_config(&pki)).await;
        let (mut c, s) = (framed(c.unwrap(), JsonCodec::default()), s.unwrap());
        assert!(c.get_ref().is_authorized());
        assert!(!s.is_authorized(), "no client certificate was asked for");
        assert_eq!(s.peer(), &PeerAddr::Tls(c.get_ref().get_ref().local_addr().unwrap()));
        assert!(
            matches!(c.get_ref().peer(), PeerAddr::Tls(a) if a.ip() == ip.parse::<std::net::IpAddr>().unwrap())
        );
        let mut s = framed(s, JsonCodec::default());
        within("send", c.send(Event::new("over", json!(host)))).await.unwrap();
        assert_eq!(within("recv", s.next()).await.unwrap().unwrap().data().unwrap(), json!(host));
    }
}

#[tokio::test]
async fn mutual_tls_with_trusted_connections() {
    let pki = pki();
    // node-ipc 14: trustedConnections on a server turns requestCert (and rejectUnauthorized) on
    let server = server_config(&pki).trusted_connections([&pki.ca]);
    let client = client_config(&pki).private(&pki.client_key).public(&pki.client_cert);
    let (_l, c, s) = pair_with("127.0.0.1", "localhost", &server, &client).await;
    let (c, s) = (c.unwrap(), s.unwrap());
    assert!(s.is_authorized());
    assert_eq!(s.peer_certificates().len(), 1);
    assert_eq!(c.peer_certificates().len(), 1);
    let (mut c, mut s) = (framed(c, JsonCodec::default()), framed(s, JsonCodec::default()));
    within("send", s.send(Event::new("hi", json!("mutual")))).await.unwrap();
    assert_eq!(within("recv", c.next()).await.unwrap().unwrap().event_type(), "hi");
}

#[tokio::test]
async fn wrong_ca_is_rejected_by_the_client() {
    let pki = pki();
    let client = TlsClientConfig::new().trusted_connections([&pki.other_ca]);
    let (_l, c, s) = pair_with("127.0.0.1", "localhost", &server_config(&pki), &client).await;
    match c {
        Err(Error::CertificateRejected { peer, reason }) => {
            assert!(matches!(peer, PeerAddr::Tls(_)));
            assert!(reason.to_lowercase().contains("unknown issuer"), "{reason}");
        }
        other => panic!("expected CertificateRejected, got {other:?}"),
    }
    match s {
        Err(e @ Error::TlsAlert { .. }) => assert!(e.is_connection_error()),
        other => panic!("expected the client's alert on the server, got {other:?}"),
    }
}

#[tokio::test]
async fn server_name_is_verified_by_default() {
    let pki = pki();
    let client = client_config(&pki).server_name("not-this-server.example");
    let (_l, c, _s) = pair_with("127.0.0.1", "127.0.0.1", &server_config(&pki), &client).await;
    match c {
        Err(Error::CertificateRejected { reason, .. }) => {
            assert!(reason.contains("not valid for name"), "{reason}")
        }
        other => panic!("expected CertificateRejected, got {other:?}"),
    }
}

#[tokio::test]
async fn danger_accept_invalid_certs_turns_verification_off() {
    let pki = pki();
    let client = TlsClientConfig::new()
        .trusted_connections([&pki.other_ca])
        .server_name("not-this-server.example")
        .danger_accept_invalid_certs(true);
    let (_l, c, s) = pair_with("127.0.0.1", "127.0.0.1", &server_config(&pki), &client).await;
    let c = c.unwrap();
    assert!(!c.is_authorized());
    s.unwrap();
}

#[tokio::test]
async fn missing_client_certificate_when_required() {
    let pki = pki();
    let server =
        server_config(&pki).trusted_connections([&pki.ca]).request_cert(true).reject_unauthorized(true);
    let (_l, c, s) = pair_with("127.0.0.1", "localhost", &server, &client_config(&pki)).await;
    match s {
        Err(Error::ClientCertificateRequired { peer }) => assert!(matches!(peer, PeerAddr::Tls(_))),
        other => panic!("expected ClientCertificateRequired, got {other:?}"),
    }
    // TLS 1.3: the client learns it on its first read
    if let Ok(mut c) = c {
        let mut buf = [0u8; 16];
        let read = within("client read", c.read(&mut buf)).await;
        assert!(read.is_err() || read.unwrap() == 0);
    }
}

#[tokio::test]
async fn client_certificate_from_an_untrusted_ca_is_rejected() {
    let pki = pki();
    let server = server_config(&pki).trusted_connections([&pki.ca]);
    let client = client_config(&pki).private(&pki.other_client_key).public(&pki.other_client_cert);
    let (_l, _c, s) = pair_with("127.0.0.1", "localhost", &server, &client).await;
    match s {
        Err(Error::CertificateRejected { reason, .. }) => {
            assert!(reason.to_lowercase().contains("unknown issuer"), "{reason}")
        }
        other => panic!("expected CertificateRejected, got {other:?}"),
    }
}

#[tokio::test]
async fn reject_unauthorized_off_lets_unverified_clients_in() {
    let pki = pki();
    let server = server_config(&pki).trusted_connections([&pki.ca]).reject_unauthorized(false);
    let cases = [
        (client_config(&pki), false),
        (client_config(&pki).private(&pki.other_client_key).public(&pki.other_client_cert), false),
        (client_config(&pki).private(&pki.client_key).public(&pki.client_cert), true),
    ];
    for (client, authorized) in cases {
        let (_l, c, s) = pair_with("127.0.0.1", "localhost", &server, &client).await;
        c.unwrap();
        assert_eq!(s.unwrap().is_authorized(), authorized);
    }
    // asking for certificates with nothing to verify them against: never authorized
    let blind = server_config(&pki).request_cert(true).reject_unauthorized(false);
    let client = client_config(&pki).private(&pki.client_key).public(&pki.client_cert);
    let (_l, c, s) = pair_with("127.0.0.1", "localhost", &blind, &client).await;
    c.unwrap();
    let s = s.unwrap();
    assert_eq!(s.peer_certificates().len(), 1);
    assert!(!s.is_authorized());
}

#[tokio::test]
async fn plaintext_client_on_a_tls_server() {
    let pki = pki();
    let mut listener = within(
        "bind",
        TlsListener::bind("127.0.0.1:0".parse().unwrap(), &server_config(&pki), &Default::default()),
    )
    .await
    .unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut plain =
        framed(within("connect", TcpStream::connect("127.0.0.1", port)).await.unwrap(), JsonCodec::default());
    within("send plaintext", plain.send(Event::new("app.message", json!({"id": "plain"})))).await.unwrap();
    match within("accept", listener.accept()).await {
        Err(e @ Error::NotTls { .. }) => assert!(e.is_connection_error()),
        other => panic!("expected NotTls, got {other:?}"),
    }
    // the plaintext client is closed
    assert!(!matches!(within("plain client reads", plain.next()).await, Some(Ok(_))));
}

#[tokio::test]
async fn silent_client_times_out_without_blocking_others() {
    let pki = pki();
    let config = server_config(&pki).handshake_timeout(Duration::from_millis(300));
    let mut listener =
        within("bind", TlsListener::bind("127.0.0.1:0".parse().unwrap(), &config, &Default::default()))
            .await
            .unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = within("connect silent", TcpStream::connect("127.0.0.1", port)).await.unwrap();
    // a real client connecting after the silent one is served first
    let client = client_config(&pki);
    let (c, s) = within("handshake", async {
        tokio::join!(TlsStream::connect("localhost", port, &client), listener.accept())
    })
    .await;
    c.unwrap();
    s.unwrap();
    match within("the silent one", listener.accept()).await {
        Err(Error::HandshakeTimeout { timeout, .. }) => assert_eq!(timeout, Duration::from_millis(300)),
        other => panic!("expected HandshakeTimeout, got {other:?}"),
    }
}

#[tokio::test]
async fn max_connections_closes_extra_clients_at_accept() {
    let pki = pki();
    let opts = TcpListenerOptions::default().max_connections(1);
    let mut listener =
        within("bind", TlsListener::bind("127.0.0.1:0".parse().unwrap(), &server_config(&pki), &opts))
            .await
            .unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = client_config(&pki);
    let (c, s) = within("handshake", async {
        tokio::join!(TlsStream::connect("localhost", port, &client), listener.accept())
    })
    .await;
    let (mut c, mut s) = (framed(c.unwrap(), JsonCodec::default()), framed(s.unwrap(), JsonCodec::default()));
    let mut extra = within("connect a second", TcpStream::connect("127.0.0.1", port)).await.unwrap();
    match within("accept the second", listener.accept()).await {
        Err(Error::TooManyConnections { max: 1, peer: PeerAddr::Tls(a) }) => {
            assert_eq!(a, extra.local_addr().unwrap())
        }
        other => panic!("expected TooManyConnections, got {other:?}"),
    }
    let mut byte = [0u8; 1];
    assert!(matches!(within("closed at once", extra.read(&mut byte)).await, Ok(0) | Err(_)));
    within("send", c.send(Event::new("still", json!(1)))).await.unwrap();
    assert_eq!(within("recv", s.next()).await.unwrap().unwrap().event_type(), "still");
}

#[tokio::test]
async fn configuration_errors_are_typed() {
    let pki = pki();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    match TlsListener::bind(addr, &TlsServerConfig::new(), &Default::default()).await {
        Err(Error::TlsConfig { reason, .. }) => {
            assert!(reason.contains("private key and a certificate"), "{reason}")
        }
        other => panic!("expected TlsConfig, got {other:?}"),
    }
    let missing = pki.dir.path().join("missing.key");
    match TlsListener::bind(
        addr,
        &TlsServerConfig::new().private(&missing).public(&pki.server_cert),
        &Default::default(),
    )
    .await
    {
        Err(Error::TlsConfig { path, .. }) => assert_eq!(path.as_deref(), Some(missing.as_path())),
        other => panic!("expected TlsConfig, got {other:?}"),
    }
    match TlsListener::bind(
        addr,
        &TlsServerConfig::new().private(&pki.server_cert).public(&pki.server_cert),
        &Default::default(),
    )
    .await
    {
        Err(Error::TlsConfig { reason, .. }) => assert!(reason.contains("PRIVATE KEY"), "{reason}"),
        other => panic!("expected TlsConfig, got {other:?}"),
    }
    match TlsListener::bind(addr, &server_config(&pki).request_cert(true), &Default::default()).await {
        Err(Error::TlsConfig { reason, .. }) => assert!(reason.contains("trustedConnections"), "{reason}"),
        other => panic!("expected TlsConfig, got {other:?}"),
    }
    match TlsStream::connect("localhost", 1, &TlsClientConfig::new()).await {
        Err(Error::TlsConfig { reason, .. }) => assert!(reason.contains("trustedConnections"), "{reason}"),
        other => panic!("expected TlsConfig, got {other:?}"),
    }
    let half = client_config(&pki).private(&pki.client_key);
    assert!(matches!(TlsStream::connect("localhost", 1, &half).await, Err(Error::TlsConfig { .. })));
    assert!(matches!(
        TlsStream::connect_endpoint(&Endpoint::tcp("localhost", 1), &client_config(&pki)).await,
        Err(Error::UnsupportedEndpoint { .. })
    ));
}

#[tokio::test]
async fn in_memory_pem_and_endpoints() {
    let pki = pki();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let server = TlsServerConfig::new().key_pem(read(&pki.server_key)).cert_pem(read(&pki.server_cert));
    let endpoint: Endpoint = "tls://127.0.0.1:0".parse().unwrap();
    let mut listener =
        within("bind", TlsListener::bind_endpoint(&endpoint, &server, &Default::default())).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TlsClientConfig::new().ca_pem(read(&pki.ca));
    let target: Endpoint = format!("tls://localhost:{port}").parse().unwrap();
    let (c, s) = within("handshake", async {
        tokio::join!(TlsStream::connect_endpoint(&target, &client), listener.accept())
    })
    .await;
    let (mut c, mut s) = (framed(c.unwrap(), JsonCodec::default()), framed(s.unwrap(), JsonCodec::default()));
    within("send", c.send(Event::new("pem", json!(null)))).await.unwrap();
    assert_eq!(within("recv", s.next()).await.unwrap().unwrap().event_type(), "pem");
    within("shutdown", s.get_mut().shutdown()).await.unwrap();
    assert!(within("eof", c.next()).await.is_none());
}
