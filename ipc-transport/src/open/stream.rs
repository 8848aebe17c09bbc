//! [`IpcStream`]: a connection of any stream kind, and how to open one.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "local")]
use crate::local::{LocalStream, SocketPathRules};
#[cfg(feature = "tcp")]
use crate::tcp::{TcpConnectOptions, TcpStream};
#[cfg(feature = "tls")]
use crate::tls::{TlsClientConfig, TlsStream};
use crate::{Endpoint, Error, PeerAddr};

/// How [`IpcStream::connect`] opens each kind of endpoint: the socket-path
/// rules for `id:` endpoints, node-ipc's `interface` options for TCP, and the
/// TLS client configuration for `tls://`. Every part has node-ipc's default.
///
/// ```
/// # #[cfg(all(feature = "local", feature = "tcp"))]
/// # {
/// use ipc_transport::local::SocketPathRules;
/// use ipc_transport::tcp::TcpConnectOptions;
/// use ipc_transport::ConnectOptions;
///
/// let options = ConnectOptions::default()
///     .socket_path_rules(SocketPathRules::v9())
///     .tcp(TcpConnectOptions::default().local_port(0));
/// # let _ = options;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    #[cfg(feature = "local")]
    rules: SocketPathRules,
    #[cfg(feature = "tcp")]
    tcp: TcpConnectOptions,
    #[cfg(feature = "tls")]
    tls: Option<TlsClientConfig>,
}

impl ConnectOptions {
    /// Where `id:` endpoints live (default: node-ipc 14's rules).
    #[cfg(feature = "local")]
    #[cfg_attr(docsrs, doc(cfg(feature = "local")))]
    pub fn socket_path_rules(mut self, rules: SocketPathRules) -> Self {
        self.rules = rules;
        self
    }

    /// node-ipc's `interface` options for `tcp://` endpoints.
    #[cfg(feature = "tcp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tcp")))]
    pub fn tcp(mut self, options: TcpConnectOptions) -> Self {
        self.tcp = options;
        self
    }

    /// The TLS client configuration for `tls://` endpoints (its own TCP
    /// options apply there). Without one, a `tls://` endpoint is refused.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: TlsClientConfig) -> Self {
        self.tls = Some(config);
        self
    }
}

/// A connection of any stream kind (local socket, TCP or TLS), either side:
/// `AsyncRead + AsyncWrite`, with the peer's address, for a local socket its
/// credentials, and for TLS whether its certificate was verified. Made by [`IpcStream::connect`],
/// [`IpcListener::accept`](crate::IpcListener::accept), or `From` one of the
/// concrete streams.
///
/// ```
/// # #[cfg(all(unix, feature = "local"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_transport::Error> {
/// use ipc_transport::{BindOptions, ConnectOptions, Endpoint, IpcListener, IpcStream};
///
/// let dir = tempfile::tempdir()?;
/// let endpoint = Endpoint::unix(dir.path().join("app.world"));
/// let mut listener = IpcListener::bind(&endpoint, &BindOptions::default()).await?;
/// let client = IpcStream::connect(&endpoint, &ConnectOptions::default()).await?;
/// let served = listener.accept().await?;
/// assert_eq!(served.peer(), client.peer()); // a local peer is known by the socket path
/// assert_eq!(served.is_authorized(), None); // not TLS
/// assert_eq!(served.peer_credentials()?.pid(), Some(std::process::id())); // who: this process
/// # Ok(())
/// # }
/// # #[cfg(not(all(unix, feature = "local")))]
/// # fn main() {}
/// ```
pub struct IpcStream {
    kind: Kind,
}

enum Kind {
    #[cfg(feature = "local")]
    Local(LocalStream),
    #[cfg(feature = "tcp")]
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl fmt::Debug for IpcStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            #[cfg(feature = "local")]
            Kind::Local(s) => s.fmt(f),
            #[cfg(feature = "tcp")]
            Kind::Tcp(s) => s.fmt(f),
            #[cfg(feature = "tls")]
            Kind::Tls(s) => s.fmt(f),
        }
    }
}

