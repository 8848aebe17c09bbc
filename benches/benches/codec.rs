//! Encode and decode throughput of node-ipc frames with 64 B, 1 KiB and 64 KiB payloads,
//! ours beside the official `node-ipc` crate's codec and beside what a user
//! would otherwise write (tokio-util `AnyDelimiterCodec` + `serde_json::Value`).
//!
//! Run: `cargo bench -p benches --bench codec`. Each benchmark decodes or
//! encodes a batch of about 256 KiB; throughput is reported per frame
//! (elements/s = messages/s; frames are payload + 31 bytes).
//!
//! `encode/1MiB string` sends one event whose data is a 1 MiB string, plain
//! ASCII or text with something to escape on every line (`\n`, quotes, a tab);
//! its throughput is in bytes of frame written per second.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use benches::{batch_len, payload, wire, Payload, EVENT_TYPE, PAYLOAD_SIZES};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ipc_codec::{Event, JsonCodec};
use tokio_util::codec::{AnyDelimiterCodec, Decoder, Encoder};

fn decode(c: &mut Criterion) {
    for size in PAYLOAD_SIZES {
        let count = batch_len(size);
        let input = wire(size, count);
        let mut group = c.benchmark_group(format!("decode/{}", label(size)));
        group.throughput(Throughput::Elements(count as u64));

        group.bench_function("ours: JsonCodec -> Event", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&input[..]),
                |buf| {
                    let mut codec = JsonCodec::default();
                    let mut n = 0;
                    while let Some(event) = codec.decode(buf).unwrap() {
                        black_box(event.event_type());
                        n += 1;
                    }
                    assert_eq!(n, count);
                },
                BatchSize::LargeInput,
            )
        });

        group.bench_function("ours: JsonCodec -> Event -> typed data", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&input[..]),
                |buf| {
                    let mut codec = JsonCodec::default();
                    while let Some(event) = codec.decode(buf).unwrap() {
                        #[derive(serde::Deserialize)]
                        #[allow(dead_code)]
                        struct Borrowed<'a> {
                            id: &'a str,
                            seq: u64,
                            message: &'a str,
                        }
                        black_box(event.data_as::<Borrowed<'_>>().unwrap().seq);
                    }
                },
                BatchSize::LargeInput,
            )
        });

        group.bench_function("official node-ipc crate: Codec::push_with", |b| {
            b.iter(|| {
                let mut codec = node_ipc::Codec::default();
                let mut n = 0;
                codec
                    .push_with(black_box(&input), |m| {
                        black_box(&m);
                        n += 1;
                    })
                    .unwrap();
                assert_eq!(n, count);
            })
        });

        group.bench_function("AnyDelimiterCodec + serde_json::Value", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&input[..]),
                |buf| {
                    let mut codec =
                        AnyDelimiterCodec::new_with_max_length(b"\x0c".to_vec(), vec![], 16 << 20);
                    while let Some(frame) = codec.decode(buf).unwrap() {
                        let v: serde_json::Value = serde_json::from_slice(&frame).unwrap();
                        black_box(v["type"].as_str());
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for size in PAYLOAD_SIZES {
        let count = batch_len(size);
        let payloads: Vec<Payload> = (0..count as u64).map(|seq| payload(size, seq)).collect();
        let events: Vec<Event> = payloads.iter().map(|p| Event::with_data(EVENT_TYPE, p).unwrap()).collect();
        let values: Vec<serde_json::Value> =
            payloads.iter().map(|p| serde_json::to_value(p).unwrap()).collect();
        let official: Vec<node_ipc::Event> = payloads
            .iter()
            .map(|p| {
                let json = serde_json::to_vec(&serde_json::json!({"type": EVENT_TYPE, "data": p})).unwrap();
                node_ipc::Event::from_json(&json).unwrap()
            })
            .collect();
        let mut group = c.benchmark_group(format!("encode/{}", label(size)));
        group.throughput(Throughput::Elements(count as u64));
        let mut out = BytesMut::with_capacity(count * size + 64);

        group.bench_function(BenchmarkId::new("ours: (type, &T) in place", ""), |b| {
            b.iter(|| {
                out.clear();
                let mut codec = JsonCodec::default();
                for p in &payloads {
                    codec.encode((EVENT_TYPE, p), &mut out).unwrap();
                }
                black_box(out.len());
            })
        });

        group.bench_function(BenchmarkId::new("ours: Event re-emitted", ""), |b| {
            b.iter(|| {
                out.clear();
                let mut codec = JsonCodec::default();
                for e in &events {
                    codec.encode(e, &mut out).unwrap();
                }
                black_box(out.len());
            })
        });

        group.bench_function(BenchmarkId::new("official node-ipc crate: encode_into", ""), |b| {
            let codec = node_ipc::Codec::default();
            let mut scratch = Vec::with_capacity(size + 64);
            b.iter(|| {
                out.clear();
                for e in &official {
                    codec.encode_into(e, &mut scratch).unwrap();
                    out.extend_from_slice(&scratch);
                }
                black_box(out.len());
            })
        });

        group.bench_function(BenchmarkId::new("AnyDelimiterCodec + serde_json::Value", ""), |b| {
            b.iter(|| {
                out.clear();
                let mut codec = AnyDelimiterCodec::new(b"\x0c".to_vec(), b"\x0c".to_vec());
                for v in &values {
                    let frame = serde_json::json!({"type": EVENT_TYPE, "data": v});
                    codec.encode(serde_json::to_string(&frame).unwrap(), &mut out).unwrap();
                }
                black_box(out.len());
            })
        });
        group.finish();
    }
}

/// One event whose data is a 1 MiB string: the string escaper's throughput.
fn encode_large_string(c: &mut Criterion) {
    const LEN: usize = 1 << 20;
    let line = "2026-11-27T10:15:42.123Z INFO worker-3 handled request id=48213 in 1.7 ms";
    let plain: String = line.chars().cycle().take(LEN).collect();
    let mut escaped = String::with_capacity(LEN);
    while escaped.len() < LEN - 128 {
        escaped.push_str("2026-11-27T10:15:42Z INFO \"GET /api/items?id=42\" status=200\tsize=1.7kB\n");
    }
    let mut group = c.benchmark_group("encode/1MiB string");
    for (name, text) in [("plain ASCII", &plain), ("escape on every line", &escaped)] {
        let mut out = BytesMut::new();
        JsonCodec::default().encode((EVENT_TYPE, text.as_str()), &mut out).unwrap();
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(BenchmarkId::new("ours: (type, &str) in place", name), |b| {
            b.iter(|| {
                out.clear();
                JsonCodec::default().encode((EVENT_TYPE, black_box(text.as_str())), &mut out).unwrap();
                black_box(out.len());
            })
        });
        group.bench_function(BenchmarkId::new("serde_json::to_writer into BytesMut", name), |b| {
            b.iter(|| {
                out.clear();
                let frame = Frame { event_type: EVENT_TYPE, data: black_box(text.as_str()) };
                serde_json::to_writer(bytes::BufMut::writer(&mut out), &frame).unwrap();
                out.extend_from_slice(b"\x0c");
                black_box(out.len());
            })
        });
    }
    group.finish();
}

/// `{"type":..,"data":..}` for plain serde_json.
#[derive(serde::Serialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a str,
}

fn label(size: usize) -> String {
    if size >= 1024 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(20);
    targets = decode, encode, encode_large_string
}
criterion_main!(benches);
