//! [`Server`]: `ipc.server`, made by `serve` / `serve_net`.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use ipc_codec::{CodecError, Event, Profile};
use ipc_events::{Dispatcher, Lifecycle};
use ipc_transport::local::{LocalListener, LocalListenerOptions};
use ipc_transport::tcp::{TcpListener, TcpListenerOptions};
use ipc_transport::tls::TlsListener;
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use ipc_transport::{Endpoint, PeerAddr};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::Error;
use crate::events::event_api;
use crate::ipc::{log, Io};
use crate::outbox::Outbox;
use crate::socket::{Killer, Link, Socket, UdpOut};
use crate::wire::{Inbound, Outgoing, RawPayload, WireCodec};

/// node-ipc's `UDPType`: which UDP socket `serve_net` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpType {
    /// `'udp4'`.
    Udp4,
    /// `'udp6'`.
    Udp6,
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listen {
    Local(PathBuf),
    Net { host: String, port: u16, udp: Option<UdpType> },
}

/// How long a connection whose peer closed its side may take to send what is still queued.
const LINGER: Duration = Duration::from_secs(5);

/// Local listeners of this process by path, so that a second server with
/// `unlink` off shares the first one's listener (node's cluster workers).
static LOCAL_LISTENERS: LazyLock<Mutex<HashMap<PathBuf, Weak<LocalListener>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) struct Inner {
    config: Arc<RwLock<Config>>,
    listen: Listen,
    events: Dispatcher<Socket>,
    run: Mutex<Option<Running>>,
    sockets: Mutex<Vec<Socket>>,
    serial: AtomicU64,
}

/// One run of a server, between `start` and `stop`.
struct Running {
    config: Arc<Config>,
    out: Arc<Outgoing>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
    path: Option<PathBuf>,
    udp: Option<Arc<UdpOut>>,
}

/// A node-ipc server (`ipc.server`): made by [`Ipc::serve`](crate::Ipc::serve)
/// or [`Ipc::serve_net`](crate::Ipc::serve_net), started with
/// [`start`](Server::start).
///
/// Handlers receive the event and the [`Socket`] it came from; answer with
/// [`Socket::emit`] (or [`Server::emit`]), reach everyone with
/// [`broadcast`](Server::broadcast). Lifecycle events: `start`
/// ([`on_start`](Server::on_start)), `connect`, `close`, `socket.disconnected`
/// (exactly once per socket, with the id it announced), `error`, and `data`
/// in raw-buffer mode.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_compat::Error> {
/// use ipc_compat::{Config, Ipc};
///
/// let dir = tempfile::tempdir()?;
/// let mut config = Config::default();
/// config.silent = true;
/// let ipc = Ipc::new(config);
/// let server = ipc.serve(Some(&dir.path().join("app.world")))?;
/// server.on("message", |event, socket| {
///     let text: String = event.data_as().unwrap_or_default();
///     socket.emit("message", format!("{text} world!")).ok();
/// });
/// server.on_socket_disconnected(|_socket, id| println!("client {id:?} has disconnected!"));
/// server.start().await?;
/// assert!(server.is_running());
/// server.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.inner.listen)
            .field("running", &self.is_running())
            .field("sockets", &self.lock_sockets().len())
            .finish()
    }
}

impl Server {
    pub(crate) fn new(config: Arc<RwLock<Config>>, listen: Listen) -> Server {
        Server {
            inner: Arc::new(Inner {
                config,
                listen,
                events: Dispatcher::new(),
                run: Mutex::new(None),
                sockets: Mutex::new(Vec::new()),
                serial: AtomicU64::new(0),
            }),
        }
    }

