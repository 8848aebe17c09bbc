//! [`Dispatcher`]: handlers by event type, wildcard, once/off, typed handlers,
//! subscriptions, and the lifecycle channel.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::task::{ready, Context, Poll};

use ipc_codec::Event;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::subscription::Unregister;
use crate::{Error, Lifecycle, Overflow, Subscription};

/// The event type that registers a wildcard handler: it runs for every wire
/// event, before the handlers of the event's own type (as in event-pubsub 6,
/// which node-ipc 14 uses).
pub const WILDCARD: &str = "*";

/// Identifies one registration (handler or subscription), for [`Dispatcher::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerId(u64);

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

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type SyncFn<P> = dyn Fn(&Event, &P) -> Result<(), Error> + Send + Sync;
type AsyncFn<P> = dyn Fn(&Event, &P) -> Result<BoxFuture, Error> + Send + Sync;
type LifecycleFn<P> = dyn Fn(&Lifecycle<P>) + Send + Sync;

/// A wire registration, type-erased.
enum WireCall<P> {
    /// Runs to completion inside dispatch.
    Sync(Box<SyncFn<P>>),
    /// Returns a future that dispatch awaits before it goes on.
    Async(Box<AsyncFn<P>>),
    /// An untyped subscription: no boxing per event.
    Channel { tx: mpsc::Sender<(Event, P)>, overflow: Overflow, capacity: usize },
}

/// A lifecycle registration, type-erased.
enum LifecycleCall<P> {
    Sync(Box<LifecycleFn<P>>),
    Channel(mpsc::Sender<Lifecycle<P>>),
}

/// One registration. `live` turns false when it is removed, or when a `once`
/// registration is claimed, so a dispatch that still holds an older snapshot
/// of the list skips it.
struct Entry<C> {
    id: HandlerId,
    once: bool,
    live: AtomicBool,
    call: C,
}

impl<C> Entry<C> {
    /// Takes the right to run for one event: false when removed, or when a
    /// `once` entry was already claimed (by this or a re-entrant dispatch).
    fn claim(&self) -> bool {
        if self.once {
            self.live.swap(false, Ordering::AcqRel)
        } else {
            self.live.load(Ordering::Acquire)
        }
    }
}

type List<C> = Arc<[Arc<Entry<C>>]>;

fn empty<C>() -> List<C> {
    Arc::from(Vec::new())
}

fn with<C>(list: &List<C>, entry: Arc<Entry<C>>) -> List<C> {
    list.iter().cloned().chain(std::iter::once(entry)).collect()
}

/// `list` without `id`, marking the removed entry dead; `None` when `id` is not in it.
fn without<C>(list: &List<C>, id: HandlerId) -> Option<List<C>> {
    let entry = list.iter().find(|e| e.id == id)?;
    entry.live.store(false, Ordering::Release);
    Some(list.iter().filter(|e| e.id != id).cloned().collect())
}

fn kill_all<C>(list: &List<C>) {
    for entry in list.iter() {
        entry.live.store(false, Ordering::Release);
    }
}

/// The handler lists, replaced (copy on write) whenever a registration
/// changes; dispatch takes an `Arc` of it, so the hot path neither allocates
/// nor holds a lock while handlers run.
struct Table<P> {
    /// Keyed with foldhash rather than SipHash (a third of a dispatch's cost
    /// with SipHash): only local code inserts keys, so a peer's event types
    /// can only be looked up, and a lookup's probe length is bounded by the
    /// table we built, whatever the hash of the peer's string.
    typed: HashMap<Arc<str>, List<WireCall<P>>, foldhash::fast::RandomState>,
    wildcard: List<WireCall<P>>,
    lifecycle: List<LifecycleCall<P>>,
}

impl<P> Clone for Table<P> {
    fn clone(&self) -> Table<P> {
        Table {
            typed: self.typed.clone(),
            wildcard: self.wildcard.clone(),
            lifecycle: self.lifecycle.clone(),
        }
    }
}

/// Where a registration lives.
#[derive(Clone)]
enum Slot {
    Wildcard,
    Typed(Arc<str>),
    Lifecycle,
}

struct State<P> {
    table: Arc<Table<P>>,
    slots: HashMap<HandlerId, Slot>,
}

struct Shared<P> {
    state: RwLock<State<P>>,
    next_id: AtomicU64,
}

