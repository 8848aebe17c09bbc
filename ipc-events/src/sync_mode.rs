//! node-ipc's sync mode (`config.sync`): one outgoing message in flight until
//! the peer says something.

use std::sync::Arc;

use tokio::sync::Notify;

/// node-ipc's sync mode for a connection whose writer and reader are separate
/// tasks: the writer awaits [`ready`](SyncGate::ready) before each message, and
/// the reader calls [`release`](SyncGate::release) for each event (or raw
/// chunk) that arrives from the peer.
///
/// The first message goes at once; after that each message waits until *any*
/// event arrives from the peer (node-ipc calls `queue.next()` after every
/// dispatched message, and in raw-buffer mode after every chunk), as `js-queue`
/// does in node-ipc 9 and 14. Releases do not add up: an arrival while the
/// writer has nothing to send lets exactly one later message through.
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
