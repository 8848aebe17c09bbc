//! [`Client`]: `ipc.of[id]`, made by `connect_to` / `connect_to_net`.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use ipc_codec::{CodecError, Event};
use ipc_events::{Dispatcher, Lifecycle, SyncGate};
use ipc_transport::{Endpoint, IpcStream};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::acked::{AckEnd, AckStats, Sender, Sessions, SocketAcks};
use crate::config::{BadFrame, Config, Side, StopRetrying};
use crate::core::{serve_stream, Conn, Ended, IdleTimeout, Killer, Outbox, Peer, Reader};
use crate::error::Error;
use crate::events::event_api;
use crate::log::log;
use crate::request::{request_api, Channel, Requests, Responders};
use crate::wire::{Outgoing, RawPayload, WireCodec};

/// Where a client connects, as `connect_to` / `connect_to_net` were asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Local(PathBuf),
    Net { host: String, port: u16 },
}

impl Target {
    /// The endpoint: a network client uses TLS when `tls` is set.
    fn endpoint(self, tls: bool) -> Endpoint {
        match self {
            Target::Local(path) => Endpoint::unix(path),
            Target::Net { host, port } if tls => Endpoint::tls(host, port),
            Target::Net { host, port } => Endpoint::tcp(host, port),
        }
    }
}

/// Where a [`Client`] is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientState {
    /// Connecting (the first time, or again after `retry`).
    Connecting,
    /// Connected: events go out as they are emitted.
    Connected,
    /// The connection is lost; waiting `retry` before connecting again.
    Disconnected,
    /// Gone for good (`destroy`, or `ipc.disconnect(id)`); emits fail.
    Destroyed,
}

struct Inner {
    id: String,
    endpoint: Endpoint,
    /// The instance's config, shared: `retry`, `maxRetries` and
    /// `stopRetrying` are read live, as node-ipc reads `client.config`.
    live: Arc<RwLock<Config>>,
    /// The config when the client was made (codec, TLS, sync, raw).
    config: Config,
    out: Outgoing,
    outbox: Outbox,
    events: Dispatcher<Client>,
    state: watch::Sender<ClientState>,
    retries_remaining: AtomicU32,
    explicit: AtomicBool,
    /// Turns true on `ipc.disconnect(id)` (level-triggered: never missed).
    stop: watch::Sender<bool>,
    killer: std::sync::Mutex<Arc<Killer>>,
    /// The requests this client waits replies for, across its connections.
    requests: Requests,
    /// Its request handlers.
    responders: Responders<Client>,
    /// Counts connections, so that a reply goes out only on the connection
    /// its request came on.
    connection: AtomicU64,
    /// Acknowledged delivery (`None`: off, the plain wire).
    acked: Option<Sender>,
    /// Acknowledged delivery of the server's events (with `acked`).
    acked_in: Option<SocketAcks>,
}

