//! [`Socket`]: one client of a server (`socket` in node-ipc's server handlers).

use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ipc_codec::Event;
use ipc_transport::{PeerAddr, PeerCredentials};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::acked::{AckEnd, SocketAcks};
use crate::core::{DatagramQueue, Killer, Outbox, Peer};
use crate::error::Error;
use crate::request::{Channel, Requests};
use crate::wire::{Outgoing, RawPayload};

#[derive(Debug)]
pub(crate) enum Link {
    /// A stream connection.
    Stream { outbox: Arc<Outbox>, killer: Arc<Killer> },
    /// A UDP peer: datagrams go to its address.
    Udp { out: Arc<Outbox<DatagramQueue>>, to: SocketAddr },
}

#[derive(Debug)]
struct Inner {
    serial: u64,
    peer: PeerAddr,
    id: Mutex<Option<String>>,
    out: Arc<Outgoing>,
    link: Link,
    authorized: Option<bool>,
    credentials: Option<PeerCredentials>,
    /// Made when the connection first asks or answers a request (most never do).
    requests: OnceLock<Box<Requests>>,
    /// Acknowledged delivery on this connection (`None`: off).
    acks: Option<Box<SocketAcks>>,
}

/// A client of a [`Server`](crate::Server) (node-ipc's `socket` argument):
/// what handlers receive, and where [`Server::emit`](crate::Server::emit) sends.
///
/// Cheap to clone; clones are the same socket (equal, same hash). For UDP
/// servers a socket is a peer address the server heard from (node-ipc's
/// `{address, port}`).
///
/// Emitting never waits: the event is queued for the connection's writer,
/// which batches writes. [`flush`](Socket::flush) waits until it is written.
#[derive(Clone)]
pub struct Socket {
    inner: Arc<Inner>,
}

impl Socket {
    pub(crate) fn new(
        serial: u64,
        peer: PeerAddr,
        out: Arc<Outgoing>,
        link: Link,
        authorized: Option<bool>,
    ) -> Socket {
        let (credentials, requests) = (None, OnceLock::new());
        let inner = Inner {
            serial,
            peer,
            id: Mutex::new(None),
            out,
            link,
            authorized,
            credentials,
            requests,
            acks: None,
        };
        Socket { inner: Arc::new(inner) }
    }

