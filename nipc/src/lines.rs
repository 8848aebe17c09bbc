//! Lines in and out: stdin lines parsed into messages, events printed as JSON
//! lines (data bytes as received), raw payloads in their encoding, and the
//! `nipc: ...` notes on stderr.

use std::borrow::Cow;

use bytes::Bytes;
use ipc_codec::{Encoding, Event};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::message::{Incoming, Mode, Outgoing};
use crate::report::note;

/// Where a stdin line of `nipc serve` goes (`"to"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A connection number (`3`, `"#3"`, or a whole printed peer `"#3 tcp://..."`).
    Conn(u64),
    /// An address, as printed (`tcp://127.0.0.1:5000`, `udp4://127.0.0.1:5000`, `127.0.0.1:5000`).
    Addr(String),
}

/// One parsed stdin line.
#[derive(Debug)]
pub(crate) struct Line {
    /// What to send.
    pub(crate) message: Outgoing,
    /// `"to"`, if given.
    pub(crate) to: Option<Target>,
}

/// The JSON form of a stdin line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    #[serde(default, borrow)]
    to: Option<&'a RawValue>,
}

/// Keeps `"data": null` apart from a missing `data`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// Parses one stdin line (without its line ending). `Ok(None)` for a line to
/// skip quietly (blank). `Err` is the one-line reason to report.
pub(crate) fn parse_line(mode: &Mode, line: &[u8]) -> Result<Option<Line>, String> {
    match mode {
        Mode::Raw(encoding) => {
            let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 ({e})"))?;
            if text.is_empty() {
                return Ok(None);
            }
            let bytes = encoding.encode(text);
            if bytes.is_empty() {
                return Err(format!("no bytes in {} payload {:?}", encoding.name(), excerpt(text)));
            }
            Ok(Some(Line { message: Outgoing::Chunk(Bytes::from(bytes)), to: None }))
        }
        Mode::Json { id, .. } => {
            let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 ({e})"))?;
            let trimmed = text.trim_matches([' ', '\t']);
            if trimmed.is_empty() {
                return Ok(None);
            }
            if !trimmed.starts_with('{') {
                return Err(format!(
                    "expected a JSON object {{\"type\":..,\"data\":..}}, got {:?}",
                    excerpt(trimmed)
                ));
            }
            let parsed: JsonLine<'_> =
                serde_json::from_str(trimmed).map_err(|e| format!("bad JSON line: {e}"))?;
            let to = parsed.to.map(|raw| target(raw.get())).transpose()?;
            let event = build_event(&parsed.event_type, parsed.data.map(RawValue::get), id.as_deref())?;
            Ok(Some(Line { message: Outgoing::Event(event), to }))
        }
    }
}

/// The message of `nipc emit`: `TYPE [JSON]`, or with `--raw` a payload.
pub(crate) fn emit_message(mode: &Mode, event_type: &str, json: Option<&str>) -> Result<Outgoing, String> {
    match mode {
        Mode::Raw(encoding) => {
            if json.is_some() {
                return Err("with --raw, emit takes ENDPOINT PAYLOAD (no JSON)".to_owned());
            }
            let bytes = encoding.encode(event_type);
            if bytes.is_empty() {
                return Err(format!("no bytes in {} payload {:?}", encoding.name(), excerpt(event_type)));
            }
            Ok(Outgoing::Chunk(Bytes::from(bytes)))
        }
        Mode::Json { id, .. } => {
            if let Some(json) = json {
                serde_json::from_str::<IgnoredAny>(json).map_err(|e| format!("JSON argument: {e}"))?;
            }
            Ok(Outgoing::Event(build_event(event_type, json, id.as_deref())?))
        }
    }
}

/// An event whose data is `data` byte for byte (with `id` announced, if given).
fn build_event(event_type: &str, data: Option<&str>, id: Option<&str>) -> Result<Event, String> {
    let data = match id {
        Some(id) => announce(data, id).map(Cow::Owned).or(data.map(Cow::Borrowed)),
        None => data.map(Cow::Borrowed),
    };
    match data {
        None => Ok(Event::without_data(event_type)),
        Some(data) => Event::from_json_data(event_type, data.into_owned()).map_err(|e| e.to_string()),
    }
}

/// Data with `"id": id` added as its first member, when it is an object
/// without an `id` (or missing: then `{"id": id}`); `None` leaves it alone.
fn announce(data: Option<&str>, id: &str) -> Option<String> {
    let id_json = serde_json::to_string(id).expect("a string serializes");
    let Some(data) = data else {
        return Some(format!("{{\"id\":{id_json}}}"));
    };
    let body = data.trim_start().strip_prefix('{')?;
    let members: std::collections::HashMap<Cow<'_, str>, IgnoredAny> = serde_json::from_str(data).ok()?;
    if members.contains_key("id") {
        return None;
    }
    if members.is_empty() {
        return Some(format!("{{\"id\":{id_json}}}"));
    }
    Some(format!("{{\"id\":{id_json},{}", body.trim_start()))
}

