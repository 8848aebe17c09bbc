//! UDP, as node-ipc's `serveNet(host, port, 'udp4' | 'udp6')` uses it: a
//! datagram carries one or more complete frames, and a server answers to each
//! datagram's source address.
//!
//! [`UdpEndpoint`] is both sides at once: a `Stream` of `(item, source)` and a
//! `Sink` of `(item, destination)`. The sink is the batching writer for
//! datagrams: items fed to one destination between two flushes are packed
//! into as few datagrams as fit ([`UdpOptions::pack_frames`]), and `send`
//! (feed + flush) sends one datagram at once. A frame split
//! across datagrams (node-ipc 14 buffers per source) is reassembled per
//! source, within bounds: at most [`UdpOptions::max_partial_sources`] sources,
//! [`UdpOptions::max_partial_bytes`] each, kept for
//! [`UdpOptions::partial_timeout`]; what goes over is dropped and reported as
//! [`Error::PartialFrameDropped`]. With [`RawCodec`](ipc_codec::RawCodec) each
//! datagram is one chunk.
//!
//! Errors about one datagram ([`Error::Datagram`], [`Error::PartialFrameDropped`])
//! are items of the stream, which goes on after them
//! ([`Error::is_connection_error`] is true); a socket error is an item too.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::{Sink, Stream};
use ipc_codec::{CodecError, JsonCodec};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio_util::codec::{Decoder, Encoder};

use crate::endpoint::{resolve_host, Endpoint};
use crate::error::Error;

/// The largest UDP payload (IPv4: 65,535 − 8-byte UDP header − 20-byte IP header).
pub const MAX_DATAGRAM: usize = 65_507;

/// Bounds on the unfinished frames kept per datagram source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOptions {
    max_partial_sources: usize,
    max_partial_bytes: usize,
    partial_timeout: Duration,
    max_datagram: usize,
    pack: bool,
    recv_buffer_size: Option<usize>,
    send_buffer_size: Option<usize>,
}

impl Default for UdpOptions {
    /// 64 sources, 1 MiB each, 30 s (node-ipc 14's `messageTimeout`),
    /// 65,507-byte datagrams, frames packed.
    fn default() -> Self {
        UdpOptions {
            max_partial_sources: 64,
            max_partial_bytes: 1024 * 1024,
            partial_timeout: Duration::from_secs(30),
            max_datagram: MAX_DATAGRAM,
            pack: true,
            recv_buffer_size: None,
            send_buffer_size: None,
        }
    }
}

impl UdpOptions {
    /// How many sources may have an unfinished frame at once (0: never keep one).
    pub fn max_partial_sources(mut self, n: usize) -> Self {
        self.max_partial_sources = n;
        self
    }

    /// How many bytes of an unfinished frame are kept per source.
    pub fn max_partial_bytes(mut self, n: usize) -> Self {
        self.max_partial_bytes = n;
        self
    }

    /// How long an unfinished frame is kept waiting for its next datagram.
    pub fn partial_timeout(mut self, timeout: Duration) -> Self {
        self.partial_timeout = timeout;
        self
    }

    /// The largest datagram sent (at most [`MAX_DATAGRAM`]); bigger events are
    /// [`Error::DatagramTooLarge`].
    pub fn max_datagram(mut self, n: usize) -> Self {
        self.max_datagram = n.min(MAX_DATAGRAM);
        self
    }

    /// Whether items fed to the same destination between two flushes share
    /// datagrams (up to `max_datagram`; on by default). node-ipc reads every
    /// frame of a datagram. Turn it off to keep one item per datagram, for
    /// example for raw chunks whose boundaries the receiver should see.
    pub fn pack_frames(mut self, on: bool) -> Self {
        self.pack = on;
        self
    }

    /// The socket's receive buffer (`SO_RCVBUF`, node's `recvBufferSize`).
    /// UDP has no flow control: datagrams that arrive while the buffer is full
    /// are lost, so a peer that sends bursts needs room here. The system caps
    /// it (Linux: `net.core.rmem_max`).
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer_size = Some(bytes);
        self
    }

    /// The socket's send buffer (`SO_SNDBUF`, node's `sendBufferSize`).
    pub fn send_buffer_size(mut self, bytes: usize) -> Self {
        self.send_buffer_size = Some(bytes);
        self
    }
}

struct Partial<C> {
    codec: C,
    buf: BytesMut,
    since: Instant,
}