impl IpcStream {
    /// Connects to `endpoint`: `unix:` and `id:` (through the options' socket
    /// path rules) as a local socket, `tcp://` and `tls://` over TCP.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for UDP endpoints, for `tls://` without
    /// a TLS configuration, and for kinds whose cargo feature is off; else the
    /// errors of [`LocalStream::connect`](crate::local::LocalStream::connect),
    /// [`TcpStream::connect_with`](crate::tcp::TcpStream::connect_with) or
    /// [`TlsStream::connect`](crate::tls::TlsStream::connect).
    pub async fn connect(endpoint: &Endpoint, options: &ConnectOptions) -> Result<IpcStream, Error> {
        let _ = options;
        match endpoint {
            #[cfg(feature = "local")]
            Endpoint::Unix(_) | Endpoint::Id(_) => {
                Ok(LocalStream::connect_endpoint(endpoint, &options.rules).await?.into())
            }
            #[cfg(feature = "tcp")]
            Endpoint::Tcp { host, port } => {
                Ok(TcpStream::connect_with(host, *port, &options.tcp).await?.into())
            }
            #[cfg(feature = "tls")]
            Endpoint::Tls { host, port } => match &options.tls {
                Some(config) => Ok(TlsStream::connect(host, *port, config).await?.into()),
                None => {
                    Err(super::unsupported(endpoint, "a tls:// endpoint needs a TLS client configuration"))
                }
            },
            Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } => {
                Err(super::unsupported(endpoint, "UDP carries datagrams: use udp::UdpEndpoint"))
            }
            #[allow(unreachable_patterns)]
            _ => Err(super::unsupported(endpoint, "this transport's cargo feature is off")),
        }
    }

    /// The other end (a local peer: the socket path).
    pub fn peer(&self) -> &PeerAddr {
        match &self.kind {
            #[cfg(feature = "local")]
            Kind::Local(s) => s.peer(),
            #[cfg(feature = "tcp")]
            Kind::Tcp(s) => s.peer(),
            #[cfg(feature = "tls")]
            Kind::Tls(s) => s.peer(),
        }
    }

    /// Who the other end is, for a local socket: see
    /// [`LocalStream::peer_credentials`](crate::local::LocalStream::peer_credentials).
    ///
    /// # Errors
    ///
    /// `Unsupported` for TCP and TLS (and on Windows); else what the operating system reports.
    pub fn peer_credentials(&self) -> std::io::Result<crate::PeerCredentials> {
        match &self.kind {
            #[cfg(feature = "local")]
            Kind::Local(s) => s.peer_credentials(),
            #[allow(unreachable_patterns)]
            _ => Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "not a local socket")),
        }
    }

    /// For TLS, whether the peer's certificate was verified (node's
    /// `socket.authorized`); `None` for other kinds.
    pub fn is_authorized(&self) -> Option<bool> {
        match &self.kind {
            #[cfg(feature = "tls")]
            Kind::Tls(s) => Some(s.is_authorized()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

#[cfg(feature = "local")]
impl From<LocalStream> for IpcStream {
    fn from(stream: LocalStream) -> IpcStream {
        IpcStream { kind: Kind::Local(stream) }
    }
}

#[cfg(feature = "tcp")]
impl From<TcpStream> for IpcStream {
    fn from(stream: TcpStream) -> IpcStream {
        IpcStream { kind: Kind::Tcp(stream) }
    }
}

#[cfg(feature = "tls")]
impl From<TlsStream> for IpcStream {
    fn from(stream: TlsStream) -> IpcStream {
        IpcStream { kind: Kind::Tls(Box::new(stream)) }
    }
}

/// Runs `$call` on whichever stream `$kind` holds, pinned.
macro_rules! each_kind {
    ($kind:expr, $s:ident => $call:expr) => {
        match $kind {
            #[cfg(feature = "local")]
            Kind::Local($s) => $call,
            #[cfg(feature = "tcp")]
            Kind::Tcp($s) => $call,
            #[cfg(feature = "tls")]
            Kind::Tls($s) => $call,
        }
    };
}

impl AsyncRead for IpcStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        each_kind!(&mut self.get_mut().kind, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for IpcStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        each_kind!(&mut self.get_mut().kind, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        each_kind!(&mut self.get_mut().kind, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each_kind!(&self.kind, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each_kind!(&mut self.get_mut().kind, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each_kind!(&mut self.get_mut().kind, s => Pin::new(s).poll_shutdown(cx))
    }
}
