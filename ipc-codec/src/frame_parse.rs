//! Reading one delimited frame into an [`Event`]: the whole frame validated,
//! the data kept as a slice of it.

use std::borrow::Cow;
use std::fmt;

use bytes::{Buf, Bytes};
use compact_str::CompactString;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, Visitor};
use serde_json::value::RawValue;

use crate::error::{CodecError, Excerpt};
use crate::event::{Event, Payload};
use crate::json_validate::{self, Valid};
use crate::rules::Rules;

/// The event type of the last canonical frame, already checked against the
/// rules: a stream mostly repeats a few types, and a hit skips the UTF-8
/// check, the rules and the copy into a new string.
#[derive(Debug, Clone, Default)]
pub(crate) struct TypeCache(Option<CompactString>);

impl TypeCache {
    /// The event type for `bytes`, checked by `rules` unless it was the last one.
    fn get(&mut self, bytes: &[u8], rules: &Rules) -> Result<CompactString, Option<CodecError>> {
        if let Some(last) = &self.0 {
            if last.as_bytes() == bytes {
                return Ok(last.clone());
            }
        }
        // Not UTF-8: the general path describes the error.
        let text = std::str::from_utf8(bytes).map_err(|_| None)?;
        rules.check_event_type(text).map_err(Some)?;
        let event_type = CompactString::new(text);
        self.0 = Some(event_type.clone());
        Ok(event_type)
    }
}

/// Validates a whole frame and builds an event whose data is a slice of the
/// frame; the type is copied into a `CompactString` (inline up to 24 bytes),
/// or, in the canonical layout, reused from `types` when it repeats.
pub(crate) fn parse_frame(frame: Bytes, rules: &Rules, types: &mut TypeCache) -> Result<Event, CodecError> {
    if frame.is_empty() {
        return Err(CodecError::EmptyFrame);
    }
    if let Some(canonical) = parse_canonical(&frame) {
        let Canonical { event_type, data } = canonical?;
        match types.get(&frame[event_type], rules) {
            Ok(event_type) => {
                // Cut the data out of the frame in place: no reference-count traffic.
                let mut frame = frame;
                frame.truncate(data.end);
                frame.advance(data.start);
                return Ok(Event::from_parts(event_type, Payload::Json(frame)));
            }
            Err(Some(rule_broken)) => return Err(rule_broken),
            Err(None) => {}
        }
    }
    let text = utf8(&frame)?;
    // serde would also read a struct from an array; node-ipc requires an object.
    if text.trim_start_matches([' ', '\t', '\n', '\r']).as_bytes().first() != Some(&b'{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => CodecError::NotAnObject { len: frame.len(), excerpt: Excerpt::of(&frame) },
            Err(source) => CodecError::InvalidJson { len: frame.len(), excerpt: Excerpt::of(&frame), source },
        });
    }
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|source| CodecError::InvalidJson {
        len: frame.len(),
        excerpt: Excerpt::of(&frame),
        source,
    })?;
    let event_type = match envelope.event_type {
        None => return Err(CodecError::MissingType { excerpt: Excerpt::of(&frame) }),
        Some(TypeField::Other(found)) => {
            return Err(CodecError::TypeNotString { found, excerpt: Excerpt::of(&frame) })
        }
        Some(TypeField::Str(s)) => s,
    };
    rules.check_event_type(&event_type)?;
    let event_type = CompactString::new(&event_type);
    let payload = match envelope.data {
        None => Payload::Absent,
        Some(raw) => Payload::Json(frame.slice_ref(raw.get().as_bytes())),
    };
    Ok(Event::from_parts(event_type, payload))
}

/// The whole frame as UTF-8 (SIMD validation; std's only to locate an error).
fn utf8(frame: &[u8]) -> Result<&str, CodecError> {
    simdutf8::basic::from_utf8(frame).map_err(|_| not_utf8(frame))
}

/// The error for a frame that is not UTF-8, with where the first bad byte is.
fn not_utf8(frame: &[u8]) -> CodecError {
    let valid_up_to = std::str::from_utf8(frame).map_or_else(|e| e.valid_up_to(), |_| frame.len());
    CodecError::InvalidUtf8 { len: frame.len(), valid_up_to, excerpt: Excerpt::of(frame) }
}

/// The envelope of node-ipc's canonical layout up to the event type.
const CANONICAL_PREFIX: &[u8] = b"{\"type\":\"";

/// A frame in the canonical layout: where its event type and its data lie.
struct Canonical {
    event_type: std::ops::Range<usize>,
    data: std::ops::Range<usize>,
}

