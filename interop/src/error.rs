//! The one error type of this crate.

use std::fmt;

/// What went wrong, coarsely; the [`PeerError`] message has the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerErrorKind {
    /// `interop/node_modules` is missing or incomplete and installing failed.
    NotInstalled,
    /// The Node binary for a peer is missing or has the wrong version.
    NodeUnavailable,
    /// A process could not be started.
    Spawn,
    /// A peer did not print the awaited line (or exit) in time.
    Timeout,
    /// A peer exited (or closed stdout) while a line was awaited.
    Exited,
    /// Any other I/O failure (writing stdin, temp files, ...).
    Io,
}

/// An error from installing, locating or talking to a peer.
///
/// The message is complete and meant to be shown as is: it names the peer and,
/// for process errors, includes the peer's recent stdout lines and its stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerError {
    kind: PeerErrorKind,
    message: String,
}

impl PeerError {
    pub(crate) fn new(kind: PeerErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// The kind of failure.
    pub fn kind(&self) -> PeerErrorKind {
        self.kind
    }

    /// The full message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if matches!(self.kind, PeerErrorKind::NotInstalled | PeerErrorKind::NodeUnavailable) {
            write!(f, "\n{}", crate::INSTALL_HINT)?;
        }
        Ok(())
    }
}

impl std::error::Error for PeerError {}
