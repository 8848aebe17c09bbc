//! What travels: one codec for JSON frames and raw buffers, and the
//! connections and listeners of every endpoint kind.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ipc_codec::{CodecError, ContinueOnError, Event, JsonCodec, PartialFrameDeadline, RawCodec};
use ipc_transport::local::{LocalListener, LocalListenerOptions, LocalStream};
use ipc_transport::tcp::{TcpConnectOptions, TcpListener, TcpListenerOptions, TcpStream};
use ipc_transport::tls::{TlsClientConfig, TlsListener, TlsServerConfig, TlsStream};
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use ipc_transport::{Endpoint, PeerAddr};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder};

use crate::args::{Mode, Settings};
use crate::Failure;

/// How long `connect` and `emit` wait, after their last write, for the server
/// to close its side (node's sockets close once they see our end), so that
/// replies already on their way are printed and nothing is reset.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// Something read: an event, a raw chunk, or a frame the codec rejected.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A JSON frame.
    Event(Event),
    /// Raw-buffer bytes, as one read delivered them.
    Chunk(Bytes),
    /// A bad frame; the decoder has moved past it.
    Bad(CodecError),
}

/// Something to send.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// A JSON frame.
    Event(Event),
    /// Raw-buffer bytes.
    Chunk(Bytes),
}

/// JSON frames (bad ones reported, then skipped) or raw buffers.
#[derive(Debug, Clone)]
pub(crate) enum WireCodec {
    /// node-ipc's delimited JSON.
    Json(Box<ContinueOnError<JsonCodec>>),
    /// node-ipc's raw-buffer mode.
    Raw(RawCodec),
}

impl WireCodec {
    /// The codec for `mode`.
    pub(crate) fn new(mode: &Mode) -> WireCodec {
        match mode {
            Mode::Json { codec, .. } => WireCodec::Json(Box::new(ContinueOnError::new((**codec).clone()))),
            Mode::Raw(encoding) => WireCodec::Raw(RawCodec::new(*encoding)),
        }
    }

    /// Encodes `item` alone, to check it before it is queued.
    pub(crate) fn check(&self, item: &Outgoing) -> Result<(), CodecError> {
        let mut scratch = BytesMut::new();
        self.clone().encode(item.clone(), &mut scratch)
    }
}

fn incoming(item: Option<Result<Event, CodecError>>) -> Option<Incoming> {
    item.map(|r| r.map_or_else(Incoming::Bad, Incoming::Event))
}

impl Decoder for WireCodec {
    type Item = Incoming;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, CodecError> {
        match self {
            WireCodec::Json(codec) => codec.decode(buf).map(incoming),
            WireCodec::Raw(codec) => Ok(codec.decode(buf)?.map(Incoming::Chunk)),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, CodecError> {
        match self {
            WireCodec::Json(codec) => codec.decode_eof(buf).map(incoming),
            WireCodec::Raw(codec) => Ok(codec.decode_eof(buf)?.map(Incoming::Chunk)),
        }
    }
}

impl Encoder<Outgoing> for WireCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Outgoing, dst: &mut BytesMut) -> Result<(), CodecError> {
        match (self, item) {
            (WireCodec::Json(codec), Outgoing::Event(event)) => codec.encode(event, dst),
            (WireCodec::Raw(codec), Outgoing::Chunk(bytes)) => codec.encode(bytes, dst),
            _ => Err(CodecError::Config("a raw chunk on a JSON link, or an event on a raw one")),
        }
    }
}

impl PartialFrameDeadline for WireCodec {
    fn partial_frame_deadline(&self) -> Option<Instant> {
        match self {
            WireCodec::Json(codec) => codec.partial_frame_deadline(),
            WireCodec::Raw(_) => None,
        }
    }
}

/// A byte stream of any kind.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connected stream of any kind.
pub(crate) type BoxIo = Box<dyn Io>;

/// A stream connection framed with [`WireCodec`].
pub(crate) type Framed = ipc_transport::IpcFramed<BoxIo, WireCodec>;

/// A UDP socket framed with [`WireCodec`].
pub(crate) type Udp = UdpEndpoint<WireCodec>;

/// A client's link to a server.
pub(crate) enum Link {
    /// Unix, TCP or TLS.
    Stream(Framed),
    /// UDP: our socket, and where to send.
    Udp(Box<Udp>, SocketAddr),
}

/// UDP options for `mode`: raw chunks keep their datagram boundaries.
pub(crate) fn udp_options(mode: &Mode) -> UdpOptions {
    UdpOptions::default().pack_frames(matches!(mode, Mode::Json { .. }))
}