/// The fast path for the layout every node-ipc encoder writes,
/// `{"type":"<type without escapes>","data":<data>}`: the envelope is matched
/// literally and the data checked by [`json_validate`] in one pass, which also
/// tells whether the data is all ASCII (then it needs no UTF-8 pass; the type
/// is checked on its own). `None` sends the frame down the general path, which
/// also produces the precise error for anything invalid; `Some(Err)` is a
/// frame valid as JSON whose data is not UTF-8.
fn parse_canonical(frame: &[u8]) -> Option<Result<Canonical, CodecError>> {
    const MIDDLE: &[u8] = b"\",\"data\":";
    let rest = frame.strip_prefix(CANONICAL_PREFIX)?.strip_suffix(b"}")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    let (event_type, rest) = rest.split_at(end);
    let data = rest.strip_prefix(MIDDLE)?;
    let edges = [data.first()?, data.last()?];
    if event_type.iter().any(|&b| b < 0x20) || edges.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    if json_validate::validate(data)? == Valid::NonAscii && simdutf8::basic::from_utf8(data).is_err() {
        return Some(Err(not_utf8(frame)));
    }
    let type_end = CANONICAL_PREFIX.len() + end;
    let data_start = type_end + MIDDLE.len();
    Some(Ok(Canonical {
        event_type: CANONICAL_PREFIX.len()..type_end,
        data: data_start..data_start + data.len(),
    }))
}

/// The members of a frame that node-ipc reads; others are validated and ignored.
///
/// A member that repeats keeps its last value, as `JSON.parse` does (and so
/// node-ipc 9 and 14): `{"type":"a","data":1,"type":"b"}` is event `b` with
/// data `1`. serde's derived structs refuse repeated members, hence the
/// visitor. Only frames off the canonical fast path come here.
struct Envelope<'a> {
    event_type: Option<TypeField<'a>>,
    data: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope<'a>, D::Error> {
        struct EnvelopeVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for EnvelopeVisitor<'a> {
            type Value = Envelope<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'a>, A::Error> {
                let mut envelope = Envelope { event_type: None, data: None };
                while let Some(member) = map.next_key::<Member>()? {
                    match member {
                        Member::Type => envelope.event_type = Some(map.next_value()?),
                        // An explicit `null` is data (not absent), as JavaScript keeps it.
                        Member::Data => envelope.data = Some(map.next_value()?),
                        Member::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(envelope)
            }
        }
        d.deserialize_map(EnvelopeVisitor(std::marker::PhantomData))
    }
}

/// A member name of the envelope (escapes already resolved: `"typ\u0065"` is `type`).
enum Member {
    Type,
    Data,
    Other,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Member, D::Error> {
        struct MemberVisitor;
        impl Visitor<'_> for MemberVisitor {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
                Ok(match name {
                    "type" => Member::Type,
                    "data" => Member::Data,
                    _ => Member::Other,
                })
            }
        }
        d.deserialize_identifier(MemberVisitor)
    }
}

