//! Request/response over ordinary node-ipc events (`PROTOCOL.md` at the
//! workspace root is the specification; this is the Rust side of it).
//!
//! - **Asking** ([`ask`]): [`Client::request`](crate::Client::request) and
//!   [`Socket::request`](crate::Socket::request) send an [`REQUEST_EVENT`]
//!   `{rid, type, data}` and wait, with a deadline, for the [`REPLY_EVENT`]
//!   `{rid, ok}` or `{rid, error}` that carries the same `rid`. The waiters of
//!   one connection are in its [`Requests`] table: an entry leaves it when its
//!   reply arrives, when its future is dropped (deadline or cancellation) and
//!   when the connection ends (every waiter then fails), so the table holds
//!   only requests someone still waits for.
//! - **Answering** ([`answer`]): the handlers registered with `on_request` /
//!   `on_request_typed` (the [`request_api!`] methods of `Server` and
//!   `Client`), one per request type; each request runs in a task of its own,
//!   at most [`Config::max_concurrent_requests`](crate::Config::max_concurrent_requests)
//!   at once per connection, and its result (or error) is the reply.
//!
//! The read path's only hook is [`Reader::deliver`](crate::core::Reader): an
//! event of one of the two reserved types goes here instead of to the
//! dispatcher. Every other event pays that comparison and nothing else, and
//! an emit pays nothing at all.

mod answer;
mod api;
mod ask;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use ipc_codec::Event;
use serde::Serialize;
use tokio::sync::{oneshot, Semaphore};

use crate::error::Error;

pub(crate) use answer::{respond, respond_typed, Responders};
pub(crate) use api::request_api;
pub(crate) use ask::{ask, ask_typed};

/// The event type of a request: data `{"rid": <number>, "type": <string>, "data": <any>}`.
pub const REQUEST_EVENT: &str = "ipc.request";

/// The event type of a reply: data `{"rid": <the request's>, "ok": <any>}` or
/// `{"rid": <the request's>, "error": {"message": <string>}}`.
pub const REPLY_EVENT: &str = "ipc.reply";

/// Request ids, unique in this process: a reply that outlived its connection
/// (a client that reconnected) can never be taken for the answer to another
/// request. JavaScript reads them exactly up to 2^53, which this never reaches.
static NEXT_RID: AtomicU64 = AtomicU64::new(0);

/// What a waiter gets.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The reply event (its data is `{rid, ok}` or `{rid, error}`).
    Reply(Event),
    /// The connection ended first.
    Lost,
}

/// The requests one connection waits replies for (a client's: across its
/// reconnections), and the permits of the requests it answers.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    waiting: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    answering: OnceLock<Arc<Semaphore>>,
}

/// A table emptied after a burst gives its memory back past this many slots.
const KEEP_SLOTS: usize = 64;

impl Requests {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, oneshot::Sender<Answer>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new request id and the receiver of its answer.
    fn register(&self) -> (u64, oneshot::Receiver<Answer>) {
        let rid = NEXT_RID.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        self.lock().insert(rid, tx);
        (rid, rx)
    }

    /// Forgets `rid` (its waiter is gone: answered, timed out or dropped).
    fn forget(&self, rid: u64) {
        let mut waiting = self.lock();
        if waiting.remove(&rid).is_some() && waiting.is_empty() && waiting.capacity() > KEEP_SLOTS {
            *waiting = HashMap::new();
        }
    }

    /// How many requests wait for their reply.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Hands a reply to the request it answers. A reply nobody waits for (it
    /// came after the deadline, its future was dropped, or its `rid` is not
    /// ours) is dropped without a word: that is what a late reply is.
    pub(crate) fn settle(&self, reply: &Event) {
        let Some(rid) = reply.raw_data_member("rid").and_then(parse_rid) else { return };
        let waiter = self.lock().remove(&rid);
        if let Some(waiter) = waiter {
            let _ = waiter.send(Answer::Reply(reply.clone()));
        }
    }

    /// Fails every request waiting (its connection ended).
    pub(crate) fn fail_all(&self) {
        let waiting = std::mem::take(&mut *self.lock());
        for (_, waiter) in waiting {
            let _ = waiter.send(Answer::Lost);
        }
    }

    /// The permits for the requests this connection answers at once.
    fn answering(&self, max: usize) -> &Arc<Semaphore> {
        self.answering.get_or_init(|| Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))))
    }
}

/// A `rid` as this side writes them: a JSON integer.
fn parse_rid(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// One end of a connection that can ask and answer: a server's
/// [`Socket`](crate::Socket) or a [`Client`](crate::Client).
pub(crate) trait Channel: Clone + Send + Sync + 'static {
    /// The connection's request table, made on first use.
    fn requests(&self) -> &Requests;

    /// The table if it was ever made (a reply to a connection that never
    /// asked makes nothing).
    fn requests_if_any(&self) -> Option<&Requests>;

    /// Sends one event, as `emit` does.
    fn send<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<(), Error>;

    /// Checks an event type against the profile's rules, as sending it would.
    fn check_type(&self, event_type: &str) -> Result<(), Error>;

    /// Which connection this is, for a client that reconnects (a reply is
    /// sent only on the connection its request came on).
    fn connection(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_reply_reaches_its_waiter_once_and_strangers_are_dropped() {
        let requests = Requests::default();
        let (rid, rx) = requests.register();
        assert_eq!(requests.len(), 1);
        requests.settle(&Event::new(REPLY_EVENT, json!({"rid": rid + 1000, "ok": 1})));
        requests.settle(&Event::new(REPLY_EVENT, json!({"rid": "x", "ok": 1})));
        requests.settle(&Event::new(REPLY_EVENT, json!(null)));
        assert_eq!(requests.len(), 1);
        requests.settle(&Event::new(REPLY_EVENT, json!({"rid": rid, "ok": 2})));
        assert_eq!(requests.len(), 0);
        let Answer::Reply(reply) = rx.await.unwrap() else { panic!("not a reply") };
        assert_eq!(reply.raw_data_member("ok"), Some(&b"2"[..]));
        // the same reply again: nobody waits, nothing happens
        requests.settle(&reply);
    }

    #[tokio::test]
    async fn a_burst_gives_its_memory_back_and_an_ended_connection_fails_its_waiters() {
        let requests = Requests::default();
        let rids: Vec<_> = (0..1000).map(|_| requests.register()).collect();
        for (rid, _) in &rids {
            requests.forget(*rid);
        }
        assert_eq!(requests.lock().capacity(), 0);
        let (_, rx) = requests.register();
        requests.fail_all();
        assert!(matches!(rx.await, Ok(Answer::Lost)));
        assert_eq!(requests.len(), 0);
    }
}
