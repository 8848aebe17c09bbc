//! The JSON writer against serde_json, differentially: the input drives a
//! tree of serde data-model calls (every `Serializer` method, map keys of
//! every kind, honest and lying length hints, `RawValue`s, `serde_json::Value`s,
//! `collect_str`) and an event type; `JsonCodec::encode_data` (into a
//! `BytesMut` frame) and `Event::with_data` (into a `Vec`) must write exactly
//! what serde_json with the formatter ipc-codec used before writes, and fail
//! exactly where it fails, with the same message.
//!
//! Compared through the public API, so the crate exposes nothing for fuzzing
//! and the frame around the data is checked too; the reference is the old
//! formatter kept verbatim in `ipc-codec/tests/support/js_reference.rs`, which
//! the property tests share.
#![no_main]
#![forbid(unsafe_code)]

use bytes::BytesMut;
use ipc_codec::{CodecError, Event, JsonCodec};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

#[path = "../../ipc-codec/tests/support/js_reference.rs"]
mod js_reference;
#[path = "../../ipc-codec/tests/support/node.rs"]
mod node;

use node::{Hint, Node, NAMES, RAW_VALUE_TOKEN};

/// Reads the fuzzer's bytes as choices; zeros once they run out, which
/// always ends the tree (empty compounds, leaves).
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.byte())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    fn u128(&mut self) -> u128 {
        u128::from_le_bytes(self.array())
    }

    fn count(&mut self) -> usize {
        usize::from(self.byte() % 6)
    }

    fn name(&mut self) -> &'static str {
        NAMES[usize::from(self.byte()) % NAMES.len()]
    }

    fn hint(&mut self) -> Hint {
        match self.byte() % 8 {
            0 => Hint::Zero,
            1 | 2 => Hint::Unknown,
            _ => Hint::Exact,
        }
    }

    /// Characters weighted to what matters: ASCII bytes as they are (every
    /// control, `"`, `\`), a few multi-byte ones, any scalar value.
    fn char(&mut self) -> char {
        const SPECIAL: [char; 8] = ['\u{7f}', '\u{80}', 'é', '€', '\u{2028}', '\u{2029}', '😀', '\u{10ffff}'];
        match self.byte() {
            b @ 0..0x80 => char::from(b),
            b @ 0x80..0xf0 => SPECIAL[usize::from(b) % SPECIAL.len()],
            _ => char::from_u32(u32::from_le_bytes(self.array()) % 0x11_0000).unwrap_or('\u{fffd}'),
        }
    }

    fn string(&mut self) -> String {
        let len = match self.byte() {
            b @ 0..0xf0 => usize::from(b % 48),
            _ => usize::from(self.byte()) * 4,
        };
        (0..len).map(|_| self.char()).collect()
    }

    fn f64(&mut self) -> f64 {
        match self.byte() % 4 {
            0 => f64::from(self.byte() as i8) * 10f64.powi(i32::from(self.byte() as i8) / 4),
            _ => f64::from_bits(self.u64()),
        }
    }

    fn f32(&mut self) -> f32 {
        f32::from_bits(u32::from_le_bytes(self.array()))
    }

    fn value(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 6 } else { 8 };
        match self.byte() % kinds {
            0 => Value::Null,
            1 => Value::Bool(self.byte() & 1 == 1),
            2 => Value::Number((self.u64() as i64).into()),
            3 => Value::Number(self.u64().into()),
            4 => Number::from_f64(self.f64()).map_or(Value::Null, Value::Number),
            5 => Value::String(self.string()),
            6 => Value::Array((0..self.count()).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Object(
                (0..self.count()).map(|_| (self.string(), self.value(depth - 1))).collect::<Map<_, _>>(),
            ),
        }
    }

    fn node(&mut self, depth: u32) -> Node {
        let kinds = if depth == 0 { 24 } else { 36 };
        match self.byte() % kinds {
            0 => Node::Bool(self.byte() & 1 == 1),
            1 => Node::I8(self.byte() as i8),
            2 => Node::I16(self.u64() as i16),
            3 => Node::I32(self.u64() as i32),
            4 => Node::I64(self.u64() as i64),
            5 => Node::I128(self.u128() as i128),
            6 => Node::U8(self.byte()),
            7 => Node::U16(self.u64() as u16),
            8 => Node::U32(self.u64() as u32),
            9 => Node::U64(self.u64()),
            10 => Node::U128(self.u128()),
            11 => Node::F32(self.f32()),
            12 => Node::F64(self.f64()),
            13 => Node::Char(self.char()),
            14 | 15 => Node::Str(self.string()),
            16 => Node::Bytes((0..self.count() * 3).map(|_| self.byte()).collect()),
            17 => Node::None,
            18 => Node::Unit,
            19 => Node::UnitStruct(self.name()),
            20 => Node::UnitVariant(self.name()),
            21 => Node::CollectStr((0..self.count()).map(|_| self.string()).collect()),
            22 => {
                let value = self.value(3);
                let text = if self.byte() & 1 == 1 {
                    serde_json::to_string_pretty(&value)
                } else {
                    serde_json::to_string(&value)
                };
                Node::Raw(RawValue::from_string(text.unwrap()).unwrap())
            }
            23 => Node::Value(self.value(4)),
            24 => Node::Some(Box::new(self.node(depth - 1))),
            25 => Node::NewtypeStruct(self.name(), Box::new(self.node(depth - 1))),
            26 => Node::NewtypeVariant(self.name(), Box::new(self.node(depth - 1))),
            27 => Node::Seq(self.hint(), self.nodes(depth - 1)),
            28 => Node::Tuple(self.hint(), self.nodes(depth - 1)),
            29 => Node::TupleStruct(self.hint(), self.nodes(depth - 1)),
            30 => Node::TupleVariant(self.name(), self.hint(), self.nodes(depth - 1)),
            31 | 32 => {
                let hint = self.hint();
                Node::Map(
                    hint,
                    (0..self.count()).map(|_| (self.key(depth - 1), self.node(depth - 1))).collect(),
                )
            }
            33 => Node::Struct(self.name(), self.hint(), self.fields(depth - 1)),
            34 => Node::StructVariant(self.name(), self.hint(), self.fields(depth - 1)),
            // serde_json's RawValue protocol, with any field name and value
            _ => Node::Struct(RAW_VALUE_TOKEN, Hint::Exact, self.fields(depth - 1)),
        }
    }

    fn nodes(&mut self, depth: u32) -> Vec<Node> {
        (0..self.count()).map(|_| self.node(depth)).collect()
    }

    fn fields(&mut self, depth: u32) -> Vec<(&'static str, Node)> {
        (0..self.count()).map(|_| (self.name(), self.node(depth))).collect()
    }

    /// Mostly the kinds serde_json accepts as keys; any node otherwise.
    fn key(&mut self, depth: u32) -> Node {
        match self.byte() % 12 {
            0..4 => Node::Str(self.string()),
            4 => Node::Char(self.char()),
            5 => Node::Bool(self.byte() & 1 == 1),
            6 => Node::I64(self.u64() as i64),
            7 => Node::U128(self.u128()),
            8 => Node::F64(self.f64()),
            9 => Node::F32(self.f32()),
            10 => Node::UnitVariant(self.name()),
            _ => self.node(depth),
        }
    }
}

