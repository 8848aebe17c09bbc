//! MsgPackCodec under arbitrary bytes in arbitrary chunks: no panic, nothing
//! buffered beyond the limit, decoded events convert and re-encode.
#![no_main]
#![forbid(unsafe_code)]

use bytes::BytesMut;
use ipc_codec::{ContinueOnError, MsgPackCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

#[path = "chunks.rs"]
mod chunks;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let (stream, lens) = chunks::plan(data);
    let codec = MsgPackCodec::builder().max_message_size(LIMIT).build().unwrap();
    let mut codec = ContinueOnError::new(codec);
    let mut buf = BytesMut::new();
    let mut start = 0;
    for len in lens {
        let end = (start + len).min(stream.len());
        buf.extend_from_slice(&stream[start..end]);
        start = end;
        while let Some(item) = codec.decode(&mut buf).expect("only frame errors") {
            if let Ok(event) = item {
                let _ = event.data();
                let mut out = BytesMut::new();
                let _ = MsgPackCodec::default().encode(&event, &mut out);
                let _ = ipc_codec::JsonCodec::default().encode(&event, &mut out);
            }
        }
        assert!(buf.len() <= LIMIT + 64 + 4, "buffered {} bytes", buf.len());
    }
    while let Some(_item) = codec.decode_eof(&mut buf).expect("only frame errors") {}
});
