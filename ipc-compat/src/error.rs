//! The one error type of this crate.

use std::io;
use std::time::Duration;

use ipc_codec::CodecError;

/// What can go wrong in node-ipc's API: a call that cannot be made, an event
/// that cannot be sent, or a failure reported on a connection.
///
/// Calls return it directly. Failures on a connection travel as `error`
/// lifecycle events ([`Lifecycle::Error`](crate::Lifecycle::Error)), whose
/// [`ipc_events::Error`] holds one of these when this crate raised it: get it
/// back with [`Error::of`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `connectTo` / `connectToNet` without a service id.
    #[error("a service id is required")]
    MissingId,
    /// The call needs a tokio runtime and none is running.
    #[error("no tokio runtime is running: call this from inside one")]
    NoRuntime,
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A JSON emit while `rawBuffer` is on, or a raw emit while it is off.
    #[error("{}", if *.raw_buffer { "rawBuffer is on: send bytes with emit_raw" } else { "rawBuffer is off: emit_raw needs config.raw_buffer" })]
    WrongMode {
        /// Whether `rawBuffer` is on.
        raw_buffer: bool,
    },
    /// The client was destroyed (retries exhausted, `stopRetrying`, or `disconnect`).
    #[error("client {id:?} is destroyed")]
    Destroyed {
        /// The client's id.
        id: String,
    },
    /// The connection (or server) is closed; the event was not sent.
    #[error("the connection is closed")]
    Closed,
    /// A disconnected client's queue is full: this event was dropped.
    #[error("{capacity} events already wait for the connection: event dropped")]
    QueueFull {
        /// The queue's capacity ([`Config::max_queued_events`](crate::Config::max_queued_events)).
        capacity: usize,
    },
    /// Reported as an `error` event once a client is connected again (or
    /// destroyed): events emitted while it was not connected did not fit in its queue.
    #[error("{dropped} events emitted while disconnected were dropped (the queue holds {capacity})")]
    EventsDropped {
        /// How many events were dropped.
        dropped: u64,
        /// The queue's capacity.
        capacity: usize,
    },
    /// Sending would leave more than `maxPendingBytes` unsent on this
    /// connection; the event was dropped and the connection closed (node-ipc 14's `ERR_IPC_BACKPRESSURE`).
    #[error("pending writes would reach {pending} bytes, over maxPendingBytes ({max}): connection closed")]
    Backpressure {
        /// Unsent bytes with this event.
        pending: usize,
        /// The limit.
        max: usize,
    },
    /// A datagram could not be addressed (a UDP emit to a socket of another kind, or the other way round).
    #[error("{0}")]
    WrongTransport(&'static str),
    /// Nothing was read from a connection for [`Config::idle_timeout`](crate::Config::idle_timeout):
    /// it was closed (reported as its `error`; a client then reconnects).
    #[error("nothing received for {after:?} (idle_timeout): connection closed")]
    IdleTimeout {
        /// The configured idle timeout.
        after: std::time::Duration,
    },
    /// The server is not running (not started, or stopped).
    #[error("the server is not running")]
    NotRunning,
    /// The server is already running.
    #[error("the server is already running")]
    AlreadyRunning,
    /// No reply to a request within its deadline (request/response,
    /// `PROTOCOL.md`). A reply that comes later is dropped without a word.
    #[error("no reply to request {event_type:?} within {after:?}")]
    Timeout {
        /// The request's type.
        event_type: String,
        /// The deadline the request was given.
        after: Duration,
    },
    /// The peer's handler for a request failed, or the peer could not run
    /// one (no handler for the type, data that did not fit): its message.
    #[error("request {event_type:?} failed on the peer: {message}")]
    Remote {
        /// The request's type.
        event_type: String,
        /// What the peer said (the `message` of its reply's `error`).
        message: String,
    },
    /// The connection ended before the reply to a request came (the peer may
    /// or may not have handled it).
    #[error("the connection ended before the reply to request {event_type:?} came")]
    Disconnected {
        /// The request's type.
        event_type: String,
    },
    /// A graceful close ([`Client::close`](crate::Client::close),
    /// [`Server::stop_within`](crate::Server::stop_within)) could not deliver
    /// everything that was queued: its deadline passed, or a connection broke.
    #[error("{events} queued events were not delivered ({connections} connections)")]
    Undelivered {
        /// How many queued events were not written in full. The write a
        /// deadline cut short counts whole, though part of it may have
        /// reached the peer: the peer got at least all the others. (Losses in
        /// more than 64 separate bursts on one connection count the last 64.)
        events: u64,
        /// How many connections they were queued for.
        connections: usize,
    },
    /// Acknowledged delivery: the replay buffer holds
    /// [`Config::ack_window`](crate::Config::ack_window) unacknowledged events;
    /// this one was not sent ([`WhenFull`](crate::WhenFull)).
    #[error("{capacity} events wait for an acknowledgement: event not sent")]
    AckWindowFull {
        /// The window ([`Config::ack_window`](crate::Config::ack_window)).
        capacity: usize,
    },
    /// Acknowledged delivery is required ([`Acks::Required`](crate::Acks::Required))
    /// and the server did not answer the agreement in time (a node-ipc
    /// server, or one with acks off): the client gives up.
    #[error("the server did not agree to acknowledged delivery within {after:?}")]
    AcksUnsupported {
        /// [`Config::ack_agreement_timeout`](crate::Config::ack_agreement_timeout).
        after: Duration,
    },
    /// A socket failure: binding, connecting, TLS, datagrams.
    #[error(transparent)]
    Transport(#[from] ipc_transport::Error),
    /// A frame could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The error of this crate inside an `error` lifecycle event, if this
    /// crate raised it.
    ///
    /// ```
    /// use ipc_compat::Error;
    ///
    /// let event_error: ipc_events::Error = Error::QueueFull { capacity: 4 }.into();
    /// assert!(matches!(Error::of(&event_error), Some(Error::QueueFull { capacity: 4 })));
    /// ```
    pub fn of(error: &ipc_events::Error) -> Option<&Error> {
        match error {
            ipc_events::Error::Io(io) => io.get_ref()?.downcast_ref::<Error>(),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Error::MissingId | Error::Config(_) | Error::WrongMode { .. } | Error::WrongTransport(_) => {
                K::InvalidInput
            }
            Error::NoRuntime => K::Other,
            Error::Destroyed { .. } | Error::Closed | Error::NotRunning => K::NotConnected,
            Error::QueueFull { .. } | Error::EventsDropped { .. } | Error::Backpressure { .. } => {
                K::WouldBlock
            }
            Error::AlreadyRunning => K::AlreadyExists,
            Error::IdleTimeout { .. } => K::TimedOut,
            Error::Timeout { .. } | Error::Undelivered { .. } => K::TimedOut,
            Error::Remote { .. } => K::Other,
            Error::AckWindowFull { .. } => K::WouldBlock,
            Error::AcksUnsupported { .. } => K::Unsupported,
            Error::Disconnected { .. } => K::ConnectionAborted,
            Error::Transport(
                ipc_transport::Error::Connect { source, .. } | ipc_transport::Error::Bind { source, .. },
            ) => source.kind(),
            // node's EADDRINUSE
            Error::Transport(ipc_transport::Error::AddrInUse { .. }) => K::AddrInUse,
            Error::Transport(_) | Error::Codec(_) | Error::Io(_) => K::Other,
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(e) => e,
            Error::Transport(e) => e.into(),
            Error::Codec(e) => e.into(),
            other => io::Error::new(other.kind(), other),
        }
    }
}

/// Lets this crate's errors travel on the `error` lifecycle channel: codec and
/// I/O errors as themselves, the others inside an [`io::Error`] ([`Error::of`]
/// gets them back).
impl From<Error> for ipc_events::Error {
    fn from(err: Error) -> ipc_events::Error {
        match err {
            Error::Codec(e) => ipc_events::Error::Codec(e),
            Error::Io(e) => ipc_events::Error::Io(e),
            other => ipc_events::Error::Io(io::Error::new(other.kind(), other)),
        }
    }
}
