//! Local sockets: Unix domain sockets, and Windows named pipes, as node-ipc's
//! `serve` / `connectTo` use them.
//!
//! A socket path follows node-ipc's rules ([`SocketPathRules`]: socket root +
//! appspace + id); on Windows it becomes a named pipe ([`windows_pipe_name`]).
//!
//! # Listener hygiene (Unix)
//!
//! [`LocalListener::bind_with`] does what node-ipc 14 does, and a little more:
//!
//! - **`unlink`** (on by default) removes a stale socket file before binding,
//!   but never a path that is not a socket ([`Error::NotASocket`]) and never the
//!   socket of a live server: the path is probed with a connection first
//!   ([`Error::AddrInUse`] with `live: true`; the live server then accepts the
//!   probe, a connection that closes at once). With `unlink` off the path is left
//!   alone and an existing one is [`Error::AddrInUse`]. To serve one path from
//!   several tasks (node-ipc's cluster example), share one listener: `accept`
//!   takes `&self`, so an `Arc<LocalListener>` can run many accept loops.
//! - **`readable_all` / `writable_all`** add read / write permission for everyone
//!   to the socket file, as node's `listen({readableAll, writableAll})`.
//! - **socket root**: when the socket path lies inside the configured root, the
//!   root is created with mode 0700; with `secure_socket_root` it must be a real
//!   directory (not a symbolic link) owned by us, and loses group/other
//!   permissions ([`Error::InsecureSocketRoot`] otherwise).
//! - the listener removes its socket file when dropped (only if the file is
//!   still the one it bound).
//! - **allowed peers** (off by default): only peers whose credentials
//!   ([`PeerCredentials`]) an [`AllowedPeers`] admits
//!   are served; the others are closed at accept ([`Error::PeerRefused`]).
//!   Any stream reports its peer's credentials ([`LocalStream::peer_credentials`]).
//!
//! # Windows
//!
//! The listener creates named-pipe instances under [`windows_pipe_name`] of the
//! path, and insists on being the first instance of that name, as node's
//! `listen` does: a name in use is [`Error::AddrInUse`] (`live: true`), node's
//! `EADDRINUSE`, whether `unlink` is on or off. `unlink` has nothing to remove
//! (a pipe is not a file, and it goes with the last handle to it), and file
//! modes and socket roots do not apply: node-ipc 14 skips its socket-root
//! preparation and `unlink` on Windows too. To serve one name from several
//! tasks, share one listener, as on Unix. Pipes report no peer credentials
//! here, so a listener with allowed peers is refused at bind.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::limit::{ConnectionLimit, ConnectionSlot};
use crate::peer::{PeerAddr, PeerCredentials};
use crate::DEFAULT_MAX_CONNECTIONS;

mod allowed;
mod path;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

pub use allowed::AllowedPeers;
pub use path::{
    directly_inside, per_user_socket_root, resolve_path, windows_pipe_name, SocketPathRules,
    DEFAULT_APPSPACE, PIPE_PREFIX, V9_SOCKET_ROOT,
};

/// How a [`LocalListener`] binds: node-ipc's `unlink`, `readableAll`,
/// `writableAll`, `maxConnections`, `socketRoot` and `secureSocketRoot`, and
/// which peers it admits ([`AllowedPeers`], beyond node-ipc).
///
/// ```
/// use ipc_transport::local::LocalListenerOptions;
///
/// let options = LocalListenerOptions::default().unlink(false).readable_all(true).max_connections(8);
/// assert!(!options.is_unlink());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalListenerOptions {
    unlink: bool,
    readable_all: bool,
    writable_all: bool,
    max_connections: usize,
    socket_root: Option<PathBuf>,
    secure_socket_root: bool,
    allowed_peers: Option<AllowedPeers>,
}

impl Default for LocalListenerOptions {
    /// node-ipc's defaults: `unlink` on, file modes untouched, 100 connections,
    /// no socket root, `secureSocketRoot` on (for when a root is set).
    fn default() -> Self {
        LocalListenerOptions {
            unlink: true,
            readable_all: false,
            writable_all: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            socket_root: None,
            secure_socket_root: true,
            allowed_peers: None,
        }
    }
}

impl LocalListenerOptions {
    /// Whether to remove a stale socket file before binding (node-ipc
    /// `unlink`). Unix only: a Windows pipe leaves nothing to remove.
    pub fn unlink(mut self, unlink: bool) -> Self {
        self.unlink = unlink;
        self
    }

    /// Makes the socket readable by everyone (node-ipc `readableAll`).
    pub fn readable_all(mut self, on: bool) -> Self {
        self.readable_all = on;
        self
    }

    /// Makes the socket writable by everyone (node-ipc `writableAll`).
    pub fn writable_all(mut self, on: bool) -> Self {
        self.writable_all = on;
        self
    }

