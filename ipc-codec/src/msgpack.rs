//! [`MsgPackCodec`]: a length-prefixed MessagePack envelope for Rust-to-Rust links.

use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::CodecError;
use crate::event::{Event, Payload};
use crate::rules::{Profile, Rules};

const HEADER_LEN: usize = 4;

/// The same [`Event`]s as [`JsonCodec`](crate::JsonCodec), in a binary
/// envelope: a 4-byte big-endian body length, then a MessagePack array
/// `[type]` or `[type, data]`.
///
/// For Rust-to-Rust links where JSON costs too much. **node-ipc peers do not
/// understand it.** The same [`Rules`] (limits, profiles) and error types
/// apply; the frame limit is checked against the length prefix before any
/// body byte is buffered. Data stays MessagePack until asked for, and structs
/// are written as maps so that [`Event::data`] sees field names.
///
/// ```
/// use bytes::BytesMut;
/// use ipc_codec::{Event, MsgPackCodec};
/// use serde_json::json;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = MsgPackCodec::default();
/// let mut wire = BytesMut::new();
/// codec.encode(("app.ping", &json!({"seq": 1})), &mut wire).unwrap();
/// let event = codec.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(event, Event::new("app.ping", json!({"seq": 1})));
/// ```
#[derive(Debug, Clone)]
pub struct MsgPackCodec {
    rules: Rules,
    state: State,
    partial_since: Option<Instant>,
}

/// Builds a [`MsgPackCodec`]; start from [`MsgPackCodec::builder`]. Its
/// methods are those of [`JsonCodecBuilder`](crate::JsonCodecBuilder) that
/// apply to length-prefixed frames.
#[derive(Debug, Clone)]
pub struct MsgPackCodecBuilder {
    rules: Rules,
}

impl MsgPackCodecBuilder {
    /// Replaces the rules with `profile`'s defaults.
    pub fn profile(mut self, profile: Profile) -> MsgPackCodecBuilder {
        self.rules = Rules::new(profile);
        self
    }

    /// Sets the rules (profile, limits, allow-lists).
    pub fn rules(mut self, rules: Rules) -> MsgPackCodecBuilder {
        self.rules = rules;
        self
    }

    /// Sets the maximum frame size in bytes, length prefix excluded.
    pub fn max_message_size(mut self, bytes: usize) -> MsgPackCodecBuilder {
        self.rules.set_max_message_size(bytes);
        self
    }

    /// Builds the codec.
    ///
    /// # Errors
    ///
    /// [`CodecError::Config`] when the rules are invalid.
    pub fn build(self) -> Result<MsgPackCodec, CodecError> {
        self.rules.validate()?;
        Ok(MsgPackCodec { rules: self.rules, state: State::Header, partial_since: None })
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    Body(usize),
    Discard(usize),
}

impl Default for MsgPackCodec {
    fn default() -> MsgPackCodec {
        MsgPackCodec::new()
    }
}

impl MsgPackCodec {
    /// Fast profile, 16 MiB frames.
    pub fn new() -> MsgPackCodec {
        MsgPackCodec::builder().build().expect("default rules are valid")
    }

    /// A codec with other rules: start here, then [`build`](MsgPackCodecBuilder::build).
    ///
    /// ```
    /// use ipc_codec::{MsgPackCodec, Profile};
    ///
    /// let codec = MsgPackCodec::builder().profile(Profile::Guarded).max_message_size(64 * 1024).build()?;
    /// assert_eq!(codec.rules().max_message_size(), 64 * 1024);
    /// # Ok::<(), ipc_codec::CodecError>(())
    /// ```
    pub fn builder() -> MsgPackCodecBuilder {
        MsgPackCodecBuilder { rules: Rules::default() }
    }

    /// The rules this codec applies.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// When the incomplete frame now buffered began, if the rules have a message timeout.
    pub fn partial_frame_since(&self) -> Option<Instant> {
        self.partial_since
    }

    /// Encodes `(event_type, data)` straight into `dst` with one serialization.
    ///
    /// # Errors
    ///
    /// [`CodecError::Serialize`], and the event-type and size errors of [`Rules`]
    /// under Guarded and Assured. On error `dst` is left as it was.
    pub fn encode_data<T: Serialize + ?Sized>(
        &self,
        event_type: &str,
        data: &T,
        dst: &mut BytesMut,
    ) -> Result<(), CodecError> {
        self.write_frame(event_type, Some(data), dst)
    }

    /// `[type]` or `[type, data]`, length-prefixed.
    fn write_frame<T: Serialize + ?Sized>(
        &self,
        event_type: &str,
        data: Option<&T>,
        dst: &mut BytesMut,
    ) -> Result<(), CodecError> {
        self.rules.check_event_type(event_type)?;
        let start = dst.len();
        dst.put_u32(0);
        let result = (|| {
            let mut w = dst.writer();
            let ser_err = |e: rmp::encode::ValueWriteError| CodecError::Serialize(e.to_string());
            rmp::encode::write_array_len(&mut w, if data.is_some() { 2 } else { 1 }).map_err(ser_err)?;
            rmp::encode::write_str(&mut w, event_type).map_err(ser_err)?;
            if let Some(data) = data {
                let mut ser = rmp_serde::Serializer::new(&mut w).with_struct_map();
                data.serialize(&mut ser).map_err(|e| CodecError::Serialize(e.to_string()))?;
            }
            Ok(())
        })();
        if let Err(err) = result {
            dst.truncate(start);
            return Err(err);
        }
        self.finish_frame(start, dst)
    }

