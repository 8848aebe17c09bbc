//! The receiving side (a server): agrees with clients that propose acks,
//! hands each numbered event to the handlers once and in order per sender
//! session, and acknowledges them in batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use ipc_codec::Event;
use ipc_events::Dispatcher;
use serde::{Deserialize, Serialize};

use super::{AckStats, Sender, ACK_DELAY, ACK_EVENT, ACK_EVERY, HELLO_EVENT, MAX_SESSIONS};
use crate::config::Config;
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
    /// A server's: what it emits to this client session, kept until acknowledged.
    outbound: OnceLock<Sender>,
}

/// Every sender session a server remembers, across connections.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    /// This end's own session name (a server's, in its answers: its clients dedupe by it).
    name: OnceLock<String>,
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

    /// This end's session name.
    fn name(&self) -> &str {
        self.name.get_or_init(super::send::new_session)
    }

    /// The session `id`, made if new; a new one has handled everything before
    /// `next`. Outbound buffers idle past `linger` are dropped on the way.
    fn session(&self, id: &str, next: u64, linger: Option<Duration>) -> Arc<Session> {
        let mut map = self.lock();
        if let Some(linger) = linger {
            for session in map.values() {
                if let Some(outbound) = session.outbound.get() {
                    outbound.expire_if_idle(linger);
                }
            }
        }
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

    /// The counters (receiving side, and a server's sending side summed over its client sessions).
    pub(crate) fn stats(&self) -> AckStats {
        let mut out = AckStats::default();
        for session in self.lock().values() {
            if let Some(outbound) = session.outbound.get() {
                let s = outbound.stats();
                out.sent += s.sent;
                out.resent += s.resent;
                out.acknowledged += s.acknowledged;
                out.acks_received += s.acks_received;
                out.buffered += s.buffered;
                out.buffered_bytes += s.buffered_bytes;
                out.buffered_peak = out.buffered_peak.max(s.buffered_peak);
                out.expired += s.expired;
            }
        }
        AckStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            before_agreement: self.early.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            acks_sent: self.acks_sent.load(Ordering::Relaxed),
            sessions: self.lock().len(),
            ..out
        }
    }
}

/// Acknowledged delivery on one server connection, or a client's receiving
/// side across its connections.
#[derive(Debug)]
pub(crate) struct SocketAcks {
    sessions: Arc<Sessions>,
    /// The sender session agreed on the current connection.
    session: Mutex<Option<Arc<Session>>>,
    /// A server connection's session, kept after the connection ended (its
    /// emits then wait for the session's next connection).
    agreed: OnceLock<Arc<Session>>,
    /// The highest sequence number acknowledged on this connection.
    acked: AtomicU64,
    /// Wakes the acknowledgement task: something was handled and not acknowledged.
    wake: tokio::sync::Notify,
    /// Bumped when a connection ends: its acknowledgement task ends.
    generation: AtomicU64,
    /// This connection's number (a server's: which connection a session's sender writes to).
    id: u64,
    /// A server's: the config its client sessions' senders are made with, and their linger.
    config: Option<Box<Config>>,
}

#[derive(Deserialize)]
struct Hello {
    session: String,
    next: u64,
    #[serde(default)]
    receive: u8,
}

#[derive(Serialize)]
struct Agreed<'a> {
    acks: u64,
    received: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

/// What a client reads of the server's answer for its receiving side.
#[derive(Deserialize)]
struct Answer {
    session: String,
    next: u64,
}

#[derive(Serialize)]
struct Ack {
    seq: u64,
}

impl SocketAcks {
    /// A server connection's (`config`: the server's) or a client's (`None`).
    pub(crate) fn new(sessions: Arc<Sessions>, config: Option<&Config>) -> SocketAcks {
        static CONNECTIONS: AtomicU64 = AtomicU64::new(1);
        SocketAcks {
            sessions,
            session: Mutex::new(None),
            agreed: OnceLock::new(),
            acked: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            generation: AtomicU64::new(0),
            id: CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            config: config.map(|c| Box::new(c.clone())),
        }
    }

