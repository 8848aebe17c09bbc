//! [`Outbox`]: a connection's outgoing queue. Emits never wait; the
//! connection's writer (the `write` module beside this one) takes what is queued in batches, and
//! `flush()` waits until what was queued before it is written.
//!
//! A stream connection's queue ([`StreamQueue`]) is one byte buffer that
//! emits encode straight into: no allocation per emit, and the buffer's
//! memory is reused from burst to burst (a queue of separately allocated
//! frames freed its memory in bulk after each burst, which the allocator gave
//! back to the system and faulted in again, costing a third of a 1 KiB sender's
//! time). A UDP server's queue ([`DatagramQueue`]) keeps frames apart, each
//! with its destination, for the endpoint to pack into datagrams.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use crate::error::Error;

/// What an [`Outbox`] keeps its frames in.
pub(crate) trait Queue: Default {
    /// What the writer takes at once.
    type Batch;
    /// Frames queued.
    fn frames(&self) -> usize;
    /// Takes up to `max_frames` frames (and, for bytes, about `max_bytes`):
    /// the batch, its frame count and its size in bytes.
    fn take(&mut self, max_frames: usize, max_bytes: usize) -> (Self::Batch, usize, usize);
    /// Drops every queued frame.
    fn clear(&mut self);
    /// Removes the last frame, `bytes` long (a push that went over a limit).
    fn pop_last(&mut self, bytes: usize);
    /// Whether the queue is empty but holds memory worth giving back when
    /// the connection goes quiet.
    fn holds_spare_memory(&self) -> bool {
        false
    }
}

/// Encoded frames back to back in one buffer, and each frame's length (for
/// sync mode's one frame at a time, and for counting frames).
#[derive(Debug, Default)]
pub(crate) struct StreamQueue {
    buf: BytesMut,
    lens: VecDeque<usize>,
    /// The most bytes queued at once since the buffer was last given back:
    /// about what the buffer's allocation holds.
    high_water: usize,
}

/// A drained queue whose buffer grew past this gives it back once the
/// connection has been quiet for a while (the writer decides when).
pub(crate) const KEEP_AT_MOST: usize = 256 * 1024;

impl StreamQueue {
    /// Appends one frame written by `encode`; returns its length. On error
    /// `encode` must leave the buffer as it was (the codecs do).
    fn append(&mut self, encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>) -> Result<usize, Error> {
        let start = self.buf.len();
        encode(&mut self.buf)?;
        let len = self.buf.len() - start;
        self.lens.push_back(len);
        self.high_water = self.high_water.max(self.buf.len());
        Ok(len)
    }
}

impl Queue for StreamQueue {
    type Batch = Bytes;

    fn frames(&self) -> usize {
        self.lens.len()
    }

    fn take(&mut self, max_frames: usize, max_bytes: usize) -> (Bytes, usize, usize) {
        if self.lens.len() <= max_frames && self.buf.len() <= max_bytes {
            let n = self.lens.len();
            self.lens.clear();
            let len = self.buf.len();
            return (self.buf.split().freeze(), n, len);
        }
        let (mut n, mut len) = (0, 0);
        for &frame in &self.lens {
            if n == max_frames || (n > 0 && len + frame > max_bytes) {
                break;
            }
            n += 1;
            len += frame;
        }
        self.lens.drain(..n);
        (self.buf.split_to(len).freeze(), n, len)
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.lens.clear();
    }

    fn pop_last(&mut self, bytes: usize) {
        self.lens.pop_back();
        self.buf.truncate(self.buf.len() - bytes);
    }

    fn holds_spare_memory(&self) -> bool {
        self.lens.is_empty() && self.high_water > KEEP_AT_MOST
    }
}

/// UDP frames, each with where it goes.
#[derive(Debug, Default)]
pub(crate) struct DatagramQueue(VecDeque<(Bytes, SocketAddr)>);

impl Queue for DatagramQueue {
    type Batch = Vec<(Bytes, SocketAddr)>;

    fn frames(&self) -> usize {
        self.0.len()
    }

