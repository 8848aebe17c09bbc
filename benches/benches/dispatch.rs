//! Cost of dispatching one decoded event with `ipc_events::Dispatcher`.
//!
//! Run: `cargo bench -p benches --bench dispatch`. Groups:
//!
//! - `dispatch/sync handler`: one event to one sync handler, with 1, 10 and
//!   100 registered event types (one handler each), plus a type nobody handles;
//! - `dispatch/handler kind`: the same event (one registered type) to each kind
//!   of handler, for comparison.
//!
//! Before measuring, it counts heap allocations over 10 000 dispatches to one
//! sync handler (1, 10 and 100 types) with `stats_alloc`'s counting allocator,
//! prints allocations per dispatch and fails if there is any: a dispatch
//! allocates nothing beyond the event itself.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::FutureExt;
use ipc_codec::Event;
use ipc_events::{Dispatcher, Overflow};
use serde::Deserialize;
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

// A counting global allocator from a crate: our crates forbid `unsafe`, so no
// hand-written `GlobalAlloc`. Counting costs two relaxed atomic adds per
// allocation, and the measured path makes none.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TYPE_COUNTS: [usize; 3] = [1, 10, 100];

/// The peer handle: a connection number, as the layer above might choose.
type Peer = u64;

fn event_type(t: usize) -> String {
    format!("app.event{t}")
}

/// A message as node-ipc examples send it.
fn message(t: usize) -> Event {
    Event::new(event_type(t), json!({"id": "client-1", "message": "hello", "seq": 10000}))
}

/// A dispatcher with `types` event types, one sync handler each.
fn with_types(types: usize) -> Dispatcher<Peer> {
    let dispatcher = Dispatcher::new();
    for t in 0..types {
        dispatcher.on(&event_type(t), |event, peer| {
            black_box((event.raw_data(), peer));
        });
    }
    dispatcher
}

/// Dispatches an event that only meets sync handlers: it completes in one poll.
fn dispatch_now(dispatcher: &Dispatcher<Peer>, event: &Event) -> ipc_events::Dispatched {
    dispatcher.dispatch(event, &1).now_or_never().expect("sync handlers complete at once")
}

fn allocations_per_dispatch() {
    const ROUNDS: u64 = 10_000;
    for types in TYPE_COUNTS {
        let dispatcher = with_types(types);
        let event = message(types / 2);
        dispatch_now(&dispatcher, &event);
        let region = Region::new(GLOBAL);
        for _ in 0..ROUNDS {
            black_box(dispatch_now(&dispatcher, black_box(&event)));
        }
        let stats = region.change();
        println!(
            "dispatch/allocations: {types:>3} types, 1 sync handler: {} allocations, {} bytes per dispatch \
             ({} allocations in {ROUNDS} dispatches)",
            stats.allocations as u64 / ROUNDS,
            stats.bytes_allocated as u64 / ROUNDS,
            stats.allocations,
        );
        assert_eq!(stats.allocations + stats.reallocations, 0, "a dispatch allocated: {stats:?}");
    }
}

fn sync_handler(c: &mut Criterion) {
    allocations_per_dispatch();
    let mut group = c.benchmark_group("dispatch/sync handler");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for types in TYPE_COUNTS {
        let dispatcher = with_types(types);
        let event = message(types / 2);
        group.bench_with_input(BenchmarkId::new("types", types), &event, |b, event| {
            b.iter(|| dispatch_now(&dispatcher, black_box(event)))
        });
    }
    let dispatcher = with_types(100);
    let unhandled = message(1000);
    group.bench_function("types/100, unhandled type", |b| {
        b.iter(|| dispatch_now(&dispatcher, black_box(&unhandled)))
    });
    group.finish();
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Borrowed<'a> {
    id: &'a str,
    message: &'a str,
    seq: u64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Owned {
    id: String,
    message: String,
    seq: u64,
}

fn handler_kind(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch/handler kind");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let event = message(0);
    let ty = event_type(0);

    let d = Dispatcher::<Peer>::new();
    d.on(&ty, |event, _| {
        let data: Borrowed<'_> = event.data_as().unwrap();
        black_box(data.seq);
    });
    group.bench_function("sync, data_as borrowed struct", |b| b.iter(|| dispatch_now(&d, black_box(&event))));

    let d = Dispatcher::<Peer>::new();
    d.on_typed(&ty, |data: Owned, _| {
        black_box(data.seq);
    });
    group.bench_function("on_typed, owned struct", |b| b.iter(|| dispatch_now(&d, black_box(&event))));

    let d = Dispatcher::<Peer>::new();
    d.on(&ty, |_, _| {});
    d.on("*", |event, _| {
        black_box(event.event_type());
    });
    group.bench_function("wildcard + sync", |b| b.iter(|| dispatch_now(&d, black_box(&event))));

    let d = Dispatcher::<Peer>::new();
    d.on_async(&ty, |event, peer| async move {
        black_box((event, peer));
    });
    group.bench_function("async (boxed future)", |b| b.iter(|| dispatch_now(&d, black_box(&event))));

    let d = Dispatcher::<Peer>::new();
    let mut sub = d.subscribe_with(&ty, 64, Overflow::Reject);
    group.bench_function("subscription, then recv", |b| {
        b.iter(|| {
            dispatch_now(&d, black_box(&event));
            black_box(sub.try_recv().unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, sync_handler, handler_kind);
criterion_main!(benches);
