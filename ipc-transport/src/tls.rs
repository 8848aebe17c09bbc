//! TLS over TCP through tokio-rustls (ring provider), configured with
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
//! With TLS 1.3 a client finishes its side of the handshake before the server
//! has checked the client certificate, so a client the server turns away sees
//! the server's alert on its first read, not in `connect`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_rustls::rustls::{
    self,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{ring as ring_provider, CryptoProvider},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    server::WebPkiClientVerifier,
    DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::peer::PeerAddr;
use crate::tcp::{TcpConnectOptions, TcpListener, TcpListenerOptions, TcpStream};

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
        let certs = rustls_pemfile::certs(&mut &pem[..])
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.config_error(format!("malformed PEM: {e}")))?;
        if certs.is_empty() {
            return Err(self.config_error("no CERTIFICATE block in the PEM data"));
        }
        Ok(certs)
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, Error> {
        let pem = self.load()?;
        match rustls_pemfile::private_key(&mut &pem[..]) {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(self.config_error("no PRIVATE KEY block in the PEM data")),
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

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring_provider::default_provider())
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
    /// [`TlsStream::is_authorized`] is false for them.
    pub fn reject_unauthorized(mut self, on: bool) -> Self {
        self.reject_unauthorized = Some(on);
        self
    }

    /// How long a client may take to finish its handshake (default 30 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    fn build(&self) -> Result<ServerSide, Error> {
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
struct ServerSide {
    acceptor: tokio_rustls::TlsAcceptor,
    client_check: ClientCheck,
    timeout: Duration,
}

/// How a server tells whether a client certificate is authorized.
#[derive(Clone)]
enum ClientCheck {
    /// No client certificate is asked for.
    NotRequested,
    /// rustls verified it during the handshake (unverified clients fail it).
    InHandshake,
    /// Unverified clients are let in; verify against the trusted CAs afterwards.
    After(Arc<dyn ClientCertVerifier>),
    /// Asked for, but there are no trusted CAs: never authorized.
    NothingToTrust,
}

/// Asks for a client certificate, accepts any (or none); [`TlsStream::is_authorized`] tells.
#[derive(Debug)]
struct OptionalClientAuth {
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for OptionalClientAuth {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Accepts any server certificate: only behind `danger_accept_invalid_certs`.
#[derive(Debug)]
struct NoServerVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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
    server_name: Option<String>,
    danger_accept_invalid_certs: bool,
    handshake_timeout: Duration,
    tcp: TcpConnectOptions,
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

    fn build(&self) -> Result<tokio_rustls::TlsConnector, Error> {
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

/// A TLS server (node-ipc `serveNet` with `config.tls`).
///
/// Handshakes run concurrently in tasks of their own, so a slow or silent
/// client never delays the others; [`TlsListener::accept`] yields connections
/// whose handshake is done, and typed errors for those whose handshake failed
/// (keep accepting when [`Error::is_connection_error`] is true).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_transport::Error> {
/// use ipc_transport::tcp::TcpListenerOptions;
/// use ipc_transport::tls::{TlsListener, TlsServerConfig};
///
/// let config = TlsServerConfig::new().private("server.key").public("server.pem");
/// let mut listener = TlsListener::bind("127.0.0.1:8000".parse().unwrap(), &config, &TcpListenerOptions::default()).await?;
/// loop {
///     match listener.accept().await {
///         Ok(stream) => { /* serve it */ let _ = stream; }
///         Err(e) if e.is_connection_error() => eprintln!("{e}"),
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// ```
pub struct TlsListener {
    tcp: TcpListener,
    side: ServerSide,
    handshakes: JoinSet<Result<TlsStream, Error>>,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("tcp", &self.tcp)
            .field("handshakes_in_progress", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Reads the key, certificate and CA files and binds `addr`.
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`] for an unusable configuration, [`Error::Bind`].
    pub async fn bind(
        addr: SocketAddr,
        config: &TlsServerConfig,
        options: &TcpListenerOptions,
    ) -> Result<TlsListener, Error> {
        let side = config.build()?;
        let tcp = TcpListener::bind_with(addr, options).await?;
        Ok(TlsListener::with_side(tcp, side))
    }

    /// Binds a `tls://` endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for other kinds, else as [`TlsListener::bind`].
    pub async fn bind_endpoint(
        endpoint: &Endpoint,
        config: &TlsServerConfig,
        options: &TcpListenerOptions,
    ) -> Result<TlsListener, Error> {
        let Endpoint::Tls { host, port } = endpoint else {
            return Err(Error::UnsupportedEndpoint {
                endpoint: endpoint.to_string(),
                reason: "not a tls:// endpoint",
            });
        };
        let side = config.build()?;
        let tcp = TcpListener::bind_host(host, *port, options).await?;
        Ok(TlsListener::with_side(tcp, side))
    }

    /// Serves TLS on a TCP listener you already have.
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`].
    pub fn from_tcp(tcp: TcpListener, config: &TlsServerConfig) -> Result<TlsListener, Error> {
        Ok(TlsListener::with_side(tcp, config.build()?))
    }

    fn with_side(mut tcp: TcpListener, side: ServerSide) -> TlsListener {
        tcp.set_tls();
        TlsListener { tcp, side, handshakes: JoinSet::new() }
    }

    /// Waits for the next client whose handshake is done. Cancel-safe:
    /// handshakes in progress carry on.
    ///
    /// # Errors
    ///
    /// The handshake failures of the [module table](self),
    /// [`Error::TooManyConnections`], and [`Error::Io`] when accepting fails.
    pub async fn accept(&mut self) -> Result<TlsStream, Error> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Result<TlsStream, Error>> {
        loop {
            match self.tcp.poll_accept(cx) {
                Poll::Ready(Ok(mut tcp)) => {
                    tcp.set_tls();
                    self.handshakes.spawn(server_handshake(tcp, self.side.clone()));
                    continue;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            return match self.handshakes.poll_join_next(cx) {
                Poll::Ready(Some(Ok(result))) => Poll::Ready(result),
                Poll::Ready(Some(Err(join))) => Poll::Ready(Err(Error::Io(io::Error::other(join)))),
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            };
        }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// What the operating system reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// How many connections are open now (handshaking ones included).
    pub fn open_connections(&self) -> usize {
        self.tcp.open_connections()
    }
}

async fn server_handshake(tcp: TcpStream, side: ServerSide) -> Result<TlsStream, Error> {
    let peer = tcp.peer().clone();
    let timeout = side.timeout;
    let handshake = async {
        // A TLS connection starts with a handshake record (content type 22).
        let mut first = [0u8; 1];
        match tcp.get_ref().peek(&mut first).await {
            Ok(0) => {
                let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the handshake");
                return Err(Error::TlsHandshake { peer: peer.clone(), source: eof });
            }
            Ok(_) if first[0] != 0x16 => return Err(Error::NotTls { peer: peer.clone() }),
            Ok(_) => {}
            Err(e) => return Err(Error::TlsHandshake { peer: peer.clone(), source: e }),
        }
        let stream = side.acceptor.accept(tcp).await.map_err(|e| classify(e, &peer))?;
        let authorized = {
            let (_, state) = stream.get_ref();
            match (state.peer_certificates(), &side.client_check) {
                (None | Some([]), _) => false,
                (Some(_), ClientCheck::InHandshake) => true,
                (Some([end_entity, intermediates @ ..]), ClientCheck::After(checker)) => {
                    checker.verify_client_cert(end_entity, intermediates, UnixTime::now()).is_ok()
                }
                (Some(_), ClientCheck::NotRequested | ClientCheck::NothingToTrust) => false,
            }
        };
        Ok(TlsStream { inner: tokio_rustls::TlsStream::Server(stream), peer: peer.clone(), authorized })
    };
    match tokio::time::timeout(timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(Error::HandshakeTimeout { peer, timeout }),
    }
}

/// Sorts a handshake failure into the typed errors.
fn classify(e: io::Error, peer: &PeerAddr) -> Error {
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

/// A TLS connection (either side), handshake done: `AsyncRead + AsyncWrite`.
///
/// `shutdown()` sends `close_notify` and half-closes the TCP connection; the
/// peer reads end-of-stream and can still write back.
pub struct TlsStream {
    inner: tokio_rustls::TlsStream<TcpStream>,
    peer: PeerAddr,
    authorized: bool,
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
    /// and the handshake failures of the [module table](self).
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
                Ok(TlsStream { inner: tokio_rustls::TlsStream::Client(stream), peer, authorized })
            }
            Ok(Err(e)) => Err(classify(e, &peer)),
            Err(_) => Err(Error::HandshakeTimeout { peer, timeout }),
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

    /// The TCP connection underneath.
    pub fn get_ref(&self) -> &TcpStream {
        self.inner.get_ref().0
    }
}

delegate_async_io!(TlsStream);
