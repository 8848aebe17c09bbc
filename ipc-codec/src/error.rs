//! The one error type of this crate.

use std::fmt;
use std::io;

/// How many bytes of an offending frame an error keeps, so a hostile peer
/// cannot make error values (or logs) grow with its frames.
pub const EXCERPT_LEN: usize = 64;

/// Everything that can go wrong while configuring a codec, decoding a frame,
/// encoding an event or reading an event's data.
///
/// Frame errors (all but [`CodecError::Io`]) leave the decoder positioned on the
/// next frame: wrap a codec in [`ContinueOnError`](crate::ContinueOnError) to
/// report them and go on, or use the codec alone to end the stream on the first one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A frame (or the unfinished frame being buffered) is larger than the limit.
    #[error("frame of {len}{} bytes exceeds the {max}-byte limit", if *.complete { "" } else { "+" })]
    FrameTooLarge {
        /// The configured maximum frame size in bytes (delimiter excluded).
        max: usize,
        /// The frame's length, or the bytes seen so far when `complete` is false.
        len: usize,
        /// Whether the whole frame was seen (false: detected while still buffering).
        complete: bool,
    },
    /// Two delimiters with nothing between them.
    #[error("empty frame")]
    EmptyFrame,
    /// The frame is not valid UTF-8.
    #[error("frame of {len} bytes is not valid UTF-8 (at byte {valid_up_to}): {excerpt}")]
    InvalidUtf8 {
        /// The frame's length in bytes.
        len: usize,
        /// Length of the valid prefix.
        valid_up_to: usize,
        /// The start of the frame.
        excerpt: Excerpt,
    },
    /// The frame is not valid JSON (syntax, trailing bytes). Nesting depth is not
    /// limited here; building deep data into a value is ([`CodecError::Data`]).
    #[error("frame of {len} bytes is not valid JSON ({source}): {excerpt}")]
    InvalidJson {
        /// The frame's length in bytes.
        len: usize,
        /// The start of the frame.
        excerpt: Excerpt,
        /// What the JSON parser reported.
        source: serde_json::Error,
    },
    /// The frame is valid JSON but not an object.
    #[error("frame of {len} bytes is not a JSON object: {excerpt}")]
    NotAnObject {
        /// The frame's length in bytes.
        len: usize,
        /// The start of the frame.
        excerpt: Excerpt,
    },
    /// The frame has no `type` member.
    #[error("frame has no \"type\": {excerpt}")]
    MissingType {
        /// The start of the frame.
        excerpt: Excerpt,
    },
    /// The frame's `type` is not a string.
    #[error("frame's \"type\" is {found}, not a string: {excerpt}")]
    TypeNotString {
        /// The JSON kind that was found (`number`, `null`, ...).
        found: &'static str,
        /// The start of the frame.
        excerpt: Excerpt,
    },
    /// The event type is the empty string (Guarded and Assured profiles).
    #[error("event type is empty")]
    EmptyEventType,
    /// The event type is longer than the profile allows (in UTF-16 units, as JavaScript counts).
    #[error("event type of {len} characters exceeds the {max}-character limit")]
    EventNameTooLong {
        /// The configured maximum.
        max: usize,
        /// The event type's length in UTF-16 code units.
        len: usize,
    },
    /// The event type names a local lifecycle event (`connect`, `error`, ...).
    #[error("event type {event_type:?} is reserved for local lifecycle events")]
    ReservedEvent {
        /// The offending event type.
        event_type: String,
    },
    /// The event type is a JavaScript `Object.prototype` name (`__proto__`, `constructor`, ...).
    #[error("event type {event_type:?} is an Object.prototype name")]
    UnsafeEventName {
        /// The offending event type.
        event_type: String,
    },
    /// The event type is not in the Assured profile's allow-list.
    #[error("event type {event_type:?} is not in the allow-list")]
    EventNotAllowed {
        /// The offending event type (truncated to the name-length limit).
        event_type: String,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame ({len} bytes without a delimiter)")]
    PartialFrameAtEof {
        /// Bytes of the unfinished frame.
        len: usize,
    },
    /// A MessagePack envelope could not be read.
    #[error("MessagePack frame of {len} bytes is invalid: {message}")]
    InvalidMsgPack {
        /// The frame's length in bytes.
        len: usize,
        /// What the MessagePack reader reported.
        message: String,
    },
    /// The event's data could not be serialized (for example a map with non-string keys).
    #[error("event data cannot be serialized: {0}")]
    Serialize(String),
    /// The event's data does not deserialize into the requested type.
    #[error("event data does not match the requested type: {0}")]
    Data(String),
    /// The codec's configuration is invalid.
    #[error("invalid codec configuration: {0}")]
    Config(&'static str),
    /// An I/O error from the underlying transport (through `Framed`).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl CodecError {
    /// Whether this error concerns one frame only: the decoder has already
    /// moved past it and can decode the next frame.
    pub fn is_frame_error(&self) -> bool {
        !matches!(self, CodecError::Io(_) | CodecError::Config(_))
    }

    /// The start of the offending frame, for the errors that keep one
    /// (invalid UTF-8 or JSON, not an object, no `type` or a `type` that is
    /// not a string): at most [`EXCERPT_LEN`] bytes, printed escaped.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use ipc_codec::JsonCodec;
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut buf = BytesMut::from(&b"oops\x0c"[..]);
    /// let error = JsonCodec::default().decode(&mut buf).unwrap_err();
    /// assert_eq!(error.excerpt().unwrap().to_string(), "\"oops\"");
    /// ```
    pub fn excerpt(&self) -> Option<&Excerpt> {
        match self {
            CodecError::InvalidUtf8 { excerpt, .. }
            | CodecError::InvalidJson { excerpt, .. }
            | CodecError::NotAnObject { excerpt, .. }
            | CodecError::MissingType { excerpt }
            | CodecError::TypeNotString { excerpt, .. } => Some(excerpt),
            _ => None,
        }
    }
}

impl From<CodecError> for io::Error {
    fn from(err: CodecError) -> io::Error {
        match err {
            CodecError::Io(e) => e,
            CodecError::PartialFrameAtEof { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, err),
            CodecError::Config(_) => io::Error::new(io::ErrorKind::InvalidInput, err),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// The first [`EXCERPT_LEN`] bytes of an offending frame, printed lossily.
#[derive(Clone, PartialEq, Eq)]
pub struct Excerpt {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Excerpt {
    pub(crate) fn of(frame: &[u8]) -> Excerpt {
        let end = frame.len().min(EXCERPT_LEN);
        Excerpt { bytes: frame[..end].to_vec(), truncated: frame.len() > end }
    }

    /// The kept bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the frame was longer than the excerpt.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.bytes))?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}
