//! The receiving side (a server): agrees with clients that propose acks,
//! hands each numbered event to the handlers once and in order per sender
//! session, and acknowledges them in batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use ipc_codec::Event;
use ipc_events::Dispatcher;
use serde::{Deserialize, Serialize};

use super::{AckEnd, AckStats, ACK_DELAY, ACK_EVENT, ACK_EVERY, HELLO_EVENT, MAX_SESSIONS};
use crate::core::Peer;

/// The longest session name a server accepts (a longer hello is not answered).
const MAX_SESSION_LEN: usize = 128;

/// What one sender session has had handled. The async lock is held while
/// the handlers run, so two connections of one session (an old one not yet
/// noticed dead, and its replacement) still hand each event over once, in order.
#[derive(Debug, Default)]
struct Session {
    last: tokio::sync::Mutex<u64>,
    /// `last`, readable without the lock (acknowledgements).
    handled: AtomicU64,
    /// When it was last used (for forgetting the oldest).
    used: AtomicU64,
}

/// Every sender session a server remembers, across connections.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    clock: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    out_of_order: AtomicU64,
    early: AtomicU64,
    refused: AtomicU64,
    acks_sent: AtomicU64,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session `id`, made if new; a new one has handled everything before `next`.
    fn session(&self, id: &str, next: u64) -> Arc<Session> {
        let mut map = self.lock();
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let session = match map.get(id) {
            Some(session) => session.clone(),
            None => {
                if map.len() >= MAX_SESSIONS {
                    let oldest = map
                        .iter()
                        .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed))
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        map.remove(&oldest);
                    }
                }
                let session = Arc::new(Session::default());
                map.insert(id.to_owned(), session.clone());
                session
            }
        };
        session.used.store(now, Ordering::Relaxed);
        // a sender never resends below `next`: whatever we knew, what is before it is done
        let before = next.saturating_sub(1);
        if let Ok(mut last) = session.last.try_lock() {
            if *last < before {
                *last = before;
                session.handled.store(before, Ordering::Relaxed);
            }
        }
        session
    }

    /// The counters (receiving side).
    pub(crate) fn stats(&self) -> AckStats {
        AckStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            before_agreement: self.early.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            acks_sent: self.acks_sent.load(Ordering::Relaxed),
            sessions: self.lock().len(),
            ..AckStats::default()
        }
    }
}

/// Acknowledged delivery on one server connection.
#[derive(Debug)]
pub(crate) struct SocketAcks {
    sessions: Arc<Sessions>,
    session: OnceLock<Arc<Session>>,
    /// The highest sequence number acknowledged on this connection.
    acked: AtomicU64,
    /// Wakes the acknowledgement task: something was handled and not acknowledged.
    wake: tokio::sync::Notify,
    stopped: std::sync::atomic::AtomicBool,
}

#[derive(Deserialize)]
struct Hello {
    session: String,
    next: u64,
}

#[derive(Serialize)]
struct Agreed {
    acks: u64,
    received: u64,
}

#[derive(Serialize)]
struct Ack {
    seq: u64,
}

impl SocketAcks {
    pub(crate) fn new(sessions: Arc<Sessions>) -> SocketAcks {
        SocketAcks {
            sessions,
            session: OnceLock::new(),
            acked: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A client's hello: answer it, and acknowledge from now on (a task per
    /// connection sends what the handlers finished at most [`ACK_DELAY`] ago).
    pub(crate) fn hello<P: Peer>(&self, event: &Event, peer: &P) {
        let Ok(hello) = event.data_as::<Hello>() else { return };
        // the memory a session name takes is bounded (PROTOCOL.md: at most 128 characters)
        if hello.session.len() > MAX_SESSION_LEN || self.session.get().is_some() {
            return; // one agreement per connection
        }
        let session = self.sessions.session(&hello.session, hello.next);
        let received = session.handled.load(Ordering::Relaxed);
        // the answer acknowledges up to `received`
        self.acked.store(received, Ordering::Relaxed);
        let _ = self.session.set(session);
        let _ = peer.send(HELLO_EVENT, &Agreed { acks: 1, received });
        // acknowledgements of a trickle: ACK_DELAY after the first event not yet
        // acknowledged; the task sleeps on `wake` while there is none (no timer
        // for an idle connection), and ends with the connection (`stop`)
        let peer = peer.clone();
        tokio::spawn(async move {
            loop {
                let Some(AckEnd::Receiving(acks)) = peer.acks() else { return };
                acks.wake.notified().await;
                if acks.stopped.load(Ordering::Relaxed) {
                    return;
                }
                tokio::time::sleep(ACK_DELAY).await;
                acks.acknowledge(&peer, 0);
            }
        });
    }

    /// The connection ended: the acknowledgement task ends too.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Sends an acknowledgement when at least `every` events were handled since the last one.
    /// Whether one was sent.
    fn acknowledge<P: Peer>(&self, peer: &P, every: u64) -> bool {
        let Some(session) = self.session.get() else { return false };
        let handled = session.handled.load(Ordering::Relaxed);
        let acked = self.acked.load(Ordering::Relaxed);
        if handled > acked
            && handled - acked >= every.max(1)
            && peer.send(ACK_EVENT, &Ack { seq: handled }).is_ok()
        {
            self.acked.fetch_max(handled, Ordering::Relaxed);
            self.sessions.acks_sent.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// A numbered event: to the handlers if it is the session's next one,
    /// dropped if it was handled before (or comes before the agreement, or
    /// after a gap: then the connection is cut, and the sender starts over).
    pub(crate) async fn deliver<P: Peer>(
        &self,
        event: &Event,
        peer: &P,
        events: &Dispatcher<P>,
        identify: bool,
    ) {
        let sessions = &self.sessions;
        let Some(session) = self.session.get() else {
            // left over from the sender's previous connection: it sends it again after the agreement
            sessions.early.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(seq) = seq_of(event) else {
            sessions.out_of_order.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut last = session.last.lock().await;
        if seq <= *last {
            sessions.duplicates.fetch_add(1, Ordering::Relaxed);
            // acknowledged soon, should nothing new come to carry it
            self.wake.notify_one();
            return;
        }
        if seq != *last + 1 {
            sessions.out_of_order.fetch_add(1, Ordering::Relaxed);
            drop(last);
            peer.cut();
            return;
        }
        // the inner type passes the profile's rules as a plain event's would
        // (Assured: the allow-list); one that fails, or has no string type, is
        // refused, and counts as handled
        let inner = inner_event(event).filter(|inner| peer.check_type(inner.event_type()).is_ok());
        if let Some(inner) = inner {
            if identify {
                peer.learn_id(&inner);
            }
            events.dispatch(&inner, peer).await;
            sessions.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            sessions.refused.fetch_add(1, Ordering::Relaxed);
        }
        *last = seq;
        session.handled.store(seq, Ordering::Relaxed);
        drop(last);
        if !self.acknowledge(peer, ACK_EVERY) {
            self.wake.notify_one();
        }
    }
}

fn seq_of(event: &Event) -> Option<u64> {
    std::str::from_utf8(event.raw_data_member("seq")?).ok()?.parse().ok()
}

/// The event inside an `ipc.event`: its `type`, and its `data` as it came.
fn inner_event(event: &Event) -> Option<Event> {
    let kind: String = serde_json::from_slice(event.raw_data_member("type")?).ok()?;
    Some(event.member_event("data", &kind).unwrap_or_else(|| Event::without_data(&kind)))
}
