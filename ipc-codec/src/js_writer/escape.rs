//! Strings as `JSON.stringify` escapes them: plain runs are found eight
//! bytes at a time and appended at once, where serde_json escapes (and
//! writes) byte by byte.

use std::fmt::{self, Display};

use super::output::Output;

/// Appends `s` as a JSON string literal.
#[inline]
pub(super) fn write_str<O: Output + ?Sized>(out: &mut O, s: &str) {
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

/// Appends what `value`'s `Display` writes as a JSON string literal, each
/// piece escaped as it comes, with no intermediate `String`.
pub(super) fn write_display<O: Output + ?Sized, T: Display + ?Sized>(out: &mut O, value: &T) {
    struct Escaper<'a, O: ?Sized>(&'a mut O);

    impl<O: Output + ?Sized> fmt::Write for Escaper<'_, O> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            write_escaped(self.0, s);
            Ok(())
        }
    }

    out.put(b"\"");
    // serde_json panics too when a `Display` fails on its own (its writer
    // here never fails); `ToString` does the same.
    fmt::write(&mut Escaper(&mut *out), format_args!("{value}"))
        .expect("a Display implementation returned an error unexpectedly");
    out.put(b"\"");
}

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
fn write_escaped<O: Output + ?Sized>(out: &mut O, s: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
