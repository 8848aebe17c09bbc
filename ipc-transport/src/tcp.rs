//! TCP, as node-ipc's `serveNet` / `connectToNet` use it: `TCP_NODELAY` on
//! both sides, IPv4 and IPv6, node-ipc's client `interface` options, and
//! `maxConnections` enforced at accept. Beyond node-ipc: TCP keepalive
//! ([`Keepalive`]) on either side, so that a peer that vanished without a FIN
//! (power lost, cable pulled, a network partition) is noticed.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::net::TcpSocket;

use crate::endpoint::{resolve_host, Endpoint};
use crate::error::Error;
use crate::limit::{ConnectionLimit, ConnectionSlot};
use crate::peer::PeerAddr;
use crate::DEFAULT_MAX_CONNECTIONS;

/// An IP address family (node-ipc `interface.family`: 4 or 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// TCP keepalive: after `idle` without traffic, the operating system probes
/// the peer every `interval`; after `count` probes without an answer the
/// connection fails (`TimedOut`, or what the network reported), and its
/// reader sees that error. Set on each connection when it is made
/// ([`TcpConnectOptions::keepalive`], [`TcpListenerOptions::keepalive`]); off
/// by default, as in node.
///
/// A dead peer is noticed at most [`max_detection_time`](Keepalive::max_detection_time)
/// (`idle + interval * count`) after the last traffic; `interval` and `count`
/// left unset take the system's defaults (Linux: 75 s and 9). The durations
/// go to the system in whole seconds (rounded up, at least 1 s; at most
/// 32767 s, Linux's limit) and `count` is kept within 1 to 127. Probes answer
/// only while nothing is waiting to be sent: a connection with unacknowledged
/// data fails by retransmission timeouts instead (minutes), which an idle
/// timeout above this crate (ipc-compat's `idle_timeout`) bounds.
///
/// Platforms: `interval` and `count` are set on Linux, Android, macOS, iOS,
/// Windows (`count` from Windows 10 1703) and the BSDs; elsewhere only `idle`.
///
/// ```
/// use std::time::Duration;
/// use ipc_transport::tcp::{Keepalive, TcpConnectOptions, TcpListenerOptions};
///
/// let keepalive = Keepalive::new(Duration::from_secs(10)).interval(Duration::from_secs(2)).count(3);
/// assert_eq!(keepalive.max_detection_time(), Some(Duration::from_secs(16)));
/// let client = TcpConnectOptions::default().keepalive(keepalive);
/// let server = TcpListenerOptions::default().keepalive(keepalive);
/// # let _ = (client, server);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keepalive {
    idle: Duration,
    interval: Option<Duration>,
    count: Option<u32>,
}

/// The longest keepalive time or interval Linux takes (`MAX_TCP_KEEPIDLE`, `MAX_TCP_KEEPINTVL`).
const MAX_KEEPALIVE_SECS: u64 = 32767;
/// The most keepalive probes Linux takes (`MAX_TCP_KEEPCNT`).
const MAX_KEEPALIVE_COUNT: u32 = 127;

/// `d` in whole seconds, rounded up, within what every system takes.
fn keepalive_secs(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.clamp(1, MAX_KEEPALIVE_SECS))
}

impl Keepalive {
    /// Probes start after `idle` without traffic (`TCP_KEEPIDLE`; macOS `TCP_KEEPALIVE`).
    pub fn new(idle: Duration) -> Keepalive {
        Keepalive { idle: keepalive_secs(idle), interval: None, count: None }
    }