    /// This socket with the peer credentials its listener reported (before it is shared).
    pub(crate) fn with_credentials(mut self, credentials: Option<PeerCredentials>) -> Socket {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.credentials = credentials;
        }
        self
    }

    /// This socket with acknowledged delivery on (before it is shared).
    pub(crate) fn with_acks(mut self, acks: Option<SocketAcks>) -> Socket {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.acks = acks.map(Box::new);
        }
        self
    }

    /// The id the peer announced in `data.id` (node-ipc's `socket.id`), when
    /// the server learns ids ([`Config::identify_peer`](crate::Config::identify_peer)).
    pub fn id(&self) -> Option<String> {
        self.inner.id.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Where the peer is: for local sockets the socket path, for TCP, TLS and
    /// UDP its address (node-ipc's `socket.remoteAddress`/`rinfo`).
    pub fn peer(&self) -> &PeerAddr {
        &self.inner.peer
    }

    /// The peer's network address (UDP: where replies go; node-ipc's `{address, port}`).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.inner.peer.socket_addr()
    }

    /// A number that tells this server's sockets apart (in connection order).
    pub fn serial(&self) -> u64 {
        self.inner.serial
    }

    /// Whether a TLS client presented a certificate that verified (node's
    /// `socket.authorized`); `None` for other transports.
    pub fn is_authorized(&self) -> Option<bool> {
        self.inner.authorized
    }

    /// Who the peer is, for a local (Unix socket) connection: the uid, gid
    /// and pid of the client process, as the operating system reported them
    /// when the server accepted it. `None` for TCP, TLS and UDP peers, on
    /// Windows (named pipes report none here), and for connections given to
    /// [`Server::serve_connection`](crate::Server::serve_connection).
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
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// server.on_connect(move |socket| tx.send(socket.peer_credentials()).unwrap());
    /// server.start().await?;
    /// let client = ipc.connect_to("world", Some(&dir.path().join("app.world")))?;
    /// let who = rx.recv().await.unwrap();
    /// # #[cfg(unix)]
    /// assert_eq!(who.and_then(|c| c.pid()), Some(std::process::id())); // the client is this process
    /// # #[cfg(windows)]
    /// # assert_eq!(who, None);
    /// # ipc.disconnect("world");
    /// # let _ = client;
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_credentials(&self) -> Option<PeerCredentials> {
        self.inner.credentials
    }

    /// Whether this is a UDP peer.
    pub fn is_udp(&self) -> bool {
        matches!(self.inner.link, Link::Udp { .. })
    }

    /// Whether the connection is closed (always false for UDP peers).
    pub fn is_closed(&self) -> bool {
        match &self.inner.link {
            Link::Stream { outbox, .. } => outbox.is_closed(),
            Link::Udp { .. } => false,
        }
    }

    /// Sends `{type, data}` to this socket (node-ipc `ipc.server.emit(socket, type, data)`).
    ///
    /// With acknowledged delivery ([`Config::acks`](crate::Config::acks) on
    /// the server, and a client that asked for it), the event is numbered and
    /// kept for the client's session until acknowledged; after this
    /// connection ended it waits for the session's next one (`PROTOCOL.md`).
    ///
    /// # Errors
    ///
    /// [`Error::WrongMode`] in raw-buffer mode, [`Error::Codec`] when `data`
    /// cannot be serialized or the profile rejects the event,
    /// [`Error::Closed`] after the connection closed, [`Error::Backpressure`]
    /// when `maxPendingBytes` would be passed (the connection is then closed);
    /// acknowledged: [`Error::AckWindowFull`] when the session's replay buffer is full.
    pub fn emit<T: Serialize>(&self, event_type: &str, data: T) -> Result<(), Error> {
        if let Some(acked) = self.emit_acked(event_type, Some(&data)) {
            return acked;
        }
        self.send_with(|dst| self.inner.out.encode(event_type, &data, dst))
    }

    /// [`emit`](Socket::emit), waiting for room when this client session's
    /// replay buffer is full and [`Config::when_window_full`](crate::Config::when_window_full)
    /// is [`WhenFull::Wait`](crate::WhenFull::Wait): room comes with the
    /// client's acknowledgements. Without acknowledged delivery on this
    /// socket, or with `WhenFull::Error`, it is `emit`.
    ///
    /// # Errors
    ///
    /// As [`emit`](Socket::emit).
    pub async fn emit_async<T: Serialize>(&self, event_type: &str, data: T) -> Result<(), Error> {
        match self.inner.acks.as_ref().and_then(|acks| acks.outbound()) {
            Some(outbound) => {
                let nowhere = |_: &[u8]| Err(Error::Closed);
                outbound.emit_async(&self.inner.out, &nowhere, event_type, Some(&data), || Ok(())).await
            }
            None => self.emit(event_type, data),
        }
    }

    /// [`emit_acked`](Socket::emit_acked) for an event as it is.
    pub(crate) fn emit_event_acked(&self, event: &Event) -> Option<Result<(), Error>> {
        self.inner.acks.as_ref()?;
        let data = match event.has_data().then(|| event.data()).transpose() {
            Ok(data) => data,
            Err(e) => return Some(Err(e.into())),
        };
        self.emit_acked(event.event_type(), data.as_ref())
    }

    /// Acknowledged delivery to this socket's client session, when it agreed
    /// to take the server's events that way (`None`: the plain wire). The
    /// one test a socket without acks pays per emit.
    pub(crate) fn emit_acked<T: Serialize + ?Sized>(
        &self,
        event_type: &str,
        data: Option<&T>,
    ) -> Option<Result<(), Error>> {
        self.inner.acks.as_ref()?.emit(&self.inner.out, event_type, data)
    }

    /// Sends an event as it is: its data bytes unchanged, or `{}` when it has none.
    ///
    /// # Errors
    ///
    /// As [`emit`](Socket::emit).
    pub fn emit_event(&self, event: &Event) -> Result<(), Error> {
        if let Some(acked) = self.emit_event_acked(event) {
            return acked;
        }
        self.send_with(|dst| self.inner.out.encode_event(event, dst))
    }

    /// Raw-buffer mode: sends bytes, or a string in the configured encoding
    /// (node-ipc `ipc.server.emit(socket, buffer)`).
    ///
    /// # Errors
    ///
    /// [`Error::WrongMode`] unless `rawBuffer` is on; otherwise as [`emit`](Socket::emit).
    pub fn emit_raw(&self, payload: impl Into<RawPayload>) -> Result<(), Error> {
        let frame = self.inner.out.raw(payload.into())?;
        self.send(&frame)
    }

    /// Queues a frame encoded once for many sockets (a broadcast).
    pub(crate) fn send(&self, frame: &Bytes) -> Result<(), Error> {
        match &self.inner.link {
            Link::Udp { out, to } => out.push(frame.clone(), *to),
            Link::Stream { .. } => self.send_with(|dst| {
                dst.extend_from_slice(frame);
                Ok(())
            }),
        }
    }

    /// Queues the frame `encode` writes: straight into a stream connection's
    /// queue, or into a datagram of its own for a UDP peer.
    fn send_with(&self, encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>) -> Result<(), Error> {
        match &self.inner.link {
            Link::Stream { outbox, killer } => match outbox.push_encoded(encode) {
                Err(Error::Backpressure { pending, max }) => {
                    killer.kill(Some(Error::Backpressure { pending, max }));
                    Err(Error::Backpressure { pending, max })
                }
                other => other,
            },
            Link::Udp { out, to } => {
                let mut frame = BytesMut::new();
                encode(&mut frame)?;
                out.push(frame.freeze(), *to)
            }
        }
    }

    /// Waits until everything emitted to this socket so far is written to it
    /// (UDP: returns at once).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the connection closed before.
    pub async fn flush(&self) -> Result<(), Error> {
        match &self.inner.link {
            Link::Stream { outbox, .. } => outbox.flush().await,
            Link::Udp { .. } => Ok(()),
        }
    }

    /// Closes the connection at once, dropping unsent events (node's
    /// `socket.destroy()`); the server then reports `close` and
    /// `socket.disconnected`. Does nothing for UDP peers.
    pub fn destroy(&self) {
        if let Link::Stream { killer, .. } = &self.inner.link {
            killer.kill(None);
        }
    }

    /// Closes the connection after sending what is queued (node's
    /// `socket.end()`): later emits fail, and once everything is written the
    /// connection is half-closed and ends when the peer closes its side too
    /// (at most 5 s later), so that what was sent is not reset away.
    /// [`Server::stop_within`](crate::Server::stop_within) does this for every socket.
    pub fn end(&self) {
        if let Link::Stream { outbox, .. } = &self.inner.link {
            outbox.close(false);
        }
    }

    /// Asks this socket's client a request and waits for its reply, at most
    /// `timeout` (request/response, `PROTOCOL.md`): the client's handler
    /// ([`Client::on_request`](crate::Client::on_request), or the JavaScript
    /// helper's) answers it. The reply's value is the data of the event this
    /// returns (its type is `event_type`; no data when the peer replied
    /// `undefined`).
    ///
    /// The request is sent at this call, as [`emit`](Socket::emit) sends,
    /// and the deadline runs from it. Dropping the future cancels the wait:
    /// the request leaves [`pending_requests`](Socket::pending_requests), and
    /// its reply, if one comes, is dropped without a word. Any number of
    /// requests may be in flight at once; replies are matched by id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// use std::time::Duration;
    /// use ipc_compat::{Config, Ipc};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.world");
    /// let mut config = Config::default();
    /// config.silent = true;
    /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
    /// let mut connected = server.lifecycle(4);
    /// server.start().await?;
    ///
    /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
    /// client.on_request("whoami", |_, _client| async { Ok::<_, String>("hello") });
    /// let socket = loop {
    ///     if let Some(ipc_compat::Lifecycle::Connect(socket)) = connected.recv().await {
    ///         break socket;
    ///     }
    /// };
    /// let name = socket.request("whoami", (), Duration::from_secs(5)).await?;
    /// assert_eq!(name.data_as::<String>()?, "hello");
    /// assert_eq!(socket.pending_requests(), 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when no reply came in time; [`Error::Remote`] when
    /// the peer's handler failed (or it has none for `event_type`), with its
    /// message; [`Error::Disconnected`] when the connection ended first; and
    /// at once, as [`emit`](Socket::emit) (the profile's rules apply to
    /// `event_type` as well as to `ipc.request`).
    pub fn request<'a, T: Serialize>(
        &'a self,
        event_type: &'a str,
        data: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<Event, Error>> + Send + 'a {
        crate::request::ask(self, event_type, &data, timeout)
    }

    /// [`request`](Socket::request), with the reply's value deserialized into `R`.
    ///
    /// # Errors
    ///
    /// As [`request`](Socket::request), and [`Error::Codec`] when the reply does not fit `R`.
    pub fn request_typed<'a, T: Serialize, R: DeserializeOwned>(
        &'a self,
        event_type: &'a str,
        data: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'a {
        crate::request::ask_typed(self, event_type, &data, timeout)
    }

    /// How many requests to this socket wait for their reply (a request
    /// leaves when its reply comes, its deadline passes, its future is
    /// dropped, or the connection ends).
    pub fn pending_requests(&self) -> usize {
        self.inner.requests.get().map_or(0, |requests| requests.len())
    }

    /// The connection ended: every request still waiting fails.
    pub(crate) fn fail_requests(&self) {
        if let Some(requests) = self.inner.requests.get() {
            requests.fail_all();
        }
    }

    /// The connection ended: acknowledged delivery's task for it ends.
    pub(crate) fn stop_acks(&self) {
        if let Some(acks) = &self.inner.acks {
            acks.stop();
        }
    }

    /// A stream connection's queue.
    pub(crate) fn outbox(&self) -> Option<&Outbox> {
        match &self.inner.link {
            Link::Stream { outbox, .. } => Some(outbox),
            Link::Udp { .. } => None,
        }
    }
}

