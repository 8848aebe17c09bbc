//! Finding one top-level member of a JSON object without building it: what
//! a server reads of every event to learn a peer's id (`data.id`).

/// The raw JSON text of the value of the top-level member `key` of the
/// object `data`; the last one when `key` repeats, as `JSON.parse` keeps it.
/// `None` when `data` is not an object, has no such member, or is malformed
/// (never a panic, whatever the input).
#[cfg(test)]
pub(crate) fn member<'a>(data: &'a [u8], key: &str) -> Option<&'a [u8]> {
    find(data, key, false)
}

/// [`member`] for text known to be valid JSON (an event's data): once `key`
/// is found, the rest of the object is searched for the quoted key and for
/// any escape (SIMD, memchr) instead of walked member by member; when
/// neither is there, no later member can repeat the key (a key reads as
/// `key` only if written so, or with escapes). On malformed text the answer
/// may differ from [`member`]'s, never with a panic.
pub(crate) fn member_of_valid<'a>(data: &'a [u8], key: &str) -> Option<&'a [u8]> {
    find(data, key, true)
}

fn find<'a>(data: &'a [u8], key: &str, valid: bool) -> Option<&'a [u8]> {
    let mut pos = skip_whitespace(data, 0);
    if data.get(pos) != Some(&b'{') {
        return None;
    }
    pos = skip_whitespace(data, pos + 1);
    if data.get(pos) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    loop {
        if data.get(pos) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(data, pos)?;
        let is_key = key_matches(&data[pos..key_end], key);
        pos = skip_whitespace(data, key_end);
        if data.get(pos) != Some(&b':') {
            return None;
        }
        let start = skip_whitespace(data, pos + 1);
        let end = value_end(data, start)?;
        if is_key {
            found = Some(&data[start..end]);
            if valid && !may_repeat(&data[end..], key) {
                return found;
            }
        }
        pos = skip_whitespace(data, end);
        match data.get(pos) {
            Some(b',') => pos = skip_whitespace(data, pos + 1),
            Some(b'}') => return found,
            _ => return None,
        }
    }
}

/// Whether `rest` may hold another member named `key`.
fn may_repeat(rest: &[u8], key: &str) -> bool {
    if memchr::memchr(b'\\', rest).is_some() {
        return true;
    }
    if key == "id" {
        // node-ipc's `data.id`, looked up for every event that carries one:
        // a searcher built once (building one per call cost ~90 instructions
        // per event; scanning from each quote instead cost more, callgrind)
        return quoted_id_finder().find(rest).is_some();
    }
    let key = key.as_bytes();
    memchr::memmem::find_iter(rest, key)
        .any(|at| at > 0 && rest[at - 1] == b'"' && rest.get(at + key.len()) == Some(&b'"'))
}

fn quoted_id_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"\"id\""))
}

/// Whether the quoted JSON string `quoted` (quotes included) reads as `key`.
fn key_matches(quoted: &[u8], key: &str) -> bool {
    let inner = &quoted[1..quoted.len() - 1];
    if memchr::memchr(b'\\', inner).is_none() {
        return inner == key.as_bytes();
    }
    // escaped names ("\u0069d") are rare: let serde_json read them
    serde_json::from_slice::<String>(quoted).is_ok_and(|k| k == key)
}

fn skip_whitespace(data: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = data.get(pos) {
        pos += 1;
    }
    pos
}

/// The position after the string that starts with the quote at `pos`.
fn string_end(data: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', data.get(i..)?)?;
        if data[i] == b'\\' {
            i += 2;
        } else {
            return Some(i + 1);
        }
    }
}

/// The position after the value that starts at `pos`.
fn value_end(data: &[u8], pos: usize) -> Option<usize> {
    match data.get(pos)? {
        b'"' => string_end(data, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match data.get(i)? {
                    b'"' => {
                        i = string_end(data, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let len = data[pos..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(data.len() - pos);
            (len > 0).then_some(pos + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(data: &str) -> Option<&str> {
        member(data.as_bytes(), "id").map(|raw| std::str::from_utf8(raw).unwrap())
    }

    #[test]
    fn finds_top_level_members_only() {
        assert_eq!(id(r#"{"id":"hello","n":1}"#), Some(r#""hello""#));
        assert_eq!(id(r#"{"n":{"id":"inner"},"id":7}"#), Some("7"));
        assert_eq!(id(r#" { "x" : [1,{"id":2},"]}"] , "id" : true } "#), Some("true"));
        assert_eq!(id(r#"{"message":"a \"id\": \\","id":{"a":[1,2]}}"#), Some(r#"{"a":[1,2]}"#));
        assert_eq!(id(r#"{"idx":1,"i":2}"#), None);
        assert_eq!(id(r#"{}"#), None);
    }

    #[test]
    fn the_last_of_repeated_members_wins_as_in_json_parse() {
        assert_eq!(id(r#"{"id":"first","id":"last"}"#), Some(r#""last""#));
    }

    #[test]
    fn escaped_names_are_read_as_json_reads_them() {
        assert_eq!(id(r#"{"\u0069d":"x"}"#), Some(r#""x""#));
        assert_eq!(id(r#"{"i\"d":"x"}"#), None);
    }

    #[test]
    fn the_valid_text_shortcut_agrees_on_valid_text() {
        for data in [
            r#"{"id":"client-1","seq":10001,"message":"xxxxxxxx"}"#,
            r#"{"id":"first","id":"last"}"#,
            r#"{"id":"first","x":{"id":"inner"}}"#,
            r#"{"id":"first","\u0069d":"escaped"}"#,
            r#"{"id":"a","m":"say \"id\""}"#,
            r#"{"n":{"id":"inner"},"id":7}"#,
            r#"{"idx":1,"i":2}"#,
            r#"{}"#,
            r#"{"n":1,"x":{"n":2},"n":3}"#,
        ] {
            // "id" has a searcher of its own; any other key builds one
            for key in ["id", "n", "x", "m"] {
                assert_eq!(
                    member_of_valid(data.as_bytes(), key),
                    member(data.as_bytes(), key),
                    "{key} in {data}"
                );
            }
        }
    }

    #[test]
    fn anything_else_is_none_never_a_panic() {
        for data in [
            "",
            "[]",
            "\"id\"",
            "7",
            "{",
            "{\"id\"",
            "{\"id\":",
            "{\"id\":\"x",
            "{\"id\":1,",
            "{\"a\":[}",
            "{]",
            "{\"id\":1 2}",
        ] {
            let _ = id(data);
        }
        assert_eq!(id("[{\"id\":1}]"), None);
        assert_eq!(id("{\"id\":1,"), None);
    }
}
