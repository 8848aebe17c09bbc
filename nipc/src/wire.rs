//! What travels: one codec for JSON frames and raw buffers, and the
//! connections and listeners of every endpoint kind.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ipc_codec::{CodecError, ContinueOnError, Event, JsonCodec, PartialFrameDeadline, RawCodec};
use ipc_transport::tls::{TlsClientConfig, TlsServerConfig};
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use ipc_transport::{BindOptions, ConnectOptions, Endpoint, IpcListener, IpcStream, PeerAddr};
use tokio_util::codec::{Decoder, Encoder};

use crate::args::Settings;
use crate::message::{Incoming, Mode, Outgoing};
use crate::report::{note, Failure};

/// How long `connect` and `emit` wait, after their last write, for the server
/// to close its side (node's sockets close once they see our end), so that
/// replies already on their way are printed and nothing is reset.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

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

/// A stream connection framed with [`WireCodec`].
pub(crate) type Framed = ipc_transport::IpcFramed<IpcStream, WireCodec>;

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
    if let Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } = endpoint {
        let target = endpoint.resolve().await?[0];
        let local = settings.bind.unwrap_or_else(|| crate::args::default_bind(endpoint));
        let udp = UdpEndpoint::bind_with(local, codec, udp_options(&settings.mode)).await?;
        let bound = udp.local_addr().map_err(|e| Failure::runtime(format!("local address: {e}")))?;
        note!("sending to {} from {}", PeerAddr::Udp(target), PeerAddr::Udp(bound));
        return Ok(Link::Udp(Box::new(udp), target));
    }
    let files = &settings.tls;
    let mut tls = TlsClientConfig::new().trusted_connections(files.cas.iter().cloned());
    if let (Some(key), Some(cert)) = (&files.key, &files.cert) {
        tls = tls.private(key).public(cert);
    }
    let options = ConnectOptions::default().socket_path_rules(settings.path_rules.clone()).tls(tls);
    let stream = IpcStream::connect(endpoint, &options).await?;
    note!("connected to {}", local_name(endpoint, settings));
    Ok(Link::Stream(ipc_transport::framed(stream, codec)))
}

/// The endpoint as printed, with an `id:` endpoint's path spelled out.
fn local_name(endpoint: &Endpoint, settings: &Settings) -> String {
    match (endpoint, settings.path_rules.endpoint_path(endpoint)) {
        (Endpoint::Id(_), Some(path)) => format!("{endpoint} ({})", path.display()),
        _ => endpoint.to_string(),
    }
}

/// What [`bind`] made.
pub(crate) enum Bound {
    /// A stream listener, and the address it listens on, as printed.
    Streams(IpcListener, String),
    /// A UDP socket.
    Udp(Box<Udp>),
}

/// Binds the endpoint of `settings` and says where on stderr.
pub(crate) async fn bind(settings: &Settings) -> Result<Bound, Failure> {
    let endpoint = &settings.endpoint;
    if let Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } = endpoint {
        let codec = WireCodec::new(&settings.mode);
        let udp = UdpEndpoint::bind_endpoint(endpoint, codec, udp_options(&settings.mode)).await?;
        return Ok(Bound::Udp(Box::new(udp)));
    }
    let rules = &settings.path_rules;
    // An id: endpoint under node-ipc 14's per-user root gets the root created
    // 0700 and checked, as node-ipc does; a path (or root) the user chose is
    // used as is, never created or chmod'ed.
    let endpoint = match rules.endpoint_path(endpoint) {
        Some(path) if settings.custom_socket_root => Endpoint::unix(path),
        _ => endpoint.clone(),
    };
    let files = &settings.tls;
    let mut tls = TlsServerConfig::new();
    if let (Some(key), Some(cert)) = (&files.key, &files.cert) {
        tls = tls.private(key).public(cert);
    }
    if !files.cas.is_empty() {
        tls = tls.trusted_connections(files.cas.iter().cloned());
    }
    let options = BindOptions::default().socket_path_rules(rules.clone()).tls(tls);
    let listener = IpcListener::bind(&endpoint, &options).await?;
    let name = listener
        .local_endpoint()
        .map_err(|e| Failure::runtime(format!("cannot read the bound address: {e}")))?;
    Ok(Bound::Streams(listener, name.to_string()))
}

/// The next connection of `listener`, framed, and who it is from.
pub(crate) async fn accept(
    listener: &mut IpcListener,
    codec: &WireCodec,
) -> Result<(Framed, PeerAddr), ipc_transport::Error> {
    let stream = listener.accept().await?;
    let peer = stream.peer().clone();
    Ok((ipc_transport::framed(stream, codec.clone()), peer))
}
