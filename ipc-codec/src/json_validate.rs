//! Checks that bytes are one JSON value without building anything.
//!
//! A received event's data is only validated: it stays the frame's raw bytes
//! until someone asks for it (and then serde_json deserializes it). serde_json's
//! `IgnoredAny` made that validation half of all the work of receiving an
//! event (figures in BENCHMARKS.md); this checker does it in a single
//! pass, strings eight bytes at a time, and tells whether the text was all
//! ASCII, which spares a separate UTF-8 pass for most frames.
//!
//! It accepts exactly what `serde_json::from_slice::<IgnoredAny>` accepts
//! (RFC 8259: surrounding whitespace, any nesting depth, `\u` escapes not
//! checked for surrogates, bytes >= 0x80 inside strings left to the UTF-8
//! check): the property tests and the `json_validate` fuzz target compare the
//! two verdicts on arbitrary input. It only says yes or no; errors are
//! described by serde_json, which the caller runs on the rare invalid frame.

/// The verdict on valid JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Valid {
    /// Every byte is ASCII, so the text is valid UTF-8 too.
    Ascii,
    /// Some string holds bytes >= 0x80: check UTF-8 before use.
    NonAscii,
}

/// Whether `bytes` is exactly one JSON value, optionally surrounded by
/// whitespace; `None` when it is not.
pub(crate) fn validate(bytes: &[u8]) -> Option<Valid> {
    // Positions travel in locals and return values, not through `&mut self`:
    // this loop runs per byte and must stay in registers.
    let mut high_bits = 0u64;
    let mut nesting = Nesting { depth: 0, top: 0, spilled: Vec::new() };
    let mut pos = 0;
    'value: loop {
        pos = skip_whitespace(bytes, pos);
        let byte = *bytes.get(pos)?;
        pos += 1;
        match byte {
            b'"' => pos = string(bytes, pos, &mut high_bits)?,
            b'{' => {
                pos = skip_whitespace(bytes, pos);
                if bytes.get(pos) == Some(&b'}') {
                    pos += 1;
                } else {
                    nesting.push(true);
                    pos = member_key(bytes, pos, &mut high_bits)?;
                    continue 'value;
                }
            }
            b'[' => {
                pos = skip_whitespace(bytes, pos);
                if bytes.get(pos) == Some(&b']') {
                    pos += 1;
                } else {
                    nesting.push(false);
                    continue 'value;
                }
            }
            b'-' | b'0'..=b'9' => pos = number(bytes, pos - 1)?,
            b't' => pos = literal(bytes, pos, b"rue")?,
            b'f' => pos = literal(bytes, pos, b"alse")?,
            b'n' => pos = literal(bytes, pos, b"ull")?,
            _ => return None,
        }
        // After a value: close containers until one expects another value.
        loop {
            pos = skip_whitespace(bytes, pos);
            if nesting.depth == 0 {
                if pos != bytes.len() {
                    return None;
                }
                return Some(if high_bits & HIGH == 0 { Valid::Ascii } else { Valid::NonAscii });
            }
            let object = nesting.in_object();
            match *bytes.get(pos)? {
                b',' => {
                    pos += 1;
                    if object {
                        pos = member_key(bytes, skip_whitespace(bytes, pos), &mut high_bits)?;
                    }
                    continue 'value;
                }
                b'}' if object => {
                    pos += 1;
                    nesting.pop();
                }
                b']' if !object => {
                    pos += 1;
                    nesting.pop();
                }
                _ => return None,
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Object/array nesting as a stack of bits (1 = object): 64 levels in a
/// register, deeper levels spilled to the heap (only for pathological input).
struct Nesting {
    depth: usize,
    top: u64,
    spilled: Vec<u64>,
}

impl Nesting {
    #[inline]
    fn push(&mut self, object: bool) {
        if self.depth > 0 && self.depth % 64 == 0 {
            self.spilled.push(self.top);
            self.top = 0;
        }
        self.top = (self.top << 1) | u64::from(object);
        self.depth += 1;
    }

    #[inline]
    fn pop(&mut self) {
        self.depth -= 1;
        self.top >>= 1;
        if self.depth > 0 && self.depth % 64 == 0 {
            self.top = self.spilled.pop().unwrap_or(0);
        }
    }

    /// Whether the innermost open container is an object (depth > 0).
    #[inline]
    fn in_object(&self) -> bool {
        self.top & 1 == 1
    }
}

#[inline(always)]
fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    // Every JSON whitespace byte is <= b' ', every byte that starts a token is above.
    while let Some(&byte) = bytes.get(pos) {
        if byte > b' ' || !matches!(byte, b' ' | b'\n' | b'\t' | b'\r') {
            break;
        }
        pos += 1;
    }
    pos
}

/// `"key"` and `:`, with whitespace already skipped before the key.
#[inline(always)]
fn member_key(bytes: &[u8], pos: usize, high_bits: &mut u64) -> Option<usize> {
    if *bytes.get(pos)? != b'"' {
        return None;
    }
    let pos = skip_whitespace(bytes, string(bytes, pos + 1, high_bits)?);
    (*bytes.get(pos)? == b':').then_some(pos + 1)
}

#[inline(always)]
fn literal(bytes: &[u8], pos: usize, rest: &[u8]) -> Option<usize> {
    let end = pos + rest.len();
    (bytes.get(pos..end)? == rest).then_some(end)
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` from `pos`; returns its end.
/// `01` ends after the `0`: the caller sees the `1` as a stray byte.
fn number(bytes: &[u8], mut pos: usize) -> Option<usize> {
    if bytes[pos] == b'-' {
        pos += 1;
    }
    match *bytes.get(pos)? {
        b'0' => pos += 1,
        b'1'..=b'9' => pos = digits(bytes, pos + 1),
        _ => return None,
    }
    if bytes.get(pos) == Some(&b'.') {
        pos = one_or_more_digits(bytes, pos + 1)?;
    }
    if let Some(b'e' | b'E') = bytes.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = bytes.get(pos) {
            pos += 1;
        }
        pos = one_or_more_digits(bytes, pos)?;
    }
    Some(pos)
}

#[inline(always)]
fn digits(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b'0'..=b'9') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

#[inline(always)]
fn one_or_more_digits(bytes: &[u8], pos: usize) -> Option<usize> {
    let end = digits(bytes, pos);
    (end > pos).then_some(end)
}

/// The rest of a string after its opening quote; returns the position after
/// the closing quote. Plain runs are skipped eight bytes at a time, escapes
/// checked, control characters refused.
#[inline(always)]
fn string(bytes: &[u8], mut pos: usize, high_bits: &mut u64) -> Option<usize> {
    loop {
        pos = skip_plain(bytes, pos, high_bits);
        match *bytes.get(pos)? {
            b'"' => return Some(pos + 1),
            b'\\' => match *bytes.get(pos + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => pos += 2,
                b'u' => {
                    let hex = bytes.get(pos + 2..pos + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    pos += 6;
                }
                _ => return None,
            },
            // A control character (the only other byte skip_plain stops at).
            _ => return None,
        }
    }
}

/// The position of the next `"`, `\\` or byte below 0x20 from `pos` (or the end).
/// Keys and short values end within the first eight bytes, checked here
/// inline; longer runs go to a loop of their own, out of line so that it
/// keeps its constants in registers.
#[inline(always)]
fn skip_plain(bytes: &[u8], pos: usize, high_bits: &mut u64) -> usize {
    if let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if let Some(at) = first_special(word, high_bits) {
            return pos + at;
        }
        return skip_plain_long(bytes, pos + 8, high_bits);
    }
    skip_plain_long(bytes, pos, high_bits)
}

#[inline(never)]
fn skip_plain_long(bytes: &[u8], pos: usize, high_bits: &mut u64) -> usize {
    let mut pos = pos;
    // One more word first: most strings that get here end within it.
    if let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if let Some(at) = first_special(word, high_bits) {
            return pos + at;
        }
        pos += 8;
    }
    let mut seen = 0;
    // Sixteen bytes a step while no special byte shows, then eight at a time.
    while let Some(pair) = bytes.get(pos..pos + 16) {
        let a = u64::from_le_bytes(pair[..8].try_into().expect("eight bytes"));
        let b = u64::from_le_bytes(pair[8..].try_into().expect("eight bytes"));
        if special_mask(a) | special_mask(b) != 0 {
            break;
        }
        seen |= a | b;
        pos += 16;
    }
    let rest = bytes.get(pos..).unwrap_or_default();
    let mut chunks = rest.chunks_exact(8);
    for (i, chunk) in chunks.by_ref().enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if let Some(at) = first_special(word, &mut seen) {
            *high_bits |= seen;
            return pos + 8 * i + at;
        }
    }
    *high_bits |= seen;
    let done = pos + rest.len() - chunks.remainder().len();
    if done == bytes.len() {
        return done;
    }
    if bytes.len() < 8 {
        return short_tail(bytes, done, high_bits);
    }
    // Fewer than eight bytes left: the last eight, shifted so that `done` is
    // the lowest byte; the zeros shifted in stop the scan at the end.
    let last = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().expect("eight bytes"));
    let word = last >> (8 * (done + 8 - bytes.len()));
    match first_special(word, high_bits) {
        Some(at) => (done + at).min(bytes.len()),
        None => bytes.len(),
    }
}

