//! Dispatch itself: the [`Dispatch`] future that walks the handler lists for
//! one wire event, and [`emit_lifecycle`](Dispatcher::emit_lifecycle) for the
//! local ones.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use ipc_codec::Event;
use tokio::sync::mpsc;

use super::handle::Dispatcher;
use super::table::{BoxFuture, LifecycleCall, Table, WireCall};
use crate::{Error, Lifecycle, Overflow};

/// What one [`Dispatcher::dispatch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispatched {
    delivered: usize,
    failed: usize,
}

impl Dispatched {
    /// How many handlers and subscriptions got the event.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// How many could not take it (data that did not deserialize, a full
    /// subscription with [`Overflow::Reject`]); each went to the error channel.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Whether no handler or subscription was registered for the event.
    pub fn is_unhandled(&self) -> bool {
        self.delivered == 0 && self.failed == 0
    }
}

impl<P: Clone + Send + Sync + 'static> Dispatcher<P> {
    /// Delivers a wire event from `peer` to the wildcard handlers, then to the
    /// handlers of its type; the future tells what happened.
    ///
    /// Await it before dispatching the next event of the same connection. It
    /// completes at once unless an async handler or a full subscription makes
    /// it wait. With only sync handlers, it allocates nothing.
    ///
    /// Failures of single handlers (data that does not fit a typed handler, a
    /// full subscription with [`Overflow::Reject`]) go to the error channel as
    /// [`Lifecycle::Error`]; they are counted in [`Dispatched::failed`].
    ///
    /// The handler lists are read when the future is first polled. Dropping
    /// the future before it completes skips the handlers that have not run yet
    /// (and drops the future of an async handler that is running).
    pub fn dispatch<'a>(&'a self, event: &'a Event, peer: &'a P) -> Dispatch<'a, P> {
        Dispatch {
            dispatcher: self,
            event,
            peer,
            table: None,
            stage: Stage::Wildcard,
            next: 0,
            outcome: Dispatched::default(),
            pending: None,
        }
    }

    /// Raises a local [`Lifecycle`] event: runs the lifecycle handlers and
    /// feeds the lifecycle subscriptions, in registration order, waiting for
    /// subscriptions that are full. Returns how many got it.
    ///
    /// This is the only way a lifecycle handler runs.
    pub async fn emit_lifecycle(&self, event: Lifecycle<P>) -> usize {
        let table = self.shared.snapshot();
        let mut delivered = 0;
        for entry in table.lifecycle.iter() {
            if !entry.claim() {
                continue;
            }
            match &entry.call {
                LifecycleCall::Sync(call) => {
                    call(&event);
                    delivered += 1;
                }
                LifecycleCall::Channel(tx) => {
                    let sent = match tx.try_send(event.clone()) {
                        Ok(()) => true,
                        Err(mpsc::error::TrySendError::Closed(_)) => false,
                        Err(mpsc::error::TrySendError::Full(item)) => Box::pin(tx.send(item)).await.is_ok(),
                    };
                    delivered += usize::from(sent);
                }
            }
        }
        delivered
    }
}

/// Which list a dispatch is walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Wildcard,
    Typed,
}

/// What a dispatch waits for. Every variant is boxed: the hot path (sync
/// handlers, subscriptions with room) never builds one, and the dispatch
/// future stays a few words long.
enum Pending {
    /// An async handler's future.
    Handler(BoxFuture),
    /// A full subscription with backpressure: true once sent, false when the
    /// subscription is gone.
    Send(Pin<Box<dyn Future<Output = bool> + Send + 'static>>),
    /// A failure on its way to the error channel.
    Report(BoxFuture),
}

/// The future of [`Dispatcher::dispatch`].
#[must_use = "futures do nothing unless polled"]
pub struct Dispatch<'a, P> {
    dispatcher: &'a Dispatcher<P>,
    event: &'a Event,
    peer: &'a P,
    table: Option<Arc<Table<P>>>,
    stage: Stage,
    next: usize,
    outcome: Dispatched,
    pending: Option<Pending>,
}

impl<P> fmt::Debug for Dispatch<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("event_type", &self.event.event_type())
            .field("outcome", &self.outcome)
            .field("waiting", &self.pending.is_some())
            .finish()
    }
}

impl<P: Clone + Send + Sync + 'static> Dispatch<'_, P> {
    /// Sends `error` to the error channel before the next handler runs.
    fn report(&mut self, error: Error) {
        self.outcome.failed += 1;
        let dispatcher = self.dispatcher.clone();
        let event = Lifecycle::error(Some(self.peer.clone()), error);
        self.pending = Some(Pending::Report(Box::pin(async move {
            dispatcher.emit_lifecycle(event).await;
        })));
    }
}

impl<P: Clone + Send + Sync + 'static> Future for Dispatch<'_, P> {
    type Output = Dispatched;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Dispatched> {
        let this = self.get_mut();
        loop {
            if let Some(pending) = this.pending.as_mut() {
                match pending {
                    Pending::Handler(future) => {
                        ready!(future.as_mut().poll(cx));
                        this.outcome.delivered += 1;
                    }
                    Pending::Send(future) => {
                        if ready!(future.as_mut().poll(cx)) {
                            this.outcome.delivered += 1;
                        }
                    }
                    Pending::Report(future) => ready!(future.as_mut().poll(cx)),
                }
                this.pending = None;
            }
            let table = this.table.get_or_insert_with(|| this.dispatcher.shared.snapshot());
            let list = match this.stage {
                Stage::Wildcard => &table.wildcard,
                Stage::Typed => match table.typed.get(this.event.event_type()) {
                    Some(list) => list,
                    None => return Poll::Ready(this.outcome),
                },
            };
            let Some(entry) = list.get(this.next) else {
                match this.stage {
                    Stage::Wildcard => {
                        this.stage = Stage::Typed;
                        this.next = 0;
                        continue;
                    }
                    Stage::Typed => return Poll::Ready(this.outcome),
                }
            };
            this.next += 1;
            if !entry.claim() {
                continue;
            }
            if entry.once {
                this.dispatcher.shared.remove(entry.id);
            }
            let (event, peer) = (this.event, this.peer);
            match &entry.call {
                WireCall::Sync(call) => match call(event, peer) {
                    Ok(()) => this.outcome.delivered += 1,
                    Err(error) => this.report(error),
                },
                WireCall::Async(call) => match call(event, peer) {
                    Ok(future) => this.pending = Some(Pending::Handler(future)),
                    Err(error) => this.report(error),
                },
                WireCall::Channel { tx, overflow, capacity } => {
                    match tx.try_send((event.clone(), peer.clone())) {
                        Ok(()) => this.outcome.delivered += 1,
                        Err(mpsc::error::TrySendError::Closed(_)) => {}
                        Err(mpsc::error::TrySendError::Full(item)) => match overflow {
                            Overflow::Backpressure => {
                                let tx = tx.clone();
                                this.pending =
                                    Some(Pending::Send(Box::pin(async move { tx.send(item).await.is_ok() })));
                            }
                            Overflow::Reject => {
                                let capacity = *capacity;
                                this.report(Error::SubscriptionFull {
                                    event_type: event.event_type().to_owned(),
                                    capacity,
                                });
                            }
                        },
                    }
                }
            }
        }
    }
}
