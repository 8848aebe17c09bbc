//! serde_json's own errors, so that `Display` and `classify()` match what
//! serde_json reports, and [`reject!`] for the serializer methods that can
//! only fail.

use serde::ser::{self, Serialize};
use serde_json::Error;

/// What every serializer here returns.
pub(super) type Result<T = (), E = Error> = std::result::Result<T, E>;

/// The error serde_json gives for `probe`: how we get its syntax-category
/// errors, which it has no public constructor for (error path only).
pub(super) fn serde_json_error(probe: &impl Serialize, fallback: &str) -> Error {
    match serde_json::to_writer(std::io::sink(), probe) {
        Err(err) => err,
        Ok(()) => ser::Error::custom(fallback),
    }
}

/// Serializer methods that all fail with `$error()`, named by their serde
/// method names: the data-model entries a key or a raw value cannot be.
macro_rules! reject {
    ($error:ident: $($method:ident),* $(,)?) => {
        $(reject!(@one $error $method);)*
    };
    (@one $e:ident serialize_bool) => { fn serialize_bool(self, _: bool) -> Result { Err($e()) } };
    (@one $e:ident serialize_i8) => { fn serialize_i8(self, _: i8) -> Result { Err($e()) } };
    (@one $e:ident serialize_i16) => { fn serialize_i16(self, _: i16) -> Result { Err($e()) } };
    (@one $e:ident serialize_i32) => { fn serialize_i32(self, _: i32) -> Result { Err($e()) } };
    (@one $e:ident serialize_i64) => { fn serialize_i64(self, _: i64) -> Result { Err($e()) } };
    (@one $e:ident serialize_i128) => { fn serialize_i128(self, _: i128) -> Result { Err($e()) } };
    (@one $e:ident serialize_u8) => { fn serialize_u8(self, _: u8) -> Result { Err($e()) } };
    (@one $e:ident serialize_u16) => { fn serialize_u16(self, _: u16) -> Result { Err($e()) } };
    (@one $e:ident serialize_u32) => { fn serialize_u32(self, _: u32) -> Result { Err($e()) } };
    (@one $e:ident serialize_u64) => { fn serialize_u64(self, _: u64) -> Result { Err($e()) } };
    (@one $e:ident serialize_u128) => { fn serialize_u128(self, _: u128) -> Result { Err($e()) } };
    (@one $e:ident serialize_f32) => { fn serialize_f32(self, _: f32) -> Result { Err($e()) } };
    (@one $e:ident serialize_f64) => { fn serialize_f64(self, _: f64) -> Result { Err($e()) } };
    (@one $e:ident serialize_char) => { fn serialize_char(self, _: char) -> Result { Err($e()) } };
    (@one $e:ident serialize_bytes) => { fn serialize_bytes(self, _: &[u8]) -> Result { Err($e()) } };
    (@one $e:ident serialize_none) => { fn serialize_none(self) -> Result { Err($e()) } };
    (@one $e:ident serialize_some) => {
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result { Err($e()) }
    };
    (@one $e:ident serialize_unit) => { fn serialize_unit(self) -> Result { Err($e()) } };
    (@one $e:ident serialize_unit_struct) => {
        fn serialize_unit_struct(self, _: &'static str) -> Result { Err($e()) }
    };
    (@one $e:ident serialize_unit_variant) => {
        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result { Err($e()) }
    };
    (@one $e:ident serialize_newtype_struct) => {
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
            Err($e())
        }
    };
    (@one $e:ident serialize_newtype_variant) => {
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result {
            Err($e())
        }
    };
    (@one $e:ident serialize_seq) => {
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> { Err($e()) }
    };
    (@one $e:ident serialize_tuple) => {
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> { Err($e()) }
    };
    (@one $e:ident serialize_tuple_struct) => {
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
            Err($e())
        }
    };
    (@one $e:ident serialize_tuple_variant) => {
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant> {
            Err($e())
        }
    };
    (@one $e:ident serialize_map) => {
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> { Err($e()) }
    };
    (@one $e:ident serialize_struct) => {
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> { Err($e()) }
    };
    (@one $e:ident serialize_struct_variant) => {
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant> {
            Err($e())
        }
    };
}

pub(super) use reject;
