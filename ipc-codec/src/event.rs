//! [`Event`]: one node-ipc message, an event type and its data.

use std::fmt;

use bytes::Bytes;
use compact_str::CompactString;
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Error as _, Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::error::CodecError;
use crate::js_writer;

/// One node-ipc message: `{"type": <event type>, "data": <data>}`.
///
/// Data stays in the encoded form it arrived in (for [`JsonCodec`](crate::JsonCodec),
/// the exact JSON bytes of the frame, sliced from the read buffer without a copy)
/// until someone asks for it: [`data_as`](Event::data_as) deserializes straight
/// from those bytes, [`data`](Event::data) builds a [`serde_json::Value`], and an
/// event passed on is re-emitted with its data bytes unchanged (key order and
/// number spelling included).
///
/// # Examples
///
/// ```
/// use ipc_codec::Event;
/// use serde_json::json;
///
/// let hello = Event::new("app.message", json!({"id": "world", "message": "hello"}));
/// assert_eq!(hello.event_type(), "app.message");
/// assert_eq!(hello.raw_data(), Some(&br#"{"id":"world","message":"hello"}"#[..]));
///
/// #[derive(serde::Deserialize)]
/// struct Msg<'a> { id: &'a str, message: &'a str }
/// let msg: Msg<'_> = hello.data_as().unwrap();
/// assert_eq!((msg.id, msg.message), ("world", "hello"));
/// ```
#[derive(Clone)]
pub struct Event {
    /// Inline for names up to 24 bytes: no allocation, and `event_type()` is free.
    event_type: CompactString,
    payload: Payload,
}

/// How an event's data is held: always already validated.
#[derive(Clone)]
pub(crate) enum Payload {
    /// No data member (JavaScript `undefined`); encoders write `{}` as node-ipc does.
    Absent,
    /// The JSON text of the data.
    Json(Bytes),
    /// One MessagePack value.
    #[cfg(feature = "msgpack")]
    MsgPack(Bytes),
}

impl Event {
    /// An event with data given as a [`serde_json::Value`].
    ///
    /// Object members keep the order they were inserted in (serde_json's
    /// `preserve_order`), as `JSON.stringify` does.
    pub fn new(event_type: impl AsRef<str>, data: Value) -> Event {
        let mut out = Vec::with_capacity(64);
        js_writer::write(&mut out, &data).expect("a Value always serializes");
        Event::from_parts(CompactString::new(event_type), Payload::Json(Bytes::from(out)))
    }

    /// An event whose data is any serializable value, serialized once, as
    /// JavaScript would print it.
    ///
    /// # Errors
    ///
    /// [`CodecError::Serialize`] when `data` cannot be represented in JSON (for
    /// example a map whose keys are not strings).
    pub fn with_data<T: Serialize + ?Sized>(
        event_type: impl AsRef<str>,
        data: &T,
    ) -> Result<Event, CodecError> {
        let mut out = Vec::with_capacity(64);
        js_writer::write(&mut out, data).map_err(|e| CodecError::Serialize(e.to_string()))?;
        Ok(Event::from_parts(CompactString::new(event_type), Payload::Json(Bytes::from(out))))
    }

