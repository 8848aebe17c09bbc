//! node-ipc's wire format as tokio-util codecs, sans I/O.
//!
//! Frames are `JSON.stringify({type, data})` plus a delimiter (`\f` by default);
//! [`JsonCodec`] reads and writes them byte for byte as node-ipc 9 and 14 do,
//! [`RawCodec`] is node-ipc's `rawBuffer` mode, and [`MsgPackCodec`] carries the
//! same [`Event`]s in binary for Rust-to-Rust links. Use them with
//! `tokio_util::codec::Framed` over any `AsyncRead + AsyncWrite`:
//!
//! ```
//! use futures::{SinkExt, StreamExt};
//! use ipc_codec::{Event, JsonCodec};
//! use serde_json::json;
//! use tokio_util::codec::Framed;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ipc_codec::CodecError> {
//! let (a, b) = tokio::io::duplex(1024);
//! let mut client = Framed::new(a, JsonCodec::default());
//! let mut server = Framed::new(b, JsonCodec::default());
//!
//! client.send(Event::new("app.message", json!({"id": "hello", "message": "world"}))).await?;
//! let event = server.next().await.unwrap()?;
//! assert_eq!(event.event_type(), "app.message");
//! server.send(("app.message", &json!({"id": "world"}))).await?; // one serialization, in place
//! # Ok(())
//! # }
//! ```
//!
//! Every decoder is bounded by default ([`Rules`]); node-ipc 14's profiles
//! ([`Profile::Fast`], [`Profile::Guarded`], [`Profile::Assured`]) add event-type
//! rules. A bad frame is a typed [`CodecError`] that leaves the decoder on the
//! next frame: end the stream (the default with `Framed`) or report and go on
//! ([`ContinueOnError`]).
//!
//! Where decoding differs from node-ipc's own parser, and why, is the last
//! section below (the text of `ipc-codec/PARSER-DIFFERENCES.md`).
//!
#![doc = include_str!("../PARSER-DIFFERENCES.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README (the crate's page on crates.io) and its example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod continue_on_error;
mod deadline;
mod delimited;
mod error;
mod event;
mod frame_parse;
mod js_writer;
mod json;
mod json_member;
mod json_validate;
#[cfg(feature = "msgpack")]
mod msgpack;
mod raw;
mod rules;

pub use continue_on_error::ContinueOnError;
pub use deadline::PartialFrameDeadline;
pub use delimited::DEFAULT_DELIMITER;
pub use error::{CodecError, Excerpt, EXCERPT_LEN};
pub use event::Event;
pub use json::{v9_rewrites_to_empty_object, JsonCodec, JsonCodecBuilder};
#[cfg(feature = "msgpack")]
#[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
pub use msgpack::{MsgPackCodec, MsgPackCodecBuilder};
pub use raw::{Encoding, RawCodec};
pub use rules::{
    Profile, Rules, RulesBuilder, DEFAULT_MAX_EVENT_NAME_LENGTH, DEFAULT_MESSAGE_TIMEOUT,
    FAST_MAX_MESSAGE_SIZE, GUARDED_MAX_MESSAGE_SIZE, OBJECT_PROTOTYPE_NAMES, RESERVED_EVENT_TYPES,
};
