//! What every other module talks about: how messages are framed ([`Mode`]),
//! what is read ([`Incoming`]) and what is sent ([`Outgoing`]). Imports nothing
//! else of this crate, so the command line, the lines and the wire all build on it.

use bytes::Bytes;
use ipc_codec::{CodecError, Encoding, Event, JsonCodec};

/// How messages are framed.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// node-ipc's JSON frames.
    Json {
        /// Decodes and encodes frames (delimiter, profile, limits).
        codec: Box<JsonCodec>,
        /// `--id`: announced in the data of what we send.
        id: Option<String>,
    },
    /// node-ipc's raw-buffer mode; lines are payloads in this encoding.
    Raw(Encoding),
}

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