    /// The most connections open at once; 0 means no limit, as in node
    /// (node-ipc `maxConnections`, default 100).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// The socket root to prepare when the socket path lies inside it
    /// (node-ipc `socketRoot`).
    pub fn socket_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.socket_root = Some(root.into());
        self
    }

    /// Whether the socket root is checked (node-ipc 14 `secureSocketRoot`, default on).
    pub fn secure_socket_root(mut self, on: bool) -> Self {
        self.secure_socket_root = on;
        self
    }

    /// Admits only the peers `allowed` admits (default: everyone who can
    /// open the socket file). Unix sockets only.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_transport::Error> {
    /// use ipc_transport::local::{AllowedPeers, LocalListener, LocalListenerOptions, LocalStream};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.world");
    /// let same_user = LocalListenerOptions::default().allowed_peers(AllowedPeers::default().same_uid(true));
    /// let listener = LocalListener::bind_with(&path, &same_user).await?;
    /// let _client = LocalStream::connect(&path).await?;
    /// let served = listener.accept().await?; // we are the same user as ourselves
    /// assert_eq!(served.peer_credentials()?.pid(), Some(std::process::id()));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    pub fn allowed_peers(mut self, allowed: AllowedPeers) -> Self {
        self.allowed_peers = Some(allowed);
        self
    }

    /// Whether `unlink` is on.
    pub fn is_unlink(&self) -> bool {
        self.unlink
    }
}

/// A local-socket server: a Unix domain socket (Windows: a named pipe).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_transport::Error> {
/// use ipc_transport::local::{LocalListener, LocalStream};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.world");
/// let listener = LocalListener::bind(&path).await?;
/// let client = LocalStream::connect(&path).await?;
/// let server_side = listener.accept().await?;
/// // the socket path (on Windows, the pipe name node-ipc maps it to)
/// assert_eq!(server_side.peer().path(), Some(listener.path()));
/// assert_eq!(listener.open_connections(), 1);
/// # #[cfg(unix)]
/// # {
/// drop(listener);
/// assert!(!path.exists()); // the socket file goes with the listener
/// # }
/// # drop(client);
/// # Ok(())
/// # }
/// ```
pub struct LocalListener {
    sys: sys::Listener,
    path: PathBuf,
    limit: ConnectionLimit,
    allowed: Option<AllowedPeers>,
}

impl fmt::Debug for LocalListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalListener")
            .field("path", &self.path)
            .field("max_connections", &self.limit.max())
            .field("open_connections", &self.limit.open())
            .field("allowed_peers", &self.allowed)
            .finish()
    }
}

impl LocalListener {
    /// Binds `path` with node-ipc's default options (`unlink` on, 100 connections).
    ///
    /// # Errors
    ///
    /// As [`LocalListener::bind_with`].
    pub async fn bind(path: impl AsRef<Path>) -> Result<LocalListener, Error> {
        LocalListener::bind_with(path, &LocalListenerOptions::default()).await
    }

    /// Binds `path` with `options` (see the [module docs](self) for the rules).
    ///
    /// # Errors
    ///
    /// [`Error::AddrInUse`] when a live server holds the path (or it exists and
    /// `unlink` is off), [`Error::NotASocket`] when `unlink` meets a file that is
    /// not a socket, [`Error::InsecureSocketRoot`] when the socket root fails its
    /// checks, [`Error::Bind`] for other failures; on Windows,
    /// [`Error::UnsupportedEndpoint`] when `options` name allowed peers.
    pub async fn bind_with(
        path: impl AsRef<Path>,
        options: &LocalListenerOptions,
    ) -> Result<LocalListener, Error> {
        let path = path.as_ref();
        if cfg!(windows) && options.allowed_peers.is_some() {
            return Err(Error::UnsupportedEndpoint {
                endpoint: Endpoint::unix(path).to_string(),
                reason: "named pipes report no peer uid or gid: allowed peers need a Unix socket",
            });
        }
        let (sys, path) = sys::Listener::bind(path, options).await?;
        crate::trace::listening("unix", &path.display(), options.max_connections);
        let limit = ConnectionLimit::new(options.max_connections);
        Ok(LocalListener { sys, path, limit, allowed: options.allowed_peers.clone() })
    }

    /// Binds a local endpoint: `unix:PATH` as is, `id:NAME` through `rules`,
    /// whose socket root is then prepared as node-ipc 14 does (unless
    /// `options` names a root of its own).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for network endpoints, else as [`LocalListener::bind_with`].
    pub async fn bind_endpoint(
        endpoint: &Endpoint,
        rules: &SocketPathRules,
        options: &LocalListenerOptions,
    ) -> Result<LocalListener, Error> {
        let Some(path) = rules.endpoint_path(endpoint) else {
            return Err(Error::UnsupportedEndpoint {
                endpoint: endpoint.to_string(),
                reason: "not a local socket endpoint",
            });
        };
        let mut options = options.clone();
        if matches!(endpoint, Endpoint::Id(_)) && options.socket_root.is_none() {
            options = options.socket_root(rules.socket_root()).secure_socket_root(rules.secure_socket_root());
        }
        LocalListener::bind_with(path, &options).await
    }

