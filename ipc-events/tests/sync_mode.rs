//! node-ipc's sync mode built from `SyncGate` and a dispatcher: one outgoing
//! message in flight, the next released by any event from the peer.

use std::pin::pin;

use futures::FutureExt;
use interop::within;
use ipc_codec::Event;
use ipc_events::{Dispatcher, SyncGate, WILDCARD};
use serde_json::json;
use tokio::sync::mpsc;

/// Lets every other ready task of this current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sync_mode_releases_the_next_message_on_any_arrival() {
    let gate = SyncGate::new();
    // The application's emits, and what reaches the socket.
    let (emit, mut outgoing) = mpsc::unbounded_channel::<u32>();
    let (wire, mut socket) = mpsc::unbounded_channel::<u32>();
    let writer = {
        let gate = gate.clone();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                gate.ready().await;
                if wire.send(message).is_err() {
                    break;
                }
            }
        })
    };
    // The reader releases the gate for every event from the peer, whatever its type.
    let dispatcher = Dispatcher::<()>::new();
    {
        let gate = gate.clone();
        dispatcher.on(WILDCARD, move |_, _| gate.release());
    }

    for n in 1..=3 {
        emit.send(n).unwrap();
    }
    assert_eq!(
        within("the next message on socket", socket.recv()).await,
        Some(1),
        "the first message goes at once"
    );
    settle().await;
    assert!(socket.try_recv().is_err(), "the second waits for the peer");

    within("a dispatch", dispatcher.dispatch(&Event::new("anything", json!({})), &())).await;
    assert_eq!(within("the next message on socket", socket.recv()).await, Some(2));
    settle().await;
    assert!(socket.try_recv().is_err());

    // Two arrivals: the first releases 3, the second leaves the queue idle...
    within("a dispatch", dispatcher.dispatch(&Event::without_data("a"), &())).await;
    within("a dispatch", dispatcher.dispatch(&Event::without_data("b"), &())).await;
    assert_eq!(within("the next message on socket", socket.recv()).await, Some(3));
    // ...so the next message goes at once, and only that one: releases do not add up.
    emit.send(4).unwrap();
    emit.send(5).unwrap();
    assert_eq!(within("the next message on socket", socket.recv()).await, Some(4));
    settle().await;
    assert!(socket.try_recv().is_err());
    within("a dispatch", dispatcher.dispatch(&Event::without_data("c"), &())).await;
    assert_eq!(within("the next message on socket", socket.recv()).await, Some(5));

    drop(emit);
    within("writer", writer).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_ready_takes_no_permit() {
    let gate = SyncGate::new();
    within("gate.ready()", gate.ready()).await;
    {
        let mut waiting = pin!(gate.ready());
        assert!((&mut waiting).now_or_never().is_none());
        gate.release(); // assigned to the waiting future...
    } // ...which is dropped before it completes
    assert!(gate.ready().now_or_never().is_some(), "the permit went to the next ready");
    assert!(gate.ready().now_or_never().is_none());
}