    /// The time between probes (`TCP_KEEPINTVL`; default: the system's).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(keepalive_secs(interval));
        self
    }

    /// How many unanswered probes fail the connection (`TCP_KEEPCNT`; default: the system's).
    pub fn count(mut self, count: u32) -> Self {
        self.count = Some(count.clamp(1, MAX_KEEPALIVE_COUNT));
        self
    }

    /// The longest a dead peer goes unnoticed after the last traffic,
    /// `idle + interval * count` (as the system rounds them); `None` while
    /// `interval` or `count` is left to the system.
    pub fn max_detection_time(&self) -> Option<Duration> {
        Some(self.idle + self.interval? * self.count?)
    }

    /// Turns keepalive on for `stream` with these settings.
    fn apply(&self, stream: &tokio::net::TcpStream) -> io::Result<()> {
        let params = socket2::TcpKeepalive::new().with_time(self.idle);
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "dragonfly",
            target_os = "illumos",
            target_os = "fuchsia",
            windows,
        ))]
        let params = {
            let mut params = params;
            if let Some(interval) = self.interval {
                params = params.with_interval(interval);
            }
            if let Some(count) = self.count {
                params = params.with_retries(count);
            }
            params
        };
        socket2::SockRef::from(stream).set_tcp_keepalive(&params)
    }
}

/// How a client connects: node-ipc's `interface` options
/// (`localAddress`, `localPort`, `family`), a connect timeout and TCP keepalive.
///
/// ```
/// use ipc_transport::tcp::{IpFamily, TcpConnectOptions};
///
/// let options = TcpConnectOptions::default()
///     .local_address("127.0.0.1".parse().unwrap())
///     .family(IpFamily::V4);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpConnectOptions {
    local_address: Option<IpAddr>,
    local_port: Option<u16>,
    family: Option<IpFamily>,
    connect_timeout: Option<Duration>,
    keepalive: Option<Keepalive>,
}

impl TcpConnectOptions {
    /// Binds the client socket to this local address (node-ipc `interface.localAddress`).
    pub fn local_address(mut self, address: IpAddr) -> Self {
        self.local_address = Some(address);
        self
    }

    /// Binds the client socket to this local port (node-ipc `interface.localPort`).
    pub fn local_port(mut self, port: u16) -> Self {
        self.local_port = Some(port);
        self
    }

    /// Only connects over this family (node-ipc `interface.family`).
    pub fn family(mut self, family: IpFamily) -> Self {
        self.family = Some(family);
        self
    }

    /// Gives up on each address after `timeout` (default: the operating system's).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Turns TCP keepalive on for the connection (default: off).
    pub fn keepalive(mut self, keepalive: Keepalive) -> Self {
        self.keepalive = Some(keepalive);
        self
    }
}

/// How a [`TcpListener`] accepts: node-ipc's `maxConnections`, and TCP
/// keepalive for each accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpListenerOptions {
    max_connections: usize,
    keepalive: Option<Keepalive>,
}

impl Default for TcpListenerOptions {
    /// 100 connections, as node-ipc; no keepalive.
    fn default() -> Self {
        TcpListenerOptions { max_connections: DEFAULT_MAX_CONNECTIONS, keepalive: None }
    }
}

impl TcpListenerOptions {
    /// The most connections open at once; 0 means no limit, as in node
    /// (node-ipc `maxConnections`, default 100).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Turns TCP keepalive on for every accepted connection (default: off).
    pub fn keepalive(mut self, keepalive: Keepalive) -> Self {
        self.keepalive = Some(keepalive);
        self
    }
}

/// A TCP server (node-ipc `serveNet(host, port)`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_transport::Error> {
/// use ipc_transport::tcp::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).await?;
/// let addr = listener.local_addr()?;
/// let client = TcpStream::connect("127.0.0.1", addr.port()).await?;
/// let server_side = listener.accept().await?;
/// assert_eq!(server_side.peer().socket_addr(), Some(client.local_addr()?));
/// assert!(client.get_ref().nodelay()? && server_side.get_ref().nodelay()?);
/// # Ok(())
/// # }
/// ```
pub struct TcpListener {
    inner: tokio::net::TcpListener,
    limit: ConnectionLimit,
    keepalive: Option<Keepalive>,
    tls: bool,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.inner.local_addr().ok())
            .field("max_connections", &self.limit.max())
            .field("open_connections", &self.limit.open())
            .finish()
    }
}

