//! A plain loop over the codec, for profilers (`valgrind --tool=callgrind`,
//! `perf`): `cargo build --release -p benches --example codec-loop`, then
//! `codec-loop decode|encode <payload bytes> <frames>`.
//!
//! `decode` cuts and validates the frames of `benches::wire`; `encode` writes
//! `("ow", &payload)` frames; `validate` only runs serde_json's validation
//! (`IgnoredAny`) over the payload text, the part of `decode` no codec built on
//! serde_json can skip. Each prints a checksum so nothing is optimized away.

// Examples need no docs beyond the module's.
#![allow(missing_docs)]

use bytes::BytesMut;
use ipc_codec::JsonCodec;
use tokio_util::codec::{Decoder, Encoder};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("decode", String::as_str);
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    let frames: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut codec = JsonCodec::default();
    let mut check = 0usize;
    match mode {
        "decode" => {
            let wire = benches::wire(size, 1024.min(frames));
            let rounds = frames.div_ceil(1024);
            for _ in 0..rounds {
                let mut buf = BytesMut::from(&wire[..]);
                while let Some(event) = codec.decode(&mut buf).expect("valid frames") {
                    check += event.raw_data().map_or(0, <[u8]>::len);
                }
            }
        }
        "encode" => {
            let payload = benches::payload(size, 1);
            let mut buf = BytesMut::with_capacity(1 << 20);
            for _ in 0..frames {
                if buf.len() > (1 << 20) {
                    check += buf.len();
                    buf.clear();
                }
                codec.encode(("ow", &payload), &mut buf).expect("encodes");
            }
            check += buf.len();
        }
        "validate" => {
            let text = serde_json::to_string(&benches::payload(size, 1)).expect("serializes");
            for _ in 0..frames {
                let parsed = serde_json::from_str::<serde::de::IgnoredAny>(std::hint::black_box(&text));
                check += usize::from(parsed.is_ok());
            }
        }
        other => panic!("unknown mode {other}: decode, encode or validate"),
    }
    println!("{check}");
}
