//! The [`Dispatcher`] handle (and [`WeakDispatcher`]): what a dispatcher is
//! and promises, creating one, plain and async handlers, lifecycle handlers,
//! and removing registrations.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};

use ipc_codec::Event;

use super::table::{AsyncFn, BoxFuture, HandlerId, LifecycleCall, Shared, SyncFn, WireCall, WILDCARD};
use crate::Lifecycle;

/// Routes events to handlers by event type, with node-ipc's semantics.
///
/// `P` is the peer handle the layer above chooses (an id, a socket handle
/// with an `emit` method, `()` when there is only one peer): every handler
/// gets the peer the event came from, so a server can answer that socket.
/// The dispatcher is a cheap handle (an `Arc`): clone it into tasks and
/// handlers (or [`downgrade`](Dispatcher::downgrade) it, so that a handler
/// that holds its own dispatcher does not keep it alive).
///
/// # Wire events
///
/// The connection's reader calls [`dispatch`](Dispatcher::dispatch) for each
/// decoded [`Event`] and awaits it before the next one. Handlers run in this
/// order: [wildcard](WILDCARD) handlers, then the handlers of the event's type,
/// each list in registration order. Sync handlers, async handlers and
/// subscriptions share that order.
///
/// | registers | handler gets | |
/// |---|---|---|
/// | [`on`](Dispatcher::on), [`once`](Dispatcher::once) | `(&Event, &P)` | no decoding, no allocation |
/// | [`on_typed`](Dispatcher::on_typed), [`once_typed`](Dispatcher::once_typed) | `(T, &P)` | `T` read straight from the frame's JSON bytes |
/// | [`on_async`](Dispatcher::on_async), [`once_async`](Dispatcher::once_async) | `(Event, P)`, returns a future | |
/// | [`on_typed_async`](Dispatcher::on_typed_async), [`once_typed_async`](Dispatcher::once_typed_async) | `(T, P)`, returns a future | |
/// | [`subscribe`](Dispatcher::subscribe), [`subscribe_typed`](Dispatcher::subscribe_typed) | a bounded [`Stream`](futures_core::Stream) of `(Event, P)` or `(T, P)` | see [`Overflow`](crate::Overflow) |
///
/// Data that does not deserialize into a typed handler's `T` never panics: an
/// [`Error::Decode`](crate::Error::Decode) with the event type and the serde
/// error goes to the error channel ([`Lifecycle::Error`], with the peer), and
/// the other handlers run.
///
/// # Ordering and async handlers
///
/// Events of one connection reach handlers in arrival order, as long as its
/// reader awaits each `dispatch` before it starts the next (the natural reader
/// loop). Async handlers are awaited in place: the next handler, and the next
/// event of that connection, wait until the future completes, so async handlers
/// of one connection never overlap. Connections do not wait for each other: each
/// reader task runs its own `dispatch` concurrently. To let the work of one
/// connection overlap, spawn it from a handler (`tokio::spawn` inside a sync
/// handler, with the `Event` and `P` cloned): dispatch then goes on at once,
/// and ordering of that work is up to the spawned tasks.
///
/// # Changes during a dispatch
///
/// A dispatch works on the handler lists as they were when it started (one
/// `Arc` snapshot), with one exception, removals:
///
/// - a handler registered during a dispatch runs from the next event on (unlike
///   event-pubsub's live arrays; a handler that registers itself cannot loop);
/// - a handler removed during a dispatch ([`off`](Dispatcher::off),
///   [`off_all`](Dispatcher::off_all), [`clear`](Dispatcher::clear)) does not
///   run afterwards, not even later in that same dispatch (event-pubsub 6 does
///   the same for `off(type, handler)`);
/// - a `once` handler is removed *before* it runs, atomically: a re-entrant or
///   concurrent dispatch of the same event (from another connection, or from
///   inside a handler) cannot run it a second time.
///
/// A handler that panics unwinds through `dispatch` (as a throwing handler
/// does in event-pubsub); no lock is held while handlers run.
///
/// # Lifecycle events
///
/// [`Lifecycle`] events travel apart: [`on_lifecycle`](Dispatcher::on_lifecycle)
/// and [`subscribe_lifecycle`](Dispatcher::subscribe_lifecycle) get what local
/// code raises with [`emit_lifecycle`](Dispatcher::emit_lifecycle), never a wire
/// event, whatever its type. A frame of type `connect` reaches the wire handlers
/// registered with `on("connect", ..)` (if the codec's profile let it through)
/// and nothing else.
///
/// # Examples
///
/// ```
/// use ipc_codec::Event;
/// use ipc_events::Dispatcher;
/// use serde_json::json;
///
/// #[derive(serde::Deserialize)]
/// struct Message {
///     id: String,
///     message: String,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // The peer type here is a connection number.
/// let dispatcher = Dispatcher::<u64>::new();
/// dispatcher.on("*", |event, peer| println!("{peer}: {}", event.event_type()));
/// dispatcher.on_typed("app.message", |msg: Message, peer| {
///     println!("{} says {} on socket {peer}", msg.id, msg.message);
/// });
///
/// let event = Event::new("app.message", json!({"id": "client", "message": "hello"}));
/// let outcome = dispatcher.dispatch(&event, &1).await;
/// assert_eq!(outcome.delivered(), 2);
/// # }
/// ```
pub struct Dispatcher<P = ()> {
    pub(super) shared: Arc<Shared<P>>,
}

