//! Differential tests of the JSON writer behind `JsonCodec::encode_data`
//! (into a `BytesMut` frame) and `Event::with_data` (into a `Vec`): for
//! arbitrary `serde_json::Value`s, derived structs and enums, and arbitrary
//! serde data-model call sequences ([`node::Node`]), they write exactly the
//! bytes that serde_json with the old JavaScript-number formatter
//! ([`js_reference`]) writes, and fail exactly where it fails, with the same
//! message.

use std::collections::BTreeMap;

use bytes::BytesMut;
use ipc_codec::{CodecError, Event, JsonCodec};
use proptest::prelude::*;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

#[path = "support/js_reference.rs"]
mod js_reference;
#[path = "support/node.rs"]
mod node;

use node::{Hint, Node, NAMES, RAW_VALUE_TOKEN};

/// Bytes already in the buffer before the frame: an encoder appends.
const PREFIX: &[u8] = b"earlier frame\x0c";

/// Encodes `value` both ways under `event_type` and compares with the reference.
fn check<T: Serialize + ?Sized>(event_type: &str, value: &T) -> Result<(), TestCaseError> {
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
            prop_assert!(framed.is_ok(), "encode_data failed: {:?}", framed);
            prop_assert_eq!(String::from_utf8_lossy(&dst), String::from_utf8_lossy(&frame));
            let event = event.map_err(|e| TestCaseError::fail(format!("with_data failed: {e}")))?;
            prop_assert_eq!(
                String::from_utf8_lossy(event.raw_data().unwrap()),
                String::from_utf8_lossy(&data)
            );
        }
        Err(err) => {
            let message = err.to_string();
            prop_assert!(
                matches!(&framed, Err(CodecError::Serialize(m)) if *m == message),
                "encode_data: {:?}, serde_json: {}",
                framed,
                message
            );
            prop_assert!(
                matches!(&event, Err(CodecError::Serialize(m)) if *m == message),
                "with_data: {:?}, serde_json: {}",
                event.map(|e| e.raw_data().map(<[u8]>::to_vec)),
                message
            );
            prop_assert_eq!(&dst[..], PREFIX, "the buffer is left as it was");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Strategies

/// Characters weighted towards the ones that matter: every control, `"`,
/// `\`, bytes next to them, U+2028/2029, multi-byte UTF-8.
fn js_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => (0u8..0x20).prop_map(char::from),
        2 => prop::sample::select(vec![
            '"', '\\', '/', '!', '#', '[', ']', ' ', '\u{7f}', '\u{80}', 'é', '€', '\u{2028}', '\u{2029}',
            '😀', '\u{ffff}', '\u{10ffff}',
        ]),
        6 => (0x20u8..0x7f).prop_map(char::from),
        1 => any::<char>(),
    ]
}

/// Lengths around every 8-byte chunk boundary, and some longer strings.
fn js_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(js_char(), 0..40).prop_map(String::from_iter),
        1 => prop::collection::vec(js_char(), 40..300).prop_map(String::from_iter),
    ]
}

fn f64s() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => prop::sample::select(vec![
            0.0, -0.0, 1.0, -1.0, 0.1, 1e20, 1e21, 1.5e21, 123456789012345680000.0, 1e-6, 1e-7, 1.5e-7,
            5e-324, -5e-324, f64::MIN_POSITIVE, f64::EPSILON, f64::MAX, f64::MIN, 9007199254740993.0,
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY,
        ]),
        1 => any::<i64>().prop_map(|i| i as f64),
        1 => (-1000i32..1000, -30i32..30).prop_map(|(m, e)| f64::from(m) * 10f64.powi(e)),
    ]
}

