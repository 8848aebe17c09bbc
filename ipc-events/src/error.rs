//! The one error type of this crate.

use std::io;

use ipc_codec::CodecError;

/// What went wrong while dispatching an event, or what the layer above reports
/// on the [error channel](crate::Lifecycle::Error).
///
/// Dispatch never returns these: each one travels as
/// [`Lifecycle::Error`](crate::Lifecycle::Error), together with the peer it
/// concerns, and the other handlers of the event still run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event's data does not deserialize into the type a typed handler or
    /// typed subscription asked for.
    #[error("data of event {event_type:?} does not match the handler's type: {source}")]
    Decode {
        /// The event type whose data was rejected.
        event_type: String,
        /// What the deserializer reported (a [`CodecError::Data`]).
        source: CodecError,
    },
    /// A subscription created with [`Overflow::Reject`](crate::Overflow::Reject)
    /// was full: this event was not delivered to it (other handlers got it).
    #[error("subscription to {event_type:?} is full ({capacity} events): event not delivered to it")]
    SubscriptionFull {
        /// The event type of the rejected event.
        event_type: String,
        /// The subscription's capacity.
        capacity: usize,
    },
    /// A frame could not be decoded (reported by the connection's reader).
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// An I/O error on a connection or listener (reported by the layer above).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(e) => e,
            Error::Codec(e) => e.into(),
            Error::SubscriptionFull { .. } => io::Error::new(io::ErrorKind::WouldBlock, err),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
