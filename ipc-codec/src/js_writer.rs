//! A serde `Serializer` that writes JSON exactly as `JSON.stringify` does,
//! straight into the frame buffer.
//!
//! Byte for byte what serde_json 1.0.154's compact `Serializer` writes, with
//! floats spelled as JavaScript spells them ([`write_js_number`]): method for
//! method, map keys, enums, bytes, `RawValue` and errors included. It is our
//! own because serde_json escapes strings one byte at a time and calls its
//! `io::Write` for every fragment, which led the sender's profile. Here plain
//! runs are found eight bytes at a time and appended at once, and nothing goes
//! through `io::Write` (figures: BENCHMARKS.md, "JSON writer").

use std::fmt::{self, Display};

use bytes::BytesMut;
use serde::ser::{self, Impossible, Serialize, SerializeMap as _};
use serde_json::Error;

use crate::js_format::write_js_number;

type Result<T = (), E = Error> = std::result::Result<T, E>;

/// Where the JSON goes: a frame buffer (`BytesMut`) or event data (`Vec<u8>`).
pub(crate) trait Output {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Makes room for at least `additional` more bytes.
    fn reserve_for(&mut self, additional: usize);
}

impl Output for BytesMut {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn reserve_for(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

impl Output for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn reserve_for(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

impl<T: Output + ?Sized> Output for &mut T {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }

    #[inline]
    fn reserve_for(&mut self, additional: usize) {
        (**self).reserve_for(additional);
    }
}

/// Appends `value` as compact JSON with JavaScript's number spelling.
///
/// # Errors
///
/// Where serde_json fails, with serde_json's error: a map key that is not a
/// string, char, bool, integer or finite float, a malformed `RawValue`, or
/// an error raised by `value`'s `Serialize`. What was appended before the
/// error stays in `out`; the caller truncates.
pub(crate) fn write<O: Output + ?Sized, T: Serialize + ?Sized>(out: &mut O, value: &T) -> Result {
    value.serialize(&mut JsSerializer { out })
}

/// Appends `s` as a JSON string literal.
#[inline]
pub(crate) fn write_str<O: Output + ?Sized>(out: &mut O, s: &str) {
    write_quoted(out, b"\"", s, b"\"");
}

/// Appends `before`, `s` escaped (without quotes) and `after`: a key with
/// the punctuation around it (`,"` key `":`) in three appends, not six.
/// Always inlined, so that `before` and `after` are copied as constants.
#[inline(always)]
pub(crate) fn write_quoted<O: Output + ?Sized>(out: &mut O, before: &[u8], s: &str, after: &[u8]) {
    out.reserve_for(before.len() + s.len() + after.len());
    out.put(before);
    write_escaped(out, s);
    out.put(after);
}

// ---------------------------------------------------------------------------
// Strings

/// For each byte, the letter after the backslash of its escape, `u` for
/// `\u00XX`, or 0 when the byte is written as it is (serde_json's table).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW_BITS: u64 = ONES * 0x7f;

/// The high bit of every byte of `word` that needs an escape (below 0x20,
/// `"` or `\`) is set in the result, and no other bit. Exact per byte: the
/// additions below never carry from one byte into the next, so bytes can be
/// masked off and `trailing_zeros() / 8` is the first match (little-endian).
#[inline]
fn escape_mask(word: u64) -> u64 {
    // the high bit of each byte of `(t & 0x7f) + 0x7f | t` is set iff that byte of `t` is not zero
    let nonzero = |t: u64| ((t & LOW_BITS) + LOW_BITS) | t;
    let not_control = nonzero(word & (ONES * 0xe0));
    let not_quote = nonzero(word ^ (ONES * u64::from(b'"')));
    let not_backslash = nonzero(word ^ (ONES * u64::from(b'\\')));
    !(not_control & not_quote & not_backslash) & (ONES * 0x80)
}

#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The index of the first byte at or after `from` that needs an escape:
/// eight bytes at a time, the last (partial) word read overlapping the one
/// before it with the bytes already seen masked off.
#[inline(always)]
fn find_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let len = bytes.len();
    if len < 8 {
        return find_escape_short(bytes, from);
    }
    let mut at = from;
    while at + 8 <= len {
        let mask = escape_mask(word_at(bytes, at));
        if mask != 0 {
            return Some(at + (mask.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if at == len {
        return None;
    }
    let last = len - 8;
    let mask = escape_mask(word_at(bytes, last)) & (u64::MAX << (8 * (at - last)));
    (mask != 0).then(|| last + (mask.trailing_zeros() / 8) as usize)
}

/// [`find_escape`] in a string shorter than 8 bytes (most object keys): its
/// first and last four bytes as one word, or byte by byte when shorter than
/// four or when resuming after an escape.
#[inline]
fn find_escape_short(bytes: &[u8], from: usize) -> Option<usize> {
    let len = bytes.len();
    if from > 0 || len < 4 {
        return bytes[from..].iter().position(|&b| ESCAPE[usize::from(b)] != 0).map(|at| from + at);
    }
    let first = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    let last = u32::from_le_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
    // lane k < 4 is byte k, lane k >= 4 byte len - 8 + k (a byte may be in two lanes)
    let mask = escape_mask(u64::from(first) | u64::from(last) << 32);
    match (mask.trailing_zeros() / 8) as usize {
        8 => None,
        lane @ 0..4 => Some(lane),
        lane => Some(lane + len - 8),
    }
}

/// Appends the contents of `s` escaped, without quotes: each plain run with
/// one `put`, then the escape that ends it.
#[inline(never)]
pub(crate) fn write_escaped<O: Output + ?Sized>(out: &mut O, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(at) = find_escape(bytes, start) {
        if start < at {
            out.put(&bytes[start..at]);
        }
        let byte = bytes[at];
        match ESCAPE[usize::from(byte)] {
            b'u' => {
                out.put(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]])
            }
            letter => out.put(&[b'\\', letter]),
        }
        start = at + 1;
    }
    if start < bytes.len() {
        out.put(&bytes[start..]);
    }
}

// ---------------------------------------------------------------------------
// Numbers

#[inline]
fn write_int<O: Output + ?Sized>(out: &mut O, value: impl itoa::Integer) {
    out.put(itoa::Buffer::new().format(value).as_bytes());
}

/// A finite float in JavaScript's spelling.
#[inline]
fn write_finite<O: Output + ?Sized, F: ryu::Float>(out: &mut O, value: F, is_zero: bool) {
    let mut buf = ryu::Buffer::new();
    write_js_number(out, buf.format_finite(value), is_zero);
}

// ---------------------------------------------------------------------------
// Errors: serde_json's own, so that `Display` and `classify()` match

/// The error serde_json gives for `probe`: how we get its syntax-category
/// errors, which it has no public constructor for (error path only).
fn serde_json_error(probe: &impl Serialize, fallback: &str) -> Error {
    match serde_json::to_writer(std::io::sink(), probe) {
        Err(err) => err,
        Ok(()) => ser::Error::custom(fallback),
    }
}

/// A map with one entry whose key is `K`.
struct MapWithKey<K>(K);

impl<K: Serialize> Serialize for MapWithKey<K> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.0, &())?;
        map.end()
    }
}

