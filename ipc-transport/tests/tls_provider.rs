//! The crypto provider: an application's process-wide rustls provider is the
//! one our TLS configurations use (rustls' advice to libraries). A test file
//! of its own, since the default is set once per process.
#![cfg(feature = "tls")]

use interop::{pki, within};
use ipc_transport::tls::{TlsClientConfig, TlsListener, TlsServerConfig, TlsStream};
use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};

#[tokio::test]
async fn the_process_default_provider_is_used_when_installed() {
    // An application that allows P-256 only, installed before any TLS use.
    let mut only_p256 = aws_lc_rs::default_provider();
    only_p256.kx_groups = vec![aws_lc_rs::kx_group::SECP256R1];
    CryptoProvider::install_default(only_p256).expect("the first provider installed in this process");

    let pki = pki();
    let server = TlsServerConfig::new().private(&pki.server_key).public(&pki.server_cert);
    let client = TlsClientConfig::new().trusted_connections([&pki.ca]);
    let mut listener =
        within("bind", TlsListener::bind("127.0.0.1:0".parse().unwrap(), &server, &Default::default()))
            .await
            .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (c, s) = within("handshake", async {
        tokio::join!(TlsStream::connect("localhost", port, &client), listener.accept())
    })
    .await;
    for side in [c.unwrap(), s.unwrap()] {
        // without the installed provider both sides would agree on X25519MLKEM768
        assert_eq!(side.key_exchange_group().as_deref(), Some("secp256r1"));
    }
}