impl<P> Shared<P> {
    // Handlers never run while the lock is held, so a poisoned lock can only
    // come from a panic inside this module's own bookkeeping, which leaves the
    // state consistent (every change is one assignment).
    fn read(&self) -> RwLockReadGuard<'_, State<P>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<P>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> Arc<Table<P>> {
        Arc::clone(&self.read().table)
    }

    fn next_id(&self) -> HandlerId {
        HandlerId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn insert_wire(&self, event_type: &str, once: bool, call: WireCall<P>) -> HandlerId {
        let id = self.next_id();
        let entry = Arc::new(Entry { id, once, live: AtomicBool::new(true), call });
        let mut state = self.write();
        let table = Arc::make_mut(&mut state.table);
        let slot = if event_type == WILDCARD {
            table.wildcard = with(&table.wildcard, entry);
            Slot::Wildcard
        } else if let Some((key, list)) = table.typed.get_key_value(event_type) {
            let (key, list) = (Arc::clone(key), with(list, entry));
            table.typed.insert(Arc::clone(&key), list);
            Slot::Typed(key)
        } else {
            let key: Arc<str> = Arc::from(event_type);
            table.typed.insert(Arc::clone(&key), Arc::from([entry]));
            Slot::Typed(key)
        };
        state.slots.insert(id, slot);
        id
    }

    fn insert_lifecycle(&self, call: LifecycleCall<P>) -> HandlerId {
        let id = self.next_id();
        let entry = Arc::new(Entry { id, once: false, live: AtomicBool::new(true), call });
        let mut state = self.write();
        let table = Arc::make_mut(&mut state.table);
        table.lifecycle = with(&table.lifecycle, entry);
        state.slots.insert(id, Slot::Lifecycle);
        id
    }

    fn remove(&self, id: HandlerId) -> bool {
        let mut state = self.write();
        let Some(slot) = state.slots.remove(&id) else { return false };
        let table = Arc::make_mut(&mut state.table);
        match slot {
            Slot::Wildcard => {
                if let Some(list) = without(&table.wildcard, id) {
                    table.wildcard = list;
                }
            }
            Slot::Lifecycle => {
                if let Some(list) = without(&table.lifecycle, id) {
                    table.lifecycle = list;
                }
            }
            Slot::Typed(key) => {
                if let Some(list) = table.typed.get(&key).and_then(|list| without(list, id)) {
                    if list.is_empty() {
                        table.typed.remove(&key);
                    } else {
                        table.typed.insert(key, list);
                    }
                }
            }
        }
        true
    }

    fn remove_type(&self, event_type: &str) -> usize {
        let mut state = self.write();
        let table = Arc::make_mut(&mut state.table);
        let removed = if event_type == WILDCARD {
            std::mem::replace(&mut table.wildcard, empty())
        } else {
            match table.typed.remove(event_type) {
                Some(list) => list,
                None => return 0,
            }
        };
        kill_all(&removed);
        for entry in removed.iter() {
            state.slots.remove(&entry.id);
        }
        removed.len()
    }

    fn clear(&self) {
        let mut state = self.write();
        let old = std::mem::replace(&mut state.table, Arc::new(Table::empty()));
        state.slots.clear();
        drop(state);
        kill_all(&old.wildcard);
        kill_all(&old.lifecycle);
        for list in old.typed.values() {
            kill_all(list);
        }
    }
}

impl<P> Table<P> {
    fn empty() -> Table<P> {
        Table { typed: HashMap::default(), wildcard: empty(), lifecycle: empty() }
    }
}

impl<P: Send + Sync> Unregister for Shared<P> {
    fn unregister(&self, id: HandlerId) {
        self.remove(id);
    }
}

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
/// | [`subscribe`](Dispatcher::subscribe), [`subscribe_typed`](Dispatcher::subscribe_typed) | a bounded [`Stream`](futures_core::Stream) of `(Event, P)` or `(T, P)` | see [`Overflow`] |
///
/// Data that does not deserialize into a typed handler's `T` never panics: an
/// [`Error::Decode`] with the event type and the serde error goes to the error
/// channel ([`Lifecycle::Error`], with the peer), and the other handlers run.
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
    shared: Arc<Shared<P>>,
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

