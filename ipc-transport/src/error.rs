//! The one error type of this crate.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipc_codec::CodecError;

use crate::peer::{PeerAddr, PeerCredentials};

/// Everything that can go wrong while parsing an endpoint, binding, accepting,
/// connecting, handshaking or exchanging datagrams.
///
/// Errors about one connection or one datagram leave the listener or endpoint
/// usable: [`Error::is_connection_error`] tells them apart, so an accept loop
/// can report them and go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An endpoint string could not be parsed.
    #[error("invalid endpoint {input:?}: {reason}")]
    InvalidEndpoint {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The endpoint cannot be used for this operation (wrong kind, or its cargo feature is off).
    #[error("endpoint {endpoint} cannot be used here: {reason}")]
    UnsupportedEndpoint {
        /// The endpoint, as printed.
        endpoint: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A host name resolved to no usable address.
    #[error("{host}:{port} resolved to no usable address{}", family.map(|f| format!(" ({f})")).unwrap_or_default())]
    NoAddress {
        /// The host that was looked up.
        host: String,
        /// The port that was asked for.
        port: u16,
        /// The address family the caller required, if any (`"IPv4"` or `"IPv6"`).
        family: Option<&'static str>,
    },
    /// Binding a listener or socket failed.
    #[error("cannot bind {endpoint}: {source}")]
    Bind {
        /// Where we tried to bind.
        endpoint: String,
        /// What the operating system reported.
        source: io::Error,
    },
    /// Connecting to a server failed.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// Where we tried to connect.
        endpoint: String,
        /// What the operating system reported (`TimedOut` for a connect timeout).
        source: io::Error,
    },
    /// A live server already listens on this socket path (found by probing it
    /// before `unlink`), or the path exists and `unlink` is off.
    #[error("socket path {path} is in use{}", if *.live { " by a live server" } else { " (unlink is off)" })]
    AddrInUse {
        /// The socket path.
        path: PathBuf,
        /// Whether a server answered the probe (false: `unlink` is off and the path exists).
        live: bool,
    },
    /// `unlink` refused to remove a path that is not a socket.
    #[error("refusing to unlink {path}: it is not a socket")]
    NotASocket {
        /// The path that is in the way.
        path: PathBuf,
    },
    /// The socket root failed node-ipc 14's secure-root checks.
    #[error("insecure socket root {path}: {reason}")]
    InsecureSocketRoot {
        /// The socket root directory.
        path: PathBuf,
        /// Which check failed.
        reason: String,
    },
    /// A connection was closed at accept because the listener already holds
    /// `max` connections (node-ipc `maxConnections`); open ones are unaffected.
    #[error("connection from {peer} closed at accept: {max} connections already open")]
    TooManyConnections {
        /// The configured maximum.
        max: usize,
        /// The connection that was turned away.
        peer: PeerAddr,
    },
    /// A local peer was closed at accept: the listener admits only chosen
    /// peers ([`AllowedPeers`](crate::local::AllowedPeers)) and this one is not
    /// among them, or the operating system could not say who it is. Other
    /// connections are unaffected.
    #[error("connection from {peer} refused: {}", match credentials {
        Some(c) => format!("peer {c} is not allowed"),
        None => "the peer's credentials are unavailable".to_owned(),
    })]
    PeerRefused {
        /// The listener's socket path (a local client has no address of its own).
        peer: PeerAddr,
        /// Who the peer is, when the operating system said.
        credentials: Option<PeerCredentials>,
    },
    /// The TLS configuration is unusable (no key or certificate, unreadable or malformed PEM).
    #[error("invalid TLS configuration: {reason}{}", path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    TlsConfig {
        /// What is wrong.
        reason: String,
        /// The file concerned, if any.
        path: Option<PathBuf>,
    },
    /// We rejected the peer's certificate (unknown issuer, wrong name, expired, ...).
    #[error("certificate of {peer} rejected: {reason}")]
    CertificateRejected {
        /// The peer whose certificate was rejected.
        peer: PeerAddr,
        /// Why it was rejected.
        reason: String,
    },
    /// The client presented no certificate, but the server requires one
    /// (`requestCert` with `rejectUnauthorized`).
    #[error("{peer} presented no client certificate, but one is required")]
    ClientCertificateRequired {
        /// The client.
        peer: PeerAddr,
    },
    /// The peer aborted the handshake with a TLS alert (it rejected our certificate, for example).
    #[error("{peer} aborted the TLS handshake: {alert}")]
    TlsAlert {
        /// The peer that sent the alert.
        peer: PeerAddr,
        /// The alert, as rustls names it (`BadCertificate`, `UnknownCA`, ...).
        alert: String,
    },
    /// The peer does not speak TLS (a plaintext node-ipc client on a TLS server, for example).
    #[error("{peer} does not speak TLS")]
    NotTls {
        /// The peer.
        peer: PeerAddr,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with {peer} failed: {source}")]
    TlsHandshake {
        /// The peer.
        peer: PeerAddr,
        /// What went wrong (a `rustls::Error` inside, when rustls reported it).
        source: io::Error,
    },
    /// The TLS handshake did not finish in time.
    #[error("TLS handshake with {peer} timed out after {timeout:?}")]
    HandshakeTimeout {
        /// The peer.
        peer: PeerAddr,
        /// The configured handshake timeout.
        timeout: Duration,
    },
    /// A datagram held a frame the codec rejected; other frames and datagrams are unaffected.
    #[error("bad frame in a datagram from {from}: {source}")]
    Datagram {
        /// The datagram's source.
        from: SocketAddr,
        /// What the codec reported.
        source: CodecError,
    },
    /// The unfinished frame buffered for a UDP source was thrown away.
    #[error("dropped {bytes} buffered bytes of an unfinished frame from {from}: {reason}")]
    PartialFrameDropped {
        /// The datagram source.
        from: SocketAddr,
        /// How many bytes were dropped.
        bytes: usize,
        /// Why (expired, too many sources, too many bytes).
        reason: &'static str,
    },
    /// An event does not fit in one datagram.
    #[error("datagram of {len} bytes exceeds the {max}-byte limit")]
    DatagramTooLarge {
        /// The encoded size.
        len: usize,
        /// The largest datagram this endpoint sends.
        max: usize,
    },
    /// The codec could not encode or decode (through a framed UDP endpoint).
    #[error(transparent)]
    Codec(CodecError),
    /// Any other I/O error of the socket.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Whether the error concerns one connection, one handshake or one
    /// datagram only: the listener or endpoint that returned it still works,
    /// so an accept (or receive) loop reports it and goes on.
    ///
    /// ```
    /// use ipc_transport::{Error, PeerAddr};
    ///
    /// let err = Error::TooManyConnections { max: 1, peer: PeerAddr::Tcp(([127, 0, 0, 1], 9).into()) };
    /// assert!(err.is_connection_error());
    /// ```
    pub fn is_connection_error(&self) -> bool {
        match self {
            Error::TooManyConnections { .. }
            | Error::PeerRefused { .. }
            | Error::CertificateRejected { .. }
            | Error::ClientCertificateRequired { .. }
            | Error::TlsAlert { .. }
            | Error::NotTls { .. }
            | Error::TlsHandshake { .. }
            | Error::HandshakeTimeout { .. }
            | Error::Datagram { .. }
            | Error::PartialFrameDropped { .. }
            | Error::DatagramTooLarge { .. } => true,
            Error::Io(e) => is_transient_accept_error(e),
            _ => false,
        }
    }
}

