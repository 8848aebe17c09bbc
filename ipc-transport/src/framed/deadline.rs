//! The incomplete-frame timer both framed types share.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ipc_codec::PartialFrameDeadline;
use tokio::time::Sleep;

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
