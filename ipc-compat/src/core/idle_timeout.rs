//! [`IdleTimeout`]: a stream that fails its reads once nothing has been read
//! from it for [`Config::idle_timeout`](crate::Config::idle_timeout).
//!
//! A connection is wrapped only when the timeout is on, so that one without
//! it runs exactly as before. With it, each read that returns bytes records
//! the time (one clock reading per read, not per event), and one timer per
//! connection is moved only when it fires early: it fires at the old deadline,
//! finds a later read, and is set again to `last read + timeout`.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::Error;

/// `io`, whose reads fail with [`Error::IdleTimeout`] (inside an `io::Error`
/// of kind `TimedOut`) once nothing was read for `after`.
pub(crate) struct IdleTimeout<T> {
    io: T,
    after: Duration,
    last_read: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    /// Starts the clock now. Needs a tokio runtime with time enabled.
    pub(crate) fn new(io: T, after: Duration) -> IdleTimeout<T> {
        let now = Instant::now();
        IdleTimeout { io, after, last_read: now, timer: Box::pin(tokio::time::sleep_until(now + after)) }
    }
}

/// The idle timeout an error reports, if it is the one [`IdleTimeout`] raised.
pub(crate) fn idle_timed_out(error: &io::Error) -> Option<Duration> {
    match error.get_ref()?.downcast_ref::<Error>()? {
        Error::IdleTimeout { after } => Some(*after),
        _ => None,
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last_read = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let deadline = this.last_read + this.after;
                if this.timer.deadline() >= deadline {
                    let error = Error::IdleTimeout { after: this.after };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, error)));
                }
                // read since the timer was set: wait out the rest
                this.timer.as_mut().reset(deadline);
            },
        }
    }
}

super::forward_write::forward_async_write!(IdleTimeout);

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_read_moves_the_deadline_and_silence_ends_it() {
        let (mut peer, io) = tokio::io::duplex(64);
        let mut io = IdleTimeout::new(io, Duration::from_secs(10));
        let start = Instant::now();
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(7)).await;
            peer.write_all(b"x").await.unwrap();
            assert_eq!(io.read(&mut buf).await.unwrap(), 1, "bytes within the timeout keep it open");
        }
        let error = io.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(idle_timed_out(&error), Some(Duration::from_secs(10)));
        assert_eq!(start.elapsed(), Duration::from_secs(21 + 10), "ten seconds after the last read");
    }

    #[test]
    fn other_errors_are_not_idle_timeouts() {
        assert_eq!(idle_timed_out(&io::Error::new(io::ErrorKind::TimedOut, "messageTimeout")), None);
        assert_eq!(idle_timed_out(&io::ErrorKind::TimedOut.into()), None);
    }
}
