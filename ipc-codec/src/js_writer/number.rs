//! Integers, and floats as JavaScript prints them.

use super::output::Output;
use crate::js_format::write_js_number;

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
