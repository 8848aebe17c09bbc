//! [`TlsStream`]: a connection whose handshake is done, the client side of
//! that handshake, and the sorting of handshake failures into typed errors.

use std::fmt;
use std::io;

use tokio_rustls::rustls::{self, pki_types::ServerName};

use super::config::TlsClientConfig;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::peer::PeerAddr;
use crate::tcp::TcpStream;

/// Sorts a handshake failure into the typed errors.
pub(super) fn classify(e: io::Error, peer: &PeerAddr) -> Error {
    let peer = peer.clone();
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(problem)) => {
            let reason = match problem {
                rustls::CertificateError::UnknownIssuer => {
                    "unknown issuer: not signed by a trusted CA".to_owned()
                }
                other => other.to_string(),
            };
            Error::CertificateRejected { peer, reason }
        }
        Some(rustls::Error::NoCertificatesPresented) => Error::ClientCertificateRequired { peer },
        Some(rustls::Error::AlertReceived(alert)) => Error::TlsAlert { peer, alert: format!("{alert:?}") },
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            Error::NotTls { peer }
        }
        _ => Error::TlsHandshake { peer, source: e },
    }
}

/// Reports a client's failed handshake, and passes the error on.
#[cold]
fn handshake_failed(error: Error, peer: &PeerAddr) -> Error {
    crate::trace::tls_handshake_failed("client", peer, &error);
    error
}

/// A TLS connection (either side), handshake done: `AsyncRead + AsyncWrite`.
///
/// `shutdown()` sends `close_notify` and half-closes the TCP connection; the
/// peer reads end-of-stream and can still write back.
pub struct TlsStream {
    pub(super) inner: tokio_rustls::TlsStream<TcpStream>,
    pub(super) peer: PeerAddr,
    pub(super) authorized: bool,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("peer", &self.peer)
            .field("authorized", &self.authorized)
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    /// Connects to `host:port` and completes the handshake, verifying the
    /// server's certificate against `trusted_connections` and its name against
    /// `host` (or [`TlsClientConfig::server_name`]).
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`], the connect errors of [`TcpStream::connect_with`],
    /// and the handshake failures of the [module table](crate::tls).
    pub async fn connect(host: &str, port: u16, config: &TlsClientConfig) -> Result<TlsStream, Error> {
        let connector = config.build()?;
        let name = config.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_owned()).map_err(|_| Error::TlsConfig {
            reason: format!("{name:?} is not a valid server name"),
            path: None,
        })?;
        let mut tcp = TcpStream::connect_with(host, port, &config.tcp).await?;
        tcp.set_tls();
        let peer = tcp.peer().clone();
        let timeout = config.handshake_timeout;
        let authorized = !config.danger_accept_invalid_certs;
        match tokio::time::timeout(timeout, connector.connect(server_name, tcp)).await {
            Ok(Ok(stream)) => {
                let stream = TlsStream { inner: tokio_rustls::TlsStream::Client(stream), peer, authorized };
                crate::trace::tls_handshake_done("client", &stream);
                Ok(stream)
            }
            Ok(Err(e)) => Err(handshake_failed(classify(e, &peer), &peer)),
            Err(_) => Err(handshake_failed(Error::HandshakeTimeout { peer: peer.clone(), timeout }, &peer)),
        }
    }

    /// Connects to a `tls://` endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for other kinds, else as [`TlsStream::connect`].
    pub async fn connect_endpoint(endpoint: &Endpoint, config: &TlsClientConfig) -> Result<TlsStream, Error> {
        match endpoint {
            Endpoint::Tls { host, port } => TlsStream::connect(host, *port, config).await,
            _ => Err(Error::UnsupportedEndpoint {
                endpoint: endpoint.to_string(),
                reason: "not a tls:// endpoint",
            }),
        }
    }

    /// The other end.
    pub fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// Whether the peer's certificate was verified (node's `socket.authorized`).
    ///
    /// A client connection: true unless `danger_accept_invalid_certs` is on. A
    /// server connection: true when the client presented a certificate that
    /// verified against `trusted_connections`; false when it presented none or
    /// one that does not verify (possible only with `reject_unauthorized` off).
    pub fn is_authorized(&self) -> bool {
        self.authorized
    }

    /// The peer's certificate chain, DER-encoded, end entity first (empty when it sent none).
    pub fn peer_certificates(&self) -> Vec<Vec<u8>> {
        let (_, state) = self.inner.get_ref();
        state.peer_certificates().map(|c| c.iter().map(|c| c.to_vec()).collect()).unwrap_or_default()
    }

    /// The key exchange the handshake agreed on, by its TLS name:
    /// `"X25519MLKEM768"` (post-quantum hybrid) between two peers of ours,
    /// `"X25519"` with node's TLS (node-ipc), for example. Node calls this
    /// `getEphemeralKeyInfo()`.
    ///
    /// `None` only for a TLS 1.2 session resumed from an earlier one.
    pub fn key_exchange_group(&self) -> Option<String> {
        let (_, state) = self.inner.get_ref();
        state.negotiated_key_exchange_group().map(|group| format!("{:?}", group.name()))
    }

    /// The TLS version agreed on: `"TLSv1_3"` or `"TLSv1_2"`.
    pub fn protocol_version(&self) -> Option<String> {
        let (_, state) = self.inner.get_ref();
        state.protocol_version().map(|version| format!("{version:?}"))
    }

    /// The TCP connection underneath.
    pub fn get_ref(&self) -> &TcpStream {
        self.inner.get_ref().0
    }
}

delegate_async_io!(TlsStream);