/// The index of the first `"`, `\\` or byte below 0x20 among the eight
/// bytes of `word` (little-endian), noting any byte >= 0x80 in `high_bits`.
#[inline(always)]
fn first_special(word: u64, high_bits: &mut u64) -> Option<usize> {
    *high_bits |= word;
    let found = special_mask(word);
    (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
}

/// The high bit of each byte of `word` that is `"`, `\\` or below 0x20, and
/// maybe of bytes above the first of those (borrows only run upwards, so the
/// lowest mark is exact).
#[inline(always)]
fn special_mask(word: u64) -> u64 {
    // Per byte, the high bit of `x - 0x01` (or `- 0x20`) is set where x is
    // zero (below 0x20), once bytes >= 0x80 are masked out by `!word` (the
    // quote and backslash differences share `word`'s high bits).
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    let control = word.wrapping_sub(ONES * 0x20);
    (quote | backslash | control) & !word & HIGH
}

/// [`skip_plain_long`] on inputs shorter than eight bytes.
#[cold]
fn short_tail(bytes: &[u8], mut pos: usize, high_bits: &mut u64) -> usize {
    while let Some(&b) = bytes.get(pos) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        *high_bits |= u64::from(b) << 56;
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_says(bytes: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        let cases: &[&[u8]] = &[
            b"",
            b" ",
            b"0",
            b"-0",
            b"01",
            b"-",
            b"-a",
            b"1.",
            b"1.5",
            b".5",
            b"1e",
            b"1e+",
            b"1E-7",
            b"1e5x",
            b"+1",
            b"00",
            b"0.0e0",
            b"123456789012345678901234567890",
            b"1e400",
            b"true",
            b"tru",
            b"truex",
            b"false",
            b"null",
            b"nul",
            b"NaN",
            b"\"\"",
            b"\"",
            b"\"abc",
            b"\"a\\\"b\"",
            b"\"\\u00e9\"",
            b"\"\\u00g9\"",
            b"\"\\ud800\"",
            b"\"\\x\"",
            b"\"\\/\"",
            b"\"tab\there\"",
            b"\"\x1f\"",
            b"\"\x7f\"",
            b"\"\xff\xfe\"",
            b"\"caf\xc3\xa9\"",
            b"[]",
            b"[ ]",
            b"[1,]",
            b"[,1]",
            b"[1 2]",
            b"[[[]]]",
            b"[[]",
            b"{}",
            b"{ }",
            b"{\"a\":1}",
            b"{\"a\" : 1 , \"b\":[true,{}]}",
            b"{\"a\":1,}",
            b"{,}",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{1:2}",
            b"{\"a\":1]",
            b"[1}",
            b" \t\r\n{}\n ",
            b"{} {}",
            b"{}x",
            b"\x0c{}",
            b"{}\x0c",
            b"[\"aaaaaaaaaaaaaaaa\\\"aaaaaaa\"]",
            b"\"0123456789abcdef0123\"",
            b"\"0123456\"",
            b"\"01234567\"",
            b"\"012345678\"",
            b"\"0123456\x01\"",
            b"\"01234567\x01\"",
            b"\"\\u12",
            b"{\"id\":\"client-1\",\"seq\":10000,\"message\":\"xxxxxxxxxxxxxxxxxxxxxxx\"}",
            b"\xef\xbb\xbf{}",
        ];
        for case in cases {
            assert_eq!(validate(case).is_some(), serde_says(case), "{:?}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn any_depth_is_accepted_as_serde_json_ignores_it() {
        for depth in [63, 64, 65, 127, 128, 129, 10_000] {
            let mut text = "[".repeat(depth);
            text.push_str(&"]".repeat(depth));
            assert_eq!(validate(text.as_bytes()), Some(Valid::Ascii), "depth {depth}");
            let mixed = format!("{}1{}", "{\"a\":[".repeat(depth), "]}".repeat(depth));
            assert_eq!(validate(mixed.as_bytes()), Some(Valid::Ascii), "depth {depth}");
            let unbalanced = format!("{}1{}]", "{\"a\":[".repeat(depth), "]}".repeat(depth - 1));
            assert!(validate(unbalanced.as_bytes()).is_none(), "depth {depth}");
            assert!(!serde_says(unbalanced.as_bytes()));
        }
    }

    #[test]
    fn reports_non_ascii_strings() {
        assert_eq!(validate(b"\"abc\""), Some(Valid::Ascii));
        assert_eq!(validate("\"caf\u{e9}\"".as_bytes()), Some(Valid::NonAscii));
        assert_eq!(validate("[\"0123456789\u{2028}\"]".as_bytes()), Some(Valid::NonAscii));
        assert_eq!(validate("{\"\u{1F600}\":1}".as_bytes()), Some(Valid::NonAscii));
    }

    mod differential {
        use proptest::prelude::*;
        use serde_json::{Map, Number, Value};

        use super::{serde_says, validate, Valid};

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| Value::Number(n.into())),
                any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
                any::<String>().prop_map(Value::String),
                "[a-z\\\\\"\\x00-\\x1f\\u{80}-\\u{10ffff}]{0,40}".prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((any::<String>(), inner), 0..6)
                        .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        /// Bytes that matter to JSON's grammar, and some that never may appear.
        fn interesting_byte() -> impl Strategy<Value = u8> {
            prop_oneof![
                prop::sample::select(
                    b"{}[]:,\"\\/ \t\n\r0123456789-+.eEtrufalsnbu\x00\x1f\x7f\x80\xff".to_vec()
                ),
                any::<u8>(),
            ]
        }

        /// Valid JSON (pretty or compact), then a few bytes inserted, removed or replaced.
        fn mutated() -> impl Strategy<Value = Vec<u8>> {
            let edit = (any::<prop::sample::Index>(), 0u8..3, interesting_byte());
            (json_value(), any::<bool>(), prop::collection::vec(edit, 0..4)).prop_map(
                |(value, pretty, edits)| {
                    let mut bytes =
                        if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) }
                            .unwrap();
                    for (at, kind, byte) in edits {
                        let i = at.index(bytes.len() + 1);
                        match kind {
                            0 => bytes.insert(i, byte),
                            1 if i < bytes.len() => {
                                bytes.remove(i);
                            }
                            _ if i < bytes.len() => bytes[i] = byte,
                            _ => bytes.push(byte),
                        }
                    }
                    bytes
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            #[test]
            fn verdict_matches_serde_json_on_mutated_json(bytes in mutated()) {
                let ours = validate(&bytes);
                prop_assert_eq!(ours.is_some(), serde_says(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
                if ours == Some(Valid::Ascii) {
                    prop_assert!(bytes.is_ascii());
                }
            }

            #[test]
            fn verdict_matches_serde_json_on_grammar_soup(
                bytes in prop::collection::vec(interesting_byte(), 0..48)
            ) {
                prop_assert_eq!(validate(&bytes).is_some(), serde_says(&bytes));
            }
        }
    }
}