    fn lock_run(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.inner.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_sockets(&self) -> std::sync::MutexGuard<'_, Vec<Socket>> {
        self.inner.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts serving (node-ipc `ipc.server.start()`): binds, then raises
    /// `start` and returns. The async counterpart of `serve`'s callback.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`], [`Error::Config`], and bind failures
    /// ([`Error::Transport`]: address in use, bad TLS files, ...); a bind
    /// failure is also raised as an `error` event, as node-ipc does.
    pub async fn start(&self) -> Result<(), Error> {
        let config = Arc::new(self.inner.config.read().unwrap_or_else(PoisonError::into_inner).clone());
        if self.lock_run().is_some() {
            return Err(Error::AlreadyRunning);
        }
        let result = self.bind_and_spawn(config).await;
        match result {
            Ok(()) => {
                self.inner.events.emit_lifecycle(Lifecycle::Start).await;
                Ok(())
            }
            Err(e) => {
                let shown = std::io::Error::other(e.to_string());
                self.inner.events.emit_lifecycle(Lifecycle::error(None, shown)).await;
                Err(e)
            }
        }
    }

    async fn bind_and_spawn(&self, config: Arc<Config>) -> Result<(), Error> {
        config.validate()?;
        check_assured(&config, &self.inner.listen)?;
        let out = Arc::new(Outgoing::from_config(&config)?);
        let codec = WireCodec::from_config(&config)?;
        let (shutdown, stop_rx) = watch::channel(false);
        let mut running = Running {
            config: config.clone(),
            out,
            shutdown,
            task: None,
            local_addr: None,
            path: None,
            udp: None,
        };
        let ctx = Ctx { server: self.clone(), config: config.clone(), out: running.out.clone(), codec };
        let task = match &self.inner.listen {
            Listen::Local(path) => {
                let listener = bind_local(path, &config).await?;
                running.path = Some(listener.path().to_owned());
                log(&config, || {
                    format!("starting server on {} as Unix || Windows Socket", listener.path().display())
                });
                tokio::spawn(accept_loop(ctx, Acceptor::Local(listener), stop_rx))
            }
            Listen::Net { host, port, udp: None } => {
                let options = TcpListenerOptions::default().max_connections(config.max_connections);
                let acceptor = match &config.tls {
                    Some(tls) => {
                        let endpoint = Endpoint::tls(host.clone(), *port);
                        let listener =
                            TlsListener::bind_endpoint(&endpoint, &tls.server_config(), &options).await?;
                        running.local_addr = Some(listener.local_addr()?);
                        Acceptor::Tls(listener)
                    }
                    None => {
                        let listener = TcpListener::bind_host(host, *port, &options).await?;
                        running.local_addr = Some(listener.local_addr()?);
                        Acceptor::Tcp(listener)
                    }
                };
                log(&config, || {
                    format!(
                        "starting server on {host}:{} as {}",
                        running.local_addr.map_or(*port, |a| a.port()),
                        if config.tls.is_some() { "TLS" } else { "TCP" }
                    )
                });
                tokio::spawn(accept_loop(ctx, acceptor, stop_rx))
            }
            Listen::Net { host, port, udp: Some(kind) } => {
                let endpoint = match kind {
                    UdpType::Udp4 => Endpoint::udp4(host.clone(), *port),
                    UdpType::Udp6 => Endpoint::udp6(host.clone(), *port),
                };
                let options = UdpOptions::default().pack_frames(!config.raw_buffer);
                let endpoint = UdpEndpoint::bind_endpoint(&endpoint, ctx.codec.clone(), options).await?;
                let local = endpoint.local_addr()?;
                running.local_addr = Some(local);
                let out = Arc::new(UdpOut::new(config.max_pending_bytes));
                running.udp = Some(out.clone());
                log(&config, || {
                    format!("starting server on {local} as {}", if local.is_ipv4() { "udp4" } else { "udp6" })
                });
                tokio::spawn(udp_loop(ctx, endpoint, out, stop_rx))
            }
        };
        running.task = Some(task);
        let mut slot = self.lock_run();
        if slot.is_some() {
            drop(slot);
            let _ = running.shutdown.send(true);
            return Err(Error::AlreadyRunning);
        }
        *slot = Some(running);
        Ok(())
    }

    /// Stops serving (node-ipc `ipc.server.stop()`): closes the listener and
    /// every connection (each raises `close` and `socket.disconnected`), and
    /// returns once they are closed. Unsent events are dropped: call
    /// [`flush`](Server::flush) first to send them. Does nothing when not running.
    pub async fn stop(&self) {
        let running = self.lock_run().take();
        if let Some(mut running) = running {
            let _ = running.shutdown.send(true);
            if let Some(task) = running.task.take() {
                let _ = task.await;
            }
            log(&running.config, || "server stopped".to_owned());
        }
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.lock_run().is_some()
    }

    /// The bound address of a TCP, TLS or UDP server (with the port filled in
    /// when it was 0), while running.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.lock_run().as_ref().and_then(|r| r.local_addr)
    }