fn f32s() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => any::<f32>(),
        1 => prop::sample::select(vec![
            0.0f32, -0.0, 1.1, 1e21, 1e-7, f32::MAX, f32::MIN_POSITIVE, 1e-45, f32::NAN, f32::INFINITY,
        ]),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0]).prop_map(|n| Value::Number(n.into())),
        Just(Value::Number(u64::MAX.into())),
        f64s().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        js_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((js_string(), inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A `RawValue` holding `value`'s pretty-printed text (whitespace must survive).
fn raw_value() -> impl Strategy<Value = Box<RawValue>> {
    value().prop_map(|v| RawValue::from_string(serde_json::to_string_pretty(&v).unwrap()).unwrap())
}

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(NAMES.to_vec())
}

fn hint() -> impl Strategy<Value = Hint> {
    prop_oneof![6 => Just(Hint::Exact), 1 => Just(Hint::Zero), 2 => Just(Hint::Unknown)]
}

fn leaf_node() -> impl Strategy<Value = Node> {
    prop_oneof![
        any::<bool>().prop_map(Node::Bool),
        any::<i8>().prop_map(Node::I8),
        any::<i16>().prop_map(Node::I16),
        any::<i32>().prop_map(Node::I32),
        any::<i64>().prop_map(Node::I64),
        any::<i128>().prop_map(Node::I128),
        any::<u8>().prop_map(Node::U8),
        any::<u16>().prop_map(Node::U16),
        any::<u32>().prop_map(Node::U32),
        any::<u64>().prop_map(Node::U64),
        any::<u128>().prop_map(Node::U128),
        f32s().prop_map(Node::F32),
        f64s().prop_map(Node::F64),
        js_char().prop_map(Node::Char),
        js_string().prop_map(Node::Str),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(Node::Bytes),
        Just(Node::None),
        Just(Node::Unit),
        name().prop_map(Node::UnitStruct),
        name().prop_map(Node::UnitVariant),
        prop::collection::vec(js_string(), 0..4).prop_map(Node::CollectStr),
        raw_value().prop_map(Node::Raw),
        value().prop_map(Node::Value),
    ]
}

/// Keys: mostly kinds serde_json accepts (strings, chars, bools, integers,
/// floats, unit variants, through newtypes and `Some`), sometimes any node.
fn key_node(inner: BoxedStrategy<Node>) -> impl Strategy<Value = Node> {
    let valid = prop_oneof![
        js_string().prop_map(Node::Str),
        js_char().prop_map(Node::Char),
        any::<bool>().prop_map(Node::Bool),
        any::<i8>().prop_map(Node::I8),
        any::<i64>().prop_map(Node::I64),
        any::<u64>().prop_map(Node::U64),
        any::<i128>().prop_map(Node::I128),
        any::<u128>().prop_map(Node::U128),
        f32s().prop_map(Node::F32),
        f64s().prop_map(Node::F64),
        name().prop_map(Node::UnitVariant),
        (name(), js_string()).prop_map(|(n, s)| Node::NewtypeStruct(n, Box::new(Node::Str(s)))),
        any::<u16>().prop_map(|n| Node::Some(Box::new(Node::U16(n)))),
        prop::collection::vec(js_string(), 0..3).prop_map(Node::CollectStr),
    ];
    prop_oneof![8 => valid, 1 => inner]
}

fn node() -> impl Strategy<Value = Node> {
    leaf_node().prop_recursive(4, 48, 6, |inner| {
        let inner = inner.boxed();
        let items = || prop::collection::vec(inner.clone(), 0..6);
        let fields = || prop::collection::vec((name(), inner.clone()), 0..6);
        prop_oneof![
            inner.clone().prop_map(|n| Node::Some(Box::new(n))),
            (name(), inner.clone()).prop_map(|(n, v)| Node::NewtypeStruct(n, Box::new(v))),
            (name(), inner.clone()).prop_map(|(n, v)| Node::NewtypeVariant(n, Box::new(v))),
            (hint(), items()).prop_map(|(h, v)| Node::Seq(h, v)),
            (hint(), items()).prop_map(|(h, v)| Node::Tuple(h, v)),
            (hint(), items()).prop_map(|(h, v)| Node::TupleStruct(h, v)),
            (name(), hint(), items()).prop_map(|(n, h, v)| Node::TupleVariant(n, h, v)),
            (hint(), prop::collection::vec((key_node(inner.clone()), inner.clone()), 0..6))
                .prop_map(|(h, v)| Node::Map(h, v)),
            (name(), hint(), fields()).prop_map(|(n, h, v)| Node::Struct(n, h, v)),
            (name(), hint(), fields()).prop_map(|(n, h, v)| Node::StructVariant(n, h, v)),
            // serde_json's RawValue protocol, well-formed and not
            (js_string(), prop::bool::ANY).prop_map(|(text, collect)| Node::Struct(
                RAW_VALUE_TOKEN,
                Hint::Exact,
                vec![(RAW_VALUE_TOKEN, if collect { Node::CollectStr(vec![text]) } else { Node::Str(text) })],
            )),
        ]
    })
}

// ---------------------------------------------------------------------------
// Derived types, as users write them

#[derive(Debug, Clone, Serialize)]
struct Record {
    id: u64,
    seq: i32,
    name: String,
    score: f64,
    ratio: f32,
    flag: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    tags: Vec<String>,
    kind: Kind,
    by_id: BTreeMap<i64, String>,
    by_flag: BTreeMap<bool, u8>,
    by_char: BTreeMap<char, i128>,
    by_color: BTreeMap<Color, Option<u128>>,
    blob: Blob,
    letters: Vec<u8>,
    unit: (),
    pair: Pair,
    wrapped: Wrapper,
    empty: Empty,
    raw: Box<RawValue>,
    nested: Option<Box<Record>>,
}

#[derive(Debug, Clone, Serialize)]
enum Kind {
    Unit,
    #[serde(rename = "re\"named\n")]
    Renamed,
    Newtype(i64),
    Tuple(u8, String),
    Struct {
        a: f32,
        b: Option<char>,
    },
    EmptyTuple(),
    EmptyStruct {},
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
enum Color {
    Red,
    #[serde(rename = "gr\u{2028}een")]
    Green,
}

#[derive(Debug, Clone, Serialize)]
struct Pair(u8, String);

#[derive(Debug, Clone, Serialize)]
struct Wrapper(i16);

#[derive(Debug, Clone, Serialize)]
struct Empty;

/// Bytes through `serialize_bytes` (as `serde_bytes` or `bytes::Bytes` would).
#[derive(Debug, Clone)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// A borrowed `&RawValue` inside data.
#[derive(Serialize)]
struct Borrowed<'a> {
    before: &'a str,
    raw: &'a RawValue,
    after: Option<&'a RawValue>,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Unit),
        Just(Kind::Renamed),
        any::<i64>().prop_map(Kind::Newtype),
        (any::<u8>(), js_string()).prop_map(|(a, b)| Kind::Tuple(a, b)),
        (f32s(), prop::option::of(js_char())).prop_map(|(a, b)| Kind::Struct { a, b }),
        Just(Kind::EmptyTuple()),
        Just(Kind::EmptyStruct {}),
    ]
}