    fn finish_frame(&self, start: usize, dst: &mut BytesMut) -> Result<(), CodecError> {
        let len = dst.len() - start - HEADER_LEN;
        let over_profile = len > self.rules.max_message_size() && self.rules.profile() != Profile::Fast;
        match u32::try_from(len) {
            Ok(prefix) if !over_profile => {
                dst[start..start + HEADER_LEN].copy_from_slice(&prefix.to_be_bytes());
                Ok(())
            }
            _ => {
                dst.truncate(start);
                let max = self.rules.max_message_size().min(u32::MAX as usize);
                Err(CodecError::FrameTooLarge { max, len, complete: true })
            }
        }
    }

    /// Encodes an event: `[type]` when it has no data, else `[type, data]`
    /// (JSON data converted, MessagePack data re-emitted byte for byte).
    ///
    /// # Errors
    ///
    /// As [`encode_data`](MsgPackCodec::encode_data).
    pub fn encode_event(&self, event: &Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        match event.payload() {
            Payload::Absent => self.write_frame::<()>(event.event_type(), None, dst),
            Payload::Json(_) => {
                let value = event.data()?;
                self.encode_data(event.event_type(), &value, dst)
            }
            Payload::MsgPack(bytes) => {
                self.rules.check_event_type(event.event_type())?;
                let start = dst.len();
                dst.put_u32(0);
                let mut w = dst.writer();
                rmp::encode::write_array_len(&mut w, 2).map_err(|e| CodecError::Serialize(e.to_string()))?;
                rmp::encode::write_str(&mut w, event.event_type())
                    .map_err(|e| CodecError::Serialize(e.to_string()))?;
                dst.put_slice(bytes);
                self.finish_frame(start, dst)
            }
        }
    }

    fn parse_body(&self, body: Bytes) -> Result<Event, CodecError> {
        let len = body.len();
        let invalid = |message: String| CodecError::InvalidMsgPack { len, message };
        let mut rest: &[u8] = &body;
        let items = rmp::decode::read_array_len(&mut rest).map_err(|e| invalid(e.to_string()))?;
        if !(1..=2).contains(&items) {
            return Err(invalid(format!("envelope has {items} items, expected 1 or 2")));
        }
        let type_len = rmp::decode::read_str_len(&mut rest).map_err(|e| invalid(e.to_string()))? as usize;
        if rest.len() < type_len {
            return Err(invalid("event type runs past the frame".to_owned()));
        }
        let (type_bytes, mut rest) = rest.split_at(type_len);
        let event_type = std::str::from_utf8(type_bytes).map_err(|e| invalid(format!("event type: {e}")))?;
        self.rules.check_event_type(event_type)?;
        let event_type = compact_str::CompactString::new(event_type);
        if items == 1 {
            if !rest.is_empty() {
                return Err(invalid("trailing bytes after the envelope".to_owned()));
            }
            return Ok(Event::from_parts(event_type, Payload::Absent));
        }
        let data_start = len - rest.len();
        {
            // Walking the value with IgnoredAny validates it without building it.
            let mut de = rmp_serde::Deserializer::new(&mut rest);
            serde::de::IgnoredAny::deserialize(&mut de).map_err(|e| invalid(e.to_string()))?;
        }
        if !rest.is_empty() {
            return Err(invalid("trailing bytes after the envelope".to_owned()));
        }
        Ok(Event::from_parts(event_type, Payload::MsgPack(body.slice(data_start..))))
    }
}

impl Decoder for MsgPackCodec {
    type Item = Event;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, CodecError> {
        loop {
            match self.state {
                State::Header => {
                    if buf.len() < HEADER_LEN {
                        break;
                    }
                    let len = buf.get_u32() as usize;
                    if len > self.rules.max_message_size() {
                        self.state = State::Discard(len);
                        self.partial_since = None;
                        return Err(CodecError::FrameTooLarge {
                            max: self.rules.max_message_size(),
                            len,
                            complete: true,
                        });
                    }
                    self.state = State::Body(len);
                    buf.reserve(len.saturating_sub(buf.len()));
                }
                State::Discard(left) => {
                    let n = left.min(buf.len());
                    buf.advance(n);
                    if n < left {
                        self.state = State::Discard(left - n);
                        return Ok(None);
                    }
                    self.state = State::Header;
                }
                State::Body(len) => {
                    if buf.len() < len {
                        break;
                    }
                    let body = buf.split_to(len).freeze();
                    self.state = State::Header;
                    self.partial_since = None;
                    return self.parse_body(body).map(Some);
                }
            }
        }
        if self.rules.message_timeout().is_some() && (!buf.is_empty() || matches!(self.state, State::Body(_)))
        {
            self.partial_since.get_or_insert_with(Instant::now);
        }
        Ok(None)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, CodecError> {
        if let Some(event) = self.decode(buf)? {
            return Ok(Some(event));
        }
        let state = std::mem::replace(&mut self.state, State::Header);
        let len = buf.len();
        buf.clear();
        self.partial_since = None;
        match state {
            State::Header if len == 0 => Ok(None),
            State::Discard(_) => Ok(None),
            State::Header | State::Body(_) => Err(CodecError::PartialFrameAtEof { len }),
        }
    }
}

impl Encoder<&Event> for MsgPackCodec {
    type Error = CodecError;

    fn encode(&mut self, event: &Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_event(event, dst)
    }
}

impl Encoder<Event> for MsgPackCodec {
    type Error = CodecError;

    fn encode(&mut self, event: Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_event(&event, dst)
    }
}

/// `(event_type, &data)`: serializes `data` straight into the frame.
impl<T: Serialize + ?Sized> Encoder<(&str, &T)> for MsgPackCodec {
    type Error = CodecError;

    fn encode(&mut self, (event_type, data): (&str, &T), dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_data(event_type, data, dst)
    }
}
