//! Benchmarks of the node-ipc wire format.
//!
//! Criterion micro-benchmarks live in `benches/` (`cargo bench -p benches`);
//! the `ipc-bench` harness ([`harness`], `cargo run --release -p benches --bin
//! ipc-bench -- --quick`) runs whole lanes side by side. This library holds the
//! workloads they share, so every lane measures the same bytes.
#![forbid(unsafe_code)]

use serde::Serialize;

pub mod harness;

/// The payload every codec lane sends: a typical node-ipc message body.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Payload {
    /// Who sent it (node-ipc examples put the sender's id in the data).
    pub id: String,
    /// A sequence number.
    pub seq: u64,
    /// Padding that brings the frame to the size under test.
    pub message: String,
}

/// The event type every lane uses.
pub const EVENT_TYPE: &str = "app.message";

/// Payload sizes measured (the JSON text of `data`): 64 B, 1 KiB and 64 KiB.
/// A frame adds 31 bytes: `{"type":"app.message","data":` + `}` + delimiter.
pub const PAYLOAD_SIZES: [usize; 3] = [64, 1024, 64 * 1024];

/// Bytes of a payload that are not the `message` padding (with `seq` of 5 digits).
const OVERHEAD: usize = r#"{"id":"client-1","seq":10000,"message":""}"#.len();

/// A payload whose JSON text is exactly `size` bytes (for `size` >= 42).
pub fn payload(size: usize, seq: u64) -> Payload {
    let seq = 10_000 + seq % 90_000;
    Payload { id: "client-1".to_owned(), seq, message: "x".repeat(size.saturating_sub(OVERHEAD)) }
}

/// `count` consecutive node-ipc frames carrying payloads of `size` bytes.
pub fn wire(size: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((size + 31) * count);
    for seq in 0..count as u64 {
        let frame = serde_json::json!({"type": EVENT_TYPE, "data": payload(size, seq)});
        serde_json::to_writer(&mut out, &frame).expect("serializing to memory");
        out.push(0x0c);
    }
    out
}

/// How many frames a batch holds: about 256 KiB of input, at least 16 frames.
pub fn batch_len(size: usize) -> usize {
    (256 * 1024 / (size + 31)).max(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_and_frames_have_the_sizes_documented() {
        for size in PAYLOAD_SIZES {
            assert_eq!(serde_json::to_vec(&payload(size, 1)).unwrap().len(), size);
            assert_eq!(wire(size, 3).len(), 3 * (size + 31), "payload size {size}");
        }
    }
}
