//! Property tests: decode(encode(x)) == x under arbitrary events, delimiters
//! and read chunkings, for `JsonCodec` and `MsgPackCodec`.

use bytes::BytesMut;
#[cfg(feature = "msgpack")]
use ipc_codec::MsgPackCodec;
use ipc_codec::{Event, JsonCodec};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use tokio_util::codec::{Decoder, Encoder};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (any::<String>(), json_value()).prop_map(|(t, d)| Event::new(t, d)),
        1 => any::<String>().prop_map(Event::without_data),
    ]
}

/// Delimiters that compact JSON never contains: control bytes (escaped inside
/// strings) and bytes that never occur in UTF-8.
fn delimiter() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![0x00u8..0x20, 0xf8u8..=0xff], 1..5)
}

/// Feeds `wire` to `codec` in pieces ending at `cuts` (positions taken modulo
/// the length), then signals end of stream.
fn decode_chunked<D>(codec: &mut D, wire: &[u8], cuts: &[usize]) -> Vec<Event>
where
    D: Decoder<Item = Event, Error = ipc_codec::CodecError>,
{
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(wire.len());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts {
        buf.extend_from_slice(&wire[start..end]);
        start = end;
        while let Some(e) = codec.decode(&mut buf).unwrap() {
            out.push(e);
        }
    }
    while let Some(e) = codec.decode_eof(&mut buf).unwrap() {
        out.push(e);
    }
    out
}

/// Missing data is written as `{}` (node-ipc's encoders do the same).
fn as_sent(event: &Event) -> Event {
    if event.has_data() {
        event.clone()
    } else {
        Event::new(event.event_type(), Value::Object(Map::new()))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_codec_round_trips(
        events in prop::collection::vec(event(), 0..12),
        delim in delimiter(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut codec = JsonCodec::builder().delimiter(&delim).build().unwrap();
        let mut wire = BytesMut::new();
        for e in &events {
            codec.encode(e, &mut wire).unwrap();
        }
        let decoded = decode_chunked(&mut codec, &wire, &cuts);
        let expected: Vec<Event> = events.iter().map(as_sent).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn msgpack_codec_round_trips(
        events in prop::collection::vec(event(), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut codec = MsgPackCodec::default();
        let mut wire = BytesMut::new();
        for e in &events {
            codec.encode(e, &mut wire).unwrap();
        }
        let decoded = decode_chunked(&mut codec, &wire, &cuts);
        prop_assert_eq!(decoded.len(), events.len());
        for (got, want) in decoded.iter().zip(&events) {
            prop_assert_eq!(got.event_type(), want.event_type());
            prop_assert_eq!(got.has_data(), want.has_data());
            // By value: the JSON text of a float may differ from MessagePack's f64.
            prop_assert_eq!(got.data().unwrap(), want.data().unwrap());
        }
    }

    #[test]
    fn the_fast_path_writes_what_event_new_writes(value in json_value(), t in any::<String>()) {
        let mut codec = JsonCodec::default();
        let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
        codec.encode((t.as_str(), &value), &mut a).unwrap();
        codec.encode(Event::new(t, value), &mut b).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn floats_round_trip_by_value(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let mut codec = JsonCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(("f", &f), &mut wire).unwrap();
        let back: f64 = codec.decode(&mut wire).unwrap().unwrap().data_as().unwrap();
        prop_assert!(back == f, "{} came back as {}", f, back);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut codec = JsonCodec::builder().max_message_size(64).build().unwrap();
        let mut buf = BytesMut::new();
        let mut start = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        for end in cuts {
            buf.extend_from_slice(&bytes[start..end]);
            start = end;
            while !matches!(codec.decode(&mut buf), Ok(None)) {}
            prop_assert!(buf.len() <= 64 + 1, "buffered {}", buf.len());
        }
        let _ = codec.decode_eof(&mut buf);
    }
}

/// Objects whose keys are often `id`, so that the member is there half the time.
fn object_with_ids() -> impl Strategy<Value = Value> {
    let key = prop_oneof![Just("id".to_owned()), Just("idx".to_owned()), any::<String>()];
    prop::collection::vec((key, json_value()), 0..6)
        .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    /// `raw_data_member` finds exactly what a parsed object holds under the key.
    #[test]
    fn raw_data_member_agrees_with_serde_json(data in object_with_ids(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_vec_pretty(&data) } else { serde_json::to_vec(&data) }.unwrap();
        let event = Event::from_json_data("t", text).unwrap();
        let found = event.raw_data_member("id").map(|raw| serde_json::from_slice::<Value>(raw).unwrap());
        prop_assert_eq!(found.as_ref(), data.get("id"));
    }
}
