//! `ipc.log`: the lines this crate logs, and node's `util.inspect` for JSON values.

use std::fmt::Write as _;

use ipc_codec::Event;
use serde_json::Value;

use crate::config::Config;

/// Logs a line built by `line` unless `config.silent` or the logger takes
/// nothing now (nothing is formatted then).
pub(crate) fn log(config: &Config, line: impl FnOnce() -> String) {
    if !config.silent && config.logger.is_wanted() {
        config.logger.log(&line());
    }
}

/// Logs that `event` arrived: `what` and its type, and its data with `logPayloads`.
pub(crate) fn log_event(config: &Config, what: &str, event: &Event) {
    log(config, || {
        if config.log_payloads {
            let data = event.raw_data().map(String::from_utf8_lossy).unwrap_or_default();
            format!("{what} {} {data}", event.event_type())
        } else {
            format!("{what} {}", event.event_type())
        }
    });
}

const RESET: &str = "\x1b[39m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const BOLD_RESET: &str = "\x1b[22m";

/// Prints `value` as node's `util.inspect(value, {depth, colors})` does, on
/// one line: `{ id: 'hello', list: [ 1, 2 ], deep: [Object] }`.
///
/// Objects and arrays nested deeper than `depth` print as `[Object]` and
/// `[Array]`; with `colors`, strings are green, numbers and booleans yellow,
/// `null` bold and elided values cyan (ANSI codes, as node uses).
///
/// ```
/// use serde_json::json;
///
/// let value = json!({"id": "hello", "n": [1, {"a": {"b": true}}]});
/// assert_eq!(ipc_compat::inspect(&value, 5, false), "{ id: 'hello', n: [ 1, { a: { b: true } } ] }");
/// assert_eq!(ipc_compat::inspect(&value, 1, false), "{ id: 'hello', n: [ 1, [Object] ] }");
/// ```
pub fn inspect(value: &Value, depth: usize, colors: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, depth, colors);
    out
}

fn paint(out: &mut String, text: &str, color: &str, reset: &str, colors: bool) {
    if colors {
        out.push_str(color);
        out.push_str(text);
        out.push_str(reset);
    } else {
        out.push_str(text);
    }
}

fn write_value(out: &mut String, value: &Value, level: usize, depth: usize, colors: bool) {
    match value {
        Value::Null => paint(out, "null", BOLD, BOLD_RESET, colors),
        Value::Bool(b) => paint(out, if *b { "true" } else { "false" }, YELLOW, RESET, colors),
        Value::Number(n) => paint(out, &n.to_string(), YELLOW, RESET, colors),
        Value::String(s) => paint(out, &quote(s), GREEN, RESET, colors),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(_) if level > depth => paint(out, "[Array]", CYAN, RESET, colors),
        Value::Object(_) if level > depth => paint(out, "[Object]", CYAN, RESET, colors),
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, level + 1, depth, colors);
            }
            out.push_str(" ]");
        }
        Value::Object(map) => {
            out.push_str("{ ");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_identifier(key) {
                    out.push_str(key);
                } else {
                    out.push_str(&quote(key));
                }
                out.push_str(": ");
                write_value(out, item, level + 1, depth, colors);
            }
            out.push_str(" }");
        }
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A single-quoted JavaScript string literal, as `util.inspect` writes one.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '\x08' => out.push_str("\\b"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inspects_like_node() {
        assert_eq!(inspect(&json!("it's"), 5, false), r"'it\'s'");
        assert_eq!(inspect(&json!({"a-b": null, "c": []}), 5, false), "{ 'a-b': null, c: [] }");
        assert_eq!(inspect(&json!([[[]]]), 0, false), "[ [Array] ]");
        assert_eq!(inspect(&json!(1), 5, true), "\x1b[33m1\x1b[39m");
        assert_eq!(inspect(&json!("\x0c"), 5, false), r"'\f'");
    }
}
