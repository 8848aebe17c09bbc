//! [`JsonCodec`]: node-ipc's delimited JSON frames.

use std::fmt;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

use crate::delimited::{Delimited, DEFAULT_DELIMITER};
use crate::error::CodecError;
use crate::event::{Event, Payload};
use crate::frame_parse::{parse_frame, TypeCache};
use crate::js_writer;
use crate::rules::{Profile, Rules};

/// node-ipc's wire format: `JSON.stringify({type, data})` followed by a
/// delimiter (`\f` by default), as a tokio-util [`Decoder`] and [`Encoder`].
///
/// `JsonCodec::default()` is node-ipc's default: delimiter `\f`, [`Profile::Fast`]
/// (bounded to 16 MiB frames). The decoder validates each whole frame, keeps the
/// data as the frame's own bytes, and never rescans bytes it has searched.
/// The encoder writes exactly what node-ipc's encoder writes.
///
/// On a bad frame the decoder returns an error after moving past that frame:
/// used alone in a `Framed`, the stream ends there (node-ipc 14's Fast parser
/// closes the connection); wrapped in [`ContinueOnError`](crate::ContinueOnError),
/// the error is reported and decoding goes on (node-ipc 9 emitted `error` and
/// carried on).
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use ipc_codec::{Event, JsonCodec};
/// use serde_json::json;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = JsonCodec::default();
/// let mut wire = BytesMut::new();
/// codec.encode(Event::new("app.message", json!({"id": "hello"})), &mut wire).unwrap();
/// codec.encode(("app.ping", &42), &mut wire).unwrap(); // straight from any Serialize
/// assert_eq!(&wire[..], &b"{\"type\":\"app.message\",\"data\":{\"id\":\"hello\"}}\x0c{\"type\":\"app.ping\",\"data\":42}\x0c"[..]);
///
/// let first = codec.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(first.event_type(), "app.message");
/// assert_eq!(first.data().unwrap(), json!({"id": "hello"}));
/// let second = codec.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(second.data_as::<u32>().unwrap(), 42);
/// assert!(codec.decode(&mut wire).unwrap().is_none());
/// ```
#[derive(Clone)]
pub struct JsonCodec {
    frames: Delimited,
    rules: Rules,
    legacy_v9_data: bool,
    types: TypeCache,
}

impl fmt::Debug for JsonCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonCodec")
            .field("delimiter", &String::from_utf8_lossy(self.frames.delimiter()))
            .field("rules", &self.rules)
            .field("legacy_v9_data", &self.legacy_v9_data)
            .finish_non_exhaustive()
    }
}

impl Default for JsonCodec {
    fn default() -> JsonCodec {
        JsonCodec::new()
    }
}

impl JsonCodec {
    /// node-ipc's default: delimiter `\f`, Fast profile, 16 MiB frames.
    pub fn new() -> JsonCodec {
        JsonCodec::builder().build().expect("the default configuration is valid")
    }

    /// Fast profile without a frame limit.
    ///
    /// # Security
    ///
    /// A peer that never sends a delimiter makes this decoder buffer without
    /// end. Prefer [`JsonCodec::new`] or a builder with an explicit limit.
    pub fn new_unbounded() -> JsonCodec {
        JsonCodec::builder().rules(Rules::unbounded()).build().expect("unbounded rules are valid")
    }

    /// A builder starting from node-ipc's defaults.
    ///
    /// ```
    /// use ipc_codec::{JsonCodec, Profile};
    ///
    /// let codec = JsonCodec::builder()
    ///     .delimiter("\r\n")
    ///     .profile(Profile::Guarded)
    ///     .max_message_size(64 * 1024)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(codec.rules().max_message_size(), 64 * 1024);
    /// ```
    pub fn builder() -> JsonCodecBuilder {
        JsonCodecBuilder {
            delimiter: Bytes::from_static(DEFAULT_DELIMITER),
            rules: Rules::default(),
            legacy_v9_data: false,
        }
    }

    /// The rules this codec decodes (and, for Guarded and Assured, encodes) by.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The delimiter that ends each frame.
    pub fn delimiter(&self) -> &[u8] {
        self.frames.delimiter()
    }

