//! RawCodec and node's Buffer encodings under arbitrary bytes: bytes pass
//! through unchanged in any chunking; string conversions never panic and
//! round-trip where node's do.
#![no_main]
#![forbid(unsafe_code)]

use bytes::BytesMut;
use ipc_codec::{Encoding, RawCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

#[path = "chunks.rs"]
mod chunks;

const ENCODINGS: [Encoding; 7] = [
    Encoding::Utf8,
    Encoding::Hex,
    Encoding::Base64,
    Encoding::Base64Url,
    Encoding::Ascii,
    Encoding::Utf16le,
    Encoding::Latin1,
];

fuzz_target!(|data: &[u8]| {
    let (stream, lens) = chunks::plan(data);
    let mut codec = RawCodec::default();
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    let mut start = 0;
    for len in lens {
        let end = (start + len).min(stream.len());
        buf.extend_from_slice(&stream[start..end]);
        start = end;
        while let Some(chunk) = codec.decode(&mut buf).unwrap() {
            seen.extend_from_slice(&chunk);
        }
    }
    assert_eq!(seen, stream);
    for enc in ENCODINGS {
        let text = enc.decode(stream);
        let back = enc.encode(&text);
        if matches!(enc, Encoding::Hex | Encoding::Base64 | Encoding::Base64Url | Encoding::Latin1) {
            assert_eq!(back, stream, "{enc}");
        }
        if let Ok(s) = std::str::from_utf8(stream) {
            let _ = enc.encode(s);
        }
    }
});