    fn take(&mut self, max_frames: usize, _max_bytes: usize) -> (Self::Batch, usize, usize) {
        let n = self.0.len().min(max_frames);
        let batch: Vec<_> = self.0.drain(..n).collect();
        let len = batch.iter().map(|(frame, _)| frame.len()).sum();
        (batch, n, len)
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    fn pop_last(&mut self, _bytes: usize) {
        self.0.pop_back();
    }
}

#[derive(Debug, Default)]
struct State<Q> {
    queue: Q,
    /// Bytes queued or in flight.
    pending_bytes: usize,
    in_flight: (u64, usize),
    pushed: u64,
    /// Frames finished (written or lost), in queue order: what `flush` waits on.
    done: u64,
    online: bool,
    closed: bool,
    dropped_offline: u64,
    /// Recent losses as `(first, last]` ranges of frame numbers (frames are
    /// finished, written or lost, in queue order).
    losses: VecDeque<(u64, u64)>,
}

/// How many loss ranges are remembered for `flush`.
const MAX_LOSSES: usize = 64;

impl<Q> State<Q> {
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
pub(crate) struct Outbox<Q = StreamQueue> {
    state: Mutex<State<Q>>,
    wake: Notify,
    /// Woken when `done` moves (a `Notify`, not a watch channel: that
    /// allocated 368 bytes per connection).
    progressed: Notify,
    max_pending: Option<usize>,
    max_offline: usize,
}

impl<Q: Queue> Outbox<Q> {
    /// A queue limited to `max_pending` unsent bytes while online and to
    /// `max_offline` frames while offline.
    pub(crate) fn new(max_pending: Option<usize>, max_offline: usize, online: bool) -> Outbox<Q> {
        Outbox {
            state: Mutex::new(State { online, ..State::default() }),
            wake: Notify::new(),
            progressed: Notify::new(),
            max_pending,
            max_offline,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<Q>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one frame that `add` puts into the queue, returning its length.
    ///
    /// Errors: `add`'s; [`Error::Closed`]; while online [`Error::Backpressure`]
    /// (the frame is taken back; the caller closes the connection); while
    /// offline [`Error::QueueFull`].
    fn push_with(&self, add: impl FnOnce(&mut Q) -> Result<usize, Error>) -> Result<(), Error> {
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        if !state.online && state.queue.frames() >= self.max_offline {
            state.dropped_offline += 1;
            return Err(Error::QueueFull { capacity: self.max_offline });
        }
        let len = add(&mut state.queue)?;
        if state.online {
            if let Some(max) = self.max_pending {
                let pending = state.pending_bytes + len;
                if pending > max {
                    state.queue.pop_last(len);
                    return Err(Error::Backpressure { pending, max });
                }
            }
        }
        state.pending_bytes += len;
        state.pushed += 1;
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
            lost = state.queue.frames() as u64;
            state.queue.clear();
            state.pending_bytes = state.in_flight.1;
            // queued frames come after those in flight
            let first = state.pushed - lost;
            state.record_loss(first, lost);
        }
        state.done += lost;
        drop(state);
        self.progressed.notify_waiters();
        self.wake.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Whether the queue is closed and every frame is finished (written or lost).
    pub(crate) fn is_closed_and_drained(&self) -> bool {
        let state = self.lock();
        state.closed && state.done == state.pushed
    }

    /// The frames taken by a writer that stopped before writing them are lost.
    pub(crate) fn abandon_in_flight(&self) {
        let mut state = self.lock();
        let (n, bytes) = std::mem::take(&mut state.in_flight);
        state.pending_bytes -= bytes;
        let first = state.pushed - state.queue.frames() as u64 - n;
        state.record_loss(first, n);
        state.done += n;
        drop(state);
        if n > 0 {
            self.progressed.notify_waiters();
        }
    }

    /// Waits until every frame queued before the call is written.
    ///
    /// Errors: [`Error::Closed`] when one of them was lost (the connection
    /// closed first, or the queue was closed with `discard`).
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let (start, target) = {
            let state = self.lock();
            if state.closed && state.losses.back().is_some_and(|&(_, last)| last == state.pushed) {
                return Err(Error::Closed); // discarded, the last frames with it
            }
            (state.done, state.pushed)
        };
        self.finished(target).await;
        if self.lost_in(start, target) > 0 {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// How many frames are finished (written or lost), and how many were
    /// queued, so far: frames are numbered from 0 in queue order, and finish
    /// in that order.
    pub(crate) fn progress(&self) -> (u64, u64) {
        let state = self.lock();
        (state.done, state.pushed)
    }

    /// Waits until the frames numbered below `target` are finished.
    pub(crate) async fn finished(&self, target: u64) {
        loop {
            let progressed = self.progressed.notified();
            tokio::pin!(progressed);
            // registered before the check: a wake-up between them is not lost
            progressed.as_mut().enable();
            if self.lock().done >= target {
                return;
            }
            progressed.await;
        }
    }

    /// How many of the frames numbered `from..to` were lost, as far as the
    /// last losses remembered tell (a close that loses frames in more than 64
    /// separate bursts may count fewer).
    pub(crate) fn lost_in(&self, from: u64, to: u64) -> u64 {
        let state = self.lock();
        state.losses.iter().map(|&(first, last)| last.min(to).saturating_sub(first.max(from))).sum()
    }

    /// Waits until frames are queued (true), or the queue is closed and
    /// drained (false). Cancel safe.
    pub(crate) async fn wait_queued(&self) -> bool {
        loop {
            {
                let state = self.lock();
                if state.queue.frames() > 0 {
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

    /// Takes up to `max_frames` queued frames (about `max_bytes` of a byte
    /// queue); they are in flight until [`written`](Outbox::written) or
    /// [`abandon_in_flight`](Outbox::abandon_in_flight).
    pub(crate) fn take(&self, max_frames: usize, max_bytes: usize) -> Q::Batch {
        let mut state = self.lock();
        let (batch, n, len) = state.queue.take(max_frames, max_bytes);
        state.in_flight = (n as u64, len);
        batch
    }

    /// The frames in flight are written. Returns whether the queue is now
    /// empty but holds memory worth giving back if nothing comes for a while
    /// (read under the same lock, so the writer needs no second look).
    pub(crate) fn written(&self) -> bool {
        let mut state = self.lock();
        let (n, bytes) = std::mem::take(&mut state.in_flight);
        state.pending_bytes -= bytes;
        let spare = state.queue.holds_spare_memory();
        state.done += n;
        drop(state);
        self.progressed.notify_waiters();
        spare
    }
}

impl Outbox<StreamQueue> {
    /// Whether the queue is empty and its buffer grew past [`KEEP_AT_MOST`].
    #[cfg(test)]
    pub(crate) fn holds_a_large_buffer(&self) -> bool {
        self.lock().queue.holds_spare_memory()
    }

    /// Gives a drained queue's buffer back (a burst is over; keeping its
    /// memory for every quiet connection would cost more than allocating it
    /// again for the next burst).
    pub(crate) fn release_buffer(&self) {
        let mut state = self.lock();
        if state.queue.lens.is_empty() {
            state.queue = StreamQueue::default();
        }
    }

    /// Queues one frame that `encode` writes straight into the queue's buffer
    /// (it must leave the buffer as it was on error, as the codecs do).
    ///
    /// Errors: `encode`'s, then as [`Outbox::push_with`].
    pub(crate) fn push_encoded(
        &self,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.push_with(|queue| queue.append(encode))
    }

    /// Queues one frame already encoded.
    #[cfg(test)]
    pub(crate) fn push(&self, frame: &[u8]) -> Result<(), Error> {
        self.push_encoded(|buf| {
            buf.extend_from_slice(frame);
            Ok(())
        })
    }
}

impl Outbox<DatagramQueue> {
    /// Queues a datagram frame for `to`.
    pub(crate) fn push(&self, frame: Bytes, to: SocketAddr) -> Result<(), Error> {
        self.push_with(|queue| {
            let len = frame.len();
            queue.0.push_back((frame, to));
            Ok(len)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a writer would write now: everything queued, marked written.
    fn drain(outbox: &Outbox) -> Bytes {
        let batch = outbox.take(usize::MAX, usize::MAX);
        outbox.written();
        batch
    }

    #[tokio::test]
    async fn offline_queue_is_bounded_and_counts_drops() {
        let outbox: Outbox = Outbox::new(None, 2, false);
        outbox.push(b"1").unwrap();
        outbox.push(b"2").unwrap();
        assert!(matches!(outbox.push(b"3"), Err(Error::QueueFull { capacity: 2 })));
        assert_eq!(outbox.take_dropped(), 1);
        assert_eq!(outbox.take_dropped(), 0);
        outbox.set_online(true);
        outbox.close(false);
        assert!(outbox.wait_queued().await);
        assert_eq!(drain(&outbox), "12");
        assert!(!outbox.wait_queued().await);
        outbox.flush().await.unwrap();
    }

    #[tokio::test]
    async fn online_queue_is_bounded_by_bytes() {
        let outbox: Outbox = Outbox::new(Some(4), 10, true);
        outbox.push(b"abc").unwrap();
        assert!(matches!(outbox.push(b"de"), Err(Error::Backpressure { pending: 5, max: 4 })));
        // the refused frame is not queued
        assert_eq!(drain(&outbox), "abc");
    }

    #[tokio::test]
    async fn flush_fails_for_discarded_frames() {
        let outbox: Outbox = Outbox::new(None, 10, true);
        outbox.push(b"x").unwrap();
        outbox.close(true);
        assert!(matches!(outbox.flush().await, Err(Error::Closed)));
        assert!(matches!(outbox.push(b"y"), Err(Error::Closed)));
    }
}

#[cfg(test)]
mod queue_tests {
    use super::*;

    #[test]
    fn stream_queue_takes_whole_frames_within_the_limits() {
        let mut queue = StreamQueue::default();
        for frame in ["aa", "bbb", "c", "dddd"] {
            queue
                .append(|buf| {
                    buf.extend_from_slice(frame.as_bytes());
                    Ok(())
                })
                .unwrap();
        }
        assert_eq!(queue.take(1, usize::MAX), (Bytes::from("aa"), 1, 2));
        // a frame is never split, and the first one goes even when over the byte limit
        assert_eq!(queue.take(usize::MAX, 3), (Bytes::from("bbb"), 1, 3));
        assert_eq!(queue.take(usize::MAX, 4), (Bytes::from("c"), 1, 1));
        assert_eq!(queue.take(usize::MAX, 1), (Bytes::from("dddd"), 1, 4));
        assert_eq!(queue.frames(), 0);
    }
}
