//! JSON output exactly as JavaScript's `JSON.stringify` prints it.
//!
//! serde_json already escapes strings the way `JSON.stringify` does (`\"`, `\\`,
//! `\b \f \n \r \t`, other controls as lowercase `\u00XX`, U+2028/2029 and
//! non-ASCII left as UTF-8). Numbers differ: serde_json prints `1.0` and `1e21`
//! where JavaScript prints `1` and `1e+21`. [`JsFormatter`] keeps serde_json's
//! compact output and prints every float with ECMAScript's `Number::toString`.

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

/// Serializes `value` as compact JSON with JavaScript's number spelling.
pub(crate) fn to_writer<W: io::Write, T: ?Sized + Serialize>(writer: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, JsFormatter);
    value.serialize(&mut ser)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: f64) -> String {
        let mut out = Vec::new();
        to_writer(&mut out, &v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123456789.123, "123456789.123"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740991.0, "9007199254740991"),
            (std::f64::consts::PI, "3.141592653589793"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ];
        for &(v, want) in cases {
            assert_eq!(js(v), want, "formatting {v:e}");
        }
    }

    #[test]
    fn floats_round_trip_by_value() {
        for v in [0.1, 1.0 / 3.0, 2.0f64.powi(60), 1e-300, 6.02214076e23, -7.5e-10] {
            let text = js(v);
            assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
        }
    }

    #[test]
    fn f32_prints_its_shortest_digits() {
        let mut out = Vec::new();
        to_writer(&mut out, &1.1f32).unwrap();
        assert_eq!(out, b"1.1");
    }
}