/// Connects to the endpoint of `settings` and says so on stderr.
pub(crate) async fn connect(settings: &Settings) -> Result<Link, Failure> {
    let codec = WireCodec::new(&settings.mode);
    let endpoint = &settings.endpoint;
    let io: BoxIo = match endpoint {
        Endpoint::Unix(_) | Endpoint::Id(_) => {
            Box::new(LocalStream::connect_endpoint(endpoint, &settings.path_rules).await?)
        }
        Endpoint::Tcp { .. } => {
            Box::new(TcpStream::connect_endpoint(endpoint, &TcpConnectOptions::default()).await?)
        }
        Endpoint::Tls { .. } => {
            let files = &settings.tls;
            let mut config = TlsClientConfig::new().trusted_connections(files.cas.iter().cloned());
            if let (Some(key), Some(cert)) = (&files.key, &files.cert) {
                config = config.private(key).public(cert);
            }
            Box::new(TlsStream::connect_endpoint(endpoint, &config).await?)
        }
        Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } => {
            let target = endpoint.resolve().await?[0];
            let local = settings.bind.unwrap_or_else(|| crate::args::default_bind(endpoint));
            let udp = UdpEndpoint::bind_with(local, codec, udp_options(&settings.mode)).await?;
            let bound = udp.local_addr().map_err(|e| Failure::runtime(format!("local address: {e}")))?;
            crate::note!("sending to {} from {}", PeerAddr::Udp(target), PeerAddr::Udp(bound));
            return Ok(Link::Udp(Box::new(udp), target));
        }
        other => return Err(Failure::usage(format!("unsupported endpoint {other}"))),
    };
    crate::note!("connected to {}", local_name(endpoint, settings));
    Ok(Link::Stream(ipc_transport::framed(io, codec)))
}

/// The endpoint as printed, with an `id:` endpoint's path spelled out.
fn local_name(endpoint: &Endpoint, settings: &Settings) -> String {
    match endpoint {
        Endpoint::Id(_) => match endpoint.socket_path(&settings.path_rules) {
            Some(path) => format!("{endpoint} ({})", path.display()),
            None => endpoint.to_string(),
        },
        _ => endpoint.to_string(),
    }
}

/// A server socket of any stream kind.
pub(crate) enum Listener {
    /// Unix socket.
    Local(LocalListener),
    /// TCP.
    Tcp(TcpListener),
    /// TLS.
    Tls(TlsListener),
}

/// What [`bind`] made.
pub(crate) enum Bound {
    /// A stream listener, and the address it listens on, as printed.
    Streams(Listener, String),
    /// A UDP socket.
    Udp(Box<Udp>),
}

/// Binds the endpoint of `settings` and says where on stderr.
pub(crate) async fn bind(settings: &Settings) -> Result<Bound, Failure> {
    let endpoint = &settings.endpoint;
    let bound = match endpoint {
        Endpoint::Unix(_) | Endpoint::Id(_) => {
            let listener = if matches!(endpoint, Endpoint::Id(_)) && !settings.custom_socket_root {
                // node-ipc 14's per-user root: created 0700 and checked, as node-ipc does.
                let rules = &settings.path_rules;
                LocalListener::bind_endpoint(endpoint, rules, &rules.listener_options()).await?
            } else {
                // A path (or root) the user chose: used as is, never created or chmod'ed.
                let path = endpoint.socket_path(&settings.path_rules).expect("a local endpoint has a path");
                LocalListener::bind_with(path, &LocalListenerOptions::default()).await?
            };
            let name = format!("unix:{}", listener.path().display());
            Bound::Streams(Listener::Local(listener), name)
        }
        Endpoint::Tcp { .. } => {
            let listener = TcpListener::bind_endpoint(endpoint, &TcpListenerOptions::default()).await?;
            let name = format!("tcp://{}", local_addr(listener.local_addr())?);
            Bound::Streams(Listener::Tcp(listener), name)
        }
        Endpoint::Tls { .. } => {
            let files = &settings.tls;
            let mut config = TlsServerConfig::new();
            if let (Some(key), Some(cert)) = (&files.key, &files.cert) {
                config = config.private(key).public(cert);
            }
            if !files.cas.is_empty() {
                config = config.trusted_connections(files.cas.iter().cloned());
            }
            let listener =
                TlsListener::bind_endpoint(endpoint, &config, &TcpListenerOptions::default()).await?;
            let name = format!("tls://{}", local_addr(listener.local_addr())?);
            Bound::Streams(Listener::Tls(listener), name)
        }
        Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } => {
            let codec = WireCodec::new(&settings.mode);
            Bound::Udp(Box::new(
                UdpEndpoint::bind_endpoint(endpoint, codec, udp_options(&settings.mode)).await?,
            ))
        }
        other => return Err(Failure::usage(format!("unsupported endpoint {other}"))),
    };
    Ok(bound)
}

fn local_addr(addr: std::io::Result<SocketAddr>) -> Result<SocketAddr, Failure> {
    addr.map_err(|e| Failure::runtime(format!("cannot read the bound address: {e}")))
}

impl Listener {
    /// The next connection, framed, and who it is from.
    pub(crate) async fn accept(
        &mut self,
        codec: &WireCodec,
    ) -> Result<(Framed, PeerAddr), ipc_transport::Error> {
        let (io, peer): (BoxIo, PeerAddr) = match self {
            Listener::Local(l) => {
                let s = l.accept().await?;
                let peer = s.peer().clone();
                (Box::new(s), peer)
            }
            Listener::Tcp(l) => {
                let s = l.accept().await?;
                let peer = s.peer().clone();
                (Box::new(s), peer)
            }
            Listener::Tls(l) => {
                let s = l.accept().await?;
                let peer = s.peer().clone();
                (Box::new(s), peer)
            }
        };
        Ok((ipc_transport::framed(io, codec.clone()), peer))
    }
}
