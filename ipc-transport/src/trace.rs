//! The `tracing` events this crate emits, in one place (the table of every
//! crate's spans and events: `ARCHITECTURE.md`, "Diagnostics").
//!
//! Only per-connection and cold paths call these: binding, accepting,
//! connecting, refusing, TLS handshakes, and datagrams that fail to decode.
//! Nothing on the path of each frame does (reading, decoding, writing), so a
//! program without a subscriber pays a relaxed atomic load per connection at
//! most. Every event carries `transport` (the peer's scheme: `unix`, `tcp`,
//! `tls`, `udp4`, `udp6`) and `peer` (as [`PeerAddr`] prints it).

#[cfg(any(feature = "local", feature = "tcp", feature = "udp"))]
use crate::peer::PeerAddr;

/// A listener (or UDP socket) is bound to `addr` (a path or an address;
/// `max_connections` 0: no limit, or UDP).
#[cfg(any(feature = "local", feature = "tcp", feature = "udp"))]
pub(crate) fn listening(transport: &'static str, addr: &dyn std::fmt::Display, max_connections: usize) {
    tracing::debug!(target: "ipc_transport", transport, addr = %addr, max_connections, "listening");
}

/// One of the addresses a host name resolved to did not connect (the next
/// one is tried; the caller gets the last failure).
#[cfg(feature = "tcp")]
#[cold]
pub(crate) fn connect_attempt_failed(addr: std::net::SocketAddr, error: &std::io::Error) {
    tracing::debug!(target: "ipc_transport", transport = "tcp", addr = %addr, error = %error, "connect attempt failed");
}

/// A listener accepted a connection (within `maxConnections`).
#[cfg(any(feature = "local", feature = "tcp"))]
pub(crate) fn accepted(peer: &PeerAddr) {
    tracing::debug!(
        target: "ipc_transport",transport = peer.scheme(), peer = %peer, "accepted");
}

/// A client connected (before any TLS handshake).
#[cfg(any(feature = "local", feature = "tcp"))]
pub(crate) fn connected(peer: &PeerAddr) {
    tracing::debug!(
        target: "ipc_transport",transport = peer.scheme(), peer = %peer, "connected");
}

/// A listener closed a new connection at once: `maxConnections` are open.
#[cfg(any(feature = "local", feature = "tcp"))]
#[cold]
pub(crate) fn too_many_connections(peer: &PeerAddr, max: usize) {
    tracing::warn!(
        target: "ipc_transport",
        transport = peer.scheme(),
        peer = %peer,
        max_connections = max,
        "connection refused: maxConnections reached"
    );
}

/// A listener closed a new local connection at once: its peer is not among
/// the allowed peers (or its credentials could not be read).
#[cfg(feature = "local")]
#[cold]
pub(crate) fn peer_refused(peer: &PeerAddr, credentials: Option<&crate::PeerCredentials>) {
    tracing::warn!(
        target: "ipc_transport",
        transport = peer.scheme(),
        peer = %peer,
        uid = credentials.map(|c| c.uid()),
        gid = credentials.map(|c| c.gid()),
        "connection refused: peer not allowed"
    );
}

/// A TLS handshake is done (`side`: `"server"` or `"client"`).
#[cfg(feature = "tls")]
pub(crate) fn tls_handshake_done(side: &'static str, stream: &crate::tls::TlsStream) {
    // (the fields are only computed when a subscriber wants the event)
    tracing::debug!(
        target: "ipc_transport",
        transport = "tls",
        peer = %stream.peer(),
        side,
        version = stream.protocol_version().unwrap_or_default(),
        key_exchange = stream.key_exchange_group().unwrap_or_default(),
        authorized = stream.is_authorized(),
        "tls handshake done"
    );
}

/// A TLS handshake failed (`side`: `"server"` or `"client"`); the
/// connection is closed.
#[cfg(feature = "tls")]
#[cold]
pub(crate) fn tls_handshake_failed(side: &'static str, peer: &PeerAddr, error: &crate::Error) {
    tracing::warn!(
        target: "ipc_transport",transport = "tls", peer = %peer, side, error = %error, "tls handshake failed");
}

/// A datagram from `from` held a bad frame (with the start of the frame
/// when the error keeps one), or could not be read.
#[cfg(feature = "udp")]
#[cold]
pub(crate) fn bad_datagram(from: std::net::SocketAddr, error: &ipc_codec::CodecError) {
    let peer = PeerAddr::Udp(from);
    tracing::warn!(
        target: "ipc_transport",
        transport = peer.scheme(),
        peer = %peer,
        error = %error,
        excerpt = error.excerpt().map(tracing::field::display),
        "bad frame"
    );
}

/// An unfinished frame from `from` was dropped (a bound on what is kept per
/// source was reached, or it expired).
#[cfg(feature = "udp")]
#[cold]
pub(crate) fn partial_frame_dropped(from: std::net::SocketAddr, bytes: usize, reason: &'static str) {
    let peer = PeerAddr::Udp(from);
    tracing::warn!(
        target: "ipc_transport",transport = peer.scheme(), peer = %peer, bytes, reason, "unfinished frame dropped");
}
