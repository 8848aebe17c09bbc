//! The handler table: one [`Entry`] per registration, the copy-on-write
//! lists that hold them, and the lock around the table. Everything a dispatch
//! reads, and every rule about changing it while dispatches run, lives here.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ipc_codec::Event;
use tokio::sync::mpsc;

pub(crate) use crate::handler_id::HandlerId;
use crate::subscription::Unregister;
use crate::{Error, Lifecycle, Overflow};

/// The event type that registers a wildcard handler: it runs for every wire
/// event, before the handlers of the event's own type (as in event-pubsub 6,
/// which node-ipc 14 uses).
pub const WILDCARD: &str = "*";

pub(super) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
pub(super) type SyncFn<P> = dyn Fn(&Event, &P) -> Result<(), Error> + Send + Sync;
pub(super) type AsyncFn<P> = dyn Fn(&Event, &P) -> Result<BoxFuture, Error> + Send + Sync;
type LifecycleFn<P> = dyn Fn(&Lifecycle<P>) + Send + Sync;

/// A wire registration, type-erased.
pub(super) enum WireCall<P> {
    /// Runs to completion inside dispatch.
    Sync(Box<SyncFn<P>>),
    /// Returns a future that dispatch awaits before it goes on.
    Async(Box<AsyncFn<P>>),
    /// An untyped subscription: no boxing per event.
    Channel { tx: mpsc::Sender<(Event, P)>, overflow: Overflow, capacity: usize },
}

/// A lifecycle registration, type-erased.
pub(super) enum LifecycleCall<P> {
    Sync(Box<LifecycleFn<P>>),
    Channel(mpsc::Sender<Lifecycle<P>>),
}

/// One registration. `live` turns false when it is removed, or when a `once`
/// registration is claimed, so a dispatch that still holds an older snapshot
/// of the list skips it.
pub(super) struct Entry<C> {
    pub(super) id: HandlerId,
    pub(super) once: bool,
    live: AtomicBool,
    pub(super) call: C,
}

impl<C> Entry<C> {
    /// Takes the right to run for one event: false when removed, or when a
    /// `once` entry was already claimed (by this or a re-entrant dispatch).
    pub(super) fn claim(&self) -> bool {
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
pub(super) struct Table<P> {
    /// Keyed with foldhash rather than SipHash (a third of a dispatch's cost
    /// with SipHash): only local code inserts keys, so a peer's event types
    /// can only be looked up, and a lookup's probe length is bounded by the
    /// table we built, whatever the hash of the peer's string.
    pub(super) typed: HashMap<Arc<str>, List<WireCall<P>>, foldhash::fast::RandomState>,
    pub(super) wildcard: List<WireCall<P>>,
    pub(super) lifecycle: List<LifecycleCall<P>>,
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
pub(super) enum Slot {
    Wildcard,
    Typed(Arc<str>),
    Lifecycle,
}

pub(super) struct State<P> {
    pub(super) table: Arc<Table<P>>,
    pub(super) slots: HashMap<HandlerId, Slot>,
}

pub(super) struct Shared<P> {
    state: RwLock<State<P>>,
    next_id: AtomicU64,
}

impl<P> Shared<P> {
    /// A table without registrations.
    pub(super) fn new() -> Shared<P> {
        Shared {
            state: RwLock::new(State { table: Arc::new(Table::empty()), slots: HashMap::new() }),
            next_id: AtomicU64::new(0),
        }
    }

    // Handlers never run while the lock is held, so a poisoned lock can only
    // come from a panic inside this module's own bookkeeping, which leaves the
    // state consistent (every change is one assignment).
    pub(super) fn read(&self) -> RwLockReadGuard<'_, State<P>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<P>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn snapshot(&self) -> Arc<Table<P>> {
        Arc::clone(&self.read().table)
    }

    fn next_id(&self) -> HandlerId {
        HandlerId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(super) fn insert_wire(&self, event_type: &str, once: bool, call: WireCall<P>) -> HandlerId {
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

    pub(super) fn insert_lifecycle(&self, call: LifecycleCall<P>) -> HandlerId {
        let id = self.next_id();
        let entry = Arc::new(Entry { id, once: false, live: AtomicBool::new(true), call });
        let mut state = self.write();
        let table = Arc::make_mut(&mut state.table);
        table.lifecycle = with(&table.lifecycle, entry);
        state.slots.insert(id, Slot::Lifecycle);
        id
    }

    pub(super) fn remove(&self, id: HandlerId) -> bool {
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

    pub(super) fn remove_type(&self, event_type: &str) -> usize {
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

    pub(super) fn clear(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dispatcher;

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
