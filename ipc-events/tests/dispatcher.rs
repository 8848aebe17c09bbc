//! Behaviour of `Dispatcher`: ordering, wildcard, once/off (also during a
//! dispatch and under re-entrant dispatch), typed decode errors, lifecycle
//! spoofing attempts, subscriptions and their overflow policies.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use interop::within;
use ipc_codec::{CodecError, Event, RESERVED_EVENT_TYPES};
use ipc_events::{Dispatcher, Error, Lifecycle, Overflow, WILDCARD};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{oneshot, Notify};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::default()
}

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let c = Arc::new(AtomicUsize::new(0));
    (Arc::clone(&c), c)
}

fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

#[derive(Debug, Deserialize, PartialEq)]
struct Message {
    id: String,
    n: u32,
}

#[tokio::test]
async fn wildcard_runs_before_typed_handlers_in_registration_order() {
    let d = Dispatcher::<&'static str>::new();
    let l = log();
    for (ty, name) in [("x", "x1"), (WILDCARD, "w1"), ("x", "x2"), ("y", "y1"), (WILDCARD, "w2")] {
        let l = l.clone();
        d.on(ty, move |event, peer| push(&l, format!("{name}:{}:{peer}", event.event_type())));
    }
    let outcome = within("a dispatch", d.dispatch(&Event::without_data("x"), &"p")).await;
    assert_eq!(take(&l), ["w1:x:p", "w2:x:p", "x1:x:p", "x2:x:p"]);
    assert_eq!(outcome.delivered(), 4);

    within("a dispatch", d.dispatch(&Event::without_data("z"), &"p")).await;
    assert_eq!(take(&l), ["w1:z:p", "w2:z:p"], "wildcards see types without handlers");

    // A wire event whose type is "*" runs the wildcards once, like event-pubsub 6.
    within("a dispatch", d.dispatch(&Event::without_data("*"), &"p")).await;
    assert_eq!(take(&l), ["w1:*:p", "w2:*:p"]);

    d.off_all(WILDCARD);
    let outcome = within("a dispatch", d.dispatch(&Event::without_data("z"), &"p")).await;
    assert!(outcome.is_unhandled());
    assert!(take(&l).is_empty());
}

#[tokio::test]
async fn async_handler_is_awaited_before_the_next_handler_and_event() {
    let d = Dispatcher::<u8>::new();
    let l = log();
    let gate = Arc::new(Notify::new());
    {
        let (l, gate) = (l.clone(), gate.clone());
        d.on_async("job", move |event, peer| {
            let (l, gate) = (l.clone(), gate.clone());
            async move {
                push(&l, format!("async start {peer} {}", event.data().unwrap()));
                gate.notified().await;
                push(&l, format!("async end {peer}"));
            }
        });
    }
    {
        let l = l.clone();
        d.on("job", move |event, _| push(&l, format!("sync {}", event.data().unwrap())));
    }

    let first = Event::new("job", json!(1));
    let mut dispatch = pin!(d.dispatch(&first, &7));
    assert!((&mut dispatch).now_or_never().is_none(), "dispatch waits for the async handler");
    assert_eq!(take(&l), ["async start 7 1"], "the next handler waits too");
    gate.notify_one();
    let outcome = within("dispatch", dispatch).await;
    assert_eq!(outcome.delivered(), 2);
    assert_eq!(take(&l), ["async end 7", "sync 1"]);
}

