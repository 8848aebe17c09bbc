//! The reference: how ipc-codec serialized JSON before `js_writer` (commit
//! cfa6abd, `ipc-codec/src/js_format.rs`), kept verbatim apart from `pub(crate)`:
//! serde_json's `Serializer` with a formatter that prints floats as JavaScript
//! does. `js_writer_props.rs` and the `json_writer` fuzz target compare the
//! new writer against it byte for byte.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// A compact serde_json formatter that prints numbers as JavaScript does.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsFormatter;

impl Formatter for JsFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut buf = ryu::Buffer::new();
        write_js_number(writer, buf.format_finite(value), value == 0.0)
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        let mut buf = ryu::Buffer::new();
        write_js_number(writer, buf.format_finite(value), value == 0.0)
    }
}

/// Serializes `value` the old way: serde_json with [`JsFormatter`].
pub(crate) fn to_vec<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, JsFormatter))?;
    Ok(out)
}

/// Re-lays out ryu's shortest round-trip digits with ECMAScript's rules
/// (Number::toString, radix 10). Non-finite values never reach a formatter:
/// serde_json writes them as `null`, as `JSON.stringify` does.
fn write_js_number<W: ?Sized + io::Write>(w: &mut W, ryu: &str, is_zero: bool) -> io::Result<()> {
    if is_zero {
        // `-0` prints as `0` in JavaScript.
        return w.write_all(b"0");
    }
    let (negative, unsigned) = match ryu.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, ryu),
    };
    let (mantissa, exp) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    // digits d1..dk and n such that value = 0.d1..dk * 10^n
    let mut digits = [0u8; 32];
    let mut k = 0usize;
    let mut n = exp;
    let mut seen_point = false;
    let mut leading = true;
    for b in mantissa.bytes() {
        if b == b'.' {
            seen_point = true;
            continue;
        }
        if leading && b == b'0' {
            if seen_point {
                n -= 1;
            }
            continue;
        }
        leading = false;
        if !seen_point {
            n += 1;
        }
        if k < digits.len() {
            digits[k] = b;
            k += 1;
        }
    }
    while k > 1 && digits[k - 1] == b'0' {
        k -= 1;
    }
    let digits = &digits[..k];
    if negative {
        w.write_all(b"-")?;
    }
    let k = k as i32;
    if k <= n && n <= 21 {
        w.write_all(digits)?;
        for _ in 0..(n - k) {
            w.write_all(b"0")?;
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        w.write_all(int)?;
        w.write_all(b".")?;
        w.write_all(frac)?;
    } else if -6 < n && n <= 0 {
        w.write_all(b"0.")?;
        for _ in 0..(-n) {
            w.write_all(b"0")?;
        }
        w.write_all(digits)?;
    } else {
        w.write_all(&digits[..1])?;
        if k > 1 {
            w.write_all(b".")?;
            w.write_all(&digits[1..])?;
        }
        let e = n - 1;
        write!(w, "e{}{}", if e < 0 { '-' } else { '+' }, e.unsigned_abs())?;
    }
    Ok(())
}
