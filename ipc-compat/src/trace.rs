//! The `tracing` spans and events this crate emits, in one place (the table
//! of every crate's spans and events: `ARCHITECTURE.md`, "Diagnostics").
//!
//! Spans are made once per server run, per client and per connection; events
//! come from per-connection and cold paths only (connect, disconnect, a
//! retry, a refusal, a bad frame, a limit reached). Nothing on the path of
//! each event (reading, decoding, dispatching, emitting, writing) calls into
//! `tracing`, so without a subscriber a connection pays one disabled span (40
//! bytes in its task, a branch per poll) and nothing per event.

use ipc_codec::{CodecError, EXCERPT_LEN};
use ipc_transport::{Endpoint, PeerAddr};
use tracing::Span;

use crate::core::Ended;
use crate::error::Error;

/// The span of one server run, made when it binds: its connections' spans
/// are children of it.
pub(crate) fn server(endpoint: &Endpoint) -> Span {
    tracing::info_span!(target: "ipc_compat", "server", endpoint = %endpoint)
}

/// The span of one client (`ipc.of[id]`), across its reconnections.
pub(crate) fn client(id: &str, endpoint: &Endpoint) -> Span {
    tracing::info_span!(target: "ipc_compat", "client", id, endpoint = %endpoint)
}

/// The span of one connection a server accepted (or was handed).
pub(crate) fn server_connection(peer: &PeerAddr, serial: u64) -> Span {
    tracing::info_span!(target: "ipc_compat", "connection", side = "server", transport = peer.scheme(), peer = %peer, serial)
}

/// The span of one connection of a client.
pub(crate) fn client_connection(peer: &PeerAddr) -> Span {
    tracing::info_span!(target: "ipc_compat", "connection", side = "client", transport = peer.scheme(), peer = %peer)
}

/// A server bound its endpoint (`endpoint` with the port it got).
pub(crate) fn listening(endpoint: &Endpoint) {
    tracing::info!(target: "ipc_compat", endpoint = %endpoint, "listening");
}

/// A server run stopped.
pub(crate) fn stopped() {
    tracing::info!(target: "ipc_compat", "server stopped");
}

/// A connection is open (in its span).
pub(crate) fn connected() {
    tracing::info!(target: "ipc_compat", "connected");
}

/// A UDP server heard from a new source (one datagram's path is hot, a new
/// source's is not).
#[cold]
pub(crate) fn new_udp_peer(peer: &PeerAddr) {
    tracing::debug!(target: "ipc_compat", transport = peer.scheme(), peer = %peer, "new peer");
}

/// A frame was refused: the 9.x policy reports it and goes on, the 14.x
/// policy closes the connection (`closing`). The excerpt is the start of the
/// frame, bounded and escaped (ipc-codec's `Excerpt`), when the error keeps
/// one. `source`: the sender of a datagram (a connection's span names its peer).
#[cold]
pub(crate) fn bad_frame(error: &CodecError, closing: bool, source: Option<&PeerAddr>) {
    tracing::warn!(
        target: "ipc_compat",
        peer = source.map(tracing::field::display),
        error = %error,
        excerpt = error.excerpt().map(tracing::field::display),
        closing,
        "bad frame"
    );
}