impl Channel for Socket {
    fn requests(&self) -> &Requests {
        self.inner.requests.get_or_init(Box::default)
    }

    fn requests_if_any(&self) -> Option<&Requests> {
        self.inner.requests.get().map(|requests| &**requests)
    }

    fn send<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error> {
        self.send_with(|dst| self.inner.out.encode(event_type, data, dst))
    }

    fn check_type(&self, event_type: &str) -> Result<(), Error> {
        self.inner.out.check_event_type(event_type)
    }
}

impl Peer for Socket {
    fn datagram_source(&self) -> Option<&PeerAddr> {
        self.is_udp().then_some(&self.inner.peer)
    }

    fn learn_id(&self, event: &Event) {
        let Some(raw) = event.raw_data_member("id") else { return };
        let mut id = self.inner.id.lock().unwrap_or_else(PoisonError::into_inner);
        // the same id again (the usual case): nothing to parse or allocate
        let same = matches!((id.as_deref(), raw), (Some(known), [b'"', inner @ .., b'"']) if inner == known.as_bytes());
        if !same {
            if let Some(announced) = id_text(raw) {
                *id = Some(announced);
            }
        }
    }

    fn acks(&self) -> Option<AckEnd<'_>> {
        self.inner.acks.as_deref().map(AckEnd::Server)
    }

    fn push_frame(&self, frame: &[u8]) -> Result<(), Error> {
        self.send_with(|dst| {
            dst.extend_from_slice(frame);
            Ok(())
        })
    }

    fn cut(&self) {
        self.destroy();
    }
}

