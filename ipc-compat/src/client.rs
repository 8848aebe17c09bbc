//! [`Client`]: `ipc.of[id]`, made by `connect_to` / `connect_to_net`.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use ipc_codec::{CodecError, Event};
use ipc_events::{Dispatcher, Lifecycle, SyncGate};
use ipc_transport::{Endpoint, IpcStream};
use serde::Serialize;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::config::{BadFrame, Config, Side, StopRetrying};
use crate::core::{serve_stream, Ended, IdleTimeout, Killer, Outbox, Peer, Reader};
use crate::error::Error;
use crate::events::event_api;
use crate::log::log;
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
        self.send_with(|dst| self.inner.out.encode(event_type, &data, dst))
    }

    /// Sends an event as it is: its data bytes unchanged, `{}` when it has none
    /// (node-ipc `emit(type)`: `client.emit_event(&Event::without_data(type))`).
    ///
    /// # Errors
    ///
    /// As [`emit`](Client::emit).
    pub fn emit_event(&self, event: &Event) -> Result<(), Error> {
        self.check_alive()?;
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
    /// (waiting for a connection if there is none).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when one of them was lost: the connection broke
    /// while it was being written, or the client was destroyed first.
    pub async fn flush(&self) -> Result<(), Error> {
        self.inner.outbox.flush().await
    }

    /// Ends the client for good: what `ipc.disconnect(id)` does (it also removes it from `ipc.of`).
    pub(crate) fn disconnect(&self) {
        self.inner.explicit.store(true, Ordering::SeqCst);
        self.inner.events.clear();
        self.inner.stop.send_replace(true);
        self.killer().kill(None);
    }

    event_api!(Client, "this client");

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
                    self.set_state(ClientState::Connected);
                    log(&inner.config, || format!("connected to {}; retrying reset", inner.id));
                    let span = crate::trace::client_connection(io.peer());
                    span.in_scope(crate::trace::connected);
                    self.raise(Lifecycle::Connect(self.clone())).await;
                    self.report_dropped().await;
                    let outcome = self.serve(io, &killer).instrument(span).await;
                    inner.outbox.abandon_in_flight();
                    inner.outbox.set_online(false);
                    match outcome {
                        Outcome::Closed => {}
                        Outcome::Stopped => break,
                        Outcome::Failed { error, violation } => {
                            give_up = violation;
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
            if self.is_explicit() {
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
        self.set_state(ClientState::Destroyed);
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
            config: &inner.config,
            received: "detected event",
            identify: false,
            bad_frame_log: Some("client socket error"),
        };
        let close_on_bad_frame = inner.config.on_bad_frame == BadFrame::Close;
        let (outbox, gate) = (&inner.outbox, gate.as_ref());
        // wrapped only when on: without it a connection runs exactly as before
        let ended = match inner.config.idle_timeout {
            None => serve_stream(io, &codec, outbox, killer, &reader, self, gate, None).await,
            Some(after) => {
                let io = IdleTimeout::new(io, after);
                serve_stream(io, &codec, outbox, killer, &reader, self, gate, None).await
            }
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
            Ended::Killed(Some(e)) => Outcome::Failed { error: e.into(), violation: close_on_bad_frame },
        }
    }
}

impl Peer for Client {}

enum Outcome {
    /// The server closed the connection.
    Closed,
    /// `ipc.disconnect(id)`.
    Stopped,
    /// An I/O error, or a protocol violation (no reconnecting then).
    Failed { error: ipc_events::Error, violation: bool },
}