/// Reads `"to"`: a connection number, or a peer or address as printed.
fn target(raw: &str) -> Result<Target, String> {
    if let Ok(n) = raw.parse::<u64>() {
        return Ok(Target::Conn(n));
    }
    let Ok(text) = serde_json::from_str::<String>(raw) else {
        return Err(format!("\"to\" must be a peer as printed or a connection number, not {raw}"));
    };
    let text = text.trim();
    let number = text.strip_prefix('#').unwrap_or(text);
    let number = number.split_once(' ').map_or(number, |(n, _)| n);
    if let Ok(n) = number.parse::<u64>() {
        return Ok(Target::Conn(n));
    }
    if text.is_empty() {
        return Err("\"to\" is empty".to_owned());
    }
    Ok(Target::Addr(text.to_owned()))
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// The line printed for an incoming item: `{"type":..,"data":..[,"peer":..]}`
/// for events (data bytes as received), the payload in `encoding` for raw
/// chunks. `None` for a bad frame, which goes to stderr instead.
pub(crate) fn format_incoming(item: &Incoming, mode: &Mode, peer: Option<&str>) -> Option<Vec<u8>> {
    match item {
        Incoming::Event(event) => Some(event_line(event, peer)),
        Incoming::Chunk(bytes) => {
            let encoding = match mode {
                Mode::Raw(encoding) => *encoding,
                Mode::Json { .. } => Encoding::Utf8,
            };
            let mut line = encoding.decode(bytes).into_bytes();
            line.push(b'\n');
            Some(line)
        }
        Incoming::Bad(_) => None,
    }
}

/// `{"type":T,"data":D,"peer":P}` + `\n`, with D the received data bytes.
///
/// JSON text can hold a line break only as whitespace between tokens (which
/// `JSON.stringify` never writes); such a break becomes a space so that each
/// event stays on one line.
pub(crate) fn event_line(event: &Event, peer: Option<&str>) -> Vec<u8> {
    let data = event.raw_data();
    let mut out = Vec::with_capacity(32 + event.event_type().len() + data.map_or(0, <[u8]>::len));
    out.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut out, event.event_type()).expect("writing to a Vec cannot fail");
    if let Some(data) = data {
        out.extend_from_slice(b",\"data\":");
        let start = out.len();
        out.extend_from_slice(data);
        for byte in &mut out[start..] {
            if matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
    } else if event.has_data() {
        // Data held in another encoding (not produced by JsonCodec); print its JSON form.
        out.extend_from_slice(b",\"data\":");
        let value = event.data().unwrap_or(serde_json::Value::Null);
        serde_json::to_writer(&mut out, &value).expect("writing to a Vec cannot fail");
    }
    if let Some(peer) = peer {
        out.extend_from_slice(b",\"peer\":");
        serde_json::to_writer(&mut out, peer).expect("writing to a Vec cannot fail");
    }
    out.extend_from_slice(b"}\n");
    out
}

/// What the printer task is asked to do.
enum PrintMsg {
    Line(Vec<u8>),
    Flush(oneshot::Sender<()>),
}

/// Prints lines on stdout from any task, in order, flushing when nothing else is queued.
#[derive(Clone)]
pub(crate) struct Printer {
    tx: mpsc::Sender<PrintMsg>,
}

impl Printer {
    /// Starts the printer task.
    pub(crate) fn start() -> Printer {
        let (tx, mut rx) = mpsc::channel::<PrintMsg>(1024);
        tokio::spawn(async move {
            let mut stdout = tokio::io::stdout();
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut failed = false;
            while let Some(first) = rx.recv().await {
                let mut acks = Vec::new();
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    match msg {
                        PrintMsg::Line(line) => buf.extend_from_slice(&line),
                        PrintMsg::Flush(ack) => acks.push(ack),
                    }
                    if buf.len() < 64 * 1024 {
                        next = rx.try_recv().ok();
                    }
                }
                if !failed && !buf.is_empty() {
                    let written = async {
                        stdout.write_all(&buf).await?;
                        stdout.flush().await
                    };
                    if let Err(e) = written.await {
                        failed = true;
                        note!("cannot write to stdout: {e}");
                    }
                }
                buf.clear();
                for ack in acks {
                    let _ = ack.send(());
                }
            }
        });
        Printer { tx }
    }

    /// Queues a line (which ends with `\n`).
    pub(crate) async fn print(&self, line: Vec<u8>) {
        let _ = self.tx.send(PrintMsg::Line(line)).await;
    }

    /// Prints an incoming item (a bad frame goes to stderr, naming `peer` when given).
    pub(crate) async fn show(&self, item: &Incoming, mode: &Mode, peer: Option<&str>) {
        match format_incoming(item, mode, peer) {
            Some(line) => self.print(line).await,
            None => {
                if let Incoming::Bad(e) = item {
                    crate::diagnostics::bad_frame(e);
                    match peer {
                        Some(peer) => note!("bad frame from {peer}: {e}"),
                        None => note!("bad frame: {e}"),
                    }
                }
            }
        }
    }

    /// Waits until every line queued so far is written out.
    pub(crate) async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(PrintMsg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// Stdin, line by line: each line parsed, bad ones reported on stderr (with
/// their line number) and skipped.
pub(crate) struct StdinLines {
    reader: BufReader<tokio::io::Stdin>,
    buf: Vec<u8>,
    number: usize,
    mode: Mode,
}

impl StdinLines {
    /// Reads stdin lines in `mode`.
    pub(crate) fn new(mode: &Mode) -> StdinLines {
        StdinLines {
            reader: BufReader::new(tokio::io::stdin()),
            buf: Vec::new(),
            number: 0,
            mode: mode.clone(),
        }
    }

    /// The next good line and its number, or `None` at the end of stdin.
    pub(crate) async fn next(&mut self) -> std::io::Result<Option<(usize, Line)>> {
        loop {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf).await? == 0 {
                return Ok(None);
            }
            self.number += 1;
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            match parse_line(&self.mode, &self.buf) {
                Ok(Some(line)) => return Ok(Some((self.number, line))),
                Ok(None) => {}
                Err(reason) => note!("stdin line {}: {reason}; skipped", self.number),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_mode(id: Option<&str>) -> Mode {
        Mode::Json { codec: Box::default(), id: id.map(str::to_owned) }
    }

    fn event(line: &str, mode: &Mode) -> (Event, Option<Target>) {
        match parse_line(mode, line.as_bytes()) {
            Ok(Some(Line { message: Outgoing::Event(e), to })) => (e, to),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn json_lines_keep_data_bytes() {
        let mode = json_mode(None);
        let (e, to) = event(r#"{"type":"a","data":{"b": 1.50,"a":[1 ,2]}}"#, &mode);
        assert_eq!(e.event_type(), "a");
        assert_eq!(e.raw_data().unwrap(), br#"{"b": 1.50,"a":[1 ,2]}"#);
        assert_eq!(to, None);
        let (e, _) = event(r#"{"type":"x"}"#, &mode);
        assert!(!e.has_data());
        let (e, _) = event(r#"  {"data":null,"type":"x"}  "#, &mode);
        assert_eq!(e.raw_data().unwrap(), b"null");
    }

    #[test]
    fn bad_json_lines_have_reasons() {
        let mode = json_mode(None);
        for bad in [
            "nope",
            "[1]",
            r#"{"type":1}"#,
            r#"{"data":1}"#,
            r#"{"type":"a","tpye":"b"}"#,
            r#"{"type":"a","data":}"#,
            r#"{"type":"a","to":true}"#,
        ] {
            let err = parse_line(&mode, bad.as_bytes()).unwrap_err();
            assert!(!err.contains('\n'), "{err}");
        }
        assert!(parse_line(&mode, b"   ").unwrap().is_none());
        assert!(parse_line(&mode, b"\"\xff\"").is_err());
    }

    #[test]
    fn targets() {
        let mode = json_mode(None);
        let to = |t: &str| event(&format!(r#"{{"type":"a","to":{t}}}"#), &mode).1.unwrap();
        assert_eq!(to("3"), Target::Conn(3));
        assert_eq!(to(r##""#3""##), Target::Conn(3));
        assert_eq!(to(r##""#12 unix:/tmp/app.x""##), Target::Conn(12));
        assert_eq!(to(r#""udp4://127.0.0.1:5""#), Target::Addr("udp4://127.0.0.1:5".into()));
    }

    #[test]
    fn id_is_announced_first() {
        let mode = json_mode(Some("hello"));
        let data = |line: &str| event(line, &mode).0.raw_data().unwrap().to_vec();
        assert_eq!(data(r#"{"type":"a","data":{"message":"hi"}}"#), br#"{"id":"hello","message":"hi"}"#);
        assert_eq!(data(r#"{"type":"a","data":{ }}"#), br#"{"id":"hello"}"#);
        assert_eq!(data(r#"{"type":"a"}"#), br#"{"id":"hello"}"#);
        assert_eq!(data(r#"{"type":"a","data":{"id":"mine"}}"#), br#"{"id":"mine"}"#);
        assert_eq!(data(r#"{"type":"a","data":[1]}"#), b"[1]");
        assert_eq!(data(r#"{"type":"a","data":"s"}"#), br#""s""#);
    }

    #[test]
    fn raw_lines_are_payloads() {
        let mode = Mode::Raw(Encoding::Hex);
        match parse_line(&mode, b"68656c6c6f").unwrap().unwrap().message {
            Outgoing::Chunk(b) => assert_eq!(&b[..], b"hello"),
            other => panic!("{other:?}"),
        }
        assert!(parse_line(&mode, b"").unwrap().is_none());
        assert!(parse_line(&mode, b"zz").is_err());
    }

    #[test]
    fn event_lines() {
        let e = Event::from_json_data("t\"", &b"{\"a\":\n1}"[..]).unwrap();
        assert_eq!(
            event_line(&e, Some("#1 unix:/x")),
            b"{\"type\":\"t\\\"\",\"data\":{\"a\": 1},\"peer\":\"#1 unix:/x\"}\n"
        );
        assert_eq!(event_line(&Event::without_data("t"), None), b"{\"type\":\"t\"}\n");
    }
}
