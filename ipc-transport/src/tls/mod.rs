//! TLS over TCP through tokio-rustls (aws-lc-rs provider), configured with
//! node-ipc's `tls` names: `private` (key file), `public` (certificate file),
//! `trustedConnections` (CA files), `requestCert`, `rejectUnauthorized`.
//!
//! No certificates are bundled: a server without a key and a certificate is a
//! configuration error ([`Error::TlsConfig`]), and a client trusts only the CA
//! files it is given. Server-name verification is on; only
//! [`TlsClientConfig::danger_accept_invalid_certs`] turns verification off.
//! A connection exists only once its handshake is done: [`TlsStream::connect`]
//! and [`TlsListener::accept`] return after it, and every failure is typed:
//!
//! | failure | seen by | error |
//! |---|---|---|
//! | server certificate from an untrusted CA, or for another name | client | [`Error::CertificateRejected`] |
//! | client certificate from an untrusted CA | server | [`Error::CertificateRejected`] |
//! | no client certificate while `requestCert` + `rejectUnauthorized` | server | [`Error::ClientCertificateRequired`] |
//! | the peer refused our certificate | us | [`Error::TlsAlert`] |
//! | plaintext client on a TLS server | server | [`Error::NotTls`] |
//! | no handshake within the timeout | either | [`Error::HandshakeTimeout`] |
//!
//! Cryptography: rustls' aws-lc-rs provider, whose first key exchange is the
//! post-quantum hybrid X25519MLKEM768 (X25519 and the NIST curves follow, for
//! peers without it), unless the application installed a process-wide provider
//! with `rustls::crypto::CryptoProvider::install_default` before binding or
//! connecting: then that one. [`TlsStream::key_exchange_group`] tells what a
//! handshake agreed on. The repository's `SECURITY.md` says why.
//!
//! With TLS 1.3 a client finishes its side of the handshake before the server
//! has checked the client certificate, so a client the server turns away sees
//! the server's alert on its first read, not in `connect`.
//!
//! [`Error::TlsConfig`]: crate::Error::TlsConfig
//! [`Error::CertificateRejected`]: crate::Error::CertificateRejected
//! [`Error::ClientCertificateRequired`]: crate::Error::ClientCertificateRequired
//! [`Error::TlsAlert`]: crate::Error::TlsAlert
//! [`Error::NotTls`]: crate::Error::NotTls
//! [`Error::HandshakeTimeout`]: crate::Error::HandshakeTimeout

// What is where: `config` (the server and client configurations and the PEM
// data they read), `verify` (the certificate verifiers rustls does not
// provide), `listener` (`TlsListener` and the server handshake), `stream`
// (`TlsStream`, the client handshake, and how handshake failures are typed).
// The modules form a chain, verify <- config <- stream <- listener; none
// imports this one.
mod config;
mod listener;
mod stream;
mod verify;

pub use config::{TlsClientConfig, TlsServerConfig, DEFAULT_HANDSHAKE_TIMEOUT};
pub use listener::TlsListener;
pub use stream::TlsStream;
