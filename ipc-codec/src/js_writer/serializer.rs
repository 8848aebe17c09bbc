//! [`JsSerializer`]: serde's data model as compact JSON, mirroring
//! serde_json's `Serializer` call for call (map keys in [`key`](super::key),
//! `RawValue`s in [`raw_value`](super::raw_value)).

use std::fmt::Display;

use serde::ser::{self, Serialize, SerializeMap as _};
use serde_json::Error;

use super::errors::Result;
use super::escape::{write_display, write_quoted, write_str};
use super::key::MapKeySerializer;
use super::number::{write_finite, write_int};
use super::output::Output;
use super::raw_value::{invalid_raw_value, RawValueEmitter, RAW_VALUE_TOKEN};

/// Mirrors `serde_json::Serializer<_, CompactFormatter>` call for call.
pub(super) struct JsSerializer<W> {
    out: W,
}

impl<W> JsSerializer<W> {
    /// A serializer appending to `out`.
    #[inline]
    pub(super) fn new(out: W) -> JsSerializer<W> {
        JsSerializer { out }
    }
}

impl<W: Output> JsSerializer<W> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.out.put(bytes);
    }

    #[inline]
    fn str(&mut self, s: &str) {
        write_str(&mut self.out, s);
    }

    /// `{"variant":` of an externally tagged enum variant.
    #[inline]
    fn begin_variant(&mut self, variant: &str) {
        write_quoted(&mut self.out, b"{\"", variant, b"\":");
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Opened and closed at once (a length of zero was announced).
    Empty,
    First,
    Rest,
}

/// A sequence or map being written.
pub(super) struct Compound<'s, W> {
    ser: &'s mut JsSerializer<W>,
    state: State,
}

/// A struct being written: a map, or serde_json's `RawValue`.
pub(super) enum StructCompound<'s, W> {
    Map(Compound<'s, W>),
    RawValue(&'s mut JsSerializer<W>),
}

impl<'s, W: Output> ser::Serializer for &'s mut JsSerializer<W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, W>;
    type SerializeTuple = Compound<'s, W>;
    type SerializeTupleStruct = Compound<'s, W>;
    type SerializeTupleVariant = Compound<'s, W>;
    type SerializeMap = Compound<'s, W>;
    type SerializeStruct = StructCompound<'s, W>;
    type SerializeStructVariant = Compound<'s, W>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result {
        self.put(if v { b"true" } else { b"false" });
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result {
        write_int(&mut self.out, v);
        Ok(())
    }

    /// NaN and infinities are `null`, as in serde_json and `JSON.stringify`.
    #[inline]
    fn serialize_f32(self, v: f32) -> Result {
        if v.is_finite() {
            write_finite(&mut self.out, v, v == 0.0);
        } else {
            self.put(b"null");
        }
        Ok(())
    }

    /// NaN and infinities are `null`, as in serde_json and `JSON.stringify`.
    #[inline]
    fn serialize_f64(self, v: f64) -> Result {
        if v.is_finite() {
            write_finite(&mut self.out, v, v == 0.0);
        } else {
            self.put(b"null");
        }
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result {
        self.str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result {
        self.str(v);
        Ok(())
    }

    /// An array of numbers.
    fn serialize_bytes(self, v: &[u8]) -> Result {
        self.out.reserve_for(v.len() * 4 + 2);
        self.put(b"[");
        for (i, &byte) in v.iter().enumerate() {
            if i > 0 {
                self.put(b",");
            }
            write_int(&mut self.out, byte);
        }
        self.put(b"]");
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result {
        self.put(b"null");
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result {
        self.str(variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.begin_variant(variant);
        value.serialize(&mut *self)?;
        self.put(b"}");
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'s, W>> {
        self.put(b"[");
        if len == Some(0) {
            self.put(b"]");
            Ok(Compound { ser: self, state: State::Empty })
        } else {
            Ok(Compound { ser: self, state: State::First })
        }
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, W>> {
        self.serialize_seq(Some(len))
    }

    #[inline]
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'s, W>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, W>> {
        self.begin_variant(variant);
        self.serialize_seq(Some(len))
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'s, W>> {
        self.put(b"{");
        if len == Some(0) {
            self.put(b"}");
            Ok(Compound { ser: self, state: State::Empty })
        } else {
            Ok(Compound { ser: self, state: State::First })
        }
    }

    #[inline]
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<StructCompound<'s, W>> {
        if name == RAW_VALUE_TOKEN {
            Ok(StructCompound::RawValue(self))
        } else {
            self.serialize_map(Some(len)).map(StructCompound::Map)
        }
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, W>> {
        self.begin_variant(variant);
        self.serialize_map(Some(len))
    }

    /// Escapes each piece `Display` writes, with no intermediate `String`.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        write_display(&mut self.out, value);
        Ok(())
    }
}

impl<W: Output> Compound<'_, W> {
    /// The `,` before every element or key but the first.
    #[inline]
    fn separate(&mut self) {
        if self.state != State::First {
            self.ser.put(b",");
        }
        self.state = State::Rest;
    }

    /// A struct field: the bytes of `serialize_entry(key, value)` (a `str`
    /// key is written as it is), with the punctuation around the key
    /// appended together with the quotes.
    #[inline]
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result {
        let before: &[u8] = if self.state == State::First { b"\"" } else { b",\"" };
        self.state = State::Rest;
        write_quoted(&mut self.ser.out, before, key, b"\":");
        value.serialize(&mut *self.ser)
    }
}

impl<W: Output> ser::SerializeSeq for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.separate();
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result {
        if self.state != State::Empty {
            self.ser.put(b"]");
        }
        Ok(())
    }
}

impl<W: Output> ser::SerializeTuple for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        ser::SerializeSeq::serialize_element(self, value)
    }

    #[inline]
    fn end(self) -> Result {
        ser::SerializeSeq::end(self)
    }
}

impl<W: Output> ser::SerializeTupleStruct for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        ser::SerializeSeq::serialize_element(self, value)
    }

    #[inline]
    fn end(self) -> Result {
        ser::SerializeSeq::end(self)
    }
}

impl<W: Output> ser::SerializeTupleVariant for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        ser::SerializeSeq::serialize_element(self, value)
    }

    /// `]` then the `}` of the variant object.
    #[inline]
    fn end(self) -> Result {
        if self.state != State::Empty {
            self.ser.put(b"]");
        }
        self.ser.put(b"}");
        Ok(())
    }
}

impl<W: Output> ser::SerializeMap for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.separate();
        key.serialize(MapKeySerializer { out: &mut self.ser.out })
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.ser.put(b":");
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result {
        if self.state != State::Empty {
            self.ser.put(b"}");
        }
        Ok(())
    }
}

impl<W: Output> ser::SerializeStruct for StructCompound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        match self {
            StructCompound::Map(map) => map.field(key, value),
            StructCompound::RawValue(ser) if key == RAW_VALUE_TOKEN => {
                value.serialize(RawValueEmitter { out: &mut ser.out })
            }
            StructCompound::RawValue(_) => Err(invalid_raw_value()),
        }
    }

    #[inline]
    fn end(self) -> Result {
        match self {
            StructCompound::Map(map) => map.end(),
            StructCompound::RawValue(_) => Ok(()),
        }
    }
}

impl<W: Output> ser::SerializeStructVariant for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.field(key, value)
    }

    /// `}` then the `}` of the variant object.
    #[inline]
    fn end(self) -> Result {
        if self.state != State::Empty {
            self.ser.put(b"}");
        }
        self.ser.put(b"}");
        Ok(())
    }
}