prop_compose! {
    fn record_fields()(
        id in any::<u64>(),
        seq in any::<i32>(),
        name in js_string(),
        score in f64s(),
        ratio in f32s(),
        flag in prop::option::of(any::<bool>()),
        note in prop::option::of(js_string()),
        tags in prop::collection::vec(js_string(), 0..4),
        kind in kind(),
    ) -> (u64, i32, String, f64, f32, Option<bool>, Option<String>, Vec<String>, Kind) {
        (id, seq, name, score, ratio, flag, note, tags, kind)
    }
}

prop_compose! {
    fn record()(
        (id, seq, name, score, ratio, flag, note, tags, kind) in record_fields(),
        by_id in prop::collection::btree_map(any::<i64>(), js_string(), 0..4),
        by_flag in prop::collection::btree_map(any::<bool>(), any::<u8>(), 0..3),
        by_char in prop::collection::btree_map(js_char(), any::<i128>(), 0..4),
        by_color in prop::collection::btree_map(
            prop_oneof![Just(Color::Red), Just(Color::Green)], prop::option::of(any::<u128>()), 0..3),
        blob in prop::collection::vec(any::<u8>(), 0..12),
        letters in prop::collection::vec(any::<u8>(), 0..12),
        pair in (any::<u8>(), js_string()),
        wrapped in any::<i16>(),
        raw in raw_value(),
        nested in prop::option::of((any::<u64>(), js_string(), kind())),
    ) -> Record {
        let nested = nested.map(|(id, name, kind)| Box::new(Record {
            id, seq: 0, name, score: 0.5, ratio: 0.0, flag: None, note: None, tags: vec![], kind,
            by_id: BTreeMap::new(), by_flag: BTreeMap::new(), by_char: BTreeMap::new(),
            by_color: BTreeMap::new(), blob: Blob(vec![]), letters: vec![], unit: (),
            pair: Pair(0, String::new()), wrapped: Wrapper(0), empty: Empty,
            raw: RawValue::from_string("null".into()).unwrap(), nested: None,
        }));
        Record {
            id, seq, name, score, ratio, flag, note, tags, kind, by_id, by_flag, by_char, by_color,
            blob: Blob(blob), letters, unit: (), pair: Pair(pair.0, pair.1), wrapped: Wrapper(wrapped),
            empty: Empty, raw, nested,
        }
    }
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn values_are_written_as_serde_json_writes_them(v in value(), t in js_string()) {
        check(&t, &v)?;
    }

    #[test]
    fn strings_of_every_length_and_escape(s in js_string(), t in js_string()) {
        check(&t, &s)?;
        check("t", &[s.as_str(), t.as_str()])?;
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them(
        f in f64s(), g in f32s(), i in any::<i64>(), u in any::<u64>(), w in any::<i128>(), x in any::<u128>()
    ) {
        check("n", &(f, g, i, u, w, x))?;
        let keyed: BTreeMap<String, f64> = [(format!("{f}"), f)].into();
        check("n", &keyed)?;
    }

    #[test]
    fn derived_structs_and_enums(r in record()) {
        check("app.record", &r)?;
    }

    #[test]
    fn borrowed_raw_values_pass_through(a in raw_value(), b in prop::option::of(raw_value()), s in js_string()) {
        check("raw", &Borrowed { before: &s, raw: &a, after: b.as_deref() })?;
    }

    #[test]
    fn any_data_model_calls(n in node(), t in js_string()) {
        check(&t, &n)?;
    }

    #[test]
    fn map_keys_of_every_kind(
        entries in prop::collection::vec((key_node(node().boxed()), leaf_node()), 1..4),
        h in hint(),
    ) {
        check("keys", &Node::Map(h, entries))?;
    }
}

// ---------------------------------------------------------------------------
// Exhaustive: every chunk position and tail

/// One character at every offset of every length up to 40, each alone and
/// after another escape.
#[test]
fn every_special_character_at_every_offset() {
    let mut specials: Vec<char> = (0u8..0x20).map(char::from).collect();
    specials.extend(['"', '\\', ' ', '!', '#', '[', ']', '\u{7f}', 'é', '\u{2028}', '😀']);
    for len in 0..=40 {
        for at in 0..len {
            for &c in &specials {
                let mut s: String = std::iter::repeat_n('a', len).collect();
                s.replace_range(at..at + 1, c.encode_utf8(&mut [0; 4]));
                check("t", &s).unwrap();
                if at > 0 {
                    s.replace_range(at - 1..at, "\n");
                    check(&s, &s).unwrap();
                }
            }
        }
    }
}

#[test]
fn one_mebibyte_strings() {
    let plain: String = "lorem ipsum dolor sit amet ".chars().cycle().take(1 << 20).collect();
    check("big", &plain).unwrap();
    let escaped: String =
        "a \"quoted\" line\twith\\escapes\n\u{1}é\u{2028}".chars().cycle().take(1 << 20).collect();
    check("big", &escaped).unwrap();
}

#[test]
fn key_errors_match_serde_json() {
    for key in
        [Node::Unit, Node::None, Node::Bytes(vec![1]), Node::Seq(Hint::Exact, vec![]), Node::F64(f64::NAN)]
    {
        let map = Node::Map(Hint::Exact, vec![(key, Node::Unit)]);
        assert!(js_reference::to_vec(&map).is_err());
        check("t", &map).unwrap();
    }
}