/// A connection to a node-ipc server (`ipc.of[id]`): made by
/// [`Ipc::connect_to`](crate::Ipc::connect_to) or
/// [`Ipc::connect_to_net`](crate::Ipc::connect_to_net), it connects, and
/// reconnects every `retry` as node-ipc's client does, until `maxRetries` or
/// `stopRetrying` say stop (`destroy`) or [`Ipc::disconnect`](crate::Ipc::disconnect)
/// ends it.
///
/// Lifecycle events fire when node-ipc fires them: `connect` on each
/// connection; `error` for each failure (a refused attempt too); `disconnect`
/// each time a connection ends or an attempt fails; `destroy` after the last
/// `disconnect` once it stops retrying. Events emitted while not connected wait
/// in a bounded queue ([`Config::max_queued_events`]) and go out in order once
/// connected.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_compat::Error> {
/// use ipc_compat::{Config, Ipc};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.world");
/// let mut config = Config::default();
/// config.silent = true;
/// let world = Ipc::new(config.clone());
/// world.serve(Some(&path))?.start().await?;
/// world.server().unwrap().on("message", |event, socket| {
///     socket.emit("message", format!("{} world!", event.data_as::<String>().unwrap())).ok();
/// });
///
/// let ipc = Ipc::new(config);
/// let client = ipc.connect_to("world", Some(&path))?;
/// let mut replies = client.subscribe("message", 8);
/// client.emit("message", "hello")?; // queued until connected
/// let (reply, _) = replies.next().await.unwrap();
/// assert_eq!(reply.data_as::<String>()?, "hello world!");
/// ipc.disconnect("world");
/// # Ok(())
/// # }
/// # use futures::StreamExt;
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.inner.id)
            .field("endpoint", &self.inner.endpoint)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Client {
    fn eq(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Client {}

impl Client {
    /// A client that has not started connecting: spawn [`Client::run`].
    pub(crate) fn new(id: String, target: Target, live: Arc<RwLock<Config>>) -> Result<Client, Error> {
        let config = live.read().unwrap_or_else(PoisonError::into_inner).clone();
        config.validate()?;
        let endpoint = target.endpoint(config.tls.is_some());
        config.check_assured(&endpoint, Side::Client)?;
        let out = Outgoing::from_config(&config)?;
        let outbox = Outbox::new(config.max_pending_bytes, config.max_queued_events, false);
        let acked = Sender::from_config(&config);
        let acked_in = acked.as_ref().map(|_| SocketAcks::new(Arc::new(Sessions::default()), None));
        let client = Client {
            inner: Arc::new(Inner {
                id,
                endpoint,
                live,
                retries_remaining: AtomicU32::new(config.retries_allowed()),
                config,
                out,
                outbox,
                events: Dispatcher::new(),
                state: watch::channel(ClientState::Connecting).0,
                explicit: AtomicBool::new(false),
                stop: watch::channel(false).0,
                killer: std::sync::Mutex::new(Arc::new(Killer::default())),
                requests: Requests::default(),
                responders: Responders::default(),
                connection: AtomicU64::new(0),
                acked,
                acked_in,
            }),
        };
        Ok(client)
    }

    /// The id given to `connect_to` (the key in `ipc.of`).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Where the client connects: `unix:` path, `tcp://`, or `tls://`.
    pub fn endpoint(&self) -> Endpoint {
        self.inner.endpoint.clone()
    }

    /// Where the client is in its life.
    pub fn state(&self) -> ClientState {
        *self.inner.state.borrow()
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.state() == ClientState::Connected
    }

    /// How many reconnections are left before `destroy` (node-ipc's
    /// `retriesRemaining`; `u32::MAX` for no limit).
    pub fn retries_remaining(&self) -> u32 {
        self.inner.retries_remaining.load(Ordering::Relaxed)
    }

    /// Waits until the client is connected (now or later): the async
    /// counterpart of `on('connect')` for the next connection.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`] when the client is destroyed first.
    pub async fn connected(&self) -> Result<(), Error> {
        let mut rx = self.inner.state.subscribe();
        let state = *rx
            .wait_for(|s| matches!(s, ClientState::Connected | ClientState::Destroyed))
            .await
            .map_err(|_| self.destroyed_error())?;
        match state {
            ClientState::Connected => Ok(()),
            _ => Err(self.destroyed_error()),
        }
    }

    /// Waits until the client is destroyed (its last event, `destroy`, has fired).
    pub async fn destroyed(&self) {
        let mut rx = self.inner.state.subscribe();
        let _ = rx.wait_for(|s| *s == ClientState::Destroyed).await;
    }

    fn destroyed_error(&self) -> Error {
        Error::Destroyed { id: self.inner.id.clone() }
    }

    /// Sends `{type, data}` to the server (node-ipc `ipc.of[id].emit(type, data)`).
    ///
    /// Never waits: the event is queued, and written as soon as the client is
    /// connected (with `sync` on, after the server's answer to the previous one).
    ///
    /// # Errors
    ///
    /// [`Error::WrongMode`] in raw-buffer mode; [`Error::Codec`] when `data`
    /// cannot be serialized or the profile rejects the event type;
    /// [`Error::QueueFull`] when not connected and the queue is full (the
    /// event is dropped and counted); [`Error::Backpressure`] when
    /// `maxPendingBytes` would be passed (the connection is closed, and under
    /// the 14.x policy not reopened); [`Error::Destroyed`].
    pub fn emit<T: Serialize>(&self, event_type: &str, data: T) -> Result<(), Error> {
        self.check_alive()?;
        if let Some(acked) = &self.inner.acked {
            let plain = || self.send_with(|dst| self.inner.out.encode(event_type, &data, dst));
            return acked.emit(&self.inner.out, &self.wire(), event_type, Some(&data), plain);
        }
        self.send_with(|dst| self.inner.out.encode(event_type, &data, dst))
    }

    /// [`emit`](Client::emit), for acknowledged delivery with
    /// [`WhenFull::Wait`](crate::WhenFull::Wait): when the replay buffer
    /// ([`Config::ack_window`]) is full, waits until acknowledgements make
    /// room instead of failing. Otherwise the same as `emit`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use ipc_compat::{Acks, Config, Ipc, WhenFull};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.world");
    /// let mut config = Config::v14();
    /// config.silent = true;
    /// config.acks = Acks::Required; // both ends: the server answers the agreement
    /// config.ack_window = 64;
    /// config.when_window_full = WhenFull::Wait;
    /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let count = seen.clone();
    /// server.on("tick", move |event, _| {
    ///     // once each and in order while this process lives (idempotent handlers survive its crash too)
    ///     assert_eq!(event.data_as::<u64>().unwrap(), count.fetch_add(1, Ordering::SeqCst));
    /// });
    /// server.start().await?;
    ///
    /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
    /// for n in 0..1_000u64 {
    ///     client.emit_async("tick", n).await?; // waits while 64 are unacknowledged
    /// }
    /// while client.ack_stats().buffered > 0 {
    ///     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    /// }
    /// assert_eq!(seen.load(Ordering::SeqCst), 1_000);
    /// assert_eq!(client.ack_stats().acknowledged, 1_000);
    /// assert!(client.ack_stats().buffered_peak <= 64);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`emit`](Client::emit).
    pub async fn emit_async<T: Serialize>(&self, event_type: &str, data: T) -> Result<(), Error> {
        self.check_alive()?;
        match &self.inner.acked {
            Some(acked) => {
                let plain = || self.send_with(|dst| self.inner.out.encode(event_type, &data, dst));
                acked.emit_async(&self.inner.out, &self.wire(), event_type, Some(&data), plain).await
            }
            None => self.send_with(|dst| self.inner.out.encode(event_type, &data, dst)),
        }
    }

    /// Acknowledged delivery's counters for this client (all zero when
    /// [`Config::acks`] is off): events numbered, resent, acknowledged, what
    /// the replay buffer holds now and at most; and of the server's events to
    /// it, delivered, duplicates dropped, acknowledgements sent.
    pub fn ack_stats(&self) -> AckStats {
        let Some(sender) = &self.inner.acked else { return AckStats::default() };
        let sent = sender.stats();
        let received = self.inner.acked_in.as_ref().map(SocketAcks::stats).unwrap_or_default();
        AckStats {
            delivered: received.delivered,
            duplicates: received.duplicates,
            out_of_order: received.out_of_order,
            before_agreement: received.before_agreement,
            refused: received.refused,
            acks_sent: received.acks_sent,
            sessions: received.sessions,
            ..sent
        }
    }

    /// Writes a frame as it is to the current connection (acknowledged delivery).
    fn wire(&self) -> impl Fn(&[u8]) -> Result<(), Error> + '_ {
        move |frame: &[u8]| {
            self.send_with(|dst| {
                dst.extend_from_slice(frame);
                Ok(())
            })
        }
    }

    /// Sends an event as it is: its data bytes unchanged, `{}` when it has none
    /// (node-ipc `emit(type)`: `client.emit_event(&Event::without_data(type))`).
    ///
    /// # Errors
    ///
    /// As [`emit`](Client::emit).
    pub fn emit_event(&self, event: &Event) -> Result<(), Error> {
        self.check_alive()?;
        if let Some(acked) = &self.inner.acked {
            let data = if event.has_data() { Some(event.data()?) } else { None };
            let plain = || self.send_with(|dst| self.inner.out.encode_event(event, dst));
            return acked.emit(&self.inner.out, &self.wire(), event.event_type(), data.as_ref(), plain);
        }
        self.send_with(|dst| self.inner.out.encode_event(event, dst))
    }

    /// Raw-buffer mode: sends bytes, or a string in the configured encoding
    /// (node-ipc `ipc.of[id].emit(buffer)`).
    ///
    /// # Errors
    ///
    /// [`Error::WrongMode`] unless `rawBuffer` is on; otherwise as [`emit`](Client::emit).
    pub fn emit_raw(&self, payload: impl Into<RawPayload>) -> Result<(), Error> {
        self.check_alive()?;
        let frame = self.inner.out.raw(payload.into())?;
        self.send_with(|dst| {
            dst.extend_from_slice(&frame);
            Ok(())
        })
    }

    fn check_alive(&self) -> Result<(), Error> {
        if self.state() == ClientState::Destroyed {
            return Err(self.destroyed_error());
        }
        Ok(())
    }

    /// Queues the frame `encode` writes straight into the outgoing queue.
    fn send_with(&self, encode: impl FnOnce(&mut bytes::BytesMut) -> Result<(), Error>) -> Result<(), Error> {
        match self.inner.outbox.push_encoded(encode) {
            Err(Error::Backpressure { pending, max }) => {
                self.killer().kill(Some(Error::Backpressure { pending, max }));
                Err(Error::Backpressure { pending, max })
            }
            Err(Error::Closed) => Err(self.destroyed_error()),
            other => other,
        }
    }

    fn killer(&self) -> Arc<Killer> {
        self.inner.killer.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until every event emitted so far is written to the server
    /// (waiting for a connection if there is none). With acknowledged
    /// delivery, written is not acknowledged: [`ack_stats`](Client::ack_stats)
    /// says what is still unacknowledged, and [`close`](Client::close) waits
    /// for the acknowledgements.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when one of them was lost: the connection broke
    /// while it was being written, or the client was destroyed first.
    pub async fn flush(&self) -> Result<(), Error> {
        self.inner.outbox.flush().await
    }

    /// Closes the client for good after delivering what is queued: the
    /// graceful counterpart of [`Ipc::disconnect`](crate::Ipc::disconnect),
    /// which drops it (node-ipc's `disconnect` is immediate; achrinza/node-ipc#53).
    ///
    /// Emits fail from this call on ([`Error::Destroyed`]). Everything
    /// emitted before it is written, waiting for a connection if there is none
    /// (and reconnecting as the client would, should the connection break);
    /// then the connection is half-closed and ends once the server closed its
    /// side too (at most 5 s later), so that nothing written is reset away; no
    /// new connection is made. Returns when the client is destroyed
    /// ([`ClientState::Destroyed`]); no lifecycle event is raised, as with
    /// `ipc.disconnect(id)`, and the handlers stay registered. A client with
    /// nothing queued and no connection ends at once.
    ///
    /// With acknowledged delivery ([`Config::acks`]), it first waits until
    /// the server has acknowledged every event (reconnecting as needed).
    ///
    /// This waits as long as delivery takes: bound it with
    /// [`close_within`](Client::close_within). Dropping the future before it
    /// completes ends the client at once, dropping what was not written yet.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use ipc_compat::{ClientState, Config, Ipc};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.world");
    /// let mut config = Config::default();
    /// config.silent = true;
    /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
    /// let seen = Arc::new(AtomicU32::new(0));
    /// let count = seen.clone();
    /// server.on("tick", move |_, _| {
    ///     count.fetch_add(1, Ordering::Relaxed);
    /// });
    /// let mut life = server.lifecycle(8);
    /// server.start().await?;
    ///
    /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
    /// client.connected().await?; // (while not connected, only max_queued_events wait)
    /// for n in 0..10_000 {
    ///     client.emit("tick", n)?;
    /// }
    /// client.close().await?; // every tick is written, then the connection ends
    /// assert_eq!(client.state(), ClientState::Destroyed);
    /// while life.recv().await.is_some_and(|event| event.name() != "socket.disconnected") {}
    /// assert_eq!(seen.load(Ordering::Relaxed), 10_000);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Undelivered`] with how many events were not written: the
    /// connection broke while they were being written, or the client was
    /// destroyed first (its retries ran out).
    pub async fn close(&self) -> Result<(), Error> {
        self.close_by(None).await
    }

    /// [`close`](Client::close), for at most `deadline`: what is not written
    /// by then is dropped, and the client ends at once.
    ///
    /// # Errors
    ///
    /// As [`close`](Client::close): [`Error::Undelivered`] counts the events
    /// dropped at the deadline too.
    pub async fn close_within(&self, deadline: Duration) -> Result<(), Error> {
        self.close_by(Some(tokio::time::Instant::now() + deadline)).await
    }

    async fn close_by(&self, deadline: Option<tokio::time::Instant>) -> Result<(), Error> {
        let inner = &self.inner;
        let mut abandon = StopOnDrop(Some(self));
        // acknowledged delivery: first until the server has acknowledged everything
        let mut unacknowledged = 0;
        if let Some(acked) = &inner.acked {
            if !until(deadline, acked.drained()).await {
                unacknowledged = acked.stats().buffered as u64;
            }
        }
        // emits fail from now on; the writer ends once the queue is written, and half-closes
        inner.outbox.close(false);
        let (start, target) = inner.outbox.progress();
        let written = until(deadline, inner.outbox.finished(target)).await;
        // no connection after this one; it ends when the server has closed its side too
        inner.explicit.store(true, Ordering::SeqCst);
        inner.stop.send_replace(true);
        if !(written && until(deadline, self.destroyed()).await) {
            self.stop_now();
            self.destroyed().await;
        }
        abandon.0 = None;
        match inner.outbox.lost_in(start, target) + unacknowledged {
            0 => Ok(()),
            events => Err(Error::Undelivered { events, connections: 1 }),
        }
    }

    /// Ends the client for good: what `ipc.disconnect(id)` does (it also removes it from `ipc.of`).
    pub(crate) fn disconnect(&self) {
        self.inner.events.clear();
        self.inner.responders.clear();
        self.stop_now();
    }

    /// Ends the client at once, dropping what is not written.
    fn stop_now(&self) {
        self.inner.explicit.store(true, Ordering::SeqCst);
        self.inner.stop.send_replace(true);
        self.killer().kill(None);
    }

    /// Asks the server a request and waits for its reply, at most `timeout`
    /// (request/response, `PROTOCOL.md`): the server's handler
    /// ([`Server::on_request`](crate::Server::on_request), or the JavaScript
    /// helper's) answers it. The reply's value is the data of the event this
    /// returns (its type is `event_type`; no data when the peer replied
    /// `undefined`).
    ///
    /// The request is sent at this call, as [`emit`](Client::emit) sends it
    /// (queued while the client is not connected), and the deadline runs
    /// from it. Dropping the future cancels the wait: the request leaves
    /// [`pending_requests`](Client::pending_requests), and its reply, if one
    /// comes, is dropped without a word. Any number of requests may be in
    /// flight at once; replies are matched by id. When the connection ends,
    /// every request waiting fails.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// use std::time::Duration;
    /// use ipc_compat::{Config, Error, Ipc};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.world");
    /// let mut config = Config::default();
    /// config.silent = true;
    /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
    /// server.on_request("sum", |request, _socket| async move {
    ///     let numbers: Vec<i64> = request.data_as()?;
    ///     Ok::<_, Error>(numbers.iter().sum::<i64>())
    /// });
    /// server.on_request("slow", |_, _| async {
    ///     tokio::time::sleep(Duration::from_secs(60)).await;
    ///     Ok::<_, Error>(())
    /// });
    /// server.start().await?;
    ///
    /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
    /// let (a, b) = tokio::join!(
    ///     client.request("sum", [1, 2, 3], Duration::from_secs(5)),
    ///     client.request("sum", [10, 20], Duration::from_secs(5)),
    /// );
    /// assert_eq!((a?.data_as::<i64>()?, b?.data_as::<i64>()?), (6, 30));
    ///
    /// let late = client.request("slow", (), Duration::from_millis(50)).await;
    /// assert!(matches!(late, Err(Error::Timeout { .. })));
    /// let unknown = client.request("nope", (), Duration::from_secs(5)).await;
    /// assert!(matches!(unknown, Err(Error::Remote { .. })));
    /// assert_eq!(client.pending_requests(), 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when no reply came in time; [`Error::Remote`] when
    /// the server's handler failed (or it has none for `event_type`), with
    /// its message; [`Error::Disconnected`] when the connection ended first;
    /// and at once, as [`emit`](Client::emit) (the profile's rules apply to
    /// `event_type` as well as to `ipc.request`).
    pub fn request<'a, T: Serialize>(
        &'a self,
        event_type: &'a str,
        data: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<Event, Error>> + Send + 'a {
        crate::request::ask(self, event_type, &data, timeout)
    }

    /// [`request`](Client::request), with the reply's value deserialized into `R`.
    ///
    /// # Errors
    ///
    /// As [`request`](Client::request), and [`Error::Codec`] when the reply does not fit `R`.
    pub fn request_typed<'a, T: Serialize, R: DeserializeOwned>(
        &'a self,
        event_type: &'a str,
        data: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'a {
        crate::request::ask_typed(self, event_type, &data, timeout)
    }

    /// How many requests wait for their reply (a request leaves when its
    /// reply comes, its deadline passes, its future is dropped, or the
    /// connection ends).
    pub fn pending_requests(&self) -> usize {
        self.inner.requests.len()
    }

    event_api!(Client, "this client");

    request_api!(Client, "this client");

    /// Runs `handler` each time the connection ends or an attempt fails (node-ipc `on('disconnect')`).
    pub fn on_disconnect<F>(&self, handler: F) -> ipc_events::HandlerId
    where
        F: Fn(&Client) + Send + Sync + 'static,
    {
        self.inner.events.on_lifecycle(move |event| {
            if let Lifecycle::Disconnect(client) = event {
                handler(client);
            }
        })
    }

    /// Runs `handler` when the client gives up for good (node-ipc `on('destroy')`).
    pub fn on_destroy<F>(&self, handler: F) -> ipc_events::HandlerId
    where
        F: Fn(&Client) + Send + Sync + 'static,
    {
        self.inner.events.on_lifecycle(move |event| {
            if let Lifecycle::Destroy(client) = event {
                handler(client);
            }
        })
    }

    async fn raise(&self, event: Lifecycle<Client>) {
        self.inner.events.emit_lifecycle(event).await;
    }

    async fn error(&self, error: impl Into<ipc_events::Error>) {
        let error = error.into();
        log(&self.inner.config, || format!("client socket error {error}"));
        self.raise(Lifecycle::Error { peer: Some(self.clone()), error: Arc::new(error) }).await;
    }

    fn set_state(&self, state: ClientState) {
        self.inner.state.send_replace(state);
    }

    fn is_explicit(&self) -> bool {
        self.inner.explicit.load(Ordering::SeqCst)
    }

    async fn until_stopped(&self) {
        let mut rx = self.inner.stop.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// The client's life: connect, serve the connection, decide whether to
    /// retry, as node-ipc's `connect` / `close` handlers do.
    pub(crate) async fn run(self) {
        let inner = &self.inner;
        loop {
            if self.is_explicit() {
                break;
            }
            self.set_state(ClientState::Connecting);
            log(&inner.config, || format!("requested connection to {} {}", inner.id, self.endpoint()));
            let options = inner.config.connect_options();
            let attempt = tokio::select! {
                attempt = IpcStream::connect(&inner.endpoint, &options) => Some(attempt),
                () = self.until_stopped() => None,
            };
            let mut give_up = false;
            match attempt {
                None => break,
                Some(Ok(io)) => {
                    let allowed = inner.live.read().unwrap_or_else(PoisonError::into_inner).retries_allowed();
                    inner.retries_remaining.store(allowed, Ordering::Relaxed);
                    let killer = Arc::new(Killer::default());
                    *inner.killer.lock().unwrap_or_else(PoisonError::into_inner) = killer.clone();
                    // disconnect() sets the flag, then kills the killer it finds:
                    // either it found this one, or we see the flag now
                    if self.is_explicit() {
                        break;
                    }
                    inner.outbox.set_online(true);
                    inner.connection.fetch_add(1, Ordering::SeqCst);
                    if let Some(acked) = &inner.acked {
                        let connection = inner.connection.load(Ordering::SeqCst);
                        acked.connected(&inner.out, &self.wire(), connection);
                        self.expire_agreement(connection, acked.timeout());
                    }
                    self.set_state(ClientState::Connected);
                    log(&inner.config, || format!("connected to {}; retrying reset", inner.id));
                    let span = crate::trace::client_connection(io.peer());
                    span.in_scope(crate::trace::connected);
                    self.raise(Lifecycle::Connect(self.clone())).await;
                    self.report_dropped().await;
                    let outcome = self.serve(io, &killer).instrument(span).await;
                    if let Some(acked_in) = &inner.acked_in {
                        acked_in.stop();
                    }
                    if let Some(acked) = &inner.acked {
                        acked.disconnected();
                        give_up |= acked.refused();
                    }
                    inner.outbox.abandon_in_flight();
                    inner.outbox.set_online(false);
                    inner.requests.fail_all();
                    match outcome {
                        Outcome::Closed => {}
                        Outcome::Stopped => break,
                        Outcome::Failed { error, violation } => {
                            give_up |= violation;
                            self.error(error).await;
                        }
                    }
                }
                Some(Err(e)) => {
                    crate::trace::connect_failed(&e);
                    give_up = matches!(e, ipc_transport::Error::TlsConfig { .. });
                    self.error(Error::Transport(e)).await;
                }
            }
            // a graceful close that has written everything: done, whether or
            // not `close` has seen it yet (no reconnection, no events)
            if self.is_explicit() || inner.outbox.is_closed_and_drained() {
                break;
            }
            log(&inner.config, || {
                format!("connection closed {} {} tries remaining", inner.id, self.retries_remaining())
            });
            let (stop_now, retry) = {
                let live = inner.live.read().unwrap_or_else(PoisonError::into_inner);
                (live.stop_retrying == StopRetrying::Now, live.retry)
            };
            if give_up || stop_now || self.retries_remaining() < 1 {
                crate::trace::gave_up(if give_up {
                    "the connection broke the profile's rules, or the TLS configuration is unusable"
                } else if stop_now {
                    "stopRetrying"
                } else {
                    "maxRetries reached"
                });
                self.destroy().await;
                return;
            }
            crate::trace::retrying(retry, self.retries_remaining());
            self.set_state(ClientState::Disconnected);
            self.raise(Lifecycle::Disconnect(self.clone())).await;
            let waited = tokio::select! {
                () = tokio::time::sleep(retry) => true,
                () = self.until_stopped() => false,
            };
            if !waited || self.is_explicit() {
                break;
            }
            if inner.live.read().unwrap_or_else(PoisonError::into_inner).stop_retrying == StopRetrying::Now {
                self.finish_destroy().await;
                return;
            }
            let _ = inner.retries_remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                Some(if r == u32::MAX { r } else { r.saturating_sub(1) })
            });
        }
        // ipc.disconnect(id): node-ipc removed the handlers first, so nothing more is raised
        inner.outbox.close(true);
        inner.requests.fail_all();
        self.set_state(ClientState::Destroyed);
    }

    /// After `after`, if connection `connection` still has no answer to its
    /// hello: the plain wire with a warning, or (acks required) the end.
    fn expire_agreement(&self, connection: u64, after: Duration) {
        let client = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let Some(acked) = &client.inner.acked else { return };
            match acked.agreement_expired(&client.inner.out, &client.wire(), connection) {
                Ok(false) => {}
                Ok(true) => {
                    log(&client.inner.config, || {
                        format!(
                            "{} did not agree to acknowledged delivery within {after:?}: plain wire, events may be lost",
                            client.inner.id
                        )
                    });
                    crate::trace::acks_fallback(&client.inner.id, after);
                }
                Err(error) => {
                    log(&client.inner.config, || format!("{} refused: {error}", client.inner.id));
                    crate::trace::acks_refused(&client.inner.id, after);
                    client.killer().kill(Some(error));
                }
            }
        });
    }

    /// `disconnect`, then `destroy`.
    async fn destroy(&self) {
        log(&self.inner.config, || {
            format!("{} exceeded connection retry amount or stopRetrying flag set", self.inner.id)
        });
        self.set_state(ClientState::Disconnected);
        self.raise(Lifecycle::Disconnect(self.clone())).await;
        self.finish_destroy().await;
    }

    async fn finish_destroy(&self) {
        self.inner.outbox.close(true);
        self.inner.requests.fail_all();
        self.report_dropped().await;
        self.set_state(ClientState::Destroyed);
        self.raise(Lifecycle::Destroy(self.clone())).await;
    }

    async fn report_dropped(&self) {
        let dropped = self.inner.outbox.take_dropped();
        if dropped > 0 {
            let capacity = self.inner.outbox.max_offline();
            crate::trace::events_dropped(dropped, capacity);
            self.error(Error::EventsDropped { dropped, capacity }).await;
        }
    }

    /// Serves one connection until it ends.
    async fn serve(&self, io: IpcStream, killer: &Killer) -> Outcome {
        let inner = &self.inner;
        let codec = match WireCodec::from_config(&inner.config) {
            Ok(codec) => codec,
            Err(e) => return Outcome::Failed { error: e.into(), violation: true },
        };
        let gate = inner.config.sync.then(SyncGate::new);
        let reader = Reader {
            events: &inner.events,
            responders: &inner.responders,
            config: &inner.config,
            received: "detected event",
            identify: false,
            bad_frame_log: Some("client socket error"),
        };
        let close_on_bad_frame = inner.config.on_bad_frame == BadFrame::Close;
        let conn = Conn {
            codec: &codec,
            outbox: &inner.outbox,
            killer,
            reader: &reader,
            peer: self,
            gate: gate.as_ref(),
            linger: None,
        };
        // wrapped only when on: without it a connection runs exactly as before
        let ended = match inner.config.idle_timeout {
            None => serve_stream(io, conn).await,
            Some(after) => serve_stream(IdleTimeout::new(io, after), conn).await,
        };
        crate::trace::disconnected(Some(&ended), || None);
        match ended {
            Ended::PeerClosed | Ended::Drained => Outcome::Closed,
            Ended::ReadFailed(e) => {
                // a frame the 14.x policy refuses, or an unfinished frame past
                // messageTimeout, is a protocol violation: node-ipc 14 does not reconnect
                let violation = close_on_bad_frame
                    && (e.is_frame_error()
                        || matches!(&e, CodecError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut));
                Outcome::Failed { error: e.into(), violation }
            }
            Ended::WriteFailed(e) => Outcome::Failed { error: CodecError::Io(e).into(), violation: false },
            // a silent server, or a dead link: try again, as after any failure
            Ended::IdleTimeout(after) => {
                Outcome::Failed { error: Error::IdleTimeout { after }.into(), violation: false }
            }
            Ended::Killed(None) => Outcome::Stopped,
            // `Closed`: an acked server out of step (`Peer::cut`): reconnect and agree again
            Ended::Killed(Some(e)) => {
                let violation = close_on_bad_frame && !matches!(e, Error::Closed);
                Outcome::Failed { error: e.into(), violation }
            }
        }
    }
}