/// A `RawValue` struct whose field has the wrong name.
struct RawValueWithoutToken;

impl Serialize for RawValueWithoutToken {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        s.serialize_field("", &())?;
        s.end()
    }
}

/// "key must be a string"
#[cold]
fn key_must_be_a_string() -> Error {
    serde_json_error(&MapWithKey(()), "key must be a string")
}

/// "float key must be finite (got NaN or +/-inf)"
#[cold]
fn float_key_must_be_finite() -> Error {
    serde_json_error(&MapWithKey(f64::NAN), "float key must be finite (got NaN or +/-inf)")
}

/// "expected value"
#[cold]
fn invalid_raw_value() -> Error {
    serde_json_error(&RawValueWithoutToken, "expected value")
}

#[cold]
fn expected_raw_value() -> Error {
    ser::Error::custom("expected RawValue")
}

// ---------------------------------------------------------------------------
// The serializer

/// serde_json's `RawValue` serializes as a struct of this name with one field
/// of this name holding its JSON text, which is written verbatim.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Mirrors `serde_json::Serializer<_, CompactFormatter>` call for call.
struct JsSerializer<W> {
    out: W,
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
struct Compound<'s, W> {
    ser: &'s mut JsSerializer<W>,
    state: State,
}

/// A struct being written: a map, or serde_json's `RawValue`.
enum StructCompound<'s, W> {
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
        struct Escaper<'a, W>(&'a mut W);

        impl<W: Output> fmt::Write for Escaper<'_, W> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                write_escaped(self.0, s);
                Ok(())
            }
        }

        self.put(b"\"");
        // serde_json panics too when a `Display` fails on its own (its writer
        // here never fails); `ToString` does the same.
        fmt::write(&mut Escaper(&mut self.out), format_args!("{value}"))
            .expect("a Display implementation returned an error unexpectedly");
        self.put(b"\"");
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
        key.serialize(MapKeySerializer { ser: &mut *self.ser })
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
                value.serialize(RawValueEmitter { ser: &mut **ser })
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