    /// When the incomplete frame now buffered began, if the rules have a
    /// message timeout and such a frame is buffered. A transport closes the
    /// connection once `message_timeout` has passed since then.
    pub fn partial_frame_since(&self) -> Option<Instant> {
        self.frames.partial_since()
    }

    /// When the incomplete frame now buffered must be finished by: this
    /// codec's [`PartialFrameDeadline`](crate::PartialFrameDeadline), callable
    /// without importing the trait.
    pub fn partial_frame_deadline(&self) -> Option<Instant> {
        Some(self.frames.partial_since()? + self.rules.message_timeout()?)
    }

    /// Encodes `(event_type, data)` straight into `dst`: one serialization, no
    /// intermediate `Value` or `String`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Serialize`] when `data` is not representable in JSON, and
    /// under Guarded/Assured the event-type and size errors of [`Rules`]. On
    /// error `dst` is left as it was.
    pub fn encode_data<T: Serialize + ?Sized>(
        &self,
        event_type: &str,
        data: &T,
        dst: &mut BytesMut,
    ) -> Result<(), CodecError> {
        self.write_frame(event_type, dst, |dst| {
            js_writer::write(dst, data).map_err(|e| CodecError::Serialize(e.to_string()))
        })
    }

    /// Encodes an event, re-emitting JSON data byte for byte (`{}` when it has none).
    ///
    /// Encoding reads the codec and never changes it, so one codec can encode
    /// for many connections at once.
    ///
    /// # Errors
    ///
    /// As [`encode_data`](JsonCodec::encode_data). On error `dst` is left as it was.
    pub fn encode_event(&self, event: &Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        let event_type = event.event_type();
        match event.payload() {
            Payload::Absent => self.write_frame(event_type, dst, |dst| {
                dst.put_slice(b"{}");
                Ok(())
            }),
            Payload::Json(bytes) => self.write_frame(event_type, dst, |dst| {
                dst.put_slice(bytes);
                Ok(())
            }),
            #[cfg(feature = "msgpack")]
            Payload::MsgPack(_) => {
                let value = event.data()?;
                self.encode_data(event_type, &value, dst)
            }
        }
    }

    /// Writes `{"type":<type>,"data":` + data + `}` + delimiter, applying the
    /// legacy 9.x data rewrite and the Guarded checks.
    fn write_frame(
        &self,
        event_type: &str,
        dst: &mut BytesMut,
        write_data: impl FnOnce(&mut BytesMut) -> Result<(), CodecError>,
    ) -> Result<(), CodecError> {
        self.rules.check_event_type(event_type)?;
        let start = dst.len();
        dst.reserve(event_type.len() + 32);
        js_writer::write_quoted(dst, b"{\"type\":\"", event_type, b"\",\"data\":");
        let data_start = dst.len();
        if let Err(err) = write_data(dst) {
            dst.truncate(start);
            return Err(err);
        }
        if self.legacy_v9_data && v9_rewrites_to_empty_object(&dst[data_start..]) {
            dst.truncate(data_start);
            dst.put_slice(b"{}");
        }
        dst.put_u8(b'}');
        let len = dst.len() - start;
        if len > self.rules.max_message_size() && self.rules.profile() != Profile::Fast {
            dst.truncate(start);
            return Err(CodecError::FrameTooLarge {
                max: self.rules.max_message_size(),
                len,
                complete: true,
            });
        }
        dst.put_slice(self.frames.delimiter());
        Ok(())
    }
}

/// Builds a [`JsonCodec`]; start from [`JsonCodec::builder`].
#[derive(Debug, Clone)]
pub struct JsonCodecBuilder {
    delimiter: Bytes,
    rules: Rules,
    legacy_v9_data: bool,
}

impl JsonCodecBuilder {
    /// Sets the delimiter (node-ipc `delimiter`): any non-empty byte string.
    pub fn delimiter(mut self, delimiter: impl AsRef<[u8]>) -> JsonCodecBuilder {
        self.delimiter = Bytes::copy_from_slice(delimiter.as_ref());
        self
    }