    /// The socket path of a local server, while running (Windows: the pipe name).
    pub fn path(&self) -> Option<PathBuf> {
        self.lock_run().as_ref().and_then(|r| r.path.clone())
    }

    /// Where the server listens (or will): `unix:` path or network endpoint.
    pub fn endpoint(&self) -> Endpoint {
        match &self.inner.listen {
            Listen::Local(path) => Endpoint::unix(path),
            Listen::Net { host, port, udp } => {
                let port = self.local_addr().map_or(*port, |a| a.port());
                let tls = self.inner.config.read().unwrap_or_else(PoisonError::into_inner).tls.is_some();
                match udp {
                    Some(UdpType::Udp4) => Endpoint::udp4(host.clone(), port),
                    Some(UdpType::Udp6) => Endpoint::udp6(host.clone(), port),
                    None if tls => Endpoint::tls(host.clone(), port),
                    None => Endpoint::tcp(host.clone(), port),
                }
            }
        }
    }

    /// The connected sockets (UDP: the peers heard from), oldest first
    /// (node-ipc's `server.sockets`).
    pub fn sockets(&self) -> Vec<Socket> {
        self.lock_sockets().clone()
    }

    /// Serves one connection that did not come from this server's listener:
    /// an in-memory `tokio::io::duplex` (tests, fuzzing), a socket pair, a
    /// socket accepted or inherited elsewhere. It gets exactly what an accepted
    /// connection gets (`connect`, its events to the handlers, `emit` and
    /// `broadcast`, the profile's limits and `messageTimeout`, `maxPendingBytes`,
    /// then `close` and `socket.disconnected`) until the peer closes it, it
    /// fails, or the server stops. Returns once `socket.disconnected` is raised.
    ///
    /// `peer` is what [`Socket::peer`] reports. The connection does not count
    /// toward `maxConnections` (listeners enforce that at accept), and
    /// [`Socket::is_authorized`] is `None`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// use ipc_compat::{Config, Ipc, PeerAddr};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut config = Config::default();
    /// config.silent = true;
    /// let server = Ipc::new(config).serve(Some(&dir.path().join("app.world")))?;
    /// server.on("ping", |_, socket| socket.emit("pong", 1).unwrap());
    /// server.start().await?;
    ///
    /// let (mut peer, io) = tokio::io::duplex(4096);
    /// let served = tokio::spawn({
    ///     let server = server.clone();
    ///     async move { server.serve_connection(io, PeerAddr::Local("in-memory".into())).await }
    /// });
    /// peer.write_all(b"{\"type\":\"ping\",\"data\":0}\x0c").await?;
    /// peer.shutdown().await?; // the peer is done; the server sends what is queued, then closes
    /// let mut reply = String::new();
    /// peer.read_to_string(&mut reply).await?;
    /// assert_eq!(reply, "{\"type\":\"pong\",\"data\":1}\x0c");
    /// served.await.unwrap()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] unless the server is running;
    /// [`Error::WrongTransport`] for a UDP server.
    pub async fn serve_connection<T>(&self, io: T, peer: PeerAddr) -> Result<(), Error>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (ctx, stop) = {
            let run = self.lock_run();
            let running = run.as_ref().ok_or(Error::NotRunning)?;
            if running.udp.is_some() {
                return Err(Error::WrongTransport("a UDP server serves datagrams, not stream connections"));
            }
            let codec = WireCodec::from_config(&running.config)?;
            let ctx =
                Ctx { server: self.clone(), config: running.config.clone(), out: running.out.clone(), codec };
            (ctx, running.shutdown.subscribe())
        };
        run_connection(ctx, Box::new(io), peer, None, stop).await;
        Ok(())
    }

    fn outgoing(&self) -> Result<Arc<Outgoing>, Error> {
        self.lock_run().as_ref().map(|r| r.out.clone()).ok_or(Error::NotRunning)
    }

    /// Sends `{type, data}` to one socket (node-ipc `ipc.server.emit(socket, type, data)`).
    ///
    /// # Errors
    ///
    /// As [`Socket::emit`].
    pub fn emit<T: Serialize>(&self, socket: &Socket, event_type: &str, data: T) -> Result<(), Error> {
        socket.emit(event_type, data)
    }

    /// Sends an event as it is to one socket.
    ///
    /// # Errors
    ///
    /// As [`Socket::emit_event`].
    pub fn emit_event(&self, socket: &Socket, event: &Event) -> Result<(), Error> {
        socket.emit_event(event)
    }

    /// Raw-buffer mode: sends bytes, or a string in the configured encoding, to one socket.
    ///
    /// # Errors
    ///
    /// As [`Socket::emit_raw`].
    pub fn emit_raw(&self, socket: &Socket, payload: impl Into<RawPayload>) -> Result<(), Error> {
        socket.emit_raw(payload)
    }

    /// UDP: sends `{type, data}` to an address (node-ipc `ipc.server.emit({address, port}, type, data)`).
    ///
    /// # Errors
    ///
    /// [`Error::WrongTransport`] for stream servers, [`Error::NotRunning`],
    /// and encoding errors as [`Socket::emit`].
    pub fn emit_to<T: Serialize>(&self, to: SocketAddr, event_type: &str, data: T) -> Result<(), Error> {
        let frame = self.outgoing()?.frame(event_type, &data)?;
        self.udp()?.push(frame, to)
    }

    /// UDP, raw-buffer mode: sends bytes (or a string in the configured encoding) to an address.
    ///
    /// # Errors
    ///
    /// As [`emit_to`](Server::emit_to) and [`Socket::emit_raw`].
    pub fn emit_raw_to(&self, to: SocketAddr, payload: impl Into<RawPayload>) -> Result<(), Error> {
        let frame = self.outgoing()?.raw(payload.into())?;
        self.udp()?.push(frame, to)
    }

    fn udp(&self) -> Result<Arc<UdpOut>, Error> {
        let run = self.lock_run();
        let running = run.as_ref().ok_or(Error::NotRunning)?;
        running.udp.clone().ok_or(Error::WrongTransport("emit_to needs a UDP server: use emit with a socket"))
    }

    /// Sends `{type, data}` to every socket (UDP: every peer heard from),
    /// encoding it once (node-ipc `ipc.server.broadcast(type, data)`).
    /// Returns how many sockets it was queued for; a socket that fails is
    /// reported as an `error` event and the others still get it.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`], and encoding errors as [`Socket::emit`].
    pub fn broadcast<T: Serialize>(&self, event_type: &str, data: T) -> Result<usize, Error> {
        let frame = self.outgoing()?.frame(event_type, &data)?;
        Ok(self.send_all(frame))
    }

    /// Sends an event as it is to every socket.
    ///
    /// # Errors
    ///
    /// As [`broadcast`](Server::broadcast).
    pub fn broadcast_event(&self, event: &Event) -> Result<usize, Error> {
        let frame = self.outgoing()?.event(event)?;
        Ok(self.send_all(frame))
    }

    /// Raw-buffer mode: sends bytes, or a string in the configured encoding, to every socket.
    ///
    /// # Errors
    ///
    /// As [`broadcast`](Server::broadcast) and [`Socket::emit_raw`].
    pub fn broadcast_raw(&self, payload: impl Into<RawPayload>) -> Result<usize, Error> {
        let frame = self.outgoing()?.raw(payload.into())?;
        Ok(self.send_all(frame))
    }

    fn send_all(&self, frame: Bytes) -> usize {
        let sockets = self.sockets();
        let mut sent = 0;
        for socket in &sockets {
            match socket.send(frame.clone()) {
                Ok(()) => sent += 1,
                Err(e) => {
                    let events = self.inner.events.clone();
                    let socket = socket.clone();
                    tokio::spawn(
                        async move { events.emit_lifecycle(Lifecycle::error(Some(socket), e)).await },
                    );
                }
            }
        }
        sent
    }

    /// Waits until everything emitted so far to every connected socket is written.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when a socket closed first (the others are still waited for).
    pub async fn flush(&self) -> Result<(), Error> {
        let mut result = Ok(());
        for socket in self.sockets() {
            if let Err(e) = socket.flush().await {
                result = Err(e);
            }
        }
        result
    }

    event_api!(Socket, "the socket it came from");

    /// Runs `handler` when the server has started (node-ipc `on('start')`, and `serve`'s callback).
    pub fn on_start<F>(&self, handler: F) -> ipc_events::HandlerId
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.inner.events.on_lifecycle(move |event| {
            if let Lifecycle::Start = event {
                handler();
            }
        })
    }

    /// Runs `handler` when a socket's connection closes (node-ipc `on('close', socket => ..)`),
    /// just before `socket.disconnected`.
    pub fn on_close<F>(&self, handler: F) -> ipc_events::HandlerId
    where
        F: Fn(&Socket) + Send + Sync + 'static,
    {
        self.inner.events.on_lifecycle(move |event| {
            if let Lifecycle::Close(socket) = event {
                handler(socket);
            }
        })
    }

    /// Runs `handler` once per socket when it is gone (node-ipc
    /// `on('socket.disconnected', (socket, destroyedSocketID) => ..)`), with
    /// the id it announced (node-ipc's `false` is `None`).
    pub fn on_socket_disconnected<F>(&self, handler: F) -> ipc_events::HandlerId
    where
        F: Fn(&Socket, Option<&str>) + Send + Sync + 'static,
    {
        self.inner.events.on_lifecycle(move |event| {
            if let Lifecycle::SocketDisconnected { peer, id } = event {
                handler(peer, id.as_deref());
            }
        })
    }

    fn next_serial(&self) -> u64 {
        self.inner.serial.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What every connection task of one run needs.
#[derive(Clone)]
struct Ctx {
    server: Server,
    config: Arc<Config>,
    out: Arc<Outgoing>,
    codec: WireCodec,
}

enum Acceptor {
    Local(Arc<LocalListener>),
    Tcp(TcpListener),
    Tls(TlsListener),
}

impl Acceptor {
    async fn accept(&mut self) -> Result<(Box<dyn Io>, PeerAddr, Option<bool>), ipc_transport::Error> {
        match self {
            Acceptor::Local(l) => {
                let s = l.accept().await?;
                let peer = s.peer().clone();
                Ok((Box::new(s), peer, None))
            }
            Acceptor::Tcp(l) => {
                let s = l.accept().await?;
                let peer = s.peer().clone();
                Ok((Box::new(s), peer, None))
            }
            Acceptor::Tls(l) => {
                let s = l.accept().await?;
                let peer = s.peer().clone();
                let authorized = s.is_authorized();
                Ok((Box::new(s), peer, Some(authorized)))
            }
        }
    }
}

async fn bind_local(path: &Path, config: &Config) -> Result<Arc<LocalListener>, Error> {
    let shared = {
        let mut registry = LOCAL_LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
        registry.retain(|_, weak| weak.strong_count() > 0);
        registry.get(path).and_then(Weak::upgrade)
    };
    if let (false, Some(shared)) = (config.unlink, shared) {
        return Ok(shared);
    }
    let mut options = LocalListenerOptions::default()
        .unlink(config.unlink)
        .readable_all(config.readable_all)
        .writable_all(config.writable_all)
        .max_connections(config.max_connections)
        .secure_socket_root(config.secure_socket_root);
    if !config.socket_root.is_empty() {
        options = options.socket_root(&config.socket_root);
    }
    let listener = Arc::new(LocalListener::bind_with(path, &options).await?);
    LOCAL_LISTENERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(path.to_owned(), Arc::downgrade(&listener));
    Ok(listener)
}

/// node-ipc 14's transport rules for the assured profile.
fn check_assured(config: &Config, listen: &Listen) -> Result<(), Error> {
    if config.parser != Profile::Assured {
        return Ok(());
    }
    let tls_needed = || Error::Config("the assured parser requires TLS for network servers".into());
    match listen {
        Listen::Local(_) if !config.secure_socket_root => {
            Err(Error::Config("the assured parser requires secureSocketRoot for local sockets".into()))
        }
        Listen::Local(_) if cfg!(windows) => Err(Error::Config(
            "the assured parser requires Unix socket ownership checks; use mutual TLS on Windows".into(),
        )),
        Listen::Local(path)
            if !ipc_transport::local::directly_inside(Path::new(&config.socket_root), path) =>
        {
            Err(Error::Config(
                "the assured parser requires a local endpoint directly inside socketRoot".into(),
            ))
        }
        Listen::Local(_) => Ok(()),
        Listen::Net { udp: Some(_), .. } => Err(tls_needed()),
        Listen::Net { udp: None, .. } => {
            let tls = config.tls.as_ref().ok_or_else(tls_needed)?;
            if tls.trusted_connections.is_empty()
                || tls.request_cert == Some(false)
                || tls.reject_unauthorized == Some(false)
            {
                return Err(Error::Config(
                    "assured network servers require a trusted client CA, requestCert and rejectUnauthorized"
                        .into(),
                ));
            }
            Ok(())
        }
    }
}

async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn accept_loop(ctx: Ctx, mut acceptor: Acceptor, stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let mut stopped = stop.clone();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = acceptor.accept() => match accepted {
                Ok((io, peer, authorized)) => {
                    connections.spawn(run_connection(ctx.clone(), io, peer, authorized, stop.clone()));
                }
                Err(e) => {
                    let fatal = !e.is_connection_error();
                    ctx.server.inner.events.emit_lifecycle(Lifecycle::error(None, Error::Transport(e))).await;
                    if fatal {
                        // EMFILE and the like: give the system a moment instead of spinning.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            },
            () = until_stopped(&mut stopped) => break,
        }
    }
    drop(acceptor);
    while connections.join_next().await.is_some() {}
}

/// Serves one stream connection until it closes; raises `connect`, then
/// `close` and `socket.disconnected` exactly once.
async fn run_connection(
    ctx: Ctx,
    io: Box<dyn Io>,
    peer: PeerAddr,
    authorized: Option<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let server = &ctx.server;
    let outbox = Arc::new(Outbox::new(ctx.config.max_pending_bytes, usize::MAX, true));
    let killer = Arc::new(Killer::default());
    let link = Link::Stream { outbox: outbox.clone(), killer: killer.clone() };
    let socket = Socket::new(server.next_serial(), peer, ctx.out.clone(), link, authorized);
    server.lock_sockets().push(socket.clone());
    log(&ctx.config, || format!("## socket connection to server detected ## {socket}"));
    let events = &server.inner.events;
    events.emit_lifecycle(Lifecycle::Connect(socket.clone())).await;

    let (mut sink, mut stream) = ipc_transport::framed(io, ctx.codec.clone()).split();
    let mut peer_closed = false;
    let reason: Option<ipc_events::Error> = tokio::select! {
        read = read_loop(&ctx, &socket, &mut stream) => match read {
            Ok(()) => {
                peer_closed = true;
                None
            }
            Err(e) => Some(e.into()),
        },
        written = outbox.write_to(&mut sink, None) => written.err().map(Into::into),
        killed = killer.killed() => killed.map(Into::into),
        () = until_stopped(&mut stop) => None,
    };
    outbox.abandon_in_flight();
    if peer_closed {
        // node ends its side after writing what is queued (allowHalfOpen false)
        outbox.close(false);
        let _ = tokio::time::timeout(LINGER, outbox.write_to(&mut sink, None)).await;
        outbox.abandon_in_flight();
    }
    outbox.close(true);
    drop((sink, stream));
    if let Some(error) = reason {
        log(&ctx.config, || format!("server socket error {error}"));
        events.emit_lifecycle(Lifecycle::Error { peer: Some(socket.clone()), error: Arc::new(error) }).await;
    }
    server.lock_sockets().retain(|s| s != &socket);
    let id = socket.id();
    log(&ctx.config, || format!("socket disconnected {}", id.as_deref().unwrap_or("false")));
    events.emit_lifecycle(Lifecycle::Close(socket.clone())).await;
    events.emit_lifecycle(Lifecycle::SocketDisconnected { peer: socket, id }).await;
}

/// Dispatches what arrives; `Ok` at end of stream, `Err` when the stream
/// fails (I/O, or a bad frame under the 14.x policy).
async fn read_loop<S>(ctx: &Ctx, socket: &Socket, stream: &mut S) -> Result<(), CodecError>
where
    S: futures::Stream<Item = Result<Inbound, CodecError>> + Unpin,
{
    let events = &ctx.server.inner.events;
    while let Some(item) = stream.next().await {
        match item? {
            Inbound::Event(event) => {
                if ctx.config.identify_peer {
                    socket.learn_id(&event);
                }
                log_event(&ctx.config, "received event of :", &event);
                events.dispatch(&event, socket).await;
            }
            Inbound::Chunk(bytes) => {
                events.emit_lifecycle(Lifecycle::Data { peer: socket.clone(), bytes }).await;
            }
            Inbound::Bad(e) => {
                events.emit_lifecycle(Lifecycle::error(Some(socket.clone()), e)).await;
            }
        }
    }
    Ok(())
}

pub(crate) fn log_event(config: &Config, what: &str, event: &Event) {
    log(config, || {
        if config.log_payloads {
            let data = event.raw_data().map(String::from_utf8_lossy).unwrap_or_default();
            format!("{what} {} {data}", event.event_type())
        } else {
            format!("{what} {}", event.event_type())
        }
    });
}

/// Serves a UDP socket: each new source address becomes a [`Socket`]
/// (remembered for `broadcast`, at most `maxConnections`, least recently heard
/// from forgotten first).
async fn udp_loop(
    ctx: Ctx,
    endpoint: UdpEndpoint<WireCodec>,
    out: Arc<UdpOut>,
    mut stop: watch::Receiver<bool>,
) {
    let events = ctx.server.inner.events.clone();
    let local = endpoint.local_addr().ok();
    let (mut sink, mut stream) = endpoint.split();
    if let Some(local) = local {
        // node-ipc raises `connect` once with the UDP socket itself when it is bound
        let me = Socket::new(
            0,
            PeerAddr::Udp(local),
            ctx.out.clone(),
            Link::Udp { out: out.clone(), to: local },
            None,
        );
        events.emit_lifecycle(Lifecycle::Connect(me)).await;
    }
    let report_events = events.clone();
    let report = move |e: ipc_transport::Error| {
        let events = report_events.clone();
        tokio::spawn(async move { events.emit_lifecycle(Lifecycle::error(None, Error::Transport(e))).await });
    };
    let read = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok((inbound, from)) => {
                    let socket = udp_peer(&ctx, &out, from);
                    match inbound {
                        Inbound::Event(event) => {
                            if ctx.config.identify_peer {
                                socket.learn_id(&event);
                            }
                            log_event(&ctx.config, "received event of :", &event);
                            events.dispatch(&event, &socket).await;
                        }
                        Inbound::Chunk(bytes) => {
                            events.emit_lifecycle(Lifecycle::Data { peer: socket, bytes }).await;
                        }
                        Inbound::Bad(e) => {
                            events.emit_lifecycle(Lifecycle::error(Some(socket), e)).await;
                        }
                    }
                }
                Err(e) => {
                    let peer = match &e {
                        ipc_transport::Error::Datagram { from, .. }
                        | ipc_transport::Error::PartialFrameDropped { from, .. } => {
                            Some(udp_peer(&ctx, &out, *from))
                        }
                        _ => None,
                    };
                    events.emit_lifecycle(Lifecycle::error(peer, Error::Transport(e))).await;
                }
            }
        }
    };
    tokio::select! {
        () = read => {},
        () = out.write_to(&mut sink, report) => {},
        () = until_stopped(&mut stop) => {},
    }
    out.close();
    ctx.server.lock_sockets().clear();
}

