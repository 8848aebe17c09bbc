//! node-ipc's sync mode (`config.sync`): one outgoing message in flight until
//! the peer says something.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::Notify;

/// node-ipc's sync-mode send queue as a state machine, without I/O.
///
/// The first message goes out at once; after that each message waits until
/// *any* event arrives from the peer (node-ipc calls `queue.next()` after every
/// dispatched message, and in raw-buffer mode after every chunk). An arrival
/// while nothing waits makes the queue idle again, so the next message goes out
/// at once. This is exactly `js-queue` as node-ipc 9 and 14 use it.
///
/// # Examples
///
/// ```
/// use ipc_events::SyncQueue;
///
/// let mut queue = SyncQueue::new();
/// assert_eq!(queue.push("a"), Some("a")); // idle: send now
/// assert_eq!(queue.push("b"), None); // waits for the peer
/// assert_eq!(queue.push("c"), None);
/// assert_eq!(queue.arrived(), Some("b")); // the peer said something: release one
/// assert_eq!(queue.arrived(), Some("c"));
/// assert_eq!(queue.arrived(), None); // nothing waits: idle again
/// assert_eq!(queue.push("d"), Some("d"));
/// ```
///
/// # Security
///
/// The queue is unbounded, as node-ipc's is: a peer that never answers makes
/// it grow with every message the application emits. Bound it in the layer
/// that owns it ([`len`](SyncQueue::len)) when that matters.
#[derive(Debug, Clone)]
pub struct SyncQueue<T> {
    waiting: VecDeque<T>,
    in_flight: bool,
}

impl<T> SyncQueue<T> {
    /// An idle, empty queue.
    pub fn new() -> SyncQueue<T> {
        SyncQueue { waiting: VecDeque::new(), in_flight: false }
    }

    /// Queues an outgoing message. Returns it back when it may be sent now
    /// (nothing in flight); otherwise it waits for [`arrived`](SyncQueue::arrived).
    pub fn push(&mut self, message: T) -> Option<T> {
        if self.in_flight {
            self.waiting.push_back(message);
            None
        } else {
            self.in_flight = true;
            Some(message)
        }
    }

    /// Something arrived from the peer. Returns the next message to send, if
    /// one waits; otherwise the queue becomes idle.
    pub fn arrived(&mut self) -> Option<T> {
        let next = self.waiting.pop_front();
        self.in_flight = next.is_some();
        next
    }

    /// Whether a message was sent and the queue waits for the peer.
    pub fn is_in_flight(&self) -> bool {
        self.in_flight
    }

    /// How many messages wait (the one in flight not counted).
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Drops every waiting message and makes the queue idle (for example when a
    /// connection is gone for good). Returns the dropped messages.
    pub fn clear(&mut self) -> Vec<T> {
        self.in_flight = false;
        self.waiting.drain(..).collect()
    }
}

impl<T> Default for SyncQueue<T> {
    fn default() -> SyncQueue<T> {
        SyncQueue::new()
    }
}

/// node-ipc's sync mode for a connection whose writer and reader are separate
/// tasks: the writer awaits [`ready`](SyncGate::ready) before each message, and
/// the reader calls [`release`](SyncGate::release) for each event (or raw
/// chunk) that arrives from the peer.
///
/// Same semantics as [`SyncQueue`]: the first message goes at once, and
/// releases do not add up: an arrival while the writer has nothing to send
/// lets exactly one later message through.
///
/// # Examples
///
/// ```
/// use futures::FutureExt;
/// use ipc_events::SyncGate;
///
/// let gate = SyncGate::new();
/// assert!(gate.ready().now_or_never().is_some()); // the first message goes at once
/// assert!(gate.ready().now_or_never().is_none()); // the next waits for the peer
/// gate.release(); // an event arrived
/// gate.release(); // and another: still one message, not two
/// assert!(gate.ready().now_or_never().is_some());
/// assert!(gate.ready().now_or_never().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct SyncGate {
    permit: Arc<Notify>,
}

impl SyncGate {
    /// A gate that lets the first message through at once.
    pub fn new() -> SyncGate {
        let permit = Arc::new(Notify::new());
        permit.notify_one();
        SyncGate { permit }
    }

    /// Waits until the next message may be sent, and takes that right.
    ///
    /// Cancel safe: a `ready` future dropped before it completes takes nothing.
    pub async fn ready(&self) {
        self.permit.notified().await;
    }

    /// Something arrived from the peer: lets one waiting (or the next) message through.
    pub fn release(&self) {
        self.permit.notify_one();
    }
}

impl Default for SyncGate {
    fn default() -> SyncGate {
        SyncGate::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_releases_one_message_per_arrival() {
        let mut queue = SyncQueue::new();
        assert!(!queue.is_in_flight());
        assert_eq!(queue.arrived(), None, "an arrival while idle changes nothing");
        assert_eq!(queue.push(1), Some(1));
        assert!(queue.is_in_flight());
        assert_eq!(queue.push(2), None);
        assert_eq!(queue.push(3), None);
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.arrived(), Some(2));
        assert!(queue.is_in_flight());
        assert_eq!(queue.push(4), None);
        assert_eq!(queue.arrived(), Some(3));
        assert_eq!(queue.arrived(), Some(4));
        assert_eq!(queue.arrived(), None);
        assert!(!queue.is_in_flight());
        assert_eq!(queue.arrived(), None);
        assert_eq!(queue.push(5), Some(5));
        assert_eq!(queue.push(6), None);
        assert_eq!(queue.clear(), vec![6]);
        assert!(queue.is_empty());
        assert_eq!(queue.push(7), Some(7));
    }
}
