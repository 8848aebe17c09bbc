//! Named edge cases of `JsonCodec`: framing, limits, malformed input, profiles
//! and the two error policies.

use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use ipc_codec::{CodecError, ContinueOnError, Event, JsonCodec, Profile, Rules};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

const TIMEOUT: Duration = Duration::from_secs(10);

fn decode_all(codec: &mut JsonCodec, buf: &mut BytesMut) -> Vec<Result<Event, CodecError>> {
    let mut out = Vec::new();
    loop {
        match codec.decode(buf) {
            Ok(Some(event)) => out.push(Ok(event)),
            Ok(None) => return out,
            Err(err) => out.push(Err(err)),
        }
    }
}

fn frame(event_type: &str, data: serde_json::Value) -> Vec<u8> {
    let mut out = BytesMut::new();
    JsonCodec::default().encode(Event::new(event_type, data), &mut out).unwrap();
    out.to_vec()
}

#[test]
fn delimiter_split_across_reads() {
    for delimiter in ["\r\n", "<<END>>", "\u{1F600}"] {
        let mut codec = JsonCodec::builder().delimiter(delimiter).build().unwrap();
        let mut wire = BytesMut::new();
        for i in 0..3 {
            codec.encode(("n", &i), &mut wire).unwrap();
        }
        // Feed byte by byte: every delimiter is split across reads.
        let mut buf = BytesMut::new();
        let mut seen = Vec::new();
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(event) = codec.decode(&mut buf).unwrap() {
                seen.push(event.data_as::<u32>().unwrap());
            }
        }
        assert_eq!(seen, [0, 1, 2], "delimiter {delimiter:?}");
        assert!(buf.is_empty());
    }
}

#[test]
fn delimiter_prefix_inside_a_frame_is_not_a_delimiter() {
    let mut codec = JsonCodec::builder().delimiter("##").build().unwrap();
    let mut buf = BytesMut::from(&b"{\"type\":\"a#b\",\"data\":\"#\"}##"[..]);
    let event = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(event.event_type(), "a#b");
    assert_eq!(event.data_as::<String>().unwrap(), "#");
}

#[test]
fn empty_delimiter_is_a_config_error() {
    assert!(matches!(JsonCodec::builder().delimiter("").build(), Err(CodecError::Config(_))));
}

#[test]
fn empty_frame_is_an_error_then_decoding_goes_on() {
    let mut codec = JsonCodec::default();
    let mut buf = BytesMut::from(&b"\x0c"[..]);
    buf.extend_from_slice(&frame("ok", json!(1)));
    let out = decode_all(&mut codec, &mut buf);
    assert!(matches!(out[0], Err(CodecError::EmptyFrame)));
    assert_eq!(out[1].as_ref().unwrap().event_type(), "ok");
}

#[test]
fn frame_exactly_at_the_limit_passes() {
    let f = frame("t", json!("x".repeat(100)));
    let len = f.len() - 1;
    let mut codec = JsonCodec::builder().max_message_size(len).build().unwrap();
    // Fed without its delimiter first: the codec must wait, not fail.
    let mut buf = BytesMut::from(&f[..len]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(b"\x0c");
    assert!(codec.decode(&mut buf).unwrap().is_some());
}

#[test]
fn one_byte_over_the_limit_fails_with_the_limit_and_length() {
    let f = frame("t", json!("x".repeat(100)));
    let len = f.len() - 1;
    // Whole frame in the buffer.
    let mut codec = JsonCodec::builder().max_message_size(len - 1).build().unwrap();
    let mut buf = BytesMut::from(&f[..]);
    match codec.decode(&mut buf) {
        Err(CodecError::FrameTooLarge { max, len: got, complete: true }) => {
            assert_eq!((max, got), (len - 1, len));
        }
        other => panic!("{other:?}"),
    }
    assert!(buf.is_empty());
    // Detected while still buffering: before any delimiter arrives.
    let mut codec = JsonCodec::builder().max_message_size(len - 1).build().unwrap();
    let mut buf = BytesMut::from(&f[..len]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::FrameTooLarge { complete: false, len: got, .. }) if got == len
    ));
}

#[test]
fn decoder_discard_then_recover() {
    let mut codec = JsonCodec::builder().max_message_size(64).build().unwrap();
    let big = frame("big", json!("y".repeat(1000)));
    let mut buf = BytesMut::new();
    let mut results = Vec::new();
    // The oversized frame arrives in pieces, followed by a good one.
    let mut stream = big.clone();
    stream.extend_from_slice(&frame("after", json!(true)));
    for chunk in stream.chunks(50) {
        buf.extend_from_slice(chunk);
        results.extend(decode_all(&mut codec, &mut buf));
        // Memory stays bounded while discarding.
        assert!(buf.len() <= 64 + 50, "buffer grew to {}", buf.len());
    }
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(matches!(results[0], Err(CodecError::FrameTooLarge { max: 64, complete: false, .. })));
    assert_eq!(results[1].as_ref().unwrap().event_type(), "after");
}