/// Map keys, as serde_json writes them: strings and chars as they are; bools,
/// integers and finite floats quoted; anything else is an error.
struct MapKeySerializer<'s, W> {
    ser: &'s mut JsSerializer<W>,
}

impl<W: Output> MapKeySerializer<'_, W> {
    /// `"` + `write` + `"`.
    #[inline]
    fn quoted(self, write: impl FnOnce(&mut W)) -> Result {
        self.ser.put(b"\"");
        write(&mut self.ser.out);
        self.ser.put(b"\"");
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
        self.ser.str(v);
        Ok(())
    }

    #[inline]
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result {
        self.ser.str(variant);
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
        self.ser.str(v.encode_utf8(&mut [0; 4]));
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
        self.ser.collect_str(value)
    }
}

/// The field of a `RawValue`: its JSON text, written verbatim.
struct RawValueEmitter<'s, W> {
    ser: &'s mut JsSerializer<W>,
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
        self.ser.put(v.as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn first_escape_by_table(bytes: &[u8]) -> Option<usize> {
        bytes.iter().position(|&b| ESCAPE[usize::from(b)] != 0)
    }

    /// Every byte value in every lane of a word, next to every filler that
    /// could borrow or carry into it, and after an earlier match.
    #[test]
    fn find_escape_is_exact_in_every_lane() {
        let fillers =
            [0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff];
        for lane in 0..8 {
            for byte in 0..=255u8 {
                for filler in fillers {
                    let mut word = [b'a'; 8];
                    word[lane] = byte;
                    assert_eq!(find_escape(&word, 0), first_escape_by_table(&word), "{word:x?}");
                    for other in 0..8 {
                        let mut word = word;
                        word[other] = filler;
                        assert_eq!(find_escape(&word, 0), first_escape_by_table(&word), "{word:x?}");
                    }
                }
            }
        }
    }

    /// Every length up to 17 (short strings, whole words, overlapping last
    /// words), every start offset, every byte value at every position, and
    /// pairs of matches.
    #[test]
    fn find_escape_at_every_length_and_offset() {
        let specials = [0x00, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0xff];
        for len in 0..=17 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    for from in 0..=len {
                        let want = first_escape_by_table(&text[from..]).map(|i| i + from);
                        assert_eq!(find_escape(&text, from), want, "{text:x?} from {from}");
                    }
                }
                for other in 0..len {
                    for (x, y) in specials.iter().flat_map(|&x| specials.map(|y| (x, y))) {
                        let mut text = vec![b'a'; len];
                        text[at] = x;
                        text[other] = y;
                        for from in 0..=len {
                            let want = first_escape_by_table(&text[from..]).map(|i| i + from);
                            assert_eq!(find_escape(&text, from), want, "{text:x?} from {from}");
                        }
                    }
                }
            }
        }
    }

    fn ours<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
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
