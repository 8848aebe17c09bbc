//! Numbers as JavaScript prints them.
//!
//! serde_json prints `1.0` and `1e21` where `JSON.stringify` prints `1` and
//! `1e+21`: [`write_finite`] re-lays out ryu's shortest round-trip digits
//! with ECMAScript's `Number::toString`. Integers are itoa's digits, as in
//! serde_json.

use super::output::Output;

/// An integer, in itoa's digits.
#[inline]
pub(super) fn write_int<O: Output + ?Sized>(out: &mut O, value: impl itoa::Integer) {
    out.put(itoa::Buffer::new().format(value).as_bytes());
}

/// A finite float in JavaScript's spelling.
#[inline]
pub(super) fn write_finite<O: Output + ?Sized, F: ryu::Float>(out: &mut O, value: F, is_zero: bool) {
    let mut buf = ryu::Buffer::new();
    write_js_number(out, buf.format_finite(value), is_zero);
}

/// Re-lays out ryu's shortest round-trip digits (`ryu`, the formatting of a
/// finite float; `is_zero` when it is ±0) with ECMAScript's rules
/// (Number::toString, radix 10). Non-finite values never get here: the
/// writer prints them as `null`, as `JSON.stringify` does.
fn write_js_number<O: Output + ?Sized>(w: &mut O, ryu: &str, is_zero: bool) {
    if is_zero {
        // `-0` prints as `0` in JavaScript.
        w.put(b"0");
        return;
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
        w.put(b"-");
    }
    let k = k as i32;
    if k <= n && n <= 21 {
        w.put(digits);
        for _ in 0..(n - k) {
            w.put(b"0");
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        w.put(int);
        w.put(b".");
        w.put(frac);
    } else if -6 < n && n <= 0 {
        w.put(b"0.");
        for _ in 0..(-n) {
            w.put(b"0");
        }
        w.put(digits);
    } else {
        w.put(&digits[..1]);
        if k > 1 {
            w.put(b".");
            w.put(&digits[1..]);
        }
        let e = n - 1;
        w.put(if e < 0 { b"e-" } else { b"e+" });
        w.put(itoa::Buffer::new().format(e.unsigned_abs()).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: f64) -> String {
        let mut out = Vec::new();
        write_finite(&mut out, v, v == 0.0);
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
        write_finite(&mut out, 1.1f32, false);
        assert_eq!(out, b"1.1");
    }
}