/// The id a raw `data.id` value announces when it is truthy, as a string
/// (node-ipc peers may announce a number). Only that member's bytes are read:
/// nothing is built for the rest of the data.
fn id_text(raw: &[u8]) -> Option<String> {
    match raw.first()? {
        b'"' if raw.len() > 2 && !raw.contains(&b'\\') => {
            std::str::from_utf8(&raw[1..raw.len() - 1]).ok().map(str::to_owned)
        }
        b'"' => serde_json::from_slice::<String>(raw).ok().filter(|s| !s.is_empty()),
        b'-' | b'0'..=b'9' => {
            let n: serde_json::Number = serde_json::from_slice(raw).ok()?;
            n.as_f64().is_some_and(|f| f != 0.0).then(|| n.to_string())
        }
        b't' => Some("true".to_owned()),
        _ => None,
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Socket) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Socket {}

impl Hash for Socket {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.inner) as usize).hash(state);
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("serial", &self.inner.serial)
            .field("peer", &self.inner.peer)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            Some(id) => write!(f, "socket #{} ({id}, {})", self.inner.serial, self.inner.peer),
            None => write!(f, "socket #{} ({})", self.inner.serial, self.inner.peer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `data.id` of `event` when it is truthy.
    fn announced_id(event: &Event) -> Option<String> {
        id_text(event.raw_data_member("id")?)
    }

    #[test]
    fn ids_are_truthy_data_ids() {
        let id = |data| announced_id(&Event::new("t", data));
        assert_eq!(id(json!({"id": "hello"})), Some("hello".into()));
        assert_eq!(id(json!({"id": "a\"b"})), Some("a\"b".into()));
        assert_eq!(id(json!({"id": 1.5})), Some("1.5".into()));
        assert_eq!(id(json!({"id": true})), Some("true".into()));
        assert_eq!(id(json!({"id": false})), None);
        assert_eq!(id(json!({"id": null})), None);
        assert_eq!(id(json!({"id": -0.0})), None);
        assert_eq!(id(json!({"id": 7, "x": 1})), Some("7".into()));
        assert_eq!(id(json!({"id": ""})), None);
        assert_eq!(id(json!({"id": 0})), None);
        assert_eq!(id(json!({"other": 1})), None);
        assert_eq!(id(json!("id")), None);
    }
}
