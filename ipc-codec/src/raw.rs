//! [`RawCodec`] (node-ipc `rawBuffer`) and [`Encoding`] (node's `Buffer` encodings).

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::CodecError;

/// node-ipc's raw-buffer mode: no framing at all, bytes in and bytes out.
///
/// The decoder yields whatever has arrived as one chunk (so one read is one
/// item, and the buffer never holds more than one read). The encoder writes
/// bytes unchanged, and strings as node's `Buffer.from(string, encoding)` would.
///
/// ```
/// use bytes::BytesMut;
/// use ipc_codec::{Encoding, RawCodec};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = RawCodec::new(Encoding::Hex);
/// let mut wire = BytesMut::new();
/// codec.encode("68656c6c6f", &mut wire).unwrap();
/// assert_eq!(&wire[..], b"hello");
/// let chunk = codec.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(codec.encoding().decode(&chunk), "68656c6c6f");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawCodec {
    encoding: Encoding,
}

impl RawCodec {
    /// A raw codec whose strings use `encoding` (node-ipc `encoding`).
    pub fn new(encoding: Encoding) -> RawCodec {
        RawCodec { encoding }
    }

    /// The encoding used for strings.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        if buf.is_empty() {
            Ok(None)
        } else {
            Ok(Some(buf.split().freeze()))
        }
    }
}

impl Encoder<Bytes> for RawCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Encoder<&[u8]> for RawCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.put_slice(item);
        Ok(())
    }
}

impl Encoder<&str> for RawCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &str, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encoding.encode_into(item, dst);
        Ok(())
    }
}

/// node's `Buffer` encodings, with `Buffer.from(string, encoding)` and
/// `buffer.toString(encoding)` semantics (lenient, as node is: invalid input
/// is skipped or replaced, never an error).
///
/// ```
/// use ipc_codec::Encoding;
///
/// let hex: Encoding = "hex".parse().unwrap();
/// assert_eq!(hex.encode("abz1"), b"\xab"); // node stops at the first bad pair
/// assert_eq!(Encoding::Base64.decode(b"hello"), "aGVsbG8=");
/// assert_eq!("ucs2".parse::<Encoding>().unwrap(), Encoding::Utf16le);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// `utf8` / `utf-8` (node-ipc's default).
    #[default]
    Utf8,
    /// `hex`: two lowercase hex digits per byte.
    Hex,
    /// `base64` (decoding also accepts the URL-safe alphabet, as node does).
    Base64,
    /// `base64url`: URL-safe alphabet, no padding.
    Base64Url,
    /// `ascii`: encodes like latin1; decodes with each byte's high bit cleared.
    Ascii,
    /// `utf16le` / `ucs2`: UTF-16 code units, little-endian.
    Utf16le,
    /// `latin1` / `binary`: one byte per UTF-16 code unit (low 8 bits).
    Latin1,
}

impl Encoding {
    /// node's canonical name of the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
            Encoding::Ascii => "ascii",
            Encoding::Utf16le => "utf16le",
            Encoding::Latin1 => "latin1",
        }
    }

    /// `Buffer.from(s, encoding)`.
    pub fn encode(self, s: &str) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode_into(s, &mut out);
        out.to_vec()
    }

    /// `Buffer.from(s, encoding)`, appended to `dst`.
    pub fn encode_into(self, s: &str, dst: &mut BytesMut) {
        match self {
            Encoding::Utf8 => dst.put_slice(s.as_bytes()),
            Encoding::Hex => hex_decode(s.as_bytes(), dst),
            Encoding::Base64 | Encoding::Base64Url => base64_decode(s.as_bytes(), dst),
            Encoding::Ascii | Encoding::Latin1 => {
                dst.reserve(s.len());
                for unit in s.encode_utf16() {
                    dst.put_u8(unit as u8);
                }
            }
            Encoding::Utf16le => {
                dst.reserve(s.len() * 2);
                for unit in s.encode_utf16() {
                    dst.put_u16_le(unit);
                }
            }
        }
    }

    /// `buffer.toString(encoding)`. A lone surrogate from `utf16le` (which a
    /// Rust string cannot hold) becomes U+FFFD.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Hex => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let mut out = String::with_capacity(bytes.len() * 2);
                for &b in bytes {
                    out.push(DIGITS[usize::from(b >> 4)] as char);
                    out.push(DIGITS[usize::from(b & 0xf)] as char);
                }
                out
            }
            Encoding::Base64 => base64_encode(bytes, BASE64_ALPHABET, true),
            Encoding::Base64Url => base64_encode(bytes, BASE64URL_ALPHABET, false),
            Encoding::Ascii => bytes.iter().map(|&b| char::from(b & 0x7f)).collect(),
            Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Encoding::Utf16le => {
                let units = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]]));
                char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
            }
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = CodecError;

    /// Reads node's names and aliases, case-insensitively.
    fn from_str(s: &str) -> Result<Encoding, CodecError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Encoding::Utf8,
            "hex" => Encoding::Hex,
            "base64" => Encoding::Base64,
            "base64url" => Encoding::Base64Url,
            "ascii" => Encoding::Ascii,
            "utf16le" | "utf-16le" | "ucs2" | "ucs-2" => Encoding::Utf16le,
            "latin1" | "binary" => Encoding::Latin1,
            _ => {
                return Err(CodecError::Config(
                    "encoding must be utf8, hex, base64, base64url, ascii, utf16le/ucs2 or latin1/binary",
                ))
            }
        })
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// node's hex decoding: pairs of digits up to the first pair that is not one.
fn hex_decode(s: &[u8], dst: &mut BytesMut) {
    dst.reserve(s.len() / 2);
    for pair in s.chunks_exact(2) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(hi), Some(lo)) => dst.put_u8(hi << 4 | lo),
            _ => break,
        }
    }
}

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// node's lenient base64 decoding: both alphabets, characters outside them
/// skipped, decoding stops at the first `=`.
fn base64_decode(s: &[u8], dst: &mut BytesMut) {
    dst.reserve(s.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut count = 0u8;
    for &c in s {
        if c == b'=' {
            break;
        }
        let Some(v) = base64_value(c) else { continue };
        acc = acc << 6 | u32::from(v);
        count += 1;
        if count == 4 {
            dst.put_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
            count = 0;
        }
    }
    match count {
        2 => dst.put_u8((acc >> 4) as u8),
        3 => dst.put_slice(&((acc >> 2) as u16).to_be_bytes()),
        _ => {}
    }
}

fn base64_encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_decoder_yields_each_read_whole() {
        let mut codec = RawCodec::default();
        let mut buf = BytesMut::from(&b"\x00\x0cabc"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), Bytes::from_static(b"\x00\x0cabc"));
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            for enc in [Encoding::Base64, Encoding::Base64Url] {
                assert_eq!(enc.encode(&enc.decode(&bytes)), bytes, "{enc} {len}");
            }
        }
    }

    #[test]
    fn every_encoding_name_parses() {
        for name in [
            "utf8",
            "UTF-8",
            "hex",
            "base64",
            "base64url",
            "ascii",
            "utf16le",
            "ucs2",
            "ucs-2",
            "latin1",
            "binary",
        ] {
            assert!(name.parse::<Encoding>().is_ok(), "{name}");
        }
        assert!("ebcdic".parse::<Encoding>().is_err());
    }
}
