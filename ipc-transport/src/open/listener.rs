//! [`IpcListener`]: a listener of any stream kind, and how to bind one.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
#[cfg(feature = "local")]
use std::sync::Arc;

#[cfg(feature = "local")]
use crate::local::{LocalListener, LocalListenerOptions, SocketPathRules};
#[cfg(feature = "tcp")]
use crate::tcp::{TcpListener, TcpListenerOptions};
#[cfg(feature = "tls")]
use crate::tls::{TlsListener, TlsServerConfig};
use crate::{Endpoint, Error, IpcStream};

/// How [`IpcListener::bind`] binds each kind of endpoint: the socket-path
/// rules for `id:` endpoints, the local listener's options (`unlink`, file
/// modes, socket root), the TCP listener's, and the TLS server configuration
/// for `tls://`. Every part has node-ipc's default.
///
/// ```
/// # #[cfg(all(feature = "local", feature = "tcp"))]
/// # {
/// use ipc_transport::local::LocalListenerOptions;
/// use ipc_transport::BindOptions;
///
/// let options = BindOptions::default()
///     .local(LocalListenerOptions::default().unlink(false))
///     .max_connections(8); // local and TCP alike
/// # let _ = options;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct BindOptions {
    #[cfg(feature = "local")]
    rules: SocketPathRules,
    #[cfg(feature = "local")]
    local: LocalListenerOptions,
    #[cfg(feature = "tcp")]
    tcp: TcpListenerOptions,
    #[cfg(feature = "tls")]
    tls: Option<TlsServerConfig>,
}

impl BindOptions {
    /// Where `id:` endpoints live (default: node-ipc 14's rules). Binding an
    /// `id:` endpoint prepares the rules' socket root as node-ipc 14 does,
    /// unless the local options name a root of their own.
    #[cfg(feature = "local")]
    #[cfg_attr(docsrs, doc(cfg(feature = "local")))]
    pub fn socket_path_rules(mut self, rules: SocketPathRules) -> Self {
        self.rules = rules;
        self
    }

    /// The local listener's options.
    #[cfg(feature = "local")]
    #[cfg_attr(docsrs, doc(cfg(feature = "local")))]
    pub fn local(mut self, options: LocalListenerOptions) -> Self {
        self.local = options;
        self
    }

    /// The TCP listener's options (TLS listeners too).
    #[cfg(feature = "tcp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tcp")))]
    pub fn tcp(mut self, options: TcpListenerOptions) -> Self {
        self.tcp = options;
        self
    }

    /// The TLS server configuration for `tls://` endpoints. Without one, a
    /// `tls://` endpoint is refused.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: TlsServerConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// node-ipc's `maxConnections` for every kind (0: no limit).
    pub fn max_connections(mut self, max: usize) -> Self {
        #[cfg(feature = "local")]
        {
            self.local = self.local.max_connections(max);
        }
        #[cfg(feature = "tcp")]
        {
            self.tcp = self.tcp.max_connections(max);
        }
        let _ = max;
        self
    }
}

/// A listener of any stream kind: a local socket, TCP or TLS. [`accept`](IpcListener::accept)
/// gives an [`IpcStream`], which knows its peer and whether TLS verified it.
/// Made by [`IpcListener::bind`], or `From` one of the concrete listeners (a
/// local listener also from an `Arc`, to share one path between servers as
/// node's cluster workers do).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_transport::Error> {
/// # #[cfg(feature = "tcp")]
/// # {
/// use ipc_transport::{BindOptions, ConnectOptions, Endpoint, IpcListener, IpcStream};
///
/// let mut listener = IpcListener::bind(&"tcp://127.0.0.1:0".parse()?, &BindOptions::default()).await?;
/// let endpoint = listener.local_endpoint()?; // the port filled in
/// let client = IpcStream::connect(&endpoint, &ConnectOptions::default()).await?;
/// let served = listener.accept().await?;
/// assert_eq!(served.peer().socket_addr().map(|a| a.ip()), Some([127, 0, 0, 1].into()));
/// # drop(client);
/// # }
/// # Ok(())
/// # }
/// ```
pub struct IpcListener {
    kind: Kind,
}

enum Kind {
    #[cfg(feature = "local")]
    Local(Arc<LocalListener>),
    #[cfg(feature = "tcp")]
    Tcp(TcpListener),
    #[cfg(feature = "tls")]
    Tls(TlsListener),
}

impl fmt::Debug for IpcListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            #[cfg(feature = "local")]
            Kind::Local(l) => l.fmt(f),
            #[cfg(feature = "tcp")]
            Kind::Tcp(l) => l.fmt(f),
            #[cfg(feature = "tls")]
            Kind::Tls(l) => l.fmt(f),
        }
    }
}