fn udp_peer(ctx: &Ctx, out: &Arc<UdpOut>, from: SocketAddr) -> Socket {
    let server = &ctx.server;
    let mut sockets = server.lock_sockets();
    if let Some(i) = sockets.iter().position(|s| s.addr() == Some(from)) {
        let socket = sockets.remove(i);
        sockets.push(socket.clone());
        return socket;
    }
    let socket = Socket::new(
        server.next_serial(),
        PeerAddr::Udp(from),
        ctx.out.clone(),
        Link::Udp { out: out.clone(), to: from },
        None,
    );
    sockets.push(socket.clone());
    let max = ctx.config.max_connections;
    if max > 0 && sockets.len() > max {
        let excess = sockets.len() - max;
        sockets.drain(..excess);
    }
    socket
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;

    #[test]
    fn assured_needs_secure_transports() {
        let mut config = Config::v14();
        config.parser = Profile::Assured;
        config.allowed_events = Some(vec!["a".into()]);
        let tcp = Listen::Net { host: "127.0.0.1".into(), port: 1, udp: None };
        assert!(check_assured(&config, &tcp).is_err());
        let udp = Listen::Net { host: "127.0.0.1".into(), port: 1, udp: Some(UdpType::Udp4) };
        assert!(check_assured(&config, &udp).is_err());
        let inside = Path::new(&config.socket_root).join("app.x");
        assert!(check_assured(&config, &Listen::Local(inside.clone())).is_ok());
        config.tls = Some(TlsConfig::default().trusted_connections(["ca.pem"]));
        assert!(check_assured(&config, &tcp).is_ok());
        config.secure_socket_root = false;
        assert!(check_assured(&config, &Listen::Local(inside)).is_err());
    }

    #[test]
    fn assured_local_endpoints_sit_directly_inside_the_socket_root() {
        let mut config = Config::v14();
        config.parser = Profile::Assured;
        config.socket_root = "/run/user/1000/node-ipc/".into();
        for (path, ok) in [
            ("/run/user/1000/node-ipc/app.world", true),
            ("/run/user/1000/node-ipc/./app.world", true),
            ("/run/user/1000/node-ipc/sub/app.world", false),
            ("/run/user/1000/node-ipc/../app.world", false),
            ("/run/user/1000/node-ipc/sub/../app.world", true),
            ("/tmp/app.world", false),
            ("/run/user/1000/node-ipc", false),
            ("/run/user/1000/node-ipc/", false),
        ] {
            assert_eq!(check_assured(&config, &Listen::Local(path.into())).is_ok(), ok, "{path}");
        }
    }
}