    /// Waits for the next client.
    ///
    /// # Errors
    ///
    /// [`Error::PeerRefused`] when the listener has allowed peers and this
    /// one is not among them (or its credentials are unavailable), and
    /// [`Error::TooManyConnections`] when `max_connections` are open: that
    /// client was closed at once, and the listener goes on. [`Error::Io`] when
    /// accepting failed. Check [`Error::is_connection_error`] to decide whether
    /// to keep accepting.
    pub async fn accept(&self) -> Result<LocalStream, Error> {
        let stream = self.sys.accept().await?;
        let peer = PeerAddr::Local(self.path.clone());
        let credentials = match &self.allowed {
            None => None,
            Some(allowed) => match sys::peer_credentials(&stream) {
                Ok(credentials) if allowed.admits(&credentials, own_uid()) => Some(credentials),
                refused => {
                    drop(stream);
                    let credentials = refused.ok();
                    crate::trace::peer_refused(&peer, credentials.as_ref());
                    return Err(Error::PeerRefused { peer, credentials });
                }
            },
        };
        match self.limit.try_acquire() {
            Ok(slot) => {
                crate::trace::accepted(&peer);
                Ok(LocalStream { inner: stream, peer, credentials, _slot: slot })
            }
            Err(max) => {
                drop(stream);
                crate::trace::too_many_connections(&peer, max);
                Err(Error::TooManyConnections { max, peer })
            }
        }
    }

    /// The socket path (Windows: the pipe name).
    pub fn path(&self) -> &Path {
        &self.path
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

/// A local-socket connection (either side): `AsyncRead + AsyncWrite`.
///
/// `shutdown()` half-closes it: the peer reads end-of-stream and can still
/// write back. A Windows named pipe cannot half-close: there `shutdown()` only
/// flushes, and the peer reads end-of-stream once the stream is dropped.
pub struct LocalStream {
    inner: sys::Stream,
    peer: PeerAddr,
    /// What the listener checked at accept, if it did.
    credentials: Option<PeerCredentials>,
    _slot: ConnectionSlot,
}

impl fmt::Debug for LocalStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStream").field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl LocalStream {
    /// Connects to the local socket at `path` (Windows: the pipe it maps to).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] with what the operating system reported
    /// (`NotFound` when nothing is there, `ConnectionRefused` for a stale socket).
    pub async fn connect(path: impl AsRef<Path>) -> Result<LocalStream, Error> {
        let path = path.as_ref();
        let (inner, name) = sys::connect(path)
            .await
            .map_err(|source| Error::Connect { endpoint: format!("unix:{}", path.display()), source })?;
        let peer = PeerAddr::Local(name);
        crate::trace::connected(&peer);
        Ok(LocalStream { inner, peer, credentials: None, _slot: ConnectionSlot::none() })
    }

    /// Connects to a local endpoint: `unix:PATH` as is, `id:NAME` through `rules`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for network endpoints, else as [`LocalStream::connect`].
    pub async fn connect_endpoint(
        endpoint: &Endpoint,
        rules: &SocketPathRules,
    ) -> Result<LocalStream, Error> {
        match rules.endpoint_path(endpoint) {
            Some(path) => LocalStream::connect(path).await,
            None => Err(Error::UnsupportedEndpoint {
                endpoint: endpoint.to_string(),
                reason: "not a local socket endpoint",
            }),
        }
    }

    /// The other end: the socket path (Windows: the pipe name).
    pub fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// Who the other end is: the credentials of the client process (on a
    /// server's stream) or of the server process (on a client's), as the
    /// operating system recorded them when the connection was made (a server's:
    /// when it called `listen`). See [`PeerCredentials`] for the system call
    /// behind it on each platform.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_transport::Error> {
    /// use ipc_transport::local::{LocalListener, LocalStream};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let listener = LocalListener::bind(dir.path().join("app.world")).await?;
    /// let client = LocalStream::connect(listener.path()).await?;
    /// let served = listener.accept().await?;
    /// // both ends are this process here
    /// assert_eq!(served.peer_credentials()?.pid(), Some(std::process::id()));
    /// assert_eq!(client.peer_credentials()?, served.peer_credentials()?);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// What the operating system reports; `Unsupported` on Windows, where
    /// named pipes report no credentials here.
    pub fn peer_credentials(&self) -> std::io::Result<PeerCredentials> {
        match self.credentials {
            Some(credentials) => Ok(credentials),
            None => sys::peer_credentials(&self.inner),
        }
    }

    /// The tokio Unix stream underneath.
    #[cfg(unix)]
    pub fn get_ref(&self) -> &tokio::net::UnixStream {
        &self.inner
    }
}

delegate_async_io!(LocalStream);

/// The uid "same user" means: the server's effective uid when it accepts
/// (a server that drops privileges after binding compares with its new uid).
#[cfg(unix)]
fn own_uid() -> u32 {
    sys::own_uid()
}

/// Never reached on Windows: a listener with allowed peers does not bind.
#[cfg(windows)]
fn own_uid() -> u32 {
    u32::MAX
}