/// Accept errors that concern the one connection being accepted.
pub(crate) fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    )
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        use io::ErrorKind as K;
        let err = match err {
            Error::Io(e) => return e,
            Error::Codec(e) => return e.into(),
            other => other,
        };
        let kind = match &err {
            Error::Io(_) | Error::Codec(_) => unreachable!("returned above"),
            Error::Bind { source, .. } | Error::Connect { source, .. } => source.kind(),
            Error::InvalidEndpoint { .. } | Error::UnsupportedEndpoint { .. } | Error::TlsConfig { .. } => {
                K::InvalidInput
            }
            Error::NoAddress { .. } => K::NotFound,
            Error::AddrInUse { .. } => K::AddrInUse,
            Error::NotASocket { .. } => K::AlreadyExists,
            Error::InsecureSocketRoot { .. } => K::PermissionDenied,
            Error::TooManyConnections { .. } => K::ConnectionRefused,
            Error::PeerRefused { .. } => K::PermissionDenied,
            Error::HandshakeTimeout { .. } => K::TimedOut,
            Error::CertificateRejected { .. }
            | Error::ClientCertificateRequired { .. }
            | Error::TlsAlert { .. }
            | Error::NotTls { .. }
            | Error::TlsHandshake { .. }
            | Error::Datagram { .. }
            | Error::PartialFrameDropped { .. } => K::InvalidData,
            Error::DatagramTooLarge { .. } => K::InvalidInput,
        };
        io::Error::new(kind, err)
    }
}

impl From<CodecError> for Error {
    fn from(err: CodecError) -> Error {
        match err {
            CodecError::Io(e) => Error::Io(e),
            other => Error::Codec(other),
        }
    }
}