#[tokio::test]
async fn events_of_one_connection_reach_async_handlers_in_arrival_order() {
    let d = Dispatcher::<u8>::new();
    let l = log();
    let running = Arc::new(AtomicUsize::new(0));
    {
        let (l, running) = (l.clone(), running.clone());
        d.on_typed_async("n", move |n: u32, _peer| {
            let (l, running) = (l.clone(), running.clone());
            async move {
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "async handlers overlapped");
                // Yield a number of times that varies with n, so that an
                // overlapping implementation would finish them out of order.
                for _ in 0..(10 - n) {
                    tokio::task::yield_now().await;
                }
                push(&l, n.to_string());
                running.fetch_sub(1, Ordering::SeqCst);
            }
        });
    }
    for n in 0..10u32 {
        within("a dispatch", d.dispatch(&Event::new("n", json!(n)), &0)).await;
    }
    assert_eq!(take(&l), (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dispatch_concurrently_each_in_arrival_order() {
    let d = Dispatcher::<u32>::new();
    let seen: Arc<Mutex<Vec<(u32, u64)>>> = Arc::default();
    {
        let seen = seen.clone();
        d.on_typed("seq", move |n: u64, peer| seen.lock().unwrap().push((*peer, n)));
    }
    {
        let seen = seen.clone();
        d.on_typed_async("seq", move |n: u64, peer| {
            let seen = seen.clone();
            async move {
                tokio::task::yield_now().await;
                seen.lock().unwrap().push((peer + 100, n));
            }
        });
    }
    let readers: Vec<_> = (0..4u32)
        .map(|peer| {
            let d = d.clone();
            // tokio::spawn needs the dispatch future to be Send.
            tokio::spawn(async move {
                for n in 0..200u64 {
                    d.dispatch(&Event::new("seq", json!(n)), &peer).await;
                }
            })
        })
        .collect();
    for reader in readers {
        within("reader", reader).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4 * 200 * 2);
    for peer in (0..4).chain(100..104) {
        let order: Vec<u64> = seen.iter().filter(|(p, _)| *p == peer).map(|(_, n)| *n).collect();
        assert_eq!(order, (0..200).collect::<Vec<_>>(), "peer {peer}");
    }
}

#[tokio::test]
async fn once_is_removed_before_it_runs() {
    let d = Dispatcher::<()>::new();
    let (c, runs) = counter();
    let weak = d.downgrade();
    d.once("x", move |_, _| {
        assert_eq!(weak.upgrade().unwrap().handler_count("x"), 0, "still registered while running");
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(d.handler_count("x"), 1);
    assert_eq!(within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await.delivered(), 1);
    assert!(within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await.is_unhandled());
    assert_eq!(count(&runs), 1);

    // A once that is removed with off before its event never runs.
    let (c, runs) = counter();
    let id = d.once("y", move |_, _| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert!(d.off(id));
    within("a dispatch", d.dispatch(&Event::without_data("y"), &())).await;
    assert_eq!(count(&runs), 0);
}

#[tokio::test]
async fn once_fires_once_under_reentrant_dispatch() {
    let d = Dispatcher::<u8>::new();
    let (c, once_runs) = counter();
    let (c2, on_runs) = counter();
    let weak = d.downgrade();
    d.on("again", move |_, _| {
        c2.fetch_add(1, Ordering::SeqCst);
    });
    d.once_async("again", move |event, peer| {
        let (d, c) = (weak.upgrade().unwrap(), c.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            // Re-entrant emission of the same event from inside the once handler.
            let inner = d.dispatch(&event, &peer).await;
            assert_eq!(inner.delivered(), 2, "the wildcard and `on` run inside, not the once");
        }
    });
    // The once sits after `on` in the list, and a wildcard re-enters before either runs.
    let weak = d.downgrade();
    let depth = Arc::new(AtomicUsize::new(0));
    d.on_async(WILDCARD, move |event, peer| {
        let (d, depth) = (weak.upgrade().unwrap(), depth.clone());
        async move {
            if depth.fetch_add(1, Ordering::SeqCst) == 0 {
                d.dispatch(&event, &peer).await;
            }
        }
    });
    within("a dispatch", d.dispatch(&Event::without_data("again"), &1)).await;
    assert_eq!(count(&once_runs), 1);
    // outer dispatch, the wildcard's re-entrant dispatch, and the once handler's.
    assert_eq!(count(&on_runs), 3);
    assert_eq!(d.handler_count("again"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_fires_once_under_concurrent_dispatch() {
    for _ in 0..100 {
        let d = Dispatcher::<u8>::new();
        let (c, runs) = counter();
        d.once("x", move |_, _| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let tasks: Vec<_> = (0..4u8)
            .map(|peer| {
                let d = d.clone();
                tokio::spawn(async move { d.dispatch(&Event::without_data("x"), &peer).await.delivered() })
            })
            .collect();
        let mut delivered = 0;
        for task in tasks {
            delivered += within("task", task).await.unwrap();
        }
        assert_eq!((count(&runs), delivered), (1, 1));
    }
}

#[tokio::test]
async fn off_during_dispatch_skips_the_removed_handler() {
    let d = Dispatcher::<()>::new();
    let l = log();
    let victim = Arc::new(Mutex::new(None));
    {
        let (l, victim, weak) = (l.clone(), victim.clone(), d.downgrade());
        d.on("x", move |_, _| {
            push(&l, "remover");
            if let Some(id) = victim.lock().unwrap().take() {
                assert!(weak.upgrade().unwrap().off(id));
            }
        });
    }
    let id = {
        let l = l.clone();
        d.on("x", move |_, _| push(&l, "victim"))
    };
    *victim.lock().unwrap() = Some(id);
    {
        let l = l.clone();
        d.on("x", move |_, _| push(&l, "bystander"));
    }
    let outcome = within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await;
    assert_eq!(take(&l), ["remover", "bystander"]);
    assert_eq!(outcome.delivered(), 2);
    within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await;
    assert_eq!(take(&l), ["remover", "bystander"]);
}

#[tokio::test]
async fn off_all_and_clear_during_dispatch_stop_the_rest() {
    let d = Dispatcher::<()>::new();
    let l = log();
    {
        let (l, weak) = (l.clone(), d.downgrade());
        d.on(WILDCARD, move |event, _| {
            push(&l, "wildcard");
            let d = weak.upgrade().unwrap();
            match event.event_type() {
                "a" => assert_eq!(d.off_all("a"), 2),
                "b" => d.clear(),
                _ => {}
            }
        });
    }
    for ty in ["a", "a", "b", "c"] {
        let l = l.clone();
        d.on(ty, move |event, _| push(&l, event.event_type()));
    }
    within("a dispatch", d.dispatch(&Event::without_data("a"), &())).await;
    assert_eq!(take(&l), ["wildcard"]);
    assert_eq!(d.handler_count("a"), 0);
    within("a dispatch", d.dispatch(&Event::without_data("b"), &())).await;
    assert_eq!(take(&l), ["wildcard"]);
    assert_eq!((d.handler_count("*"), d.handler_count("c")), (0, 0));
    assert!(within("a dispatch", d.dispatch(&Event::without_data("c"), &())).await.is_unhandled());
}

#[tokio::test]
async fn handler_added_during_dispatch_runs_from_the_next_event() {
    let d = Dispatcher::<()>::new();
    let l = log();
    {
        let (l, weak) = (l.clone(), d.downgrade());
        d.once("x", move |_, _| {
            push(&l, "adder");
            let l = l.clone();
            weak.upgrade().unwrap().on("x", move |_, _| push(&l, "added"));
        });
    }
    within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await;
    assert_eq!(take(&l), ["adder"]);
    within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await;
    assert_eq!(take(&l), ["added"]);

    // A handler that registers itself again each time cannot loop.
    fn again(d: &Dispatcher<()>, l: &Log) {
        let (weak, l) = (d.downgrade(), l.clone());
        d.once("loop", move |_, _| {
            push(&l, "loop");
            again(&weak.upgrade().unwrap(), &l);
        });
    }
    again(&d, &l);
    within("a dispatch", d.dispatch(&Event::without_data("loop"), &())).await;
    within("a dispatch", d.dispatch(&Event::without_data("loop"), &())).await;
    assert_eq!(take(&l), ["loop", "loop"]);
}

/// Receives the next error from a lifecycle subscription.
async fn next_error<P: std::fmt::Debug>(
    errors: &mut ipc_events::Subscription<Lifecycle<P>>,
) -> (Option<P>, Arc<Error>) {
    match within("the next item of errors", errors.next()).await {
        Some(Lifecycle::Error { peer, error }) => (peer, error),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_decode_error_goes_to_the_error_channel_and_others_still_run() {
    let d = Dispatcher::<&'static str>::new();
    let mut errors = d.subscribe_lifecycle(8);
    let l = log();
    {
        let l = l.clone();
        d.on_typed("msg", move |m: Message, peer| push(&l, format!("typed {} {} {peer}", m.id, m.n)));
    }
    {
        let l = l.clone();
        d.on_typed_async("msg", move |m: Message, peer| {
            let l = l.clone();
            async move { push(&l, format!("typed async {} {peer}", m.n)) }
        });
    }
    {
        let l = l.clone();
        d.on("msg", move |_, peer| push(&l, format!("raw {peer}")));
    }

    let good = Event::new("msg", json!({"id": "a", "n": 1}));
    let outcome = within("a dispatch", d.dispatch(&good, &"p1")).await;
    assert_eq!((outcome.delivered(), outcome.failed()), (3, 0));
    assert_eq!(take(&l), ["typed a 1 p1", "typed async 1 p1", "raw p1"]);

    for bad in [json!({"id": "a", "n": "one"}), json!("text"), json!(null)] {
        let outcome = within("a dispatch", d.dispatch(&Event::new("msg", bad.clone()), &"p2")).await;
        assert_eq!((outcome.delivered(), outcome.failed()), (1, 2), "{bad}");
        assert_eq!(take(&l), ["raw p2"]);
        for _ in 0..2 {
            let (peer, error) = next_error(&mut errors).await;
            assert_eq!(peer, Some("p2"));
            match &*error {
                Error::Decode { event_type, source: CodecError::Data(serde) } => {
                    assert_eq!(event_type, "msg");
                    assert!(!serde.is_empty());
                }
                other => panic!("unexpected {other:?}"),
            }
            assert!(error.to_string().contains("\"msg\""), "{error}");
        }
    }
    // Missing data reads as null: fine for an Option.
    d.on_typed("maybe", |m: Option<Message>, _| assert_eq!(m, None));
    let outcome = within("a dispatch", d.dispatch(&Event::without_data("maybe"), &"p")).await;
    assert_eq!((outcome.delivered(), outcome.failed()), (1, 0));
    assert!(errors.try_recv().is_none());
}

#[tokio::test]
async fn once_typed_is_used_up_by_data_that_does_not_fit() {
    let d = Dispatcher::<()>::new();
    let mut errors = d.subscribe_lifecycle(4);
    let (c, runs) = counter();
    d.once_typed("n", move |_: u32, _| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(within("a dispatch", d.dispatch(&Event::new("n", json!("x")), &())).await.failed(), 1);
    next_error(&mut errors).await;
    assert!(within("a dispatch", d.dispatch(&Event::new("n", json!(1)), &())).await.is_unhandled());
    assert_eq!(count(&runs), 0);
}

#[tokio::test]
async fn wire_events_named_like_lifecycle_events_never_fire_lifecycle_handlers() {
    let d = Dispatcher::<u8>::new();
    let (c, lifecycle_runs) = counter();
    d.on_lifecycle(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let mut lifecycle = d.subscribe_lifecycle(64);
    let l = log();
    for name in RESERVED_EVENT_TYPES {
        let l = l.clone();
        d.on(name, move |event, peer| push(&l, format!("wire {} {peer}", event.event_type())));
    }
    // Spoofing attempts: every reserved name, with data shaped like what node-ipc passes.
    for name in RESERVED_EVENT_TYPES {
        let spoof = Event::new(name, json!({"id": "evil", "message": "fake", "code": "ECONNRESET"}));
        let outcome = within("a dispatch", d.dispatch(&spoof, &9)).await;
        assert_eq!(outcome.delivered(), 1, "{name} reaches its wire handler");
    }
    let expected: Vec<String> = RESERVED_EVENT_TYPES.iter().map(|n| format!("wire {n} 9")).collect();
    assert_eq!(take(&l), expected);
    assert_eq!(count(&lifecycle_runs), 0);
    assert!(lifecycle.try_recv().is_none());

    // The real lifecycle events reach lifecycle handlers only, not wire handlers or wildcards.
    {
        let l = l.clone();
        d.on(WILDCARD, move |event, _| push(&l, format!("wildcard {}", event.event_type())));
    }
    let delivered = within("a lifecycle emit", d.emit_lifecycle(Lifecycle::Connect(3))).await;
    assert_eq!(delivered, 2);
    within(
        "a lifecycle emit",
        d.emit_lifecycle(Lifecycle::SocketDisconnected { peer: 3, id: Some("c1".into()) }),
    )
    .await;
    assert_eq!(count(&lifecycle_runs), 2);
    assert!(matches!(
        within("the next item of lifecycle", lifecycle.next()).await,
        Some(Lifecycle::Connect(3))
    ));
    match within("the next item of lifecycle", lifecycle.next()).await {
        Some(Lifecycle::SocketDisconnected { peer: 3, id: Some(id) }) => assert_eq!(id, "c1"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(take(&l).is_empty());
}

#[tokio::test]
async fn subscription_backpressure_makes_dispatch_wait_and_loses_nothing() {
    let d = Dispatcher::<u8>::new();
    let mut sub = d.subscribe("tick", 2);
    let l = log();
    {
        let l = l.clone();
        d.on("tick", move |event, _| push(&l, event.data().unwrap().to_string()));
    }
    let events: Vec<Event> = (0..3).map(|n| Event::new("tick", json!(n))).collect();
    assert!(d.dispatch(&events[0], &1).now_or_never().is_some());
    assert!(d.dispatch(&events[1], &1).now_or_never().is_some());
    assert_eq!(sub.len(), 2);

    let mut third = pin!(d.dispatch(&events[2], &1));
    assert!((&mut third).now_or_never().is_none(), "a full subscription makes dispatch wait");
    assert!((&mut third).now_or_never().is_none(), "and it keeps waiting");
    assert_eq!(take(&l), ["0", "1"], "handlers after the subscription wait as well: order is kept");

    let (first, peer) = within("the next item of sub", sub.next()).await.unwrap();
    assert_eq!((first.data().unwrap(), peer), (json!(0), 1));
    assert_eq!(within("third", third).await.delivered(), 2);
    assert_eq!(take(&l), ["2"]);
    let rest: Vec<_> = [
        within("the next item of sub", sub.next()).await.unwrap(),
        within("the next item of sub", sub.next()).await.unwrap(),
    ]
    .into_iter()
    .map(|(event, _)| event.data().unwrap())
    .collect();
    assert_eq!(rest, [json!(1), json!(2)]);
}

#[tokio::test]
async fn backpressure_holds_a_reader_until_a_slow_consumer_catches_up() {
    let d = Dispatcher::<u8>::new();
    let mut sub = d.subscribe_typed::<u32>("n", 4);
    let reader = {
        let d = d.clone();
        tokio::spawn(async move {
            for n in 0..1000u32 {
                d.dispatch(&Event::new("n", json!(n)), &0).await;
            }
        })
    };
    for expected in 0..1000u32 {
        let (n, _) = within("the next item of sub", sub.next()).await.unwrap();
        assert_eq!(n, expected);
        assert!(sub.len() <= 4);
        if expected % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    within("reader", reader).await.unwrap();
    assert!(sub.try_recv().is_none());
}

#[tokio::test]
async fn subscription_reject_reports_every_overflow() {
    let d = Dispatcher::<u8>::new();
    let mut errors = d.subscribe_lifecycle(8);
    let mut sub = d.subscribe_with("tick", 1, Overflow::Reject);
    let mut typed = d.subscribe_typed_with::<u32>("tick", 1, Overflow::Reject);
    let (c, other_runs) = counter();
    d.on("tick", move |_, _| {
        c.fetch_add(1, Ordering::SeqCst);
    });

    let first = d.dispatch(&Event::new("tick", json!(1)), &5).now_or_never().unwrap();
    assert_eq!((first.delivered(), first.failed()), (3, 0));
    let second = d.dispatch(&Event::new("tick", json!(2)), &5).now_or_never().expect("reject never waits");
    assert_eq!((second.delivered(), second.failed()), (1, 2));
    assert_eq!(count(&other_runs), 2, "other handlers get every event");
    for capacity in [1, 1] {
        let (peer, error) = next_error(&mut errors).await;
        assert_eq!(peer, Some(5));
        match &*error {
            Error::SubscriptionFull { event_type, capacity: c } => {
                assert_eq!((event_type.as_str(), *c), ("tick", capacity));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(within("the next item of sub", sub.next()).await.unwrap().0.data().unwrap(), json!(1));
    assert_eq!(within("the next item of typed", typed.next()).await.unwrap().0, 1);
    let third = d.dispatch(&Event::new("tick", json!(3)), &5).now_or_never().unwrap();
    assert_eq!((third.delivered(), third.failed()), (3, 0));
    assert_eq!(within("the next item of sub", sub.next()).await.unwrap().0.data().unwrap(), json!(3));
    assert_eq!(within("the next item of typed", typed.next()).await.unwrap().0, 3);
}

#[tokio::test]
async fn typed_subscription_reports_data_that_does_not_fit() {
    let d = Dispatcher::<u8>::new();
    let mut errors = d.subscribe_lifecycle(8);
    let mut sub = d.subscribe_typed::<Message>("msg", 8);
    let outcome = within("a dispatch", d.dispatch(&Event::new("msg", json!({"id": "a"})), &1)).await;
    assert_eq!(outcome.failed(), 1);
    let (peer, error) = next_error(&mut errors).await;
    assert_eq!(peer, Some(1));
    assert!(matches!(&*error, Error::Decode { event_type, .. } if event_type == "msg"));
    within("a dispatch", d.dispatch(&Event::new("msg", json!({"id": "b", "n": 2})), &1)).await;
    assert_eq!(
        within("the next item of sub", sub.next()).await.unwrap(),
        (Message { id: "b".into(), n: 2 }, 1)
    );
}

#[tokio::test]
async fn dropping_a_subscription_unregisters_it_and_off_ends_its_stream() {
    let d = Dispatcher::<()>::new();
    let sub = d.subscribe("x", 1);
    let typed = d.subscribe_typed::<u8>("x", 1);
    let lifecycle = d.subscribe_lifecycle(1);
    assert_eq!(d.handler_count("x"), 2);
    drop(sub);
    drop(typed);
    assert_eq!(d.handler_count("x"), 0);
    drop(lifecycle);
    assert_eq!(within("a lifecycle emit", d.emit_lifecycle(Lifecycle::Start)).await, 0);
    // Once dropped, a full subscription cannot block dispatch.
    assert!(within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await.is_unhandled());

    let mut sub = d.subscribe(WILDCARD, 4);
    within("a dispatch", d.dispatch(&Event::without_data("y"), &())).await;
    assert!(d.off(sub.id()));
    assert_eq!(
        within("the next item of sub", sub.next()).await.unwrap().0.event_type(),
        "y",
        "buffered items are kept"
    );
    assert!(within("the next item of sub", sub.next()).await.is_none(), "then the stream ends");

    let mut sub = d.subscribe("z", 4);
    d.clear();
    assert!(within("the next item of sub", sub.next()).await.is_none());

    let mut sub = d.subscribe("z", 4);
    drop(d);
    assert!(
        within("the next item of sub", sub.next()).await.is_none(),
        "the stream ends with the dispatcher"
    );
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_is_refused() {
    let _ = Dispatcher::<()>::new().subscribe("x", 0);
}

#[tokio::test]
async fn lifecycle_errors_carry_the_peer_and_the_cause() {
    let d = Dispatcher::<u8>::new();
    let mut events = d.subscribe_lifecycle(4);
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
    within("a lifecycle emit", d.emit_lifecycle(Lifecycle::error(Some(2), io))).await;
    let (peer, error) = next_error(&mut events).await;
    assert_eq!(peer, Some(2));
    assert!(matches!(&*error, Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset));
    let frame = CodecError::EmptyFrame;
    within("a lifecycle emit", d.emit_lifecycle(Lifecycle::error(None, frame))).await;
    let (peer, error) = next_error(&mut events).await;
    assert_eq!(peer, None);
    assert!(matches!(&*error, Error::Codec(CodecError::EmptyFrame)));
    let as_io: std::io::Error = Error::SubscriptionFull { event_type: "x".into(), capacity: 1 }.into();
    assert_eq!(as_io.kind(), std::io::ErrorKind::WouldBlock);
}

#[tokio::test]
async fn a_handler_can_answer_its_peer() {
    // The peer handle chosen by the layer above: here the connection's outbox.
    let d = Dispatcher::<tokio::sync::mpsc::Sender<Event>>::new();
    d.on_typed("ping", |n: u32, peer| {
        peer.try_send(Event::new("pong", json!(n + 1))).unwrap();
    });
    let (tx_a, mut rx_a) = tokio::sync::mpsc::channel(4);
    let (tx_b, mut rx_b) = tokio::sync::mpsc::channel(4);
    within("a dispatch", d.dispatch(&Event::new("ping", json!(1)), &tx_a)).await;
    within("a dispatch", d.dispatch(&Event::new("ping", json!(10)), &tx_b)).await;
    assert_eq!(within("the next message on rx_a", rx_a.recv()).await.unwrap(), Event::new("pong", json!(2)));
    assert_eq!(within("the next message on rx_b", rx_b.recv()).await.unwrap(), Event::new("pong", json!(11)));
    assert!(rx_a.try_recv().is_err());
}

#[tokio::test]
async fn weak_dispatcher_does_not_keep_it_alive() {
    let d = Dispatcher::<()>::new();
    let weak = d.downgrade();
    let (tx, rx) = oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let held = weak.clone();
    d.on("x", move |_, _| {
        let _ = held.upgrade();
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
    });
    within("a dispatch", d.dispatch(&Event::without_data("x"), &())).await;
    within("rx", rx).await.unwrap();
    drop(d);
    assert!(weak.upgrade().is_none());
}

#[tokio::test]
async fn dropping_a_dispatch_skips_the_handlers_that_have_not_run() {
    let d = Dispatcher::<()>::new();
    let l = log();
    let (_never, never) = oneshot::channel::<()>();
    let never = Arc::new(Mutex::new(Some(never)));
    {
        let l = l.clone();
        d.on_async("x", move |_, _| {
            let (l, never) = (l.clone(), never.lock().unwrap().take());
            async move {
                push(&l, "async start");
                if let Some(never) = never {
                    let _ = never.await; // the first call waits forever
                }
                push(&l, "async end");
            }
        });
    }
    {
        let l = l.clone();
        d.on("x", move |_, _| push(&l, "sync"));
    }
    let event = Event::without_data("x");
    {
        let mut dispatch = pin!(d.dispatch(&event, &()));
        assert!((&mut dispatch).now_or_never().is_none());
    } // dropped while the async handler waits
    assert_eq!(take(&l), ["async start"]);
    let outcome = within("a dispatch", d.dispatch(&event, &())).await;
    assert_eq!(outcome.delivered(), 2);
    assert_eq!(take(&l), ["async start", "async end", "sync"]);
}
