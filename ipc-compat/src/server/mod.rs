//! [`Server`]: `ipc.server`, made by `serve` / `serve_net`. The API is here;
//! binding is in [`listen`], serving stream connections in [`streams`], UDP
//! peers in [`datagrams`].

mod datagrams;
mod listen;
mod stop;
mod streams;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;
use ipc_codec::Event;
use ipc_events::{Dispatcher, Lifecycle};
use ipc_transport::{Endpoint, PeerAddr};
use serde::Serialize;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::config::{Config, Side};
use crate::core::{DatagramQueue, Outbox};
use crate::error::Error;
use crate::events::event_api;
use crate::log::log;
use crate::request::{request_api, Responders};
use crate::socket::Socket;
use crate::wire::{Outgoing, RawPayload, WireCodec};
use listen::Bound;
pub(crate) use listen::Listen;
pub use listen::UdpType;

/// The datagrams a UDP server has queued, each with its destination.
type DatagramOutbox = Outbox<DatagramQueue>;

pub(crate) struct Inner {
    config: Arc<RwLock<Config>>,
    listen: Listen,
    events: Dispatcher<Socket>,
    run: Mutex<Option<Running>>,
    sockets: Mutex<Vec<Socket>>,
    serial: AtomicU64,
    /// The request handlers.
    responders: Responders<Socket>,
    /// Set by a graceful stop: a connection accepted from then on is ended
    /// gracefully at once (read with `sockets` locked, see `streams.rs`).
    draining: AtomicBool,
    /// Acknowledged delivery: the sender sessions heard from, across connections and runs.
    sessions: Arc<crate::acked::Sessions>,
}

