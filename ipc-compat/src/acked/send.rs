//! The sending side (a client): numbers events, keeps them until they are
//! acknowledged, and sends again after a reconnect what the server has not received.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ipc_codec::Event;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{AckStats, Acks, WhenFull, EVENT_EVENT, HELLO_EVENT};
use crate::config::Config;
use crate::error::Error;
use crate::wire::Outgoing;

/// Where the sender is with its current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No connection: events wait in the replay buffer.
    Offline,
    /// Connection number `.0` sent its hello; events wait for the answer.
    Agreeing(u64),
    /// Agreed: events go out numbered as they are emitted.
    Live,
    /// The server did not answer: the plain wire, until the next connection.
    Plain,
}

/// Writes a frame to one connection (a server's, for its client session's sender).
pub(crate) type Push = Box<dyn Fn(&[u8]) -> Result<(), Error> + Send + Sync>;

/// The connection a server's sender writes to now: its number, and how to write a frame.
struct Attached(u64, Push);

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attached({})", self.0)
    }
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The sequence number of the next event.
    next: u64,
    /// The highest sequence number ever written to a connection.
    written: u64,
    /// Unacknowledged events, oldest first: `(seq, frame)`.
    buffer: VecDeque<(u64, Bytes)>,
    bytes: usize,
    /// A server's sender (one per client session): the session's current
    /// connection, written to instead of the wire an emit names.
    attached: Option<Attached>,
    /// A server's sender: since when no connection is attached (the linger).
    idle_since: Option<std::time::Instant>,
}

/// A frame to write, or a reason to end the connection: what the sender
/// asks of its client.
pub(crate) trait Wire {
    /// Queues a frame on the current connection (errors end that connection,
    /// and the replay buffer keeps the event).
    fn push(&self, frame: &[u8]) -> Result<(), Error>;
}

impl<F: Fn(&[u8]) -> Result<(), Error>> Wire for F {
    fn push(&self, frame: &[u8]) -> Result<(), Error> {
        self(frame)
    }
}

/// The sending side of acknowledged delivery for one client, across its connections.
#[derive(Debug)]
pub(crate) struct Sender {
    state: Mutex<State>,
    room: Notify,
    session: String,
    window: usize,
    wait: bool,
    required: bool,
    timeout: Duration,
    refused: AtomicBool,
    sent: AtomicU64,
    resent: AtomicU64,
    acknowledged: AtomicU64,
    acks_received: AtomicU64,
    peak: AtomicU64,
    fallbacks: AtomicU64,
    /// Events dropped unacknowledged: a server's session that lingered too long.
    expired: AtomicU64,
}

#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    seq: u64,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a T>,
}

#[derive(Serialize)]
struct Hello<'a> {
    session: &'a str,
    next: u64,
    /// The client takes acknowledged events from the server too.
    receive: u8,
}

#[derive(Deserialize)]
struct Agreed {
    acks: u64,
    received: u64,
}

impl Sender {
    /// The sender a client with `config` needs (`None`: acks off).
    pub(crate) fn from_config(config: &Config) -> Option<Sender> {
        if config.acks == Acks::Off {
            return None;
        }
        Some(Sender::new(config))
    }

