//! serde_json's `RawValue`: JSON text that is written verbatim.

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};
use serde_json::Error;

use super::errors::{reject, serde_json_error, Result};
use super::output::Output;

/// serde_json's `RawValue` serializes as a struct of this name with one field
/// of this name holding its JSON text, which is written verbatim.
pub(super) const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A `RawValue` struct whose field has the wrong name.
pub(super) struct RawValueWithoutToken;

impl Serialize for RawValueWithoutToken {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        s.serialize_field("", &())?;
        s.end()
    }
}

/// "expected value"
#[cold]
pub(super) fn invalid_raw_value() -> Error {
    serde_json_error(&RawValueWithoutToken, "expected value")
}

/// "expected RawValue"
#[cold]
fn expected_raw_value() -> Error {
    ser::Error::custom("expected RawValue")
}

/// The field of a `RawValue`: its JSON text, written verbatim.
pub(super) struct RawValueEmitter<'s, W> {
    pub(super) out: &'s mut W,
}

impl<W: Output> ser::Serializer for RawValueEmitter<'_, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result {
        self.out.put(v.as_bytes());
        Ok(())
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        self.serialize_str(&value.to_string())
    }

    reject!(
        expected_raw_value:
        serialize_bool, serialize_i8, serialize_i16, serialize_i32, serialize_i64, serialize_i128,
        serialize_u8, serialize_u16, serialize_u32, serialize_u64, serialize_u128, serialize_f32,
        serialize_f64, serialize_char, serialize_some, serialize_unit_variant,
        serialize_newtype_struct, serialize_bytes, serialize_unit, serialize_unit_struct,
        serialize_newtype_variant, serialize_none, serialize_seq, serialize_tuple,
        serialize_tuple_struct, serialize_tuple_variant, serialize_map, serialize_struct,
        serialize_struct_variant,
    );
}