/// A UDP socket carrying node-ipc frames: `Stream<Item = Result<(C::Item,
/// SocketAddr), Error>>` and `Sink<(I, SocketAddr)>` for every `I` the codec encodes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_transport::Error> {
/// use futures::{SinkExt, StreamExt};
/// use ipc_codec::{Event, JsonCodec};
/// use ipc_transport::udp::UdpEndpoint;
/// use serde_json::json;
///
/// let mut server = UdpEndpoint::bind("127.0.0.1:0".parse().unwrap(), JsonCodec::default()).await?;
/// let mut client = UdpEndpoint::bind("127.0.0.1:0".parse().unwrap(), JsonCodec::default()).await?;
/// client.send((Event::new("app.message", json!({"id": "hi"})), server.local_addr()?)).await?;
/// let (event, from) = server.next().await.unwrap()?;
/// assert_eq!(from, client.local_addr()?);
/// server.send((Event::new("app.message", json!({"re": event.event_type()})), from)).await?; // answer the source
/// assert_eq!(client.next().await.unwrap()?.0.data()?, json!({"re": "app.message"}));
/// # Ok(())
/// # }
/// ```
pub struct UdpEndpoint<C: Decoder = JsonCodec> {
    socket: UdpSocket,
    /// A codec in its initial state, cloned for sources with an unfinished frame.
    pristine: C,
    /// The codec for sources without one (left clean after each datagram).
    shared: Option<C>,
    encoder: C,
    options: UdpOptions,
    recv_buf: Vec<u8>,
    partials: HashMap<SocketAddr, Partial<C>>,
    ready: VecDeque<Result<(C::Item, SocketAddr), Error>>,
    /// Datagrams to send; only the last one still takes frames.
    outbox: VecDeque<(SocketAddr, BytesMut)>,
    scratch: BytesMut,
}

impl<C: Decoder> fmt::Debug for UdpEndpoint<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpEndpoint")
            .field("local_addr", &self.socket.local_addr().ok())
            .field("options", &self.options)
            .field("partial_sources", &self.partials.len())
            .finish_non_exhaustive()
    }
}

impl<C> UdpEndpoint<C>
where
    C: Decoder<Error = CodecError> + Clone + Unpin,
{
    /// Binds `addr` (`127.0.0.1:0` for udp4, `[::1]:0` for udp6) with default bounds.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`].
    pub async fn bind(addr: SocketAddr, codec: C) -> Result<Self, Error> {
        Self::bind_with(addr, codec, UdpOptions::default()).await
    }

    /// Binds `addr` with `options`.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`].
    pub async fn bind_with(addr: SocketAddr, codec: C, options: UdpOptions) -> Result<Self, Error> {
        let scheme = if addr.is_ipv4() { "udp4" } else { "udp6" };
        let bind_err = |source| Error::Bind { endpoint: format!("{scheme}://{addr}"), source };
        let socket = UdpSocket::bind(addr).await.map_err(bind_err)?;
        let sock = socket2::SockRef::from(&socket);
        if let Some(n) = options.recv_buffer_size {
            sock.set_recv_buffer_size(n).map_err(bind_err)?;
        }
        if let Some(n) = options.send_buffer_size {
            sock.set_send_buffer_size(n).map_err(bind_err)?;
        }
        crate::trace::listening(scheme, &socket.local_addr().unwrap_or(addr), 0);
        Ok(Self::from_socket(socket, codec, options))
    }

    /// Binds a `udp4://` or `udp6://` endpoint (a host name resolves to an address of that family).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for other kinds, [`Error::NoAddress`], [`Error::Bind`].
    pub async fn bind_endpoint(endpoint: &Endpoint, codec: C, options: UdpOptions) -> Result<Self, Error> {
        let (host, port, v6) = match endpoint {
            Endpoint::Udp4 { host, port } => (host, *port, false),
            Endpoint::Udp6 { host, port } => (host, *port, true),
            _ => {
                return Err(Error::UnsupportedEndpoint {
                    endpoint: endpoint.to_string(),
                    reason: "not a udp4:// or udp6:// endpoint",
                })
            }
        };
        let addr = resolve_host(host, port, Some(v6)).await?[0];
        Self::bind_with(addr, codec, options).await
    }

    /// Wraps a bound tokio socket (the buffer sizes of `options` are not applied).
    pub fn from_socket(socket: UdpSocket, codec: C, options: UdpOptions) -> Self {
        UdpEndpoint {
            socket,
            shared: Some(codec.clone()),
            encoder: codec.clone(),
            pristine: codec,
            options,
            recv_buf: vec![0; 64 * 1024],
            partials: HashMap::new(),
            ready: VecDeque::new(),
            outbox: VecDeque::with_capacity(2),
            scratch: BytesMut::new(),
        }
    }

    /// The bound address (with the ephemeral port filled in).
    ///
    /// # Errors
    ///
    /// What the operating system reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The tokio socket underneath.
    pub fn get_ref(&self) -> &UdpSocket {
        &self.socket
    }

    /// How many sources have an unfinished frame buffered now.
    pub fn partial_sources(&self) -> usize {
        self.partials.len()
    }

    /// Decodes one datagram from `from` into `self.ready`.
    fn on_datagram(&mut self, len: usize, from: SocketAddr) {
        let now = Instant::now();
        self.expire(now);
        let (mut codec, mut buf, since) = match self.partials.remove(&from) {
            Some(p) => (p.codec, p.buf, p.since),
            None => {
                let codec = self.shared.take().unwrap_or_else(|| self.pristine.clone());
                (codec, BytesMut::new(), now)
            }
        };
        buf.extend_from_slice(&self.recv_buf[..len]);
        let mut clean = true;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => self.ready.push_back(Ok((item, from))),
                Ok(None) => break,
                Err(source) => {
                    clean = false;
                    crate::trace::bad_datagram(from, &source);
                    let fatal = !source.is_frame_error();
                    self.ready.push_back(Err(Error::Datagram { from, source }));
                    if fatal {
                        buf.clear();
                        break;
                    }
                }
            }
        }
        if buf.is_empty() {
            if clean && self.shared.is_none() {
                self.shared = Some(codec);
            }
            return;
        }
        let reason = if buf.len() > self.options.max_partial_bytes {
            Some("more than max_partial_bytes buffered")
        } else if self.partials.len() >= self.options.max_partial_sources {
            Some("too many sources with unfinished frames")
        } else {
            None
        };
        match reason {
            Some(reason) => {
                crate::trace::partial_frame_dropped(from, buf.len(), reason);
                self.ready.push_back(Err(Error::PartialFrameDropped { from, bytes: buf.len(), reason }))
            }
            None => {
                self.partials.insert(from, Partial { codec, buf, since });
            }
        }
    }

    /// Drops unfinished frames older than the timeout, reporting each.
    fn expire(&mut self, now: Instant) {
        if self.partials.is_empty() {
            return;
        }
        let timeout = self.options.partial_timeout;
        let ready = &mut self.ready;
        self.partials.retain(|from, p| {
            let keep = now.duration_since(p.since) < timeout;
            if !keep {
                crate::trace::partial_frame_dropped(*from, p.buf.len(), "unfinished frame expired");
                ready.push_back(Err(Error::PartialFrameDropped {
                    from: *from,
                    bytes: p.buf.len(),
                    reason: "unfinished frame expired",
                }));
            }
            keep
        });
    }
}

