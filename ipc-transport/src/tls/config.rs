//! The server and client configurations in node-ipc's terms, the PEM data
//! they read, and how they become rustls configurations.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::{
    self,
    crypto::{aws_lc_rs, CryptoProvider},
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    server::danger::ClientCertVerifier,
    server::WebPkiClientVerifier,
    RootCertStore,
};

use super::verify::{NoServerVerification, OptionalClientAuth};
use crate::error::Error;
use crate::tcp::TcpConnectOptions;

/// How long a TLS handshake may take by default, on either side.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// PEM data: a file to read when the configuration is used, or the bytes.
#[derive(Clone, PartialEq, Eq)]
enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(p) => write!(f, "{}", p.display()),
            Pem::Bytes(b) => write!(f, "<{} PEM bytes>", b.len()),
        }
    }
}

impl Pem {
    fn path(&self) -> Option<&Path> {
        match self {
            Pem::File(p) => Some(p),
            Pem::Bytes(_) => None,
        }
    }

    fn config_error(&self, reason: impl Into<String>) -> Error {
        Error::TlsConfig { reason: reason.into(), path: self.path().map(Path::to_owned) }
    }

    fn load(&self) -> Result<std::borrow::Cow<'_, [u8]>, Error> {
        match self {
            Pem::Bytes(b) => Ok(b.as_slice().into()),
            Pem::File(p) => {
                std::fs::read(p).map(Into::into).map_err(|e| self.config_error(format!("cannot read: {e}")))
            }
        }
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>, Error> {
        let pem = self.load()?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.config_error(format!("malformed PEM: {e}")))?;
        if certs.is_empty() {
            return Err(self.config_error("no CERTIFICATE block in the PEM data"));
        }
        Ok(certs)
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, Error> {
        let pem = self.load()?;
        match PrivateKeyDer::from_pem_slice(&pem) {
            Ok(key) => Ok(key),
            Err(rustls::pki_types::pem::Error::NoItemsFound) => {
                Err(self.config_error("no PRIVATE KEY block in the PEM data"))
            }
            Err(e) => Err(self.config_error(format!("malformed PEM: {e}"))),
        }
    }
}

fn roots(cas: &[Pem]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        for cert in ca.certs()? {
            roots.add(cert).map_err(|e| ca.config_error(format!("unusable CA certificate: {e}")))?;
        }
    }
    Ok(roots)
}

/// The cryptography of every TLS configuration, as rustls asks a library to
/// choose it: the process-wide default when the application installed one
/// (`CryptoProvider::install_default`), otherwise rustls' aws-lc-rs provider,
/// whose first key exchange is the post-quantum hybrid X25519MLKEM768
/// (SECURITY.md says why this provider and which key exchanges).
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(aws_lc_rs::default_provider()))
}

fn rustls_error(e: rustls::Error, what: &str) -> Error {
    Error::TlsConfig { reason: format!("{what}: {e}"), path: None }
}

/// A TLS server's configuration, in node-ipc's terms.
///
/// node-ipc 14's defaults apply: giving `trusted_connections` turns
/// `request_cert` on unless set, and `request_cert` turns `reject_unauthorized`
/// on unless set. Files are read when a listener is bound.
///
/// ```no_run
/// use ipc_transport::tls::TlsServerConfig;
///
/// let config = TlsServerConfig::new()
///     .private("/etc/my-app/server.key")   // tls.private
///     .public("/etc/my-app/server.pem")    // tls.public
///     .trusted_connections(["/etc/my-app/clients-ca.pem"]); // tls.trustedConnections: verify clients
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerConfig {
    key: Option<Pem>,
    cert: Option<Pem>,
    cas: Vec<Pem>,
    request_cert: Option<bool>,
    reject_unauthorized: Option<bool>,
    handshake_timeout: Duration,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        TlsServerConfig::new()
    }
}

