//! JsonCodec under arbitrary bytes in arbitrary chunks, with a multi-byte
//! delimiter and a small limit: no panic, buffer bounded by the limit, every
//! decoded event re-encodes and decodes to itself (an event without data
//! comes back with `{}`, as node-ipc sends it).
#![no_main]
#![forbid(unsafe_code)]

use bytes::BytesMut;
use ipc_codec::{ContinueOnError, JsonCodec, Profile};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

#[path = "chunks.rs"]
mod chunks;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let (stream, lens) = chunks::plan(data);
    let profile = if data.first().is_some_and(|b| b & 0x80 != 0) { Profile::Guarded } else { Profile::Fast };
    let delimiter: &[u8] = if data.first().is_some_and(|b| b & 0x40 != 0) { b"\r\n" } else { b"\x0c" };
    let codec =
        JsonCodec::builder().profile(profile).delimiter(delimiter).max_message_size(LIMIT).build().unwrap();
    let mut codec = ContinueOnError::new(codec);
    let mut buf = BytesMut::new();
    let mut start = 0;
    for len in lens {
        let end = (start + len).min(stream.len());
        buf.extend_from_slice(&stream[start..end]);
        start = end;
        while let Some(item) = codec.decode(&mut buf).expect("only frame errors") {
            if let Ok(event) = item {
                let mut out = BytesMut::new();
                let mut plain = JsonCodec::builder().delimiter(delimiter).build().unwrap();
                plain.encode(&event, &mut out).expect("a decoded event re-encodes");
                let again = plain.decode(&mut out).expect("re-encoded event decodes").expect("one frame");
                if event.has_data() {
                    assert_eq!(again, event);
                } else {
                    // no `data` member: sent as `{}`, as both node-ipc encoders do (`data = {}`)
                    assert_eq!(again.event_type(), event.event_type());
                    assert_eq!(again.raw_data(), Some(&b"{}"[..]));
                }
                let _ = event.data();
            }
        }
        assert!(buf.len() <= LIMIT + 64 + delimiter.len(), "buffered {} bytes", buf.len());
    }
    while let Some(_item) = codec.decode_eof(&mut buf).expect("only frame errors") {}
});
