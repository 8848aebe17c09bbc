//! [`Node`]: any sequence of serde data-model calls, so a differential test can
//! drive every `Serializer` method in every position (map keys included),
//! with honest or lying length hints. Shared by `js_writer_props.rs` and the
//! `json_writer` fuzz target.

use std::fmt;

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};
use serde_json::value::RawValue;

/// The name serde_json's `RawValue` serializes under (a struct of this name
/// with one field of this name holding the JSON text).
pub(crate) const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Struct, field and variant names: plain, needing escapes, non-ASCII, empty,
/// and the `RawValue` token.
pub(crate) const NAMES: [&str; 8] =
    ["id", "a\"b\\c", "tab\there\u{1}", "", "ünï€😀", "\u{2028}\u{2029}", "Unit", RAW_VALUE_TOKEN];

/// The length a compound announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// The real number of elements.
    Exact,
    /// Zero, whatever follows (serde_json then writes `[]`/`{}` at once).
    Zero,
    /// No length (`None`; `Exact` where the method takes a `usize`).
    Unknown,
}

impl Hint {
    fn len(self, exact: usize) -> Option<usize> {
        match self {
            Hint::Exact => Some(exact),
            Hint::Zero => Some(0),
            Hint::Unknown => None,
        }
    }

    fn usize(self, exact: usize) -> usize {
        self.len(exact).unwrap_or(exact)
    }
}

/// One serde data-model value; `&'static str`s index [`NAMES`].
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    None,
    Some(Box<Node>),
    Unit,
    UnitStruct(&'static str),
    UnitVariant(&'static str),
    NewtypeStruct(&'static str, Box<Node>),
    NewtypeVariant(&'static str, Box<Node>),
    Seq(Hint, Vec<Node>),
    Tuple(Hint, Vec<Node>),
    TupleStruct(Hint, Vec<Node>),
    TupleVariant(&'static str, Hint, Vec<Node>),
    Map(Hint, Vec<(Node, Node)>),
    /// A struct (named [`RAW_VALUE_TOKEN`] for serde_json's raw-value path).
    Struct(&'static str, Hint, Vec<(&'static str, Node)>),
    StructVariant(&'static str, Hint, Vec<(&'static str, Node)>),
    /// `collect_str` of a `Display` that writes these pieces one by one.
    CollectStr(Vec<String>),
    Raw(Box<RawValue>),
    Value(serde_json::Value),
}

/// Writes its pieces with one `write_str` each.
struct Pieces<'a>(&'a [String]);

impl fmt::Display for Pieces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|piece| f.write_str(piece))
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Bool(v) => s.serialize_bool(*v),
            Node::I8(v) => s.serialize_i8(*v),
            Node::I16(v) => s.serialize_i16(*v),
            Node::I32(v) => s.serialize_i32(*v),
            Node::I64(v) => s.serialize_i64(*v),
            Node::I128(v) => s.serialize_i128(*v),
            Node::U8(v) => s.serialize_u8(*v),
            Node::U16(v) => s.serialize_u16(*v),
            Node::U32(v) => s.serialize_u32(*v),
            Node::U64(v) => s.serialize_u64(*v),
            Node::U128(v) => s.serialize_u128(*v),
            Node::F32(v) => s.serialize_f32(*v),
            Node::F64(v) => s.serialize_f64(*v),
            Node::Char(v) => s.serialize_char(*v),
            Node::Str(v) => s.serialize_str(v),
            Node::Bytes(v) => s.serialize_bytes(v),
            Node::None => s.serialize_none(),
            Node::Some(v) => s.serialize_some(v),
            Node::Unit => s.serialize_unit(),
            Node::UnitStruct(name) => s.serialize_unit_struct(name),
            Node::UnitVariant(variant) => s.serialize_unit_variant("E", 0, variant),
            Node::NewtypeStruct(name, v) => s.serialize_newtype_struct(name, v),
            Node::NewtypeVariant(variant, v) => s.serialize_newtype_variant("E", 1, variant, v),
            Node::Seq(hint, items) => {
                let mut seq = s.serialize_seq(hint.len(items.len()))?;
                items.iter().try_for_each(|item| seq.serialize_element(item))?;
                seq.end()
            }
            Node::Tuple(hint, items) => {
                let mut tuple = s.serialize_tuple(hint.usize(items.len()))?;
                items.iter().try_for_each(|item| tuple.serialize_element(item))?;
                tuple.end()
            }
            Node::TupleStruct(hint, items) => {
                let mut tuple = s.serialize_tuple_struct("T", hint.usize(items.len()))?;
                items.iter().try_for_each(|item| tuple.serialize_field(item))?;
                tuple.end()
            }
            Node::TupleVariant(variant, hint, items) => {
                let mut tuple = s.serialize_tuple_variant("E", 2, variant, hint.usize(items.len()))?;
                items.iter().try_for_each(|item| tuple.serialize_field(item))?;
                tuple.end()
            }
            Node::Map(hint, entries) => {
                let mut map = s.serialize_map(hint.len(entries.len()))?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    // both ways serde offers: key then value, and one entry
                    if i % 2 == 0 {
                        map.serialize_key(key)?;
                        map.serialize_value(value)?;
                    } else {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
            Node::Struct(name, hint, fields) => {
                let mut st = s.serialize_struct(name, hint.usize(fields.len()))?;
                fields.iter().try_for_each(|(key, value)| st.serialize_field(key, value))?;
                st.end()
            }
            Node::StructVariant(variant, hint, fields) => {
                let mut st = s.serialize_struct_variant("E", 3, variant, hint.usize(fields.len()))?;
                fields.iter().try_for_each(|(key, value)| st.serialize_field(key, value))?;
                st.end()
            }
            Node::CollectStr(pieces) => s.collect_str(&Pieces(pieces)),
            Node::Raw(raw) => raw.serialize(s),
            Node::Value(value) => value.serialize(s),
        }
    }
}