#[test]
fn partial_frame_at_eof_is_an_error() {
    let mut codec = JsonCodec::default();
    let mut buf = BytesMut::from(&b"{\"type\":\"cut"[..]);
    assert!(matches!(codec.decode_eof(&mut buf), Err(CodecError::PartialFrameAtEof { len: 12 })));
    // Clean end of stream is not an error.
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
}

#[test]
fn each_malformed_input_kind_is_typed_and_recoverable() {
    let cases: &[(&[u8], &str)] = &[
        (b"{\"type\":\"\xff\"}", "InvalidUtf8"),
        (b"{\"type\":", "InvalidJson"),
        (b"{\"type\":\"a\"} trailing", "InvalidJson"),
        (b"[\"type\",1]", "NotAnObject"),
        (b"\"just a string\"", "NotAnObject"),
        (b"42", "NotAnObject"),
        (b"nonsense", "InvalidJson"),
        (b"{\"data\":1}", "MissingType"),
        (b"{\"type\":1,\"data\":1}", "TypeNotString"),
        (b"{\"type\":null}", "TypeNotString"),
        (b"{\"type\":{\"a\":[1]}}", "TypeNotString"),
        (b"{\"type\":[\"a\"]}", "TypeNotString"),
        (b"{\"type\":true}", "TypeNotString"),
    ];
    for (bad, kind) in cases {
        let mut codec = JsonCodec::default();
        let mut buf = BytesMut::from(*bad);
        buf.extend_from_slice(b"\x0c");
        buf.extend_from_slice(&frame("next", json!(7)));
        let out = decode_all(&mut codec, &mut buf);
        let err = out[0].as_ref().expect_err(kind);
        assert!(format!("{err:?}").starts_with(kind), "{}: got {err:?}", String::from_utf8_lossy(bad));
        assert!(err.is_frame_error());
        // Errors are short and bounded even for long frames.
        assert!(err.to_string().len() < 400, "{err}");
        let next = out[1].as_ref().unwrap();
        assert_eq!((next.event_type(), next.data_as::<u8>().unwrap()), ("next", 7));
    }
}