/// The `type` member: a string (borrowed when it has no escapes) or the kind
/// of JSON value found instead.
enum TypeField<'a> {
    Str(Cow<'a, str>),
    Other(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for TypeField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TypeField<'a>, D::Error> {
        struct TypeVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TypeVisitor<'a> {
            type Value = TypeField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Str(Cow::Owned(s)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Other("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TypeField<'a>, E> {
                Ok(TypeField::Other("null"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<TypeField<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TypeField::Other("an array"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<TypeField<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(TypeField::Other("an object"))
            }
        }
        d.deserialize_any(TypeVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Profile;

    fn parse(frame: &[u8], rules: &Rules, types: &mut TypeCache) -> Result<Event, CodecError> {
        parse_frame(Bytes::copy_from_slice(frame), rules, types)
    }

    #[test]
    fn the_type_cache_never_lets_another_type_past_the_rules() {
        let rules = Rules::new(Profile::Guarded);
        let mut types = TypeCache::default();
        for _ in 0..2 {
            let event = parse(br#"{"type":"app.message","data":1}"#, &rules, &mut types).unwrap();
            assert_eq!(event.event_type(), "app.message");
            let err = parse(br#"{"type":"connect","data":1}"#, &rules, &mut types).unwrap_err();
            assert!(matches!(err, CodecError::ReservedEvent { .. }), "{err}");
            let err = parse(br#"{"type":"","data":1}"#, &rules, &mut types).unwrap_err();
            assert!(matches!(err, CodecError::EmptyEventType), "{err}");
        }
        // A prefix or extension of the cached type is a different type.
        assert_eq!(
            parse(br#"{"type":"app.messag","data":1}"#, &rules, &mut types).unwrap().event_type(),
            "app.messag"
        );
        let err = parse(br#"{"type":"__proto__","data":1}"#, &rules, &mut types).unwrap_err();
        assert!(matches!(err, CodecError::UnsafeEventName { .. }), "{err}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_reported_where_they_are() {
        let mut types = TypeCache::default();
        let rules = Rules::default();
        for (frame, at) in [
            (&b"{\"type\":\"a\xff\",\"data\":1}"[..], 10),
            (&b"{\"type\":\"a\",\"data\":\"\xc3\"}"[..], 20),
            (&b"{\"type\":\"a\",\"data\":\"ok\xe2\x82\"}"[..], 22),
        ] {
            match parse(frame, &rules, &mut types) {
                Err(CodecError::InvalidUtf8 { valid_up_to, .. }) => assert_eq!(valid_up_to, at),
                other => panic!("{other:?}"),
            }
        }
        let event =
            parse("{\"type\":\"\u{e9}t\u{e9}\",\"data\":\"caf\u{e9}\"}".as_bytes(), &rules, &mut types);
        assert_eq!(event.unwrap().data_as::<String>().unwrap(), "caf\u{e9}");
    }

    /// (frame, event type, raw data).
    type Repeated = (&'static [u8], &'static str, Option<&'static [u8]>);

    /// Frames whose members repeat: `JSON.parse` keeps the last value of each.
    const REPEATED: &[Repeated] = &[
        (
            br#"{"type":"first","data":null,"type":"last","data":{"ok":true}}"#,
            "last",
            Some(br#"{"ok":true}"#),
        ),
        (br#"{"type":"a","type":"b","data":1}"#, "b", Some(b"1")),
        (br#"{"type":"a","data":1,"data":2}"#, "a", Some(b"2")),
        (br#"{"type":"a","data":1,"type":"b"}"#, "b", Some(b"1")),
        (br#"{"data":[1],"type":"a","data":"x","type":"b"}"#, "b", Some(br#""x""#)),
        (br#"{"type":"a","type":"b"}"#, "b", None),
        (br#"{"type":"a","data":{"data":1,"data":2}}"#, "a", Some(br#"{"data":1,"data":2}"#)),
        (br#"{"type":1,"type":"b","data":null}"#, "b", Some(b"null")),
        (br#"{"type":"a","data":2,"typ\u0065":"b","d\u0061ta":3}"#, "b", Some(b"3")),
        (br#"{ "type" : "a" , "data" : 1 , "data" : 2 }"#, "a", Some(b"2")),
    ];

    #[test]
    fn repeated_members_keep_the_last_value_in_every_profile() {
        for profile in [Profile::Fast, Profile::Guarded, Profile::Assured] {
            let rules = Rules::builder(profile).allowed_events(["a", "b", "last"]).build();
            let mut types = TypeCache::default();
            for &(frame, event_type, data) in REPEATED {
                let show = String::from_utf8_lossy(frame);
                let event =
                    parse(frame, &rules, &mut types).unwrap_or_else(|e| panic!("{profile:?} {show}: {e}"));
                assert_eq!(event.event_type(), event_type, "{profile:?} {show}");
                assert_eq!(event.raw_data(), data, "{profile:?} {show}");
                assert_eq!(event.has_data(), data.is_some(), "{profile:?} {show}");
            }
        }
    }

    #[test]
    fn repeated_members_the_rules_judge_the_last_type() {
        let mut types = TypeCache::default();
        let guarded = Rules::new(Profile::Guarded);
        // A reserved name first is overwritten; a reserved name last is refused.
        let event = parse(br#"{"type":"connect","data":1,"type":"app.ok"}"#, &guarded, &mut types).unwrap();
        assert_eq!(event.event_type(), "app.ok");
        let err = parse(br#"{"type":"app.ok","data":1,"type":"connect"}"#, &guarded, &mut types).unwrap_err();
        assert!(matches!(err, CodecError::ReservedEvent { .. }), "{err}");
        let err = parse(br#"{"type":"app.ok","type":"__proto__"}"#, &guarded, &mut types).unwrap_err();
        assert!(matches!(err, CodecError::UnsafeEventName { .. }), "{err}");
        // A last type that is not a string is refused even after a string.
        for rules in [Rules::default(), guarded] {
            let err = parse(br#"{"type":"a","data":1,"type":null}"#, &rules, &mut types).unwrap_err();
            assert!(matches!(err, CodecError::TypeNotString { found: "null", .. }), "{err}");
        }
    }

    #[test]
    fn repeated_members_still_must_be_valid_json() {
        let rules = Rules::default();
        let mut types = TypeCache::default();
        for frame in [
            &br#"{"type":"a","data":1,"data":}"#[..],
            br#"{"type":"a","data":1,"type":"b",}"#,
            br#"{"type":"a","data":1}{"type":"b"}"#,
        ] {
            let err = parse(frame, &rules, &mut types).unwrap_err();
            assert!(matches!(err, CodecError::InvalidJson { .. }), "{err}");
        }
    }

    #[test]
    fn the_canonical_path_and_the_general_path_agree() {
        // A canonical frame and the same frame with spaces (general path).
        let rules = Rules::default();
        let mut types = TypeCache::default();
        let fast = parse(br#"{"type":"a","data":{"x":[1,2]}}"#, &rules, &mut types).unwrap();
        let slow = parse(br#"{ "type":"a","data":{"x":[1,2]}}"#, &rules, &mut types).unwrap();
        assert_eq!((fast.event_type(), fast.raw_data()), (slow.event_type(), slow.raw_data()));
    }
}
