//! [`TlsListener`]: accepts TCP connections and runs their handshakes
//! concurrently, each in a task of its own.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tokio::task::JoinSet;
use tokio_rustls::rustls::pki_types::UnixTime;
use tracing::Instrument as _;

use super::config::{ClientCheck, ServerSide, TlsServerConfig};
use super::stream::{classify, TlsStream};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::tcp::{TcpListener, TcpListenerOptions, TcpStream};

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
        let tcp = TcpListener::bind_as(addr, options, true).await?;
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
        let tcp = TcpListener::bind_host_as(host, *port, options, true).await?;
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
    /// The handshake failures of the [module table](crate::tls),
    /// [`Error::TooManyConnections`], and [`Error::Io`] when accepting fails.
    pub async fn accept(&mut self) -> Result<TlsStream, Error> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Result<TlsStream, Error>> {
        loop {
            match self.tcp.poll_accept(cx) {
                Poll::Ready(Ok(mut tcp)) => {
                    tcp.set_tls();
                    // its events belong to the span of whoever accepts
                    let handshake = server_handshake(tcp, self.side.clone()).in_current_span();
                    self.handshakes.spawn(handshake);
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
    let result = match tokio::time::timeout(timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(Error::HandshakeTimeout { peer: peer.clone(), timeout }),
    };
    match &result {
        Ok(stream) => crate::trace::tls_handshake_done("server", stream),
        Err(e) => crate::trace::tls_handshake_failed("server", &peer, e),
    }
    result
}