    /// Replaces the rules with `profile`'s defaults.
    pub fn profile(mut self, profile: Profile) -> JsonCodecBuilder {
        self.rules = Rules::new(profile);
        self
    }

    /// Sets the rules (profile, limits, allow-lists).
    pub fn rules(mut self, rules: Rules) -> JsonCodecBuilder {
        self.rules = rules;
        self
    }

    /// Sets the maximum frame size in bytes, delimiter excluded.
    pub fn max_message_size(mut self, bytes: usize) -> JsonCodecBuilder {
        self.rules.set_max_message_size(bytes);
        self
    }

    /// Reproduces node-ipc 9.x's encoder, which sends data that is `""`,
    /// `null` or missing, or an object with a truthy `_maxListeners`, as `{}`.
    /// Off by default: data is sent as given, as node-ipc 14 does.
    pub fn legacy_v9_data(mut self, on: bool) -> JsonCodecBuilder {
        self.legacy_v9_data = on;
        self
    }

    /// Builds the codec.
    ///
    /// # Errors
    ///
    /// [`CodecError::Config`] for an empty delimiter or invalid rules.
    pub fn build(self) -> Result<JsonCodec, CodecError> {
        self.rules.validate()?;
        let track_partial = self.rules.message_timeout().is_some();
        let frames = Delimited::new(self.delimiter, self.rules.max_message_size(), track_partial)?;
        Ok(JsonCodec {
            frames,
            rules: self.rules,
            legacy_v9_data: self.legacy_v9_data,
            types: TypeCache::default(),
        })
    }
}

impl Decoder for JsonCodec {
    type Item = Event;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, CodecError> {
        match self.frames.next_frame(buf)? {
            Some(frame) => parse_frame(frame, &self.rules, &mut self.types).map(Some),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, CodecError> {
        match self.decode(buf)? {
            Some(event) => Ok(Some(event)),
            None => self.frames.finish(buf).map(|()| None),
        }
    }
}

impl Encoder<&Event> for JsonCodec {
    type Error = CodecError;

    fn encode(&mut self, event: &Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_event(event, dst)
    }
}

impl Encoder<Event> for JsonCodec {
    type Error = CodecError;

    fn encode(&mut self, event: Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_event(&event, dst)
    }
}

/// `(event_type, &data)`: the fast path, serializing `data` straight into the frame.
impl<T: Serialize + ?Sized> Encoder<(&str, &T)> for JsonCodec {
    type Error = CodecError;

    fn encode(&mut self, (event_type, data): (&str, &T), dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_data(event_type, data, dst)
    }
}

/// The searcher for `"_maxListeners"`, built once: `memmem::find` builds one
/// per call, which cost some 800 instructions per 9.x emit.
fn max_listeners_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"\"_maxListeners\""))
}

/// node-ipc 9.x's `EventParser.format`: falsy data other than `false` and `0`,
/// and data with a truthy `_maxListeners`, is replaced by `{}`.
/// Whether node-ipc 9.x would send this encoded data as `{}` (it does so for
/// `""`, `null`, and objects with a truthy `_maxListeners`): the rewrite
/// [`JsonCodecBuilder::legacy_v9_data`] applies, for data written inside
/// another event's data (ipc-compat's acknowledged delivery).
///
/// ```
/// use ipc_codec::v9_rewrites_to_empty_object;
/// assert!(v9_rewrites_to_empty_object(b"null"));
/// assert!(v9_rewrites_to_empty_object(b"\"\""));
/// assert!(v9_rewrites_to_empty_object(br#"{"_maxListeners":10}"#));
/// assert!(!v9_rewrites_to_empty_object(br#"{"_maxListeners":0}"#));
/// assert!(!v9_rewrites_to_empty_object(b"[1]"));
/// ```
pub fn v9_rewrites_to_empty_object(data: &[u8]) -> bool {
    match data {
        b"\"\"" | b"null" => true,
        [b'{', ..] if max_listeners_finder().find(data).is_some() => {
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(data) {
                Ok(map) => map.get("_maxListeners").is_some_and(js_truthy),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

fn js_truthy(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