/// One run of a server, between `start` and `stop`.
struct Running {
    config: Arc<Config>,
    out: Arc<Outgoing>,
    shutdown: watch::Sender<bool>,
    /// Turns true when a graceful stop begins: no more connections are accepted.
    drain: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
    path: Option<PathBuf>,
    udp: Option<Arc<DatagramOutbox>>,
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
                responders: Responders::default(),
                draining: AtomicBool::new(false),
                sessions: Arc::default(),
            }),
        }
    }

    fn lock_run(&self) -> MutexGuard<'_, Option<Running>> {
        self.inner.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_sockets(&self) -> MutexGuard<'_, Vec<Socket>> {
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
                // the kind travels too: a name in use is AddrInUse, node's EADDRINUSE
                let shown = std::io::Error::new(e.kind(), e.to_string());
                self.inner.events.emit_lifecycle(Lifecycle::error(None, shown)).await;
                Err(e)
            }
        }
    }

    async fn bind_and_spawn(&self, config: Arc<Config>) -> Result<(), Error> {
        config.validate()?;
        self.inner.draining.store(false, Ordering::SeqCst);
        let endpoint = self.inner.listen.endpoint(config.tls.is_some());
        config.check_assured(&endpoint, Side::Server)?;
        let out = Arc::new(Outgoing::from_config(&config)?);
        let codec = WireCodec::from_config(&config)?;
        let (shutdown, stop_rx) = watch::channel(false);
        let (drain, drain_rx) = watch::channel(false);
        let mut running = Running {
            config: config.clone(),
            out,
            shutdown,
            drain,
            task: None,
            local_addr: None,
            path: None,
            udp: None,
        };
        let ctx = Ctx { server: self.clone(), config: config.clone(), out: running.out.clone(), codec };
        let task = match listen::bind(&endpoint, &config, &ctx.codec).await? {
            Bound::Streams(listener) => {
                running.local_addr = listener.local_addr();
                running.path = listener.path().map(PathBuf::from);
                match (&running.path, running.local_addr) {
                    (Some(path), _) => log(&config, || {
                        format!("starting server on {} as Unix || Windows Socket", path.display())
                    }),
                    (None, addr) => log(&config, || {
                        let host = endpoint.host().unwrap_or_default();
                        let port = addr.map_or(endpoint.port().unwrap_or_default(), |a| a.port());
                        let kind = if listener.is_tls() { "TLS" } else { "TCP" };
                        format!("starting server on {host}:{port} as {kind}")
                    }),
                }
                let span = self.run_span(&endpoint, running.local_addr);
                tokio::spawn(streams::accept_loop(ctx, listener, stop_rx, drain_rx).instrument(span))
            }
            Bound::Datagrams(socket) => {
                let local = socket.local_addr()?;
                running.local_addr = Some(local);
                let out = Arc::new(DatagramOutbox::new(config.max_pending_bytes, usize::MAX, true));
                running.udp = Some(out.clone());
                log(&config, || {
                    format!("starting server on {local} as {}", if local.is_ipv4() { "udp4" } else { "udp6" })
                });
                let span = self.run_span(&endpoint, running.local_addr);
                tokio::spawn(datagrams::udp_loop(ctx, *socket, out, stop_rx).instrument(span))
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

    /// The span of this run, and its `listening` event, with the bound port.
    fn run_span(&self, endpoint: &Endpoint, local_addr: Option<SocketAddr>) -> tracing::Span {
        let bound = with_port(endpoint.clone(), local_addr);
        let span = crate::trace::server(&bound);
        span.in_scope(|| crate::trace::listening(&bound));
        span
    }

    /// Stops serving (node-ipc `ipc.server.stop()`): closes the listener and
    /// every connection (each raises `close` and `socket.disconnected`), and
    /// returns once they are closed. Unsent events are dropped: to deliver
    /// them first, stop with [`stop_within`](Server::stop_within). Does
    /// nothing when not running.
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

    /// Acknowledged delivery's counters for this server (all zero when
    /// [`Config::acks`](crate::Config::acks) is off): events handed to the
    /// handlers, duplicates dropped, acknowledgements sent, sessions remembered;
    /// and of what it emitted to acked clients, summed over their sessions:
    /// numbered, resent, acknowledged, buffered, expired.
    pub fn ack_stats(&self) -> crate::AckStats {
        self.inner.sessions.stats()
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

    /// Where the server listens (or will): `unix:` path or network endpoint
    /// (with the bound port while running).
    pub fn endpoint(&self) -> Endpoint {
        let tls = self.inner.config.read().unwrap_or_else(PoisonError::into_inner).tls.is_some();
        with_port(self.inner.listen.endpoint(tls), self.local_addr())
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
        let ctx = Arc::new(ctx);
        match ctx.config.idle_timeout {
            None => streams::run_connection(ctx, io, peer, streams::Who::default(), stop).await,
            Some(after) => {
                let io = crate::core::IdleTimeout::new(io, after);
                streams::run_connection(ctx, io, peer, streams::Who::default(), stop).await;
            }
        }
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

    fn udp(&self) -> Result<Arc<DatagramOutbox>, Error> {
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
        Ok(self.send_all(frame, |socket| socket.emit_acked(event_type, Some(&data))))
    }

    /// Sends an event as it is to every socket.
    ///
    /// # Errors
    ///
    /// As [`broadcast`](Server::broadcast).
    pub fn broadcast_event(&self, event: &Event) -> Result<usize, Error> {
        let frame = self.outgoing()?.event(event)?;
        Ok(self.send_all(frame, |socket| socket.emit_event_acked(event)))
    }

    /// Raw-buffer mode: sends bytes, or a string in the configured encoding, to every socket.
    ///
    /// # Errors
    ///
    /// As [`broadcast`](Server::broadcast) and [`Socket::emit_raw`].
    pub fn broadcast_raw(&self, payload: impl Into<RawPayload>) -> Result<usize, Error> {
        let frame = self.outgoing()?.raw(payload.into())?;
        Ok(self.send_all(frame, |_| None))
    }

    /// Queues `frame` for every socket, or what `acked` does for a socket
    /// whose client takes acknowledged events (one `Option` test per socket otherwise).
    fn send_all(&self, frame: Bytes, acked: impl Fn(&Socket) -> Option<Result<(), Error>>) -> usize {
        let sockets = self.sockets();
        let mut sent = 0;
        for socket in &sockets {
            match acked(socket).unwrap_or_else(|| socket.send(&frame)) {
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

    request_api!(Socket, "the socket it came from (ask it with [`Socket::request`])");

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

/// `endpoint` with the port of the bound address, when there is one.
fn with_port(endpoint: Endpoint, local_addr: Option<SocketAddr>) -> Endpoint {
    match (endpoint, local_addr) {
        (Endpoint::Tcp { host, .. }, Some(a)) => Endpoint::tcp(host, a.port()),
        (Endpoint::Tls { host, .. }, Some(a)) => Endpoint::tls(host, a.port()),
        (Endpoint::Udp4 { host, .. }, Some(a)) => Endpoint::udp4(host, a.port()),
        (Endpoint::Udp6 { host, .. }, Some(a)) => Endpoint::udp6(host, a.port()),
        (endpoint, _) => endpoint,
    }
}

async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