impl<C> Stream for UdpEndpoint<C>
where
    C: Decoder<Error = CodecError> + Clone + Unpin,
    C::Item: Unpin,
{
    type Item = Result<(C::Item, SocketAddr), Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item));
            }
            let mut buf = ReadBuf::new(&mut this.recv_buf);
            match ready!(this.socket.poll_recv_from(cx, &mut buf)) {
                Ok(from) => {
                    let len = buf.filled().len();
                    this.on_datagram(len, from);
                }
                // Windows reports an ICMP port-unreachable for an earlier send here: not ours to end on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                Err(e) => return Poll::Ready(Some(Err(Error::Io(e)))),
            }
        }
    }
}

impl<C: Decoder> UdpEndpoint<C> {
    /// Sends every closed datagram, and the open one too when `all`.
    fn poll_send_outbox(&mut self, cx: &mut Context<'_>, all: bool) -> Poll<Result<(), Error>> {
        while self.outbox.len() > usize::from(!all) {
            let (to, datagram) = self.outbox.front().expect("checked the length");
            let result = ready!(self.socket.poll_send_to(cx, datagram, *to));
            self.outbox.pop_front();
            result?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I, C> Sink<(I, SocketAddr)> for UdpEndpoint<C>
where
    C: Encoder<I, Error = CodecError> + Decoder + Unpin,
    C::Item: Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_outbox(cx, false)
    }

    fn start_send(self: Pin<&mut Self>, (item, to): (I, SocketAddr)) -> Result<(), Error> {
        let this = self.get_mut();
        let max = this.options.max_datagram;
        this.scratch.clear();
        this.encoder.encode(item, &mut this.scratch)?;
        let len = this.scratch.len();
        if len > max {
            this.scratch.clear();
            return Err(Error::DatagramTooLarge { len, max });
        }
        match this.outbox.back_mut() {
            Some((open_to, datagram))
                if this.options.pack && *open_to == to && datagram.len() + len <= max =>
            {
                datagram.extend_from_slice(&this.scratch);
            }
            _ => this.outbox.push_back((to, this.scratch.split())),
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_outbox(cx, true)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_outbox(cx, true)
    }
}