impl TlsServerConfig {
    /// An empty configuration: set at least a key and a certificate.
    pub fn new() -> Self {
        TlsServerConfig {
            key: None,
            cert: None,
            cas: Vec::new(),
            request_cert: None,
            reject_unauthorized: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The private key file, PEM (node-ipc `tls.private`).
    pub fn private(mut self, path: impl Into<PathBuf>) -> Self {
        self.key = Some(Pem::File(path.into()));
        self
    }

    /// The private key as PEM bytes (node's `tls.key`).
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Some(Pem::Bytes(pem.into()));
        self
    }

    /// The certificate (chain) file, PEM (node-ipc `tls.public`).
    pub fn public(mut self, path: impl Into<PathBuf>) -> Self {
        self.cert = Some(Pem::File(path.into()));
        self
    }

    /// The certificate (chain) as PEM bytes (node's `tls.cert`).
    pub fn cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cert = Some(Pem::Bytes(pem.into()));
        self
    }

    /// CA files that client certificates are verified against (node-ipc `tls.trustedConnections`).
    pub fn trusted_connections<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.cas.extend(paths.into_iter().map(|p| Pem::File(p.into())));
        self
    }

    /// A CA as PEM bytes (node's `tls.ca`).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cas.push(Pem::Bytes(pem.into()));
        self
    }

    /// Whether to ask clients for a certificate (node-ipc `tls.requestCert`).
    pub fn request_cert(mut self, on: bool) -> Self {
        self.request_cert = Some(on);
        self
    }

    /// Whether to turn away clients whose certificate is missing or does not
    /// verify (node-ipc `tls.rejectUnauthorized`; on by default once
    /// `request_cert` is). Off, such clients are accepted and
    /// [`TlsStream::is_authorized`](crate::tls::TlsStream::is_authorized) is false for them.
    pub fn reject_unauthorized(mut self, on: bool) -> Self {
        self.reject_unauthorized = Some(on);
        self
    }

    /// How long a client may take to finish its handshake (default 30 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    pub(super) fn build(&self) -> Result<ServerSide, Error> {
        let (Some(key), Some(cert)) = (&self.key, &self.cert) else {
            return Err(Error::TlsConfig {
                reason: "a TLS server needs a private key and a certificate (tls.private and tls.public); \
                         none are bundled"
                    .to_owned(),
                path: None,
            });
        };
        let (certs, key) = (cert.certs()?, key.key()?);
        let request_cert = self.request_cert.unwrap_or(!self.cas.is_empty());
        let reject = request_cert && self.reject_unauthorized.unwrap_or(true);
        let provider = provider();
        let checker =
            if self.cas.is_empty() {
                None
            } else {
                let roots = Arc::new(roots(&self.cas)?);
                Some(WebPkiClientVerifier::builder_with_provider(roots, provider.clone()).build().map_err(
                    |e| Error::TlsConfig { reason: format!("trusted connections: {e}"), path: None },
                )?)
            };
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| rustls_error(e, "protocol versions"))?;
        let builder = match (request_cert, reject, &checker) {
            (false, _, _) => builder.with_no_client_auth(),
            (true, true, Some(checker)) => builder.with_client_cert_verifier(checker.clone()),
            (true, true, None) => return Err(Error::TlsConfig {
                reason:
                    "requestCert with rejectUnauthorized needs trustedConnections to verify clients against"
                        .to_owned(),
                path: None,
            }),
            (true, false, _) => builder.with_client_cert_verifier(Arc::new(OptionalClientAuth {
                hints: checker.as_ref().map(|c| c.root_hint_subjects().to_vec()).unwrap_or_default(),
                provider: provider.clone(),
            })),
        };
        let config = builder.with_single_cert(certs, key).map_err(|e| Error::TlsConfig {
            reason: format!("key and certificate: {e}"),
            path: cert.path().map(Path::to_owned),
        })?;
        Ok(ServerSide {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            client_check: match (request_cert, reject, checker) {
                (false, _, _) => ClientCheck::NotRequested,
                (true, true, _) => ClientCheck::InHandshake,
                (true, false, Some(checker)) => ClientCheck::After(checker),
                (true, false, None) => ClientCheck::NothingToTrust,
            },
            timeout: self.handshake_timeout,
        })
    }
}

/// What each server-side handshake needs.
#[derive(Clone)]
pub(super) struct ServerSide {
    pub(super) acceptor: tokio_rustls::TlsAcceptor,
    pub(super) client_check: ClientCheck,
    pub(super) timeout: Duration,
}