impl<P> Clone for Dispatcher<P> {
    fn clone(&self) -> Dispatcher<P> {
        Dispatcher { shared: Arc::clone(&self.shared) }
    }
}

impl<P: Clone + Send + Sync + 'static> Default for Dispatcher<P> {
    fn default() -> Dispatcher<P> {
        Dispatcher::new()
    }
}

impl<P> fmt::Debug for Dispatcher<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.read();
        f.debug_struct("Dispatcher")
            .field("event_types", &state.table.typed.len())
            .field("wildcard", &state.table.wildcard.len())
            .field("lifecycle", &state.table.lifecycle.len())
            .field("registrations", &state.slots.len())
            .finish()
    }
}

/// A handle to a [`Dispatcher`] that does not keep it alive, for handlers that
/// register or dispatch on their own dispatcher.
pub struct WeakDispatcher<P = ()> {
    shared: Weak<Shared<P>>,
}

impl<P> WeakDispatcher<P> {
    /// The dispatcher, if it is still alive.
    pub fn upgrade(&self) -> Option<Dispatcher<P>> {
        self.shared.upgrade().map(|shared| Dispatcher { shared })
    }
}

impl<P> Clone for WeakDispatcher<P> {
    fn clone(&self) -> WeakDispatcher<P> {
        WeakDispatcher { shared: Weak::clone(&self.shared) }
    }
}

impl<P> fmt::Debug for WeakDispatcher<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakDispatcher").field("alive", &(self.shared.strong_count() > 0)).finish()
    }
}

