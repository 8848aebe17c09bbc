//! [`Outbox`]: a connection's outgoing queue. Emits never wait; the
//! connection's writer ([`super::write`]) takes what is queued in batches, and
//! `flush()` waits until what was queued before it is written.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{watch, Notify};

use crate::error::Error;

/// What an [`Outbox`] queues: an encoded frame, or (UDP) a frame and where it goes.
pub(crate) trait Frame: Clone {
    /// The bytes it puts on the wire, for `maxPendingBytes`.
    fn wire_len(&self) -> usize;
}

impl Frame for Bytes {
    fn wire_len(&self) -> usize {
        self.len()
    }
}

impl Frame for (Bytes, SocketAddr) {
    fn wire_len(&self) -> usize {
        self.0.len()
    }
}

/// How far the writer got: frames done (written or lost), of which lost, and
/// whether the queue is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Progress {
    done: u64,
    lost: u64,
    closed: bool,
}

#[derive(Debug)]
struct State<F> {
    queue: VecDeque<F>,
    /// Bytes queued or in flight.
    pending_bytes: usize,
    in_flight: (u64, usize),
    pushed: u64,
    online: bool,
    closed: bool,
    dropped_offline: u64,
    /// Recent losses as `(first, last]` ranges of frame numbers (frames are
    /// finished, written or lost, in queue order).
    losses: VecDeque<(u64, u64)>,
}

/// How many loss ranges are remembered for `flush`.
const MAX_LOSSES: usize = 64;

impl<F> State<F> {
    fn new(online: bool) -> State<F> {
        State {
            queue: VecDeque::new(),
            pending_bytes: 0,
            in_flight: (0, 0),
            pushed: 0,
            online,
            closed: false,
            dropped_offline: 0,
            losses: VecDeque::new(),
        }
    }

    fn record_loss(&mut self, from: u64, n: u64) {
        if n > 0 {
            if self.losses.len() == MAX_LOSSES {
                self.losses.pop_front();
            }
            self.losses.push_back((from, from + n));
        }
    }
}

/// The outgoing queue of one connection (of a client: of all its
/// connections; of a UDP server: of all its peers).
#[derive(Debug)]
pub(crate) struct Outbox<F = Bytes> {
    state: Mutex<State<F>>,
    wake: Notify,
    progress: watch::Sender<Progress>,
    max_pending: Option<usize>,
    max_offline: usize,
}

