//! The benchmark protocol as the async server (`aserver`) sees a wire format:
//! [`Proto`], implemented by each tokio lane, and the [`Request`]s it sorts
//! incoming items into.

use std::io;

use ipc_codec::PartialFrameDeadline;
use tokio_util::codec::{Decoder, Encoder};

use super::common::FanoutReq;

/// What a request asks of the server.
pub(crate) enum Request<O> {
    /// Send this back.
    Echo(O),
    /// Count it.
    Count,
    /// Answer with the count.
    End,
    /// Register for broadcasts.
    Hello,
    /// Answer with the connection counts.
    Stats,
    /// Broadcast.
    Fanout(FanoutReq),
    /// Not part of the protocol.
    Other,
}

/// A wire format as the server uses it.
pub(crate) trait Proto: Send + Sync + 'static {
    type Codec: Decoder<Item = Self::In, Error = Self::Error>
        + Encoder<Self::Out, Error = Self::Error>
        + PartialFrameDeadline
        + Unpin
        + Send
        + 'static;
    type In: Send;
    type Out: Clone + Send + Sync + Unpin + 'static;
    type Error: From<io::Error> + std::fmt::Display + Send;

    fn codec() -> Self::Codec;
    fn classify(item: Self::In) -> Request<Self::Out>;
    fn reply(event_type: &'static str, data: &impl serde::Serialize) -> Self::Out;
    fn fan(seq: u64, size: usize) -> Self::Out;
}