impl TcpListener {
    /// Binds `addr` with node-ipc's default of 100 connections.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`].
    pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
        TcpListener::bind_with(addr, &TcpListenerOptions::default()).await
    }

    /// Binds `addr` with `options`.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`].
    pub async fn bind_with(addr: SocketAddr, options: &TcpListenerOptions) -> Result<TcpListener, Error> {
        TcpListener::bind_as(addr, options, false).await
    }

    /// [`TcpListener::bind_with`] for a TCP or a TLS listener (which tells its
    /// peers and its `listening` event apart).
    pub(crate) async fn bind_as(
        addr: SocketAddr,
        options: &TcpListenerOptions,
        tls: bool,
    ) -> Result<TcpListener, Error> {
        let inner = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { endpoint: format!("tcp://{addr}"), source })?;
        crate::trace::listening(
            if tls { "tls" } else { "tcp" },
            &inner.local_addr().unwrap_or(addr),
            options.max_connections,
        );
        let limit = ConnectionLimit::new(options.max_connections);
        Ok(TcpListener { inner, limit, keepalive: options.keepalive, tls })
    }

    /// Binds the first address `host` resolves to (a name such as `localhost`, or an IP address).
    ///
    /// # Errors
    ///
    /// [`Error::NoAddress`] when `host` does not resolve, [`Error::Bind`] when no address binds.
    pub async fn bind_host(
        host: &str,
        port: u16,
        options: &TcpListenerOptions,
    ) -> Result<TcpListener, Error> {
        TcpListener::bind_host_as(host, port, options, false).await
    }

    /// [`TcpListener::bind_host`] for a TCP or a TLS listener.
    pub(crate) async fn bind_host_as(
        host: &str,
        port: u16,
        options: &TcpListenerOptions,
        tls: bool,
    ) -> Result<TcpListener, Error> {
        let mut last = None;
        for addr in resolve_host(host, port, None).await? {
            match TcpListener::bind_as(addr, options, tls).await {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve_host returns at least one address"))
    }

    /// Binds a `tcp://` endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for other kinds, else as [`TcpListener::bind_host`].
    pub async fn bind_endpoint(
        endpoint: &Endpoint,
        options: &TcpListenerOptions,
    ) -> Result<TcpListener, Error> {
        match endpoint {
            Endpoint::Tcp { host, port } => TcpListener::bind_host(host, *port, options).await,
            _ => Err(Error::UnsupportedEndpoint {
                endpoint: endpoint.to_string(),
                reason: "not a tcp:// endpoint",
            }),
        }
    }

    #[cfg(feature = "tls")]
    pub(crate) fn set_tls(&mut self) {
        self.tls = true;
    }

    /// Waits for the next client, sets `TCP_NODELAY` on it (and keepalive, when configured).
    ///
    /// # Errors
    ///
    /// [`Error::TooManyConnections`] when `max_connections` are open: that
    /// client was closed at once, and the listener goes on. [`Error::Io`] when
    /// accepting failed. Check [`Error::is_connection_error`] to decide whether
    /// to keep accepting.
    pub async fn accept(&self) -> Result<TcpStream, Error> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next client; see [`TcpListener::accept`].
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<TcpStream, Error>> {
        let (stream, addr) = ready!(self.inner.poll_accept(cx))?;
        let peer = if self.tls { PeerAddr::Tls(addr) } else { PeerAddr::Tcp(addr) };
        match self.limit.try_acquire() {
            Ok(slot) => {
                // fails only when the peer is already gone, which its first read or write reports
                let _ = stream.set_nodelay(true);
                if let Some(keepalive) = &self.keepalive {
                    let _ = keepalive.apply(&stream);
                }
                crate::trace::accepted(&peer);
                Poll::Ready(Ok(TcpStream { inner: stream, peer, _slot: slot }))
            }
            Err(max) => {
                drop(stream);
                crate::trace::too_many_connections(&peer, max);
                Poll::Ready(Err(Error::TooManyConnections { max, peer }))
            }
        }
    }

    /// The address the listener is bound to (with the ephemeral port filled in).
    ///
    /// # Errors
    ///
    /// What the operating system reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// How many accepted connections are open now.
    pub fn open_connections(&self) -> usize {
        self.limit.open()
    }

    /// The configured maximum (0: no limit).
    pub fn max_connections(&self) -> usize {
        self.limit.max()
    }
}

/// A TCP connection (either side), with `TCP_NODELAY` set: `AsyncRead + AsyncWrite`.
///
/// `shutdown()` half-closes it: the peer reads end-of-stream and can still write back.
pub struct TcpStream {
    inner: tokio::net::TcpStream,
    peer: PeerAddr,
    _slot: ConnectionSlot,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream").field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl TcpStream {
    /// Connects to `host:port` (a name or an IP address; node-ipc `connectToNet(id, host, port)`).
    ///
    /// # Errors
    ///
    /// As [`TcpStream::connect_with`].
    pub async fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
        TcpStream::connect_with(host, port, &TcpConnectOptions::default()).await
    }

    /// Connects to `host:port` with node-ipc's `interface` options, trying
    /// each resolved address in turn.
    ///
    /// # Errors
    ///
    /// [`Error::NoAddress`] when `host` has no address of the wanted family,
    /// [`Error::Connect`] with the last address's failure.
    pub async fn connect_with(
        host: &str,
        port: u16,
        options: &TcpConnectOptions,
    ) -> Result<TcpStream, Error> {
        let v6 = options.family.map(|f| f == IpFamily::V6);
        let mut last = None;
        for addr in resolve_host(host, port, v6).await? {
            match connect_one(addr, options).await {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    crate::trace::connect_attempt_failed(addr, &e);
                    last = Some(e);
                }
            }
        }
        let source = last.expect("resolve_host returns at least one address");
        let endpoint = Endpoint::tcp(host, port).to_string();
        Err(Error::Connect { endpoint, source })
    }

    /// Connects to one socket address.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`].
    pub async fn connect_addr(addr: SocketAddr, options: &TcpConnectOptions) -> Result<TcpStream, Error> {
        connect_one(addr, options)
            .await
            .map_err(|source| Error::Connect { endpoint: format!("tcp://{addr}"), source })
    }

    /// Connects to a `tcp://` endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for other kinds, else as [`TcpStream::connect_with`].
    pub async fn connect_endpoint(
        endpoint: &Endpoint,
        options: &TcpConnectOptions,
    ) -> Result<TcpStream, Error> {
        match endpoint {
            Endpoint::Tcp { host, port } => TcpStream::connect_with(host, *port, options).await,
            _ => Err(Error::UnsupportedEndpoint {
                endpoint: endpoint.to_string(),
                reason: "not a tcp:// endpoint",
            }),
        }
    }

    #[cfg(feature = "tls")]
    pub(crate) fn set_tls(&mut self) {
        if let PeerAddr::Tcp(a) = self.peer {
            self.peer = PeerAddr::Tls(a);
        }
    }

    /// The other end.
    pub fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// Our end's address.
    ///
    /// # Errors
    ///
    /// What the operating system reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The tokio TCP stream underneath.
    pub fn get_ref(&self) -> &tokio::net::TcpStream {
        &self.inner
    }
}

async fn connect_one(addr: SocketAddr, options: &TcpConnectOptions) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if options.local_address.is_some() || options.local_port.is_some() {
        let ip = options.local_address.unwrap_or(if addr.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        });
        socket.bind(SocketAddr::new(ip, options.local_port.unwrap_or(0)))?;
    }
    socket.set_nodelay(true)?;
    let stream = match options.connect_timeout {
        Some(t) => tokio::time::timeout(t, socket.connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("no answer within {t:?}")))??,
        None => socket.connect(addr).await?,
    };
    stream.set_nodelay(true)?;
    if let Some(keepalive) = &options.keepalive {
        keepalive.apply(&stream)?;
    }
    let peer = PeerAddr::Tcp(addr);
    crate::trace::connected(&peer);
    Ok(TcpStream { inner: stream, peer, _slot: ConnectionSlot::none() })
}

delegate_async_io!(TcpStream);