const PREFIX: &[u8] = b"earlier frame\x0c";

fn check<T: Serialize + ?Sized>(event_type: &str, value: &T) {
    let want = js_reference::to_vec(value);
    let mut dst = BytesMut::from(PREFIX);
    let framed = JsonCodec::new_unbounded().encode_data(event_type, value, &mut dst);
    let event = Event::with_data(event_type, value);
    match want {
        Ok(data) => {
            let mut frame = PREFIX.to_vec();
            frame.extend_from_slice(b"{\"type\":");
            frame.extend_from_slice(&serde_json::to_vec(event_type).unwrap());
            frame.extend_from_slice(b",\"data\":");
            frame.extend_from_slice(&data);
            frame.extend_from_slice(b"}\x0c");
            framed.expect("encode_data fails where serde_json does not");
            assert_eq!(String::from_utf8_lossy(&dst), String::from_utf8_lossy(&frame));
            let event = event.expect("with_data fails where serde_json does not");
            assert_eq!(String::from_utf8_lossy(event.raw_data().unwrap()), String::from_utf8_lossy(&data));
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                matches!(&framed, Err(CodecError::Serialize(m)) if *m == message),
                "encode_data: {framed:?}, serde_json: {message}"
            );
            assert!(
                matches!(&event, Err(CodecError::Serialize(m)) if *m == message),
                "with_data: {:?}, serde_json: {message}",
                event.map(|e| e.raw_data().map(<[u8]>::to_vec))
            );
            assert_eq!(&dst[..], PREFIX, "the buffer is left as it was");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let event_type = input.string();
    let node = input.node(5);
    check(&event_type, &node);
});
