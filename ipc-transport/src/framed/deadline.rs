//! What both framed types share: the incomplete-frame timer and the rule
//! for growing the read buffer.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use ipc_codec::PartialFrameDeadline;
use tokio::time::Sleep;

/// What a read buffer grows to take in once a read has filled it: a busy
/// stream then reads 64 KiB per call instead of 8 KiB, while quiet
/// connections keep the small initial buffer (idle memory stays low).
pub(super) const READ_BURST: usize = 64 * 1024;

/// The most undecoded bytes a full read buffer may still hold when it grows
/// (growing copies them): a 64 KiB burst then copies at most 4 KiB again.
const GROW_WHEN_LEFT: usize = 4 * 1024;

/// No spare room means the last read filled the buffer (splitting frames off
/// the front shrinks length and capacity alike): more is waiting. Grow only
/// once few bytes are left to decode, since growing copies them.
pub(super) fn grow_when_full(buffer: &mut BytesMut) {
    if buffer.len() == buffer.capacity() && buffer.len() <= GROW_WHEN_LEFT {
        buffer.reserve(READ_BURST);
    }
}

/// The incomplete-frame timer of one reader.
#[derive(Default)]
pub(super) struct ReadDeadline {
    pub(super) timer: Option<Pin<Box<Sleep>>>,
    pub(super) timed_out: bool,
}

impl ReadDeadline {
    /// The state to keep when the codec is replaced: an ended stream stays
    /// ended; the old codec's timer goes (the new codec sets its own).
    pub(super) fn for_new_codec(self) -> Self {
        Self { timer: None, timed_out: self.timed_out }
    }

    /// Passes a ready item on (and forgets the timer); while pending, arms the
    /// timer at the codec's deadline and, once it fires, yields one `TimedOut` error.
    pub(super) fn after_poll<I, E, C>(
        &mut self,
        polled: Poll<Option<Result<I, E>>>,
        codec: &C,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<I, E>>>
    where
        C: PartialFrameDeadline,
        E: From<io::Error>,
    {
        if polled.is_ready() {
            self.timer = None;
            return polled;
        }
        let Some(deadline) = codec.partial_frame_deadline() else {
            self.timer = None;
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = match &mut self.timer {
            Some(timer) => {
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            slot => slot.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer = None;
                self.timed_out = true;
                let err =
                    io::Error::new(io::ErrorKind::TimedOut, "incomplete frame exceeded the message timeout");
                Poll::Ready(Some(Err(err.into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
