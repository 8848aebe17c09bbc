//! TLS faults against an ipc-compat server with mutual TLS, over real TCP
//! sockets: a plaintext client, an expired server certificate, an expired
//! client certificate, a wrong CA (either side), a missing client
//! certificate. Each is refused with its typed error, and a verified client
//! connected throughout keeps being served.

mod support;

use std::path::PathBuf;

use futures::StreamExt;
use interop::{pki, within, Pki};
use ipc_compat::{Client, Config, Ipc, Server, StopRetrying, TlsConfig};
use serde_json::json;
use support::{transport_error, v14, Log};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A typed transport error as a short string: its kind, and the reason when it has one.
fn kind(error: &ipc_events::Error) -> String {
    use ipc_transport::Error as E;
    match transport_error(error) {
        Some(E::NotTls { .. }) => "NotTls".into(),
        Some(E::CertificateRejected { reason, .. }) => format!("CertificateRejected: {reason}"),
        Some(E::ClientCertificateRequired { .. }) => "ClientCertificateRequired".into(),
        Some(E::TlsAlert { alert, .. }) => format!("TlsAlert: {alert}"),
        _ => format!("other: {error}"),
    }
}

/// A mutual-TLS echo server (`ping` -> `pong`) whose accept errors are logged.
async fn tls_server(
    dir: &std::path::Path,
    key: &PathBuf,
    cert: &PathBuf,
    ca: &PathBuf,
) -> (Server, Log<String>) {
    let mut config = v14(dir);
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = Some(key.into());
        tls.public = Some(cert.into());
        tls.trusted_connections = vec![ca.into()];
        tls
    });
    let server = Ipc::new(config).serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    server.on("ping", |event, socket| {
        socket.emit("pong", event.data_as::<serde_json::Value>().unwrap()).unwrap()
    });
    let errors = Log::new();
    let log = errors.clone();
    server.on_error(move |error, _| log.push(kind(error)));
    within("start", server.start()).await.unwrap();
    (server, errors)
}

/// A TLS client config: trusts `ca`, presents `identity` when given, gives up after one attempt.
fn client_config(
    dir: &std::path::Path,
    ca: &std::path::Path,
    identity: Option<(&PathBuf, &PathBuf)>,
) -> Config {
    let mut config = v14(dir);
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = identity.map(|(key, _)| key.clone());
        tls.public = identity.map(|(_, cert)| cert.clone());
        tls.trusted_connections = vec![ca.to_path_buf()];
        tls
    });
    config.stop_retrying = StopRetrying::After(0);
    config
}

/// A client that must be refused: returns its logged errors once it gave up.
async fn refused_client(config: Config, server: &Server) -> Vec<String> {
    let ipc = Ipc::new(config);
    let port = server.local_addr().unwrap().port();
    let errors = Log::new();
    let log = errors.clone();
    // the handler is in place before the first attempt
    let client = ipc
        .connect_to_net_with("refused", Some("localhost"), Some(port), |c| {
            c.on_error(move |error, _| log.push(kind(error)));
        })
        .unwrap();
    within("the refused client gives up", client.destroyed()).await;
    errors.snapshot()
}