impl Peer for Client {
    fn acks(&self) -> Option<AckEnd<'_>> {
        let (sender, receiver) = self.inner.acked.as_ref().zip(self.inner.acked_in.as_ref())?;
        Some(AckEnd::Client { sender, receiver })
    }

    fn cut(&self) {
        // not `None` (that is a disconnect on purpose, with no reconnection)
        self.killer().kill(Some(Error::Closed));
    }

    fn push_frame(&self, frame: &[u8]) -> Result<(), Error> {
        self.wire()(frame)
    }
}

impl Channel for Client {
    fn requests(&self) -> &Requests {
        &self.inner.requests
    }

    fn requests_if_any(&self) -> Option<&Requests> {
        Some(&self.inner.requests)
    }

    fn send<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error> {
        self.check_alive()?;
        self.send_with(|dst| self.inner.out.encode(event_type, data, dst))
    }

    fn check_type(&self, event_type: &str) -> Result<(), Error> {
        self.inner.out.check_event_type(event_type)
    }

    fn connection(&self) -> u64 {
        self.inner.connection.load(Ordering::SeqCst)
    }
}

/// Ends a client at once when a graceful close is dropped before it is done.
struct StopOnDrop<'a>(Option<&'a Client>);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.0 {
            client.stop_now();
        }
    }
}

/// Runs `future` until `deadline` (`None`: to the end); whether it completed.
async fn until(deadline: Option<tokio::time::Instant>, future: impl Future) -> bool {
    match deadline {
        None => {
            future.await;
            true
        }
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.is_ok(),
    }
}

enum Outcome {
    /// The server closed the connection.
    Closed,
    /// `ipc.disconnect(id)`.
    Stopped,
    /// An I/O error, or a protocol violation (no reconnecting then).
    Failed { error: ipc_events::Error, violation: bool },
}