    /// A sender with `config`'s window (a server's, for one client session).
    pub(crate) fn new(config: &Config) -> Sender {
        Sender {
            state: Mutex::new(State {
                phase: Phase::Offline,
                next: 1,
                written: 0,
                buffer: VecDeque::new(),
                bytes: 0,
                attached: None,
                idle_since: Some(std::time::Instant::now()),
            }),
            room: Notify::new(),
            session: new_session(),
            window: config.ack_window.max(1),
            wait: config.when_window_full == WhenFull::Wait,
            required: config.acks == Acks::Required,
            timeout: config.ack_agreement_timeout,
            refused: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            resent: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            acks_received: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long to wait for the server's answer.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether a server that did not answer was refused (the client gives up).
    pub(crate) fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Emits one event: numbered, kept, and written now if agreed. `plain`
    /// sends it on the plain wire (after a fallback).
    pub(crate) fn emit<T: Serialize + ?Sized>(
        &self,
        out: &Outgoing,
        wire: &impl Wire,
        event_type: &str,
        data: Option<&T>,
        plain: impl FnOnce() -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut state = self.lock();
        if state.phase == Phase::Plain {
            drop(state);
            return plain();
        }
        if state.buffer.len() >= self.window {
            return Err(Error::AckWindowFull { capacity: self.window });
        }
        out.check_event_type(event_type)?;
        let seq = state.next;
        let mut frame = BytesMut::new();
        if out.legacy_v9_data() {
            // the inner data as node-ipc 9.x would send it on the plain wire
            let data = data.map(legacy_v9).transpose()?;
            out.encode(EVENT_EVENT, &Envelope { seq, kind: event_type, data: data.as_deref() }, &mut frame)?;
        } else {
            out.encode(EVENT_EVENT, &Envelope { seq, kind: event_type, data }, &mut frame)?;
        }
        let frame = frame.freeze();
        state.next += 1;
        state.bytes += frame.len();
        state.buffer.push_back((seq, frame));
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.peak.fetch_max(state.buffer.len() as u64, Ordering::Relaxed);
        if state.phase == Phase::Live {
            state.written = seq;
            let frame = &state.buffer.back().expect("just pushed").1;
            // a failed write ends the connection; the buffer keeps the event for the next one
            let _ = match &state.attached {
                Some(Attached(_, push)) => push(frame),
                None => wire.push(frame),
            };
        }
        Ok(())
    }

    /// Whether an emit would fail for want of room now.
    fn full(&self) -> bool {
        let state = self.lock();
        state.phase != Phase::Plain && state.buffer.len() >= self.window
    }

    /// [`emit`](Sender::emit), waiting for room when the config says so.
    pub(crate) async fn emit_async<T: Serialize + ?Sized>(
        &self,
        out: &Outgoing,
        wire: &impl Wire,
        event_type: &str,
        data: Option<&T>,
        plain: impl Fn() -> Result<(), Error>,
    ) -> Result<(), Error> {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if !(self.wait && self.full()) {
                return self.emit(out, wire, event_type, data, &plain);
            }
            room.await;
        }
    }

    /// Waits until every event emitted so far is acknowledged (a graceful close).
    pub(crate) async fn drained(&self) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.lock().buffer.is_empty() {
                return;
            }
            room.await;
        }
    }

    /// A connection (number `connection`) is open: say hello; events wait for the answer.
    pub(crate) fn connected(&self, out: &Outgoing, wire: &impl Wire, connection: u64) {
        let mut state = self.lock();
        state.phase = Phase::Agreeing(connection);
        let next = state.buffer.front().map_or(state.next, |(seq, _)| *seq);
        let mut frame = BytesMut::new();
        let hello = Hello { session: &self.session, next, receive: 1 };
        if out.encode(HELLO_EVENT, &hello, &mut frame).is_ok() {
            let _ = wire.push(&frame);
        }
    }

    /// The connection ended: events wait in the buffer for the next one.
    pub(crate) fn disconnected(&self) {
        self.lock().phase = Phase::Offline;
    }

    /// The server answered the hello: drop what it has, write the rest.
    pub(crate) fn on_hello(&self, event: &Event, wire: &impl Wire) {
        let Ok(Agreed { acks: 1, received }) = event.data_as::<Agreed>() else { return };
        let mut state = self.lock();
        if !matches!(state.phase, Phase::Agreeing(_)) {
            return;
        }
        self.acknowledge(&mut state, received);
        state.phase = Phase::Live;
        let mut resent = 0;
        for (seq, frame) in &state.buffer {
            if *seq <= state.written {
                resent += 1;
            }
            if wire.push(frame).is_err() {
                break;
            }
        }
        if let Some((seq, _)) = state.buffer.back() {
            state.written = state.written.max(*seq);
        }
        self.resent.fetch_add(resent, Ordering::Relaxed);
    }

    /// An acknowledgement: every event up to `seq` is handled.
    pub(crate) fn on_ack(&self, event: &Event) {
        let Some(seq) =
            event.raw_data_member("seq").and_then(|raw| std::str::from_utf8(raw).ok()?.parse().ok())
        else {
            return;
        };
        self.acks_received.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        self.acknowledge(&mut state, seq);
    }

    fn acknowledge(&self, state: &mut State, upto: u64) {
        let mut done = 0;
        while state.buffer.front().is_some_and(|(seq, _)| *seq <= upto) {
            let (_, frame) = state.buffer.pop_front().expect("checked");
            state.bytes -= frame.len();
            done += 1;
        }
        if done > 0 {
            self.acknowledged.fetch_add(done, Ordering::Relaxed);
            if state.buffer.is_empty() && state.buffer.capacity() > 1024 {
                state.buffer = VecDeque::new();
            }
            self.room.notify_waiters();
        }
    }

    /// No answer to connection `connection`'s hello in time. `Ok(())`: the
    /// plain wire from now on (what waited is written as plain events);
    /// `Err`: acks are required, end the connection with it.
    pub(crate) fn agreement_expired(
        &self,
        out: &Outgoing,
        wire: &impl Wire,
        connection: u64,
    ) -> Result<bool, Error> {
        let mut state = self.lock();
        if state.phase != Phase::Agreeing(connection) {
            return Ok(false);
        }
        if self.required {
            self.refused.store(true, Ordering::Relaxed);
            return Err(Error::AcksUnsupported { after: self.timeout });
        }
        state.phase = Phase::Plain;
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let waiting = std::mem::take(&mut state.buffer);
        state.bytes = 0;
        for (_, frame) in waiting {
            if let Some(event) = plain_event(&frame) {
                let mut plain = BytesMut::new();
                if out.encode_event(&event, &mut plain).is_ok() {
                    let _ = wire.push(&plain);
                }
            }
        }
        self.room.notify_waiters();
        Ok(true)
    }

    /// A server's sender: the first sequence number it will write on a new
    /// connection (what is before it was acknowledged or expired).
    pub(crate) fn first_unacknowledged(&self) -> u64 {
        let state = self.lock();
        state.buffer.front().map_or(state.next, |(seq, _)| *seq)
    }

    /// A server's sender: connection `id` of its client session agreed;
    /// write everything unacknowledged to it, then each emit as it comes.
    pub(crate) fn attach(&self, id: u64, push: Push) {
        let mut state = self.lock();
        let mut resent = 0;
        for (seq, frame) in &state.buffer {
            if *seq <= state.written {
                resent += 1;
            }
            if push(frame).is_err() {
                break;
            }
        }
        if let Some((seq, _)) = state.buffer.back() {
            state.written = state.written.max(*seq);
        }
        self.resent.fetch_add(resent, Ordering::Relaxed);
        state.attached = Some(Attached(id, push));
        state.idle_since = None;
        state.phase = Phase::Live;
    }

    /// A server's sender: connection `id` ended (a later one may have
    /// replaced it already: then nothing changes). Emits wait in the buffer.
    pub(crate) fn detach(&self, id: u64) {
        let mut state = self.lock();
        if state.attached.as_ref().is_some_and(|a| a.0 == id) {
            state.attached = None;
            state.phase = Phase::Offline;
            state.idle_since = Some(std::time::Instant::now());
        }
    }

    /// A server's sender: with no connection for longer than `linger`, drops
    /// what it holds (counted in `expired`); its client, should it come back,
    /// is told to skip them (the answer's `next`).
    pub(crate) fn expire_if_idle(&self, linger: Duration) {
        let mut state = self.lock();
        if state.idle_since.is_some_and(|since| since.elapsed() >= linger) && !state.buffer.is_empty() {
            let dropped = state.buffer.len() as u64;
            state.buffer = VecDeque::new();
            state.bytes = 0;
            self.expired.fetch_add(dropped, Ordering::Relaxed);
            self.room.notify_waiters();
        }
    }

    /// The counters (sending side).
    pub(crate) fn stats(&self) -> AckStats {
        let state = self.lock();
        AckStats {
            sent: self.sent.load(Ordering::Relaxed),
            resent: self.resent.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            acks_received: self.acks_received.load(Ordering::Relaxed),
            buffered: state.buffer.len(),
            buffered_bytes: state.bytes,
            buffered_peak: self.peak.load(Ordering::Relaxed) as usize,
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            ..AckStats::default()
        }
    }
}

