//! Dispatching an event to one sync handler allocates nothing beyond the event.
//!
//! Counted with `stats_alloc`'s instrumented system allocator (no `unsafe` in
//! our code). The counters are process-wide, so this test runs without libtest
//! (`harness = false`): no other thread exists to allocate while it counts.

use std::alloc::System;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::FutureExt;
use ipc_codec::Event;
use ipc_events::Dispatcher;
use serde::Deserialize;
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 10_000;

#[derive(Deserialize)]
struct Borrowed<'a> {
    #[allow(dead_code)]
    id: &'a str,
    n: u64,
}

fn main() {
    dispatch_to_sync_handlers_allocates_nothing();
    println!("test dispatch_to_sync_handlers_allocates_nothing ... ok");
}

fn dispatch_to_sync_handlers_allocates_nothing() {
    for types in [1, 10, 100] {
        let dispatcher = Dispatcher::<u64>::new();
        let sum = Arc::new(AtomicU64::new(0));
        for t in 0..types {
            let sum = Arc::clone(&sum);
            dispatcher.on(&format!("app.event{t}"), move |event, peer| {
                // Reading the data in place, borrowed from the frame, is free too.
                let data: Borrowed<'_> = event.data_as().unwrap();
                sum.fetch_add(data.n + peer, Ordering::Relaxed);
            });
        }
        // The last registered type, and one without handlers.
        let event = Event::new(format!("app.event{}", types - 1), json!({"id": "client", "n": 1}));
        let unhandled = Event::new("app.other", json!({"id": "client", "n": 1}));
        // Warm up: first clones, lazily initialized statics.
        dispatcher.dispatch(&event, &0).now_or_never().unwrap();

        let region = Region::new(GLOBAL);
        for _ in 0..ROUNDS {
            let outcome = dispatcher.dispatch(black_box(&event), &1).now_or_never().unwrap();
            black_box(outcome);
            black_box(dispatcher.dispatch(black_box(&unhandled), &1).now_or_never().unwrap());
        }
        let stats = region.change();
        assert_eq!(
            (stats.allocations, stats.reallocations, stats.bytes_allocated),
            (0, 0, 0),
            "{types} types: {stats:?}"
        );
        assert_eq!(sum.load(Ordering::Relaxed), 1 + 2 * ROUNDS as u64);
    }

    // A wildcard in front changes nothing.
    let dispatcher = Dispatcher::<()>::new();
    dispatcher.on("*", |event, _| {
        black_box(event.event_type());
    });
    dispatcher.on("x", |event, _| {
        black_box(event.raw_data());
    });
    let event = Event::new("x", json!([1, 2, 3]));
    dispatcher.dispatch(&event, &()).now_or_never().unwrap();
    let region = Region::new(GLOBAL);
    for _ in 0..ROUNDS {
        assert_eq!(dispatcher.dispatch(&event, &()).now_or_never().unwrap().delivered(), 2);
    }
    assert_eq!(region.change().allocations, 0);

    // The counter does count: the slow paths allocate, and are seen.
    let region = Region::new(GLOBAL);
    dispatcher.once("y", |_, _| {});
    dispatcher.dispatch(&Event::without_data("y"), &()).now_or_never().unwrap();
    assert!(region.change().allocations > 0, "the counting allocator is not installed");
}