    /// An event whose data is already JSON text; the text is validated and then
    /// kept byte for byte.
    ///
    /// # Errors
    ///
    /// [`CodecError::InvalidUtf8`] or [`CodecError::InvalidJson`] when `json` is not
    /// one valid JSON value.
    pub fn from_json_data(event_type: impl AsRef<str>, json: impl Into<Bytes>) -> Result<Event, CodecError> {
        let json = json.into();
        let text = std::str::from_utf8(&json).map_err(|e| CodecError::InvalidUtf8 {
            len: json.len(),
            valid_up_to: e.valid_up_to(),
            excerpt: crate::error::Excerpt::of(&json),
        })?;
        serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|source| CodecError::InvalidJson {
            len: json.len(),
            excerpt: crate::error::Excerpt::of(&json),
            source,
        })?;
        Ok(Event::from_parts(CompactString::new(event_type), Payload::Json(json)))
    }

    /// An event without data (JavaScript `undefined`). Encoders write its data
    /// as `{}`, as both node-ipc 9 and 14 do.
    pub fn without_data(event_type: impl AsRef<str>) -> Event {
        Event::from_parts(CompactString::new(event_type), Payload::Absent)
    }

    /// Builds an event from parts a decoder has already validated.
    pub(crate) fn from_parts(event_type: CompactString, payload: Payload) -> Event {
        Event { event_type, payload }
    }

    /// The event type, such as `"app.message"`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Whether the event carries data (false for a frame without a `data` member).
    pub fn has_data(&self) -> bool {
        !matches!(self.payload, Payload::Absent)
    }

    /// The JSON text of the data exactly as it was received or built, or `None`
    /// when there is no data or it is held in another encoding (MessagePack).
    pub fn raw_data(&self) -> Option<&[u8]> {
        match &self.payload {
            Payload::Json(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The raw JSON of one top-level member of the data, without building the
    /// data: `Some` when the data is a JSON object with member `key` (the last
    /// one when `key` repeats, as `JSON.parse` keeps it).
    ///
    /// ```
    /// use ipc_codec::Event;
    ///
    /// let event = Event::new("app.message", serde_json::json!({"id": "hello", "text": "hi"}));
    /// assert_eq!(event.raw_data_member("id"), Some(&b"\"hello\""[..]));
    /// assert_eq!(event.raw_data_member("nope"), None);
    /// ```
    pub fn raw_data_member(&self, key: &str) -> Option<&[u8]> {
        crate::json_member::member_of_valid(self.raw_data()?, key)
    }

    /// One top-level member of the data as the data of an event of its own,
    /// of type `event_type`, sharing this event's bytes: no copy, and no
    /// second validation. `None` when the data is not a JSON object with
    /// member `key`. This is how an envelope's inner event is taken out (a
    /// request inside `{"rid":..,"type":..,"data":..}`).
    ///
    /// ```
    /// use ipc_codec::Event;
    ///
    /// let envelope = Event::new("ipc.request", serde_json::json!({"rid": 1, "type": "sum", "data": [1, 2]}));
    /// let inner = envelope.member_event("data", "sum").unwrap();
    /// assert_eq!((inner.event_type(), inner.raw_data()), ("sum", Some(&b"[1,2]"[..])));
    /// assert!(envelope.member_event("nope", "sum").is_none());
    /// ```
    pub fn member_event(&self, key: &str, event_type: impl AsRef<str>) -> Option<Event> {
        let Payload::Json(bytes) = &self.payload else { return None };
        let member = crate::json_member::member_of_valid(bytes, key)?;
        Some(Event::from_parts(CompactString::new(event_type), Payload::Json(bytes.slice_ref(member))))
    }

    /// Deserializes the data straight from its encoded bytes into `T`, which may
    /// borrow from the event. Missing data reads as JSON `null` (so `Option<T>`
    /// gives `None`).
    ///
    /// # Errors
    ///
    /// [`CodecError::Data`] when the data does not have `T`'s shape.
    pub fn data_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, CodecError> {
        match &self.payload {
            Payload::Absent => serde_json::from_slice(b"null").map_err(data_error),
            Payload::Json(bytes) => serde_json::from_slice(bytes).map_err(data_error),
            #[cfg(feature = "msgpack")]
            Payload::MsgPack(bytes) => rmp_serde::from_slice(bytes).map_err(data_error),
        }
    }

    /// The data as a [`serde_json::Value`] (`Null` when missing).
    ///
    /// # Errors
    ///
    /// [`CodecError::Data`] for the rare valid JSON that a `Value` cannot hold,
    /// such as the number `1e400` (JavaScript reads it as `Infinity`) or data
    /// nested deeper than serde_json's limit of 128.
    pub fn data(&self) -> Result<Value, CodecError> {
        self.data_as()
    }

    pub(crate) fn payload(&self) -> &Payload {
        &self.payload
    }
}

fn data_error(err: impl fmt::Display) -> CodecError {
    CodecError::Data(err.to_string())
}

/// How much of an event's data `Debug` shows.
const DEBUG_DATA_LEN: usize = 256;

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("type", &self.event_type());
        match &self.payload {
            Payload::Absent => d.field("data", &format_args!("undefined")),
            Payload::Json(bytes) => {
                // Bounded, so that logging a hostile event cannot flood the log.
                let shown = &bytes[..bytes.len().min(DEBUG_DATA_LEN)];
                let more = if bytes.len() > DEBUG_DATA_LEN { "..." } else { "" };
                d.field("data", &format_args!("{}{more}", String::from_utf8_lossy(shown)))
            }
            #[cfg(feature = "msgpack")]
            Payload::MsgPack(_) => d.field("data", &self.data().ok()),
        };
        d.finish()
    }
}