impl<F: Frame> Outbox<F> {
    /// A queue limited to `max_pending` unsent bytes while online and to
    /// `max_offline` frames while offline.
    pub(crate) fn new(max_pending: Option<usize>, max_offline: usize, online: bool) -> Outbox<F> {
        Outbox {
            state: Mutex::new(State::new(online)),
            wake: Notify::new(),
            progress: watch::channel(Progress::default()).0,
            max_pending,
            max_offline,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<F>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame.
    ///
    /// Errors: [`Error::Closed`]; while online [`Error::Backpressure`] (the
    /// caller closes the connection); while offline [`Error::QueueFull`].
    pub(crate) fn push(&self, frame: F) -> Result<(), Error> {
        self.push_all(std::slice::from_ref(&frame))
    }

    /// Queues frames as one unit (all or none).
    pub(crate) fn push_all(&self, frames: &[F]) -> Result<(), Error> {
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        let len: usize = frames.iter().map(Frame::wire_len).sum();
        if state.online {
            if let Some(max) = self.max_pending {
                let pending = state.pending_bytes + len;
                if pending > max {
                    return Err(Error::Backpressure { pending, max });
                }
            }
        } else if state.queue.len() + frames.len() > self.max_offline {
            state.dropped_offline += frames.len() as u64;
            return Err(Error::QueueFull { capacity: self.max_offline });
        }
        state.queue.extend(frames.iter().cloned());
        state.pending_bytes += len;
        state.pushed += frames.len() as u64;
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Marks the queue online (limited by bytes) or offline (limited by count).
    pub(crate) fn set_online(&self, online: bool) {
        self.lock().online = online;
    }

    /// How many frames were dropped while offline since the last call.
    pub(crate) fn take_dropped(&self) -> u64 {
        std::mem::take(&mut self.lock().dropped_offline)
    }

    /// The offline capacity.
    pub(crate) fn max_offline(&self) -> usize {
        self.max_offline
    }

    /// Closes the queue: later pushes fail; the writer sends what is queued
    /// and then ends, unless `discard`, which drops it.
    pub(crate) fn close(&self, discard: bool) {
        let mut state = self.lock();
        state.closed = true;
        let mut lost = 0;
        if discard {
            lost = state.queue.len() as u64;
            state.queue.clear();
            state.pending_bytes = state.in_flight.1;
            // queued frames come after those in flight
            let first = state.pushed - lost;
            state.record_loss(first, lost);
        }
        drop(state);
        self.progress.send_modify(|p| {
            p.closed = true;
            p.done += lost;
            p.lost += lost;
        });
        self.wake.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The frames taken by a writer that stopped before writing them are lost.
    pub(crate) fn abandon_in_flight(&self) {
        let mut state = self.lock();
        let (n, bytes) = std::mem::take(&mut state.in_flight);
        state.pending_bytes -= bytes;
        let first = state.pushed - state.queue.len() as u64 - n;
        state.record_loss(first, n);
        drop(state);
        if n > 0 {
            self.progress.send_modify(|p| {
                p.done += n;
                p.lost += n;
            });
        }
    }

    /// Waits until every frame queued before the call is written.
    ///
    /// Errors: [`Error::Closed`] when one of them was lost (the connection
    /// closed first, or the queue was closed with `discard`).
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let target = {
            let state = self.lock();
            if state.closed && state.losses.back().is_some_and(|&(_, last)| last == state.pushed) {
                return Err(Error::Closed); // discarded, the last frames with it
            }
            state.pushed
        };
        let mut rx = self.progress.subscribe();
        let start = rx.borrow().done;
        rx.wait_for(|p| p.done >= target).await.map_err(|_| Error::Closed)?;
        let lost = self.lock().losses.iter().any(|&(first, last)| first < target && last > start);
        if lost {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Waits until frames are queued (true), or the queue is closed and
    /// drained (false). Cancel safe.
    pub(crate) async fn wait_queued(&self) -> bool {
        loop {
            {
                let state = self.lock();
                if !state.queue.is_empty() {
                    return true;
                }
                if state.closed {
                    return false;
                }
            }
            // a push between the check and here left a permit: no wake-up is lost
            self.wake.notified().await;
        }
    }

    /// Moves up to `max` queued frames into `batch`; they are in flight until
    /// [`written`](Outbox::written) or [`abandon_in_flight`](Outbox::abandon_in_flight).
    pub(crate) fn take_into(&self, max: usize, batch: &mut Vec<F>) {
        let mut state = self.lock();
        let n = state.queue.len().min(max);
        let start = batch.len();
        batch.extend(state.queue.drain(..n));
        state.in_flight = (n as u64, batch[start..].iter().map(Frame::wire_len).sum());
    }

    /// The frames in flight are written.
    pub(crate) fn written(&self) {
        let mut state = self.lock();
        let (n, bytes) = std::mem::take(&mut state.in_flight);
        state.pending_bytes -= bytes;
        drop(state);
        self.progress.send_modify(|p| p.done += n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a writer would write now: everything queued, marked written.
    fn drain(outbox: &Outbox) -> Vec<Bytes> {
        let mut batch = Vec::new();
        outbox.take_into(usize::MAX, &mut batch);
        outbox.written();
        batch
    }

    #[tokio::test]
    async fn offline_queue_is_bounded_and_counts_drops() {
        let outbox = Outbox::new(None, 2, false);
        outbox.push(Bytes::from_static(b"1")).unwrap();
        outbox.push(Bytes::from_static(b"2")).unwrap();
        assert!(matches!(outbox.push(Bytes::from_static(b"3")), Err(Error::QueueFull { capacity: 2 })));
        assert_eq!(outbox.take_dropped(), 1);
        assert_eq!(outbox.take_dropped(), 0);
        outbox.set_online(true);
        outbox.close(false);
        assert!(outbox.wait_queued().await);
        assert_eq!(drain(&outbox), ["1", "2"]);
        assert!(!outbox.wait_queued().await);
        outbox.flush().await.unwrap();
    }

    #[tokio::test]
    async fn online_queue_is_bounded_by_bytes() {
        let outbox = Outbox::new(Some(4), 10, true);
        outbox.push(Bytes::from_static(b"abc")).unwrap();
        assert!(matches!(
            outbox.push(Bytes::from_static(b"de")),
            Err(Error::Backpressure { pending: 5, max: 4 })
        ));
    }

    #[tokio::test]
    async fn flush_fails_for_discarded_frames() {
        let outbox = Outbox::new(None, 10, true);
        outbox.push(Bytes::from_static(b"x")).unwrap();
        outbox.close(true);
        assert!(matches!(outbox.flush().await, Err(Error::Closed)));
        assert!(matches!(outbox.push(Bytes::from_static(b"y")), Err(Error::Closed)));
    }
}
