//! The decoder's JSON validation against serde_json's verdict: arbitrary bytes
//! as the data of a canonical frame, `{"type":"t","data":<bytes>}\f`. When
//! serde_json accepts the bytes (and they are UTF-8) the event must come out
//! with exactly those bytes as its data; whenever the decoder accepts a frame,
//! serde_json must accept the whole frame as JSON.
#![no_main]
#![forbid(unsafe_code)]

use bytes::BytesMut;
use ipc_codec::JsonCodec;
use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use tokio_util::codec::Decoder;

fn json_trim(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

fuzz_target!(|data: &[u8]| {
    if data.contains(&0x0c) {
        return;
    }
    let mut frame = b"{\"type\":\"t\",\"data\":".to_vec();
    frame.extend_from_slice(data);
    frame.push(b'}');
    let whole_frame_is_json =
        std::str::from_utf8(&frame).is_ok() && serde_json::from_slice::<IgnoredAny>(&frame).is_ok();
    let data_is_json =
        std::str::from_utf8(data).is_ok() && serde_json::from_slice::<IgnoredAny>(data).is_ok();
    let mut wire = BytesMut::from(&frame[..]);
    wire.extend_from_slice(b"\x0c");
    match JsonCodec::default().decode(&mut wire) {
        Ok(Some(event)) => {
            assert!(
                whole_frame_is_json,
                "accepted a frame serde_json rejects: {:?}",
                String::from_utf8_lossy(&frame)
            );
            if data_is_json {
                assert_eq!(event.event_type(), "t");
                assert_eq!(event.raw_data(), Some(json_trim(data)));
            }
        }
        Ok(None) => panic!("a whole frame was not decoded"),
        Err(_) => assert!(!data_is_json, "rejected valid data: {:?}", String::from_utf8_lossy(data)),
    }
});