impl<P: Clone + Send + Sync + 'static> Dispatcher<P> {
    /// A dispatcher without handlers.
    pub fn new() -> Dispatcher<P> {
        Dispatcher { shared: Arc::new(Shared::new()) }
    }

    /// A handle that does not keep the dispatcher alive.
    pub fn downgrade(&self) -> WeakDispatcher<P> {
        WeakDispatcher { shared: Arc::downgrade(&self.shared) }
    }

    /// Runs `handler` for every event of type `event_type` (`"*"`: every event,
    /// before typed handlers) with the event and its peer.
    ///
    /// The handler runs inside [`dispatch`](Dispatcher::dispatch), on the
    /// connection's reader task: keep it short, or spawn.
    ///
    /// # Examples
    ///
    /// ```
    /// use ipc_codec::Event;
    /// use ipc_events::Dispatcher;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::<()>::new();
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&seen);
    /// let id = dispatcher.on("ping", move |event, _peer| {
    ///     assert_eq!(event.event_type(), "ping");
    ///     counter.fetch_add(1, Ordering::Relaxed);
    /// });
    /// dispatcher.dispatch(&Event::without_data("ping"), &()).await;
    /// assert!(dispatcher.off(id));
    /// dispatcher.dispatch(&Event::without_data("ping"), &()).await;
    /// assert_eq!(seen.load(Ordering::Relaxed), 1);
    /// # }
    /// ```
    pub fn on<F>(&self, event_type: &str, handler: F) -> HandlerId
    where
        F: Fn(&Event, &P) + Send + Sync + 'static,
    {
        self.register_sync(event_type, false, handler)
    }

    /// Like [`on`](Dispatcher::on), for the next matching event only: the
    /// handler is removed before it runs.
    pub fn once<F>(&self, event_type: &str, handler: F) -> HandlerId
    where
        F: Fn(&Event, &P) + Send + Sync + 'static,
    {
        self.register_sync(event_type, true, handler)
    }

    fn register_sync<F>(&self, event_type: &str, once: bool, handler: F) -> HandlerId
    where
        F: Fn(&Event, &P) + Send + Sync + 'static,
    {
        let call: Box<SyncFn<P>> = Box::new(move |event, peer| {
            handler(event, peer);
            Ok(())
        });
        self.shared.insert_wire(event_type, once, WireCall::Sync(call))
    }

    /// Runs the async `handler` for every event of type `event_type`; dispatch
    /// awaits the future it returns before the next handler and the next event
    /// of that connection (see [Ordering](Dispatcher#ordering-and-async-handlers)).
    ///
    /// The handler gets its own clones of the event (a reference count, no
    /// copy of the data) and of the peer. Each call boxes its future.
    ///
    /// # Examples
    ///
    /// ```
    /// use ipc_codec::Event;
    /// use ipc_events::Dispatcher;
    /// use tokio::sync::mpsc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (replies, mut outbox) = mpsc::channel(8);
    /// let dispatcher = Dispatcher::<mpsc::Sender<Event>>::new();
    /// // The peer is the connection's outgoing queue: answer the socket that asked.
    /// dispatcher.on_async("ping", |_event, peer| async move {
    ///     peer.send(Event::without_data("pong")).await.ok();
    /// });
    /// dispatcher.dispatch(&Event::without_data("ping"), &replies).await;
    /// assert_eq!(outbox.recv().await.unwrap().event_type(), "pong");
    /// # }
    /// ```
    pub fn on_async<F, Fut>(&self, event_type: &str, handler: F) -> HandlerId
    where
        F: Fn(Event, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.register_async(event_type, false, handler)
    }

    /// Like [`on_async`](Dispatcher::on_async), for the next matching event only.
    pub fn once_async<F, Fut>(&self, event_type: &str, handler: F) -> HandlerId
    where
        F: Fn(Event, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.register_async(event_type, true, handler)
    }

    fn register_async<F, Fut>(&self, event_type: &str, once: bool, handler: F) -> HandlerId
    where
        F: Fn(Event, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let call: Box<AsyncFn<P>> =
            Box::new(move |event, peer| Ok(Box::pin(handler(event.clone(), peer.clone())) as BoxFuture));
        self.shared.insert_wire(event_type, once, WireCall::Async(call))
    }

    /// Runs `handler` for every [`Lifecycle`] event raised with
    /// [`emit_lifecycle`](Dispatcher::emit_lifecycle) (never for wire events),
    /// in registration order.
    pub fn on_lifecycle<F>(&self, handler: F) -> HandlerId
    where
        F: Fn(&Lifecycle<P>) + Send + Sync + 'static,
    {
        self.shared.insert_lifecycle(LifecycleCall::Sync(Box::new(handler)))
    }

    /// Removes one registration (handler or subscription). Returns whether it
    /// was still registered. A dispatch under way does not run it any more.
    pub fn off(&self, id: HandlerId) -> bool {
        self.shared.remove(id)
    }

    /// Removes every handler and subscription of `event_type` (`"*"`: the
    /// wildcard ones), as node-ipc's `off(type, '*')`. Returns how many were removed.
    pub fn off_all(&self, event_type: &str) -> usize {
        self.shared.remove_type(event_type)
    }

    /// Removes every registration, wire and lifecycle (event-pubsub's `reset`).
    pub fn clear(&self) {
        self.shared.clear();
    }

    /// How many handlers and subscriptions `event_type` has (`"*"`: wildcard ones).
    pub fn handler_count(&self, event_type: &str) -> usize {
        let table = self.shared.snapshot();
        if event_type == WILDCARD {
            table.wildcard.len()
        } else {
            table.typed.get(event_type).map_or(0, |list| list.len())
        }
    }
}
