//! Golden vectors from the real node-ipc 9.2.1 and 14.0.0 encoders and node's
//! `Buffer` (regenerate with `interop/golden/regen.sh`).

use bytes::BytesMut;
use ipc_codec::{Encoding, Event, JsonCodec};
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

struct Vector {
    name: String,
    event_type: String,
    data_json: Option<String>,
    /// (node-ipc version, frame bytes)
    frames: Vec<(String, Vec<u8>)>,
}

fn base64(s: &str) -> Vec<u8> {
    Encoding::Base64.encode(s)
}

fn load_frames() -> Vec<Vector> {
    let text = include_str!("golden/frames.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc["delimiter"], "\x0c");
    let vectors: Vec<Vector> = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            name: v["name"].as_str().unwrap().to_owned(),
            event_type: v["type"].as_str().unwrap().to_owned(),
            data_json: v.get("data_json").map(|d| d.as_str().unwrap().to_owned()),
            frames: v["frames"]
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(version, f)| Some((version.clone(), base64(f.get("base64")?.as_str()?))))
                .collect(),
        })
        .collect();
    assert!(vectors.len() >= 40, "golden file looks truncated");
    vectors
}

fn codec_for(version: &str) -> JsonCodec {
    match version {
        "9.2.1" => JsonCodec::builder().legacy_v9_data(true).build().unwrap(),
        "14.0.0" => JsonCodec::default(),
        other => panic!("unknown node-ipc version {other}"),
    }
}

fn encode(codec: &mut JsonCodec, event: Event) -> Vec<u8> {
    let mut out = BytesMut::new();
    codec.encode(event, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn encoder_matches_node_ipc_byte_for_byte() {
    let mut checked = 0;
    for v in load_frames() {
        for (version, want) in &v.frames {
            let mut codec = codec_for(version);
            let ctx = format!("{} / node-ipc {version}", v.name);
            let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            match &v.data_json {
                None => {
                    let got = encode(&mut codec, Event::without_data(v.event_type.as_str()));
                    assert_eq!(show(&got), show(want), "{ctx}: without data");
                }
                Some(json) => {
                    let value: Value = serde_json::from_str(json).unwrap();
                    // Through a Value tree.
                    let got = encode(&mut codec, Event::new(v.event_type.as_str(), value.clone()));
                    assert_eq!(show(&got), show(want), "{ctx}: Event::new");
                    // Through the in-place fast path.
                    let mut out = BytesMut::new();
                    codec.encode((v.event_type.as_str(), &value), &mut out).unwrap();
                    assert_eq!(show(&out), show(want), "{ctx}: (type, &T) fast path");
                    // From JSON text kept byte for byte.
                    let raw =
                        Event::from_json_data(v.event_type.as_str(), json.clone().into_bytes()).unwrap();
                    assert_eq!(show(&encode(&mut codec, raw)), show(want), "{ctx}: from_json_data");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} frames checked");
}

#[test]
fn decoder_reads_every_vector_and_re_emits_it_unchanged() {
    for v in load_frames() {
        for (version, frame) in &v.frames {
            let ctx = format!("{} / node-ipc {version}", v.name);
            let mut codec = JsonCodec::default();
            let mut buf = BytesMut::from(&frame[..]);
            let event = codec.decode(&mut buf).unwrap().unwrap_or_else(|| panic!("{ctx}: no frame"));
            assert!(buf.is_empty(), "{ctx}");
            assert_eq!(event.event_type(), v.event_type, "{ctx}");
            // The data bytes are the frame's own: re-emitting reproduces the frame.
            let mut out = BytesMut::new();
            codec.encode(&event, &mut out).unwrap();
            assert_eq!(&out[..], &frame[..], "{ctx}: pass-through");
            let frame_value: Value = serde_json::from_slice(&frame[..frame.len() - 1]).unwrap();
            assert_eq!(event.data().unwrap(), frame_value["data"], "{ctx}: data()");
        }
    }
}

fn all_frames() -> (Vec<u8>, Vec<(String, Value)>) {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for v in load_frames() {
        for (_, frame) in &v.frames {
            stream.extend_from_slice(frame);
            let value: Value = serde_json::from_slice(&frame[..frame.len() - 1]).unwrap();
            expected.push((v.event_type.clone(), value["data"].clone()));
        }
    }
    (stream, expected)
}

fn decode_in_chunks(stream: &[u8], cuts: impl IntoIterator<Item = usize>) -> Vec<(String, Value)> {
    let mut codec = JsonCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain([stream.len()]) {
        buf.extend_from_slice(&stream[start..end]);
        start = end;
        while let Some(event) = codec.decode(&mut buf).unwrap() {
            out.push((event.event_type().to_owned(), event.data().unwrap()));
        }
    }
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    out
}

#[test]
fn concatenated_vectors_fed_one_byte_at_a_time() {
    let (stream, expected) = all_frames();
    // One byte per read puts a read boundary at every byte of the stream.
    assert_eq!(decode_in_chunks(&stream, 1..stream.len()), expected);
}

#[test]
fn concatenated_short_vectors_split_in_two_at_every_byte() {
    let (stream, expected) = all_frames();
    // Keep the frames under 1 KiB so that every two-piece split stays cheap.
    let mut short = Vec::new();
    let mut short_expected = Vec::new();
    let mut offset = 0;
    for (i, end) in stream.iter().enumerate().filter(|(_, b)| **b == 0x0c).map(|(i, _)| i + 1).enumerate() {
        if end - offset < 1024 {
            short.extend_from_slice(&stream[offset..end]);
            short_expected.push(expected[i].clone());
        }
        offset = end;
    }
    for cut in 0..=short.len() {
        assert_eq!(decode_in_chunks(&short, [cut]), short_expected, "split at {cut}");
    }
}

#[test]
fn buffer_encodings_match_node() {
    let doc: Value = serde_json::from_str(include_str!("golden/encodings.json")).unwrap();
    let mut checked = 0;
    for case in doc["from_string"].as_array().unwrap() {
        let enc: Encoding = case["encoding"].as_str().unwrap().parse().unwrap();
        let input = case["input"].as_str().unwrap();
        let want = base64(case["bytes_base64"].as_str().unwrap());
        assert_eq!(enc.encode(input), want, "Buffer.from({input:?}, {enc})");
        checked += 1;
    }
    for case in doc["to_string"].as_array().unwrap() {
        let enc: Encoding = case["encoding"].as_str().unwrap().parse().unwrap();
        let bytes = base64(case["bytes_base64"].as_str().unwrap());
        // Node's output as UTF-16 units; lone surrogates become U+FFFD in Rust.
        let units: Vec<u16> = case["output_utf16_hex"]
            .as_str()
            .unwrap()
            .as_bytes()
            .chunks(4)
            .map(|c| u16::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect();
        let want: String =
            char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
        assert_eq!(enc.decode(&bytes), want, "{bytes:02x?}.toString({enc})");
        checked += 1;
    }
    assert!(checked > 100);
}
