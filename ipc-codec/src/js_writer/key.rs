//! [`MapKeySerializer`]: map keys as serde_json writes them.

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize, SerializeMap as _};
use serde_json::Error;

use super::errors::{reject, serde_json_error, Result};
use super::escape::{write_display, write_str};
use super::number::{write_finite, write_int};
use super::output::Output;

/// A map with one entry whose key is `K`.
pub(super) struct MapWithKey<K>(pub(super) K);

impl<K: Serialize> Serialize for MapWithKey<K> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.0, &())?;
        map.end()
    }
}

/// "key must be a string"
#[cold]
pub(super) fn key_must_be_a_string() -> Error {
    serde_json_error(&MapWithKey(()), "key must be a string")
}

/// "float key must be finite (got NaN or +/-inf)"
#[cold]
pub(super) fn float_key_must_be_finite() -> Error {
    serde_json_error(&MapWithKey(f64::NAN), "float key must be finite (got NaN or +/-inf)")
}

/// Map keys, as serde_json writes them: strings and chars as they are; bools,
/// integers and finite floats quoted; anything else is an error.
pub(super) struct MapKeySerializer<'s, W> {
    pub(super) out: &'s mut W,
}

impl<W: Output> MapKeySerializer<'_, W> {
    /// `"` + `write` + `"`.
    #[inline]
    fn quoted(self, write: impl FnOnce(&mut W)) -> Result {
        self.out.put(b"\"");
        write(&mut *self.out);
        self.out.put(b"\"");
        Ok(())
    }
}

impl<W: Output> ser::Serializer for MapKeySerializer<'_, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    #[inline]
    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result {
        write_str(self.out, variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.quoted(|out| out.put(if v { b"true" } else { b"false" }))
    }

    fn serialize_i8(self, v: i8) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i16(self, v: i16) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i32(self, v: i32) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i64(self, v: i64) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i128(self, v: i128) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u8(self, v: u8) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u16(self, v: u16) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u32(self, v: u32) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u64(self, v: u64) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u128(self, v: u128) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_f32(self, v: f32) -> Result {
        if !v.is_finite() {
            return Err(float_key_must_be_finite());
        }
        self.quoted(|out| write_finite(out, v, v == 0.0))
    }

    fn serialize_f64(self, v: f64) -> Result {
        if !v.is_finite() {
            return Err(float_key_must_be_finite());
        }
        self.quoted(|out| write_finite(out, v, v == 0.0))
    }

    fn serialize_char(self, v: char) -> Result {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    reject!(
        key_must_be_a_string:
        serialize_bytes, serialize_unit, serialize_unit_struct, serialize_newtype_variant,
        serialize_none, serialize_seq, serialize_tuple, serialize_tuple_struct,
        serialize_tuple_variant, serialize_map, serialize_struct, serialize_struct_variant,
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        write_display(self.out, value);
        Ok(())
    }
}