#[test]
fn error_excerpts_are_bounded() {
    let mut bad = vec![b'['; 10_000];
    bad.push(0x0c);
    let mut codec = JsonCodec::default();
    let err = codec.decode(&mut BytesMut::from(&bad[..])).unwrap_err();
    match err {
        CodecError::InvalidJson { len, excerpt, .. } => {
            assert_eq!(len, 10_000);
            assert!(excerpt.is_truncated());
            assert_eq!(excerpt.as_bytes().len(), ipc_codec::EXCERPT_LEN);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_data_and_null_data_stay_distinct() {
    let mut codec = JsonCodec::default();
    let mut buf = BytesMut::from(&b"{\"type\":\"a\"}\x0c{\"type\":\"b\",\"data\":null}\x0c"[..]);
    let a = codec.decode(&mut buf).unwrap().unwrap();
    let b = codec.decode(&mut buf).unwrap().unwrap();
    assert!(!a.has_data());
    assert_eq!(b.raw_data(), Some(&b"null"[..]));
    // Re-emitted: missing data becomes {} (as node-ipc's encoders do), null stays null.
    let mut out = BytesMut::new();
    codec.encode(&a, &mut out).unwrap();
    codec.encode(&b, &mut out).unwrap();
    assert_eq!(&out[..], b"{\"type\":\"a\",\"data\":{}}\x0c{\"type\":\"b\",\"data\":null}\x0c");
}

#[test]
fn unknown_members_and_whitespace_are_accepted_and_data_kept_verbatim() {
    let mut codec = JsonCodec::default();
    let mut buf =
        BytesMut::from(&b" {\"id\":9, \"data\" : {\"b\":1.50,\"a\":1e+21} ,\"type\":\"t\\u0041\"}\x0c"[..]);
    let event = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(event.event_type(), "tA");
    assert_eq!(event.raw_data(), Some(&b"{\"b\":1.50,\"a\":1e+21}"[..]));
}

#[test]
fn deep_nesting_is_bounded_and_never_overflows_the_stack() {
    let nested = |depth: usize| {
        let mut s = String::from("{\"type\":\"deep\",\"data\":");
        s.push_str(&"[".repeat(depth));
        s.push_str(&"]".repeat(depth));
        s.push_str("}\x0c");
        BytesMut::from(s.as_bytes())
    };
    let mut codec = JsonCodec::default();
    let shallow = codec.decode(&mut nested(100)).unwrap().unwrap();
    assert!(shallow.data().is_ok());
    // The frame is validated without recursion, so any depth is accepted and
    // passed on byte for byte (JavaScript accepts it too) ...
    let mut wire = nested(100_000);
    let expected = wire.clone();
    let deep = codec.decode(&mut wire).unwrap().unwrap();
    let mut out = BytesMut::new();
    codec.encode(&deep, &mut out).unwrap();
    assert_eq!(out, expected);
    // ... while building it into a tree stops at serde_json's depth limit
    // with a typed error instead of overflowing the stack.
    assert!(matches!(deep.data(), Err(CodecError::Data(_))));
}

#[test]
fn one_byte_reads_of_a_large_frame_never_rescan() {
    // Quadratic rescanning would make this take hours; linear, well under a second.
    let f = frame("big", json!("z".repeat(1 << 20)));
    let mut codec = JsonCodec::default();
    let mut buf = BytesMut::with_capacity(f.len());
    let mut events = 0;
    for &b in &f {
        buf.extend_from_slice(&[b]);
        if codec.decode(&mut buf).unwrap().is_some() {
            events += 1;
        }
    }
    assert_eq!(events, 1);
}

#[test]
fn guarded_decoder_rejects_what_node_ipc_14_rejects() {
    let mut codec = JsonCodec::builder().profile(Profile::Guarded).build().unwrap();
    let cases = [
        (frame("connect", json!({})), "ReservedEvent"),
        (frame("error", json!({})), "ReservedEvent"),
        (frame("__proto__", json!({})), "UnsafeEventName"),
        (frame("", json!({})), "EmptyEventType"),
        (frame(&"n".repeat(257), json!({})), "EventNameTooLong"),
        (frame("big", json!("x".repeat(1024 * 1024))), "FrameTooLarge"),
    ];
    for (bytes, kind) in cases {
        let mut buf = BytesMut::from(&bytes[..]);
        buf.extend_from_slice(&frame("fine", json!(1)));
        let out = decode_all(&mut codec, &mut buf);
        assert!(format!("{:?}", out[0]).starts_with(&format!("Err({kind}")), "{kind}: {:?}", out[0]);
        assert_eq!(out[1].as_ref().unwrap().event_type(), "fine", "{kind}");
    }
}

#[test]
fn assured_decoder_accepts_only_its_allow_list() {
    let rules = Rules::builder(Profile::Assured).allowed_events(["app.ok"]).build();
    let mut codec = JsonCodec::builder().rules(rules).build().unwrap();
    let mut buf = BytesMut::from(&frame("app.other", json!(1))[..]);
    buf.extend_from_slice(&frame("app.ok", json!(2)));
    let out = decode_all(&mut codec, &mut buf);
    assert!(matches!(out[0], Err(CodecError::EventNotAllowed { .. })));
    assert_eq!(out[1].as_ref().unwrap().event_type(), "app.ok");
    assert!(matches!(JsonCodec::builder().profile(Profile::Assured).build(), Err(CodecError::Config(_))));
}

#[test]
fn guarded_encoder_refuses_and_leaves_the_buffer_untouched() {
    let mut codec = JsonCodec::builder().profile(Profile::Guarded).max_message_size(100).build().unwrap();
    let mut out = BytesMut::from(&b"prefix"[..]);
    assert!(matches!(codec.encode(("connect", &1), &mut out), Err(CodecError::ReservedEvent { .. })));
    assert!(matches!(
        codec.encode(("t", &"x".repeat(200)), &mut out),
        Err(CodecError::FrameTooLarge { max: 100, .. })
    ));
    assert_eq!(&out[..], b"prefix");
    // Fast sends any type: node-ipc's Fast parser does.
    JsonCodec::default().encode(("connect", &1), &mut out).unwrap();
}

#[test]
fn unserializable_data_is_a_typed_error() {
    let mut map = std::collections::BTreeMap::new();
    map.insert(vec![1u8], 1);
    let mut out = BytesMut::new();
    assert!(matches!(JsonCodec::default().encode(("t", &map), &mut out), Err(CodecError::Serialize(_))));
    assert!(out.is_empty());
}

#[test]
fn guarded_tracks_when_an_incomplete_frame_began() {
    let mut codec = JsonCodec::builder().profile(Profile::Guarded).build().unwrap();
    let mut buf = BytesMut::from(&b"{\"type\":\"slow\""[..]);
    assert!(codec.partial_frame_deadline().is_none());
    assert!(codec.decode(&mut buf).unwrap().is_none());
    let deadline = codec.partial_frame_deadline().expect("deadline set");
    let since = codec.partial_frame_since().unwrap();
    assert_eq!(deadline - since, Duration::from_secs(30));
    buf.extend_from_slice(b"}\x0c");
    assert!(codec.decode(&mut buf).unwrap().is_some());
    assert!(codec.partial_frame_deadline().is_none());
    // Fast has no message timeout.
    let mut fast = JsonCodec::default();
    let mut buf = BytesMut::from(&b"{"[..]);
    assert!(fast.decode(&mut buf).unwrap().is_none());
    assert!(fast.partial_frame_deadline().is_none());
}

#[test]
fn legacy_v9_rewrites_only_what_9x_rewrites() {
    let mut v9 = JsonCodec::builder().legacy_v9_data(true).build().unwrap();
    let cases = [
        (json!(""), "{}"),
        (json!(null), "{}"),
        (json!(0), "0"),
        (json!(false), "false"),
        (json!({"_maxListeners": 5}), "{}"),
        (json!({"_maxListeners": 0}), "{\"_maxListeners\":0}"),
        (json!({"nested": {"_maxListeners": 5}}), "{\"nested\":{\"_maxListeners\":5}}"),
    ];
    for (data, want) in cases {
        let mut out = BytesMut::new();
        v9.encode(Event::new("t", data.clone()), &mut out).unwrap();
        assert_eq!(out, format!("{{\"type\":\"t\",\"data\":{want}}}\x0c").as_bytes(), "{data}");
    }
}

#[tokio::test]
async fn fail_policy_framed_stream_ends_at_the_first_bad_frame() {
    let (mut tx, rx) = tokio::io::duplex(4096);
    let mut reader = FramedRead::new(rx, JsonCodec::default());
    tx.write_all(b"garbage\x0c").await.unwrap();
    tx.write_all(&frame("after", json!(1))).await.unwrap();
    drop(tx);
    let first = tokio::time::timeout(TIMEOUT, reader.next()).await.unwrap();
    assert!(matches!(first, Some(Err(CodecError::InvalidJson { .. }))));
    let end = tokio::time::timeout(TIMEOUT, reader.next()).await.unwrap();
    assert!(end.is_none(), "stream must end after an error: {end:?}");
}

#[tokio::test]
async fn continue_policy_reports_and_goes_on() {
    let (tx, rx) = tokio::io::duplex(4096);
    let mut writer = FramedWrite::new(tx, JsonCodec::default());
    let mut reader = FramedRead::new(rx, ContinueOnError::new(JsonCodec::default()));
    writer.get_mut().write_all(b"{\"type\":42}\x0c").await.unwrap();
    writer.send(Event::new("after", json!([1, 2]))).await.unwrap();
    writer.get_mut().write_all(b"{\"type\":\"cut").await.unwrap();
    drop(writer);
    let mut items = Vec::new();
    while let Some(item) = tokio::time::timeout(TIMEOUT, reader.next()).await.unwrap() {
        items.push(item.expect("only frame errors, reported inside items"));
    }
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(matches!(items[0], Err(CodecError::TypeNotString { .. })));
    assert_eq!(items[1].as_ref().unwrap().data().unwrap(), json!([1, 2]));
    assert!(matches!(items[2], Err(CodecError::PartialFrameAtEof { len: 12 })));
}

#[test]
fn codec_errors_convert_to_io_errors_with_meaningful_kinds() {
    let e: std::io::Error = CodecError::PartialFrameAtEof { len: 3 }.into();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    let e: std::io::Error = CodecError::EmptyFrame.into();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn frames_near_the_canonical_layout_take_the_general_path_correctly() {
    /// A frame, and the (type, raw data) it decodes to, or `None` for an error.
    type Case = (&'static [u8], Option<(&'static str, &'static [u8])>);
    let cases: &[Case] = &[
        (b"{\"type\":\"a\",\"data\":1,\"id\":2}", Some(("a", b"1"))),
        (b"{\"type\":\"a\",\"data\": 1 }", Some(("a", b"1"))),
        (b"{\"type\":\"a\\\"b\",\"data\":[]}", Some(("a\"b", b"[]"))),
        (b"{\"type\":\"a\",\"data\":1}}", None),
        (b"{\"type\":\"a\",\"data\":}", None),
        (b"{\"type\":\"a\x01\",\"data\":1}", None),
        // Repeated members: the last of each, as JSON.parse keeps it.
        (b"{\"type\":\"a\",\"data\":1,\"type\":\"b\"}", Some(("b", b"1"))),
        (b"{\"type\":\"a\",\"data\":1,\"data\":2}", Some(("a", b"2"))),
    ];
    for (frame, want) in cases {
        let mut buf = BytesMut::from(*frame);
        buf.extend_from_slice(b"\x0c");
        let got = JsonCodec::default().decode(&mut buf);
        match (got, want) {
            (Ok(Some(e)), Some((t, d))) => assert_eq!((e.event_type(), e.raw_data().unwrap()), (*t, *d)),
            (Err(e), None) => assert!(e.is_frame_error()),
            (got, want) => panic!("{}: got {got:?}, want {want:?}", String::from_utf8_lossy(frame)),
        }
    }
}