/// `data` encoded, with node-ipc 9.x's rewrite (`""`, `null`, an object with a
/// truthy `_maxListeners`: `{}`) applied as the plain wire applies it.
fn legacy_v9<T: Serialize + ?Sized>(data: &T) -> Result<Box<serde_json::value::RawValue>, Error> {
    // written as the plain wire writes data (JavaScript's JSON.stringify rules)
    let event = Event::with_data("", data)?;
    let bytes = event.raw_data().unwrap_or(b"{}");
    let text = if ipc_codec::v9_rewrites_to_empty_object(bytes) { b"{}" } else { bytes };
    let text =
        String::from_utf8(text.to_vec()).map_err(|e| ipc_codec::CodecError::Serialize(e.to_string()))?;
    serde_json::value::RawValue::from_string(text)
        .map_err(|e| ipc_codec::CodecError::Serialize(e.to_string()).into())
}

/// The plain event inside an `ipc.event` frame we encoded (a fallback only).
fn plain_event(frame: &[u8]) -> Option<Event> {
    const PREFIX: &[u8] = b"{\"type\":\"ipc.event\",\"data\":";
    let body = frame.strip_prefix(PREFIX)?;
    let end = body.iter().rposition(|b| *b == b'}')?;
    let envelope = Event::from_json_data(EVENT_EVENT, Bytes::copy_from_slice(&body[..end])).ok()?;
    let kind: String = serde_json::from_slice(envelope.raw_data_member("type")?).ok()?;
    Some(envelope.member_event("data", &kind).unwrap_or_else(|| Event::without_data(&kind)))
}