async fn ping(client: &Client, pongs: &mut ipc_compat::Subscription<(ipc_compat::Event, Client)>, n: u64) {
    client.emit("ping", json!(n)).unwrap();
    let (pong, _) = within("pong", pongs.next()).await.unwrap();
    assert_eq!(pong.data_as::<u64>().unwrap(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_faults_are_refused_with_typed_errors_and_spare_verified_clients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Pki {
        ca,
        server_key,
        server_cert,
        client_key,
        client_cert,
        expired_server_key,
        expired_server_cert,
        expired_client_key,
        expired_client_cert,
        other_ca,
        other_client_key,
        other_client_cert,
        dir: _pki_dir,
    } = pki();
    let (server, server_errors) = tls_server(d, &server_key, &server_cert, &ca).await;
    let port = server.local_addr().unwrap().port();

    // a verified client, connected throughout
    let good_ipc = Ipc::new(client_config(d, &ca, Some((&client_key, &client_cert))));
    let good = good_ipc.connect_to_net("good", Some("localhost"), Some(port)).unwrap();
    let mut pongs = good.subscribe("pong", 8);
    within("the good client connects", good.connected()).await.unwrap();
    ping(&good, &mut pongs, 0).await;
    assert_eq!(server.sockets()[0].is_authorized(), Some(true));
    let mut expected_server_errors = 0;

    // 1. plaintext client: NotTls on the server, the client is closed
    let mut plain =
        within("plain connect", tokio::net::TcpStream::connect(("127.0.0.1", port))).await.unwrap();
    within("plain write", plain.write_all(b"{\"type\":\"ping\",\"data\":1}\x0c")).await.unwrap();
    expected_server_errors += 1;
    let errors = server_errors.until_len("NotTls", expected_server_errors).await;
    assert_eq!(errors.last().unwrap(), "NotTls");
    let mut rest = Vec::new();
    let read = within("the plaintext client is closed", plain.read_to_end(&mut rest)).await;
    assert!(read.is_err() || !rest.starts_with(b"{"), "no frame for a plaintext client");
    ping(&good, &mut pongs, 1).await;

    // 2. wrong CA on the client: it rejects the server's certificate; the server hears its alert
    let errors =
        refused_client(client_config(d, &other_ca, Some((&client_key, &client_cert))), &server).await;
    assert!(errors[0].starts_with("CertificateRejected: unknown issuer"), "{errors:?}");
    expected_server_errors += 1;
    let errors = server_errors.until_len("the client's alert", expected_server_errors).await;
    assert!(errors.last().unwrap().starts_with("TlsAlert"), "{errors:?}");
    ping(&good, &mut pongs, 2).await;

    // 3. client certificate from a CA the server does not trust
    refused_client(client_config(d, &ca, Some((&other_client_key, &other_client_cert))), &server).await;
    expected_server_errors += 1;
    let errors = server_errors.until_len("unknown issuer", expected_server_errors).await;
    assert!(errors.last().unwrap().starts_with("CertificateRejected: unknown issuer"), "{errors:?}");
    ping(&good, &mut pongs, 3).await;

    // 4. expired client certificate
    refused_client(client_config(d, &ca, Some((&expired_client_key, &expired_client_cert))), &server).await;
    expected_server_errors += 1;
    let errors = server_errors.until_len("expired", expected_server_errors).await;
    let last = errors.last().unwrap();
    assert!(last.starts_with("CertificateRejected") && last.contains("expired"), "{errors:?}");
    ping(&good, &mut pongs, 4).await;

    // 5. no client certificate at all
    refused_client(client_config(d, &ca, None), &server).await;
    expected_server_errors += 1;
    let errors = server_errors.until_len("ClientCertificateRequired", expected_server_errors).await;
    assert_eq!(errors.last().unwrap(), "ClientCertificateRequired");
    ping(&good, &mut pongs, 5).await;

    // 6. expired server certificate: the client rejects it
    let (old_server, old_server_errors) = tls_server(d, &expired_server_key, &expired_server_cert, &ca).await;
    let errors = refused_client(client_config(d, &ca, Some((&client_key, &client_cert))), &old_server).await;
    assert!(errors[0].starts_with("CertificateRejected") && errors[0].contains("expired"), "{errors:?}");
    let errors = old_server_errors.until_len("the client's alert", 1).await;
    assert!(errors[0].starts_with("TlsAlert"), "{errors:?}");
    old_server.stop().await;

    // the verified client was never disturbed, and nobody else got in
    ping(&good, &mut pongs, 6).await;
    assert_eq!(server.sockets().len(), 1);
    assert_eq!(server_errors.snapshot().len(), expected_server_errors, "{:?}", server_errors.snapshot());
    server.stop().await;
}