/// How a server tells whether a client certificate is authorized.
#[derive(Clone)]
pub(super) enum ClientCheck {
    /// No client certificate is asked for.
    NotRequested,
    /// rustls verified it during the handshake (unverified clients fail it).
    InHandshake,
    /// Unverified clients are let in; verify against the trusted CAs afterwards.
    After(Arc<dyn ClientCertVerifier>),
    /// Asked for, but there are no trusted CAs: never authorized.
    NothingToTrust,
}

/// A TLS client's configuration, in node-ipc's terms.
///
/// ```
/// use ipc_transport::tls::TlsClientConfig;
///
/// let config = TlsClientConfig::new()
///     .trusted_connections(["/etc/my-app/server-ca.pem"]) // tls.trustedConnections
///     .private("/etc/my-app/client.key")                  // tls.private: present a client certificate
///     .public("/etc/my-app/client.pem");                  // tls.public
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientConfig {
    cas: Vec<Pem>,
    key: Option<Pem>,
    cert: Option<Pem>,
    pub(super) server_name: Option<String>,
    pub(super) danger_accept_invalid_certs: bool,
    pub(super) handshake_timeout: Duration,
    pub(super) tcp: TcpConnectOptions,
}

impl Default for TlsClientConfig {
    fn default() -> Self {
        TlsClientConfig::new()
    }
}

impl TlsClientConfig {
    /// An empty configuration: trust nobody yet.
    pub fn new() -> Self {
        TlsClientConfig {
            cas: Vec::new(),
            key: None,
            cert: None,
            server_name: None,
            danger_accept_invalid_certs: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            tcp: TcpConnectOptions::default(),
        }
    }

    /// CA files the server certificate must chain to (node-ipc `tls.trustedConnections`).
    pub fn trusted_connections<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.cas.extend(paths.into_iter().map(|p| Pem::File(p.into())));
        self
    }

    /// A CA as PEM bytes (node's `tls.ca`).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cas.push(Pem::Bytes(pem.into()));
        self
    }

    /// Our private key file, to present a client certificate (node-ipc `tls.private`).
    pub fn private(mut self, path: impl Into<PathBuf>) -> Self {
        self.key = Some(Pem::File(path.into()));
        self
    }

    /// Our private key as PEM bytes (node's `tls.key`).
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Some(Pem::Bytes(pem.into()));
        self
    }

    /// Our certificate file (node-ipc `tls.public`).
    pub fn public(mut self, path: impl Into<PathBuf>) -> Self {
        self.cert = Some(Pem::File(path.into()));
        self
    }

    /// Our certificate as PEM bytes (node's `tls.cert`).
    pub fn cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cert = Some(Pem::Bytes(pem.into()));
        self
    }

    /// The name the server certificate must carry (node's `servername`);
    /// by default the host connected to (a name or an IP address).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Accepts **any** server certificate, from anyone, for any name (node-ipc
    /// `tls.rejectUnauthorized: false`).
    ///
    /// # Security
    ///
    /// The connection is then encrypted but not authenticated: anyone who can
    /// intercept it can read and change it. For tests and throwaway setups only.
    pub fn danger_accept_invalid_certs(mut self, on: bool) -> Self {
        self.danger_accept_invalid_certs = on;
        self
    }

    /// How long the handshake may take (default 30 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// TCP options (node-ipc's `interface`).
    pub fn tcp_options(mut self, options: TcpConnectOptions) -> Self {
        self.tcp = options;
        self
    }

    pub(super) fn build(&self) -> Result<tokio_rustls::TlsConnector, Error> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| rustls_error(e, "protocol versions"))?;
        let builder = if self.danger_accept_invalid_certs {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoServerVerification(provider)))
        } else {
            if self.cas.is_empty() {
                return Err(Error::TlsConfig {
                    reason: "a TLS client needs trustedConnections (CA files) to verify the server; \
                             no CAs are bundled"
                        .to_owned(),
                    path: None,
                });
            }
            builder.with_root_certificates(roots(&self.cas)?)
        };
        let config = match (&self.key, &self.cert) {
            (Some(key), Some(cert)) => {
                builder.with_client_auth_cert(cert.certs()?, key.key()?).map_err(|e| Error::TlsConfig {
                    reason: format!("client key and certificate: {e}"),
                    path: cert.path().map(Path::to_owned),
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(Error::TlsConfig {
                    reason: "a client certificate needs both tls.private and tls.public".to_owned(),
                    path: None,
                })
            }
        };
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }
}