    fn current(&self) -> Option<Arc<Session>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A client's hello: answer it, and acknowledge from now on (a task per
    /// connection sends what the handlers finished at most [`ACK_DELAY`] ago).
    /// A client that takes acknowledged events too (`receive: 1`) gets this
    /// server's session name and first sequence number in the answer, then
    /// everything its session has not acknowledged.
    pub(crate) fn hello<P: Peer>(&self, event: &Event, peer: &P) {
        let Ok(hello) = event.data_as::<Hello>() else { return };
        // the memory a session name takes is bounded (PROTOCOL.md: at most 128 characters)
        if hello.session.len() > MAX_SESSION_LEN || self.agreed.get().is_some() {
            return; // one agreement per connection
        }
        let linger = self.config.as_ref().map(|c| c.ack_linger);
        let session = self.sessions.session(&hello.session, hello.next, linger);
        let received = session.handled.load(Ordering::Relaxed);
        // the answer acknowledges up to `received`
        self.acked.store(received, Ordering::Relaxed);
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.clone());
        let _ = self.agreed.set(session.clone());
        let outbound = match (&self.config, hello.receive) {
            (Some(config), 1) => Some(session.outbound.get_or_init(|| Sender::new(config))),
            _ => None,
        };
        let answer = Agreed {
            acks: 1,
            received,
            session: outbound.map(|_| self.sessions.name()),
            next: outbound.map(Sender::first_unacknowledged),
        };
        let _ = peer.send(HELLO_EVENT, &answer);
        if let Some(outbound) = outbound {
            let writer = peer.clone();
            outbound.attach(self.id, Box::new(move |frame: &[u8]| writer.push_frame(frame)));
        }
        self.spawn_acknowledger(peer);
    }

    /// A client: the server's answer; when it names its session, the
    /// server's acknowledged events are taken from now on, deduplicated by it.
    pub(crate) fn answered<P: Peer>(&self, event: &Event, peer: &P) {
        let Ok(answer) = event.data_as::<Answer>() else { return };
        if answer.session.len() > MAX_SESSION_LEN {
            return;
        }
        let session = self.sessions.session(&answer.session, answer.next, None);
        // the server holds what came after `next - 1`: what we handled of it
        // (it may all be handled, its acknowledgement cut) is acknowledged at once
        self.acked.store(answer.next.saturating_sub(1), Ordering::Relaxed);
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session);
        self.spawn_acknowledger(peer);
        self.acknowledge(peer, 0);
    }

    /// Acknowledgements of a trickle: ACK_DELAY after the first event not yet
    /// acknowledged; the task sleeps on `wake` while there is none (no timer
    /// for an idle connection), and ends with the connection (`stop`).
    fn spawn_acknowledger<P: Peer>(&self, peer: &P) {
        let generation = self.generation.load(Ordering::SeqCst);
        let peer = peer.clone();
        tokio::spawn(async move {
            loop {
                let Some(acks) = peer.acks().map(super::AckEnd::receiver) else { return };
                if acks.generation.load(Ordering::SeqCst) != generation {
                    acks.wake.notify_one(); // a wake meant for the next connection's task
                    return;
                }
                acks.wake.notified().await;
                if acks.generation.load(Ordering::SeqCst) != generation {
                    acks.wake.notify_one();
                    return;
                }
                tokio::time::sleep(ACK_DELAY).await;
                acks.acknowledge(&peer, 0);
            }
        });
    }

    /// The connection ended: the acknowledgement task ends too, and a
    /// server's session sender keeps what it emits for the next connection.
    pub(crate) fn stop(&self) {
        let session = self.session.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(outbound) = session.as_ref().and_then(|s| s.outbound.get()) {
            outbound.detach(self.id);
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// A server: an acknowledgement of what it emitted to this client session.
    pub(crate) fn on_ack(&self, event: &Event) {
        if let Some(outbound) = self.current().as_ref().and_then(|s| s.outbound.get()) {
            outbound.on_ack(event);
        }
    }

    /// A server: emits to this connection's client session when it takes
    /// acknowledged events (`None`: it does not, or has not agreed yet; the
    /// plain wire). After the connection ended, the event waits for the
    /// session's next connection.
    pub(crate) fn emit<T: Serialize + ?Sized>(
        &self,
        out: &crate::wire::Outgoing,
        event_type: &str,
        data: Option<&T>,
    ) -> Option<Result<(), crate::Error>> {
        let outbound = self.outbound()?;
        let nowhere = |_: &[u8]| Err(crate::Error::Closed);
        Some(outbound.emit(out, &nowhere, event_type, data, || Ok(())))
    }

    /// A server's: the sender of the client session agreed on this
    /// connection, which numbers and keeps what the server emits to it
    /// (`None`: the client did not ask for acknowledged events, or has not agreed yet).
    pub(crate) fn outbound(&self) -> Option<&Sender> {
        self.agreed.get()?.outbound.get()
    }

    /// The counters of this end.
    pub(crate) fn stats(&self) -> AckStats {
        self.sessions.stats()
    }

    /// Sends an acknowledgement when at least `every` events were handled since the last one.
    /// Whether one was sent.
    fn acknowledge<P: Peer>(&self, peer: &P, every: u64) -> bool {
        let Some(session) = self.current() else { return false };
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
        let Some(session) = self.current() else {
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