impl IpcListener {
    /// Binds `endpoint`: `unix:` and `id:` (through the options' socket path
    /// rules) as a local socket, `tcp://` and `tls://` on the first address
    /// the host resolves to that binds.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for UDP endpoints, for `tls://` without
    /// a TLS configuration, and for kinds whose cargo feature is off; else the
    /// errors of the concrete listener's `bind_endpoint`
    /// ([`LocalListener`](crate::local::LocalListener::bind_endpoint),
    /// [`TcpListener`](crate::tcp::TcpListener::bind_endpoint),
    /// [`TlsListener`](crate::tls::TlsListener::bind_endpoint)).
    pub async fn bind(endpoint: &Endpoint, options: &BindOptions) -> Result<IpcListener, Error> {
        let _ = options;
        match endpoint {
            #[cfg(feature = "local")]
            Endpoint::Unix(_) | Endpoint::Id(_) => {
                Ok(LocalListener::bind_endpoint(endpoint, &options.rules, &options.local).await?.into())
            }
            #[cfg(feature = "tcp")]
            Endpoint::Tcp { .. } => Ok(TcpListener::bind_endpoint(endpoint, &options.tcp).await?.into()),
            #[cfg(feature = "tls")]
            Endpoint::Tls { .. } => match &options.tls {
                Some(config) => Ok(TlsListener::bind_endpoint(endpoint, config, &options.tcp).await?.into()),
                None => {
                    Err(super::unsupported(endpoint, "a tls:// endpoint needs a TLS server configuration"))
                }
            },
            Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } => {
                Err(super::unsupported(endpoint, "UDP carries datagrams: use udp::UdpEndpoint"))
            }
            #[allow(unreachable_patterns)]
            _ => Err(super::unsupported(endpoint, "this transport's cargo feature is off")),
        }
    }

    /// Waits for the next connection. Cancel-safe.
    ///
    /// # Errors
    ///
    /// As the concrete listener's `accept`: check
    /// [`Error::is_connection_error`] to decide whether to keep accepting.
    pub async fn accept(&mut self) -> Result<IpcStream, Error> {
        match &mut self.kind {
            #[cfg(feature = "local")]
            Kind::Local(l) => Ok(l.accept().await?.into()),
            #[cfg(feature = "tcp")]
            Kind::Tcp(l) => Ok(l.accept().await?.into()),
            #[cfg(feature = "tls")]
            Kind::Tls(l) => Ok(l.accept().await?.into()),
        }
    }

    /// Where it listens, as an endpoint: `unix:PATH` (Windows: the pipe
    /// name), or `tcp://` / `tls://` with the bound address and port.
    ///
    /// # Errors
    ///
    /// What the operating system reports when asked for the bound address.
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        match &self.kind {
            #[cfg(feature = "local")]
            Kind::Local(l) => Ok(Endpoint::unix(l.path())),
            #[cfg(feature = "tcp")]
            Kind::Tcp(l) => l.local_addr().map(|a| Endpoint::tcp(a.ip().to_string(), a.port())),
            #[cfg(feature = "tls")]
            Kind::Tls(l) => l.local_addr().map(|a| Endpoint::tls(a.ip().to_string(), a.port())),
        }
    }

    /// The bound network address (TCP, TLS), with an ephemeral port filled in.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.kind {
            #[cfg(feature = "tcp")]
            Kind::Tcp(l) => l.local_addr().ok(),
            #[cfg(feature = "tls")]
            Kind::Tls(l) => l.local_addr().ok(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The socket path of a local listener (Windows: the pipe name).
    pub fn path(&self) -> Option<&Path> {
        match &self.kind {
            #[cfg(feature = "local")]
            Kind::Local(l) => Some(l.path()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        match &self.kind {
            #[cfg(feature = "tls")]
            Kind::Tls(_) => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

#[cfg(feature = "local")]
impl From<LocalListener> for IpcListener {
    fn from(listener: LocalListener) -> IpcListener {
        IpcListener { kind: Kind::Local(Arc::new(listener)) }
    }
}

#[cfg(feature = "local")]
impl From<Arc<LocalListener>> for IpcListener {
    fn from(listener: Arc<LocalListener>) -> IpcListener {
        IpcListener { kind: Kind::Local(listener) }
    }
}

#[cfg(feature = "tcp")]
impl From<TcpListener> for IpcListener {
    fn from(listener: TcpListener) -> IpcListener {
        IpcListener { kind: Kind::Tcp(listener) }
    }
}

#[cfg(feature = "tls")]
impl From<TlsListener> for IpcListener {
    fn from(listener: TlsListener) -> IpcListener {
        IpcListener { kind: Kind::Tls(listener) }
    }
}