fn decode<T: DeserializeOwned>(event: &Event) -> Result<T, Error> {
    event.data_as::<T>().map_err(|source| Error::Decode { event_type: event.event_type().to_owned(), source })
}

fn check_capacity(capacity: usize) {
    assert!(capacity > 0, "a subscription's capacity must be at least 1");
}

impl<P: Clone + Send + Sync + 'static> Dispatcher<P> {
    /// A dispatcher without handlers.
    pub fn new() -> Dispatcher<P> {
        Dispatcher {
            shared: Arc::new(Shared {
                state: RwLock::new(State { table: Arc::new(Table::empty()), slots: HashMap::new() }),
                next_id: AtomicU64::new(0),
            }),
        }
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

    /// Runs `handler` with the event's data deserialized into `T`, straight
    /// from the frame's JSON bytes (missing data reads as `null`).
    ///
    /// Data that does not fit `T` goes to the error channel as
    /// [`Error::Decode`] (with the event type, the peer and the serde error);
    /// the handler does not run, the other handlers do.
    ///
    /// # Examples
    ///
    /// ```
    /// use ipc_codec::Event;
    /// use ipc_events::{Dispatcher, Error, Lifecycle};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::<&'static str>::new();
    /// dispatcher.on_typed("sum", |numbers: Vec<i64>, peer| {
    ///     println!("{peer}: {}", numbers.iter().sum::<i64>());
    /// });
    /// let mut errors = dispatcher.subscribe_lifecycle(8);
    ///
    /// let ok = dispatcher.dispatch(&Event::new("sum", json!([1, 2, 3])), &"a").await;
    /// assert_eq!(ok.delivered(), 1);
    /// let bad = dispatcher.dispatch(&Event::new("sum", json!("four")), &"b").await;
    /// assert_eq!(bad.failed(), 1);
    /// match errors.recv().await.unwrap() {
    ///     Lifecycle::Error { peer, error } => {
    ///         assert_eq!(peer, Some("b"));
    ///         assert!(matches!(&*error, Error::Decode { event_type, .. } if event_type == "sum"));
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # }
    /// ```
    pub fn on_typed<T, F>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, &P) + Send + Sync + 'static,
    {
        self.register_typed(event_type, false, handler)
    }

    /// Like [`on_typed`](Dispatcher::on_typed), for the next matching event
    /// only. The handler is removed before its data is decoded: data that does
    /// not fit still uses it up.
    pub fn once_typed<T, F>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, &P) + Send + Sync + 'static,
    {
        self.register_typed(event_type, true, handler)
    }

    fn register_typed<T, F>(&self, event_type: &str, once: bool, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, &P) + Send + Sync + 'static,
    {
        let call: Box<SyncFn<P>> = Box::new(move |event, peer| {
            handler(decode::<T>(event)?, peer);
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

    /// The async form of [`on_typed`](Dispatcher::on_typed): the data is
    /// decoded into `T` before the handler is called; data that does not fit
    /// goes to the error channel and the handler is not called.
    pub fn on_typed_async<T, F, Fut>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.register_typed_async(event_type, false, handler)
    }

    /// Like [`on_typed_async`](Dispatcher::on_typed_async), for the next matching event only.
    pub fn once_typed_async<T, F, Fut>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.register_typed_async(event_type, true, handler)
    }

    fn register_typed_async<T, F, Fut>(&self, event_type: &str, once: bool, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let call: Box<AsyncFn<P>> = Box::new(move |event, peer| {
            let data = decode::<T>(event)?;
            Ok(Box::pin(handler(data, peer.clone())) as BoxFuture)
        });
        self.shared.insert_wire(event_type, once, WireCall::Async(call))
    }

    /// A bounded stream of the events of type `event_type` (`"*"`: every
    /// event), each with its peer, with [`Overflow::Backpressure`]: when
    /// `capacity` events wait, dispatch waits for the subscriber.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use ipc_codec::Event;
    /// use ipc_events::Dispatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::<u8>::new();
    /// let mut messages = dispatcher.subscribe("message", 16);
    /// dispatcher.dispatch(&Event::without_data("message"), &3).await;
    /// let (event, peer) = messages.next().await.unwrap();
    /// assert_eq!((event.event_type(), peer), ("message", 3));
    /// # }
    /// ```
    pub fn subscribe(&self, event_type: &str, capacity: usize) -> Subscription<(Event, P)> {
        self.subscribe_with(event_type, capacity, Overflow::Backpressure)
    }

    /// Like [`subscribe`](Dispatcher::subscribe), with the given overflow policy.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_with(
        &self,
        event_type: &str,
        capacity: usize,
        overflow: Overflow,
    ) -> Subscription<(Event, P)> {
        check_capacity(capacity);
        let (tx, rx) = mpsc::channel(capacity);
        let id = self.shared.insert_wire(event_type, false, WireCall::Channel { tx, overflow, capacity });
        Subscription::new(rx, id, capacity, self.unregister_handle())
    }

    /// A bounded stream of the data of events of type `event_type`,
    /// deserialized into `T` at dispatch, each with its peer, with
    /// [`Overflow::Backpressure`]. Data that does not fit `T` goes to the error
    /// channel, as for [`on_typed`](Dispatcher::on_typed).
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_typed<T>(&self, event_type: &str, capacity: usize) -> Subscription<(T, P)>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.subscribe_typed_with(event_type, capacity, Overflow::Backpressure)
    }

    /// Like [`subscribe_typed`](Dispatcher::subscribe_typed), with the given overflow policy.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_typed_with<T>(
        &self,
        event_type: &str,
        capacity: usize,
        overflow: Overflow,
    ) -> Subscription<(T, P)>
    where
        T: DeserializeOwned + Send + 'static,
    {
        check_capacity(capacity);
        let (tx, rx) = mpsc::channel::<(T, P)>(capacity);
        let call = match overflow {
            Overflow::Backpressure => WireCall::Async(Box::new(move |event: &Event, peer: &P| {
                let item = (decode::<T>(event)?, peer.clone());
                let tx = tx.clone();
                Ok(Box::pin(async move {
                    // A closed channel means the subscription is being dropped,
                    // which unregisters it.
                    let _ = tx.send(item).await;
                }) as BoxFuture)
            })),
            Overflow::Reject => WireCall::Sync(Box::new(move |event: &Event, peer: &P| {
                let item = (decode::<T>(event)?, peer.clone());
                match tx.try_send(item) {
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        Err(Error::SubscriptionFull { event_type: event.event_type().to_owned(), capacity })
                    }
                    Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
                }
            })),
        };
        let id = self.shared.insert_wire(event_type, false, call);
        Subscription::new(rx, id, capacity, self.unregister_handle())
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

    /// A bounded stream of [`Lifecycle`] events, always with
    /// [`Overflow::Backpressure`]: the error channel itself cannot report an
    /// overflow.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_lifecycle(&self, capacity: usize) -> Subscription<Lifecycle<P>> {
        check_capacity(capacity);
        let (tx, rx) = mpsc::channel(capacity);
        let id = self.shared.insert_lifecycle(LifecycleCall::Channel(tx));
        Subscription::new(rx, id, capacity, self.unregister_handle())
    }

    fn unregister_handle(&self) -> Weak<dyn Unregister> {
        let weak: Weak<Shared<P>> = Arc::downgrade(&self.shared);
        weak
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_is_kept_apart_from_typed_lists() {
        let d = Dispatcher::<()>::new();
        let a = d.on("*", |_, _| {});
        let b = d.on("x", |_, _| {});
        assert_eq!(d.handler_count("*"), 1);
        assert_eq!(d.handler_count("x"), 1);
        assert!(!d.shared.snapshot().typed.contains_key("*"));
        assert!(d.off(a));
        assert!(!d.off(a), "a second off finds nothing");
        assert!(d.off(b));
        assert!(d.shared.snapshot().typed.is_empty(), "an empty type is dropped from the table");
        assert!(d.shared.read().slots.is_empty());
    }

    #[test]
    fn changes_without_readers_edit_the_table_in_place() {
        let d = Dispatcher::<()>::new();
        d.on("x", |_, _| {});
        let before = Arc::as_ptr(&d.shared.read().table);
        d.on("y", |_, _| {});
        assert_eq!(before, Arc::as_ptr(&d.shared.read().table));
        let held = d.shared.snapshot();
        d.on("z", |_, _| {});
        assert_ne!(Arc::as_ptr(&held), Arc::as_ptr(&d.shared.read().table), "a held snapshot is not changed");
        assert!(!held.typed.contains_key("z"));
    }
}
