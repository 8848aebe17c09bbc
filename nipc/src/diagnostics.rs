//! `-v` / `RUST_LOG`: the `tracing` output of nipc and of the libraries under
//! it, on stderr, and the spans and events nipc adds itself.
//!
//! Without `-v` and without `RUST_LOG` no subscriber is installed: stderr
//! holds the `nipc: ...` notes alone, and tracing costs nothing.

use ipc_codec::CodecError;
use ipc_transport::PeerAddr;
use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::report::note;

/// The filter `-v` (repeated `verbosity` times) stands for, if any.
fn level(verbosity: u8) -> Option<&'static str> {
    match verbosity {
        0 => None,
        1 => Some("info"),
        2 => Some("debug"),
        _ => Some("trace"),
    }
}

/// Installs the stderr subscriber: `RUST_LOG` when it is set (it wins over
/// `-v`), else `-v` info, `-vv` debug, `-vvv` trace; nothing when neither.
pub(crate) fn init(verbosity: u8) {
    let from_env = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => Some(filter),
            Err(e) => {
                note!("RUST_LOG={directives:?} is not a filter ({e}); ignored");
                None
            }
        },
        _ => None,
    };
    let filter = match (from_env, level(verbosity)) {
        (Some(filter), _) => filter,
        (None, Some(level)) => EnvFilter::new(level),
        (None, None) => return,
    };
    // try_init: fails only when a subscriber is already set (never here).
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The span of one connection `nipc serve` accepted, `#number`.
pub(crate) fn server_connection(peer: &PeerAddr, number: u64) -> Span {
    tracing::info_span!(target: "nipc", "connection", side = "server", transport = peer.scheme(), peer = %peer, number)
}

/// The span of the connection of `nipc connect` or `nipc emit`.
pub(crate) fn client_connection(peer: &PeerAddr) -> Span {
    tracing::info_span!(target: "nipc", "connection", side = "client", transport = peer.scheme(), peer = %peer)
}

/// A server is listening on `endpoint` (as printed).
pub(crate) fn listening(endpoint: &dyn std::fmt::Display) {
    tracing::info!(target: "nipc", endpoint = %endpoint, "listening");
}

/// A UDP server heard from a new peer.
pub(crate) fn new_udp_peer(peer: &PeerAddr) {
    tracing::info!(target: "nipc", transport = peer.scheme(), peer = %peer, "new peer");
}

/// A connection is open (in its span).
pub(crate) fn connected() {
    tracing::info!(target: "nipc", "connected");
}

/// A connection ended (in its span), with the reason when there is one.
pub(crate) fn disconnected(reason: Option<&dyn std::fmt::Display>) {
    tracing::info!(target: "nipc", reason = reason.map(tracing::field::display), "disconnected");
}

/// A frame that does not decode, reported and skipped: the error, and the
/// start of the frame (bounded and escaped) when the error keeps one.
#[cold]
pub(crate) fn bad_frame(error: &CodecError) {
    tracing::warn!(target: "nipc", error = %error, excerpt = error.excerpt().map(tracing::field::display), "bad frame");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_levels() {
        assert_eq!(level(0), None);
        assert_eq!(level(1), Some("info"));
        assert_eq!(level(2), Some("debug"));
        assert_eq!(level(3), Some("trace"));
        assert_eq!(level(9), Some("trace"));
    }
}
