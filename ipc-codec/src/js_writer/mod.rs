//! A serde `Serializer` that writes JSON exactly as `JSON.stringify` does,
//! straight into the frame buffer.
//!
//! Byte for byte what serde_json 1.0.154's compact `Serializer` writes, with
//! floats spelled as JavaScript spells them ([`number`]): method for method,
//! map keys, enums, bytes, `RawValue` and errors included. It is our own
//! because serde_json escapes strings one byte at a time and calls its
//! `io::Write` for every fragment, which led the sender's profile. Here plain
//! runs are found eight bytes at a time and appended at once ([`escape`]), and
//! nothing goes through `io::Write` (figures: BENCHMARKS.md, "JSON writer").
//!
//! [`serializer`] walks serde's data model, [`key`] writes map keys,
//! [`raw_value`] serde_json's `RawValue`s, [`output`] is where the bytes go and
//! [`errors`] makes serde_json's own errors.

mod errors;
mod escape;
mod key;
mod number;
mod output;
mod raw_value;
mod serializer;

use serde::Serialize;

pub(crate) use escape::write_quoted;
use output::Output;
use serializer::JsSerializer;

/// Appends `value` as compact JSON with JavaScript's number spelling.
///
/// # Errors
///
/// Where serde_json fails, with serde_json's error: a map key that is not a
/// string, char, bool, integer or finite float, a malformed `RawValue`, or
/// an error raised by `value`'s `Serialize`. What was appended before the
/// error stays in `out`; the caller truncates.
pub(crate) fn write<O: Output + ?Sized, T: Serialize + ?Sized>(
    out: &mut O,
    value: &T,
) -> Result<(), serde_json::Error> {
    value.serialize(&mut JsSerializer::new(out))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::BytesMut;
    use serde_json::Error;

    use super::key::{float_key_must_be_finite, key_must_be_a_string, MapWithKey};
    use super::raw_value::{invalid_raw_value, RawValueWithoutToken};
    use super::*;

    fn ours<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        write(&mut out, value).map(|()| out)
    }

    /// Errors are serde_json's own: same message and category.
    #[test]
    fn errors_are_serde_json_errors() {
        let mut unit_key = BTreeMap::new();
        unit_key.insert((), 1);
        let cases: [(Error, Error); 3] = [
            (ours(&unit_key).unwrap_err(), serde_json::to_vec(&unit_key).unwrap_err()),
            (
                ours(&MapWithKey(f32::INFINITY)).unwrap_err(),
                serde_json::to_vec(&MapWithKey(f32::NAN)).unwrap_err(),
            ),
            (
                ours(&RawValueWithoutToken).unwrap_err(),
                serde_json::to_vec(&RawValueWithoutToken).unwrap_err(),
            ),
        ];
        for (ours, theirs) in cases {
            assert_eq!(ours.to_string(), theirs.to_string());
            assert_eq!(ours.classify(), theirs.classify());
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        }
        assert_eq!(key_must_be_a_string().to_string(), "key must be a string");
        assert_eq!(float_key_must_be_finite().to_string(), "float key must be finite (got NaN or +/-inf)");
        assert_eq!(invalid_raw_value().to_string(), "expected value");
    }

    /// NaN and infinities are `null`, as in serde_json and `JSON.stringify`.
    #[test]
    fn non_finite_floats_are_null() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(ours(&v).unwrap(), b"null", "{v}");
            assert_eq!(ours(&(v as f32)).unwrap(), b"null", "{v}");
        }
    }

    #[test]
    fn both_outputs_write_the_same_bytes() {
        let value = serde_json::json!({"a": [1, 2.5, "x\"\n\u{2028}"], "b": {"c": null, "d": 1e21}});
        let mut bytes = BytesMut::new();
        write(&mut bytes, &value).unwrap();
        assert_eq!(&bytes[..], &ours(&value).unwrap()[..]);
        let want = "{\"a\":[1,2.5,\"x\\\"\\n\u{2028}\"],\"b\":{\"c\":null,\"d\":1e+21}}";
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), want);
    }
}