/// A session id: unique per sender, across processes and restarts (pid,
/// clock, a per-process counter, and a hasher's random keys).
pub(super) fn new_session() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    hasher.write_u64(count);
    format!("{:x}-{:x}-{:016x}", std::process::id(), count, hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fallback_recovers_the_plain_event() {
        let out = Outgoing::from_config(&Config::v14()).unwrap();
        let mut frame = BytesMut::new();
        out.encode(EVENT_EVENT, &Envelope { seq: 7, kind: "tick", data: Some(&[1, 2]) }, &mut frame).unwrap();
        assert_eq!(
            &frame[..],
            b"{\"type\":\"ipc.event\",\"data\":{\"seq\":7,\"type\":\"tick\",\"data\":[1,2]}}\x0c"
        );
        let event = plain_event(&frame).unwrap();
        assert_eq!((event.event_type(), event.raw_data()), ("tick", Some(&b"[1,2]"[..])));
        let mut frame = BytesMut::new();
        out.encode(EVENT_EVENT, &Envelope::<()> { seq: 8, kind: "bare", data: None }, &mut frame).unwrap();
        assert!(!plain_event(&frame).unwrap().has_data());
    }

    #[test]
    fn the_v9_rewrite_applies_inside_the_envelope() {
        let out = Outgoing::from_config(&Config::v9()).unwrap();
        let wire = |_: &[u8]| Ok(());
        let sender = Sender::new(&Config::v9());
        sender.lock().phase = Phase::Live;
        for (data, inner) in [
            (serde_json::json!(null), "{}"),
            (serde_json::json!(""), "{}"),
            (serde_json::json!({"_maxListeners": 10, "a": 1}), "{}"),
            (serde_json::json!({"a": 1}), r#"{"a":1}"#),
        ] {
            sender.emit(&out, &wire, "t", Some(&data), || Ok(())).unwrap();
            let frame = sender.lock().buffer.back().unwrap().1.clone();
            let expected = format!(r#"{{"type":"t","data":{inner}}}"#);
            let event = plain_event(&frame).unwrap();
            assert_eq!(
                format!(
                    r#"{{"type":"{}","data":{}}}"#,
                    event.event_type(),
                    String::from_utf8_lossy(event.raw_data().unwrap())
                ),
                expected
            );
        }
        // 14.x (no rewrite): null stays null
        let out = Outgoing::from_config(&Config::v14()).unwrap();
        sender.emit(&out, &wire, "t", Some(&serde_json::json!(null)), || Ok(())).unwrap();
        let frame = sender.lock().buffer.back().unwrap().1.clone();
        assert_eq!(plain_event(&frame).unwrap().raw_data(), Some(&b"null"[..]));
    }

    #[test]
    fn sessions_differ() {
        assert_ne!(new_session(), new_session());
    }
}