/// A connection ended (in its span): a warning first when a peer or a limit
/// caused it, then `disconnected` with the reason and the id the peer
/// announced (`peer_id` runs only when the event is wanted). `ended`:
/// `None` when the server stopped.
pub(crate) fn disconnected(ended: Option<&Ended>, peer_id: impl FnOnce() -> Option<String>) {
    let reason = match ended {
        None => "server stopped",
        Some(Ended::PeerClosed) => "peer closed",
        Some(Ended::Drained) => "ended by us",
        Some(Ended::ReadFailed(e)) if e.is_frame_error() => {
            bad_frame(e, true, None);
            "bad frame"
        }
        Some(Ended::ReadFailed(CodecError::Io(e))) if e.kind() == std::io::ErrorKind::TimedOut => {
            tracing::warn!(target: "ipc_compat", "incomplete frame outlived messageTimeout");
            "messageTimeout"
        }
        Some(Ended::ReadFailed(_)) => "read failed",
        Some(Ended::IdleTimeout(after)) => {
            tracing::info!(target: "ipc_compat", idle_timeout_ms = after.as_millis() as u64, "nothing read within idleTimeout, closing");
            "idleTimeout"
        }
        Some(Ended::WriteFailed(_)) => "write failed",
        Some(Ended::Killed(None)) => "closed by us",
        Some(Ended::Killed(Some(Error::Backpressure { pending, max }))) => {
            tracing::warn!(target: "ipc_compat", pending, max_pending_bytes = max, "backpressure: maxPendingBytes reached, closing");
            "maxPendingBytes"
        }
        Some(Ended::Killed(Some(_))) => "closed by us",
    };
    let error = match ended {
        Some(Ended::ReadFailed(e)) => Some(e as &dyn std::error::Error),
        Some(Ended::WriteFailed(e)) => Some(e as &dyn std::error::Error),
        Some(Ended::Killed(Some(e))) => Some(e as &dyn std::error::Error),
        _ => None,
    };
    tracing::info!(
        target: "ipc_compat",
        reason,
        error = error.map(tracing::field::display),
        id = peer_id().map(bounded),
        "disconnected"
    );
}

/// A peer's text (the id it announced) cut to [`EXCERPT_LEN`] bytes, so
/// that a peer cannot grow a log line with it.
fn bounded(mut text: String) -> String {
    if text.len() > EXCERPT_LEN {
        let mut end = EXCERPT_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// A client's connection attempt failed.
#[cold]
pub(crate) fn connect_failed(error: &ipc_transport::Error) {
    tracing::warn!(target: "ipc_compat", error = %error, "connect failed");
}

/// A client will try again after `retry`.
pub(crate) fn retrying(retry: std::time::Duration, retries_remaining: u32) {
    tracing::info!(target: "ipc_compat", retry_ms = retry.as_millis() as u64, retries_remaining, "reconnecting");
}

/// A client gave up, saying why (no retries left, `stopRetrying`, a
/// violation under the 14.x policy, an unusable TLS configuration).
#[cold]
pub(crate) fn gave_up(reason: &'static str) {
    tracing::warn!(target: "ipc_compat", reason, "giving up: not reconnecting");
}

/// Events emitted while a client was offline did not fit its queue.
#[cold]
pub(crate) fn events_dropped(dropped: u64, capacity: usize) {
    tracing::warn!(target: "ipc_compat", dropped, capacity, "offline queue full: events dropped");
}

/// The Assured profile refused an endpoint (`side`: `"server"` or `"client"`).
#[cold]
pub(crate) fn assured_refused(endpoint: &Endpoint, side: &'static str, error: &Error) {
    tracing::warn!(target: "ipc_compat", endpoint = %endpoint, side, error = %error, "assured profile refuses the endpoint");
}

/// A server's accept loop hit an error that is not about one connection
/// (the listener's own, such as running out of file descriptors).
#[cold]
pub(crate) fn accept_failed(error: &ipc_transport::Error) {
    tracing::error!(target: "ipc_compat", error = %error, "accept failed");
}

/// A client's server did not answer the acknowledged-delivery agreement in
/// time: the plain wire on this connection (events may be lost).
#[cold]
pub(crate) fn acks_fallback(id: &str, after: std::time::Duration) {
    tracing::warn!(target: "ipc_compat", id, after_ms = after.as_millis() as u64, "no acknowledged delivery: the server did not agree, plain wire");
}

/// The same, with acks required: the client gives up.
#[cold]
pub(crate) fn acks_refused(id: &str, after: std::time::Duration) {
    tracing::warn!(target: "ipc_compat", id, after_ms = after.as_millis() as u64, "acknowledged delivery required and the server did not agree: giving up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_is_bounded_on_a_char_boundary() {
        assert_eq!(bounded("short".into()), "short");
        let long = "é".repeat(EXCERPT_LEN);
        let cut = bounded(long);
        assert!(cut.ends_with("...") && cut.len() <= EXCERPT_LEN + 3, "{cut}");
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
    }
}