/// Two events are equal when their types are equal and their data is: byte for
/// byte when both hold JSON text, by value otherwise.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        if self.event_type != other.event_type {
            return false;
        }
        match (&self.payload, &other.payload) {
            (Payload::Absent, Payload::Absent) => true,
            (Payload::Json(a), Payload::Json(b)) => a == b,
            #[cfg(feature = "msgpack")]
            (Payload::MsgPack(a), Payload::MsgPack(b)) => a == b,
            (Payload::Absent, _) | (_, Payload::Absent) => false,
            #[cfg(feature = "msgpack")]
            _ => matches!((self.data(), other.data()), (Ok(a), Ok(b)) if a == b),
        }
    }
}

/// Serializes as `{"type": .., "data": ..}` (no `data` when there is none), in
/// any serde format. For node-ipc's exact wire bytes use [`JsonCodec`](crate::JsonCodec).
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Event", 2)?;
        s.serialize_field("type", self.event_type())?;
        if self.has_data() {
            let data = self.data().map_err(S::Error::custom)?;
            s.serialize_field("data", &data)?;
        } else {
            s.skip_field("data")?;
        }
        s.end()
    }
}

/// Deserializes from `{"type": .., "data": ..}`; a missing `data` gives an
/// event without data, an explicit `null` an event whose data is `null`.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            #[serde(rename = "type")]
            event_type: String,
            #[serde(default, deserialize_with = "present")]
            data: Option<Value>,
        }
        fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
            Value::deserialize(d).map(Some)
        }
        let envelope = Envelope::deserialize(deserializer)?;
        Ok(match envelope.data {
            Some(data) => Event::new(envelope.event_type, data),
            None => Event::without_data(envelope.event_type),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_members_keep_insertion_order() {
        let event = Event::new("t", json!({"zebra": 1, "apple": 2, "mango": {"b": 1, "a": 2}}));
        assert_eq!(event.raw_data().unwrap(), br#"{"zebra":1,"apple":2,"mango":{"b":1,"a":2}}"#);
    }

    #[test]
    fn missing_data_reads_as_null() {
        let event = Event::without_data("t");
        assert!(!event.has_data());
        assert_eq!(event.data().unwrap(), Value::Null);
        assert_eq!(event.data_as::<Option<u32>>().unwrap(), None);
    }

    #[test]
    fn from_json_data_keeps_bytes_and_rejects_garbage() {
        let event = Event::from_json_data("t", &b"{ \"b\" : 1.50 }"[..]).unwrap();
        assert_eq!(event.raw_data().unwrap(), b"{ \"b\" : 1.50 }");
        assert!(matches!(Event::from_json_data("t", &b"{"[..]), Err(CodecError::InvalidJson { .. })));
        assert!(matches!(Event::from_json_data("t", &b"\"\xff\""[..]), Err(CodecError::InvalidUtf8 { .. })));
    }

    #[test]
    fn data_as_wrong_shape_is_a_typed_error() {
        let event = Event::new("t", json!("text"));
        assert!(matches!(event.data_as::<u32>(), Err(CodecError::Data(_))));
    }

    #[test]
    fn serde_round_trip() {
        let event = Event::new("t", json!({"a": [1, 2.5, null]}));
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(text, r#"{"type":"t","data":{"a":[1,2.5,null]}}"#);
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event);
        let absent: Event = serde_json::from_str(r#"{"type":"t"}"#).unwrap();
        assert!(!absent.has_data());
        assert_eq!(serde_json::to_string(&absent).unwrap(), r#"{"type":"t"}"#);
        let null: Event = serde_json::from_str(r#"{"type":"t","data":null}"#).unwrap();
        assert_eq!(null.raw_data(), Some(&b"null"[..]));
    }
}
