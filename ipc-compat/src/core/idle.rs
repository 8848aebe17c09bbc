//! An idle stream connection waits in a small future: [`until_active`]
//! returns once the peer sends its first byte, something is queued for it,
//! or it is killed, and only then are the reader and writer built (on the
//! heap, by [`serve_stream`](super::serve_stream)). A connection that never
//! speaks then costs its task, its socket and its queue, not the reader's and
//! writer's state (about 1.9 KiB of future).
//!
//! The first byte is read for real (readiness alone cannot be awaited on any
//! `AsyncRead`, and a TLS stream may hold plaintext its socket no longer
//! signals) and handed back in front of the stream by [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::{Killer, Outbox};
use crate::error::Error;

/// Why an idle connection woke.
pub(crate) enum Woke {
    /// The peer sent this first byte (`None`: it closed, or something was
    /// queued for it first).
    Active(Option<u8>),
    /// Reading failed.
    ReadFailed(io::Error),
    /// Killed, with the reason.
    Killed(Option<Error>),
}

/// Waits until the connection has something to do.
pub(crate) async fn until_active<T: AsyncRead + Unpin>(io: &mut T, outbox: &Outbox, killer: &Killer) -> Woke {
    let mut first = [0u8; 1];
    tokio::select! {
        read = io.read(&mut first) => match read {
            Ok(0) => Woke::Active(None),
            Ok(_) => Woke::Active(Some(first[0])),
            Err(e) => Woke::ReadFailed(e),
        },
        _ = outbox.wait_queued() => Woke::Active(None),
        killed = killer.killed() => Woke::Killed(killed),
    }
}

/// A stream with one byte already read put back in front of it. The first
/// read returns that byte with whatever arrived with it, so that a raw-buffer
/// reader still sees the peer's first chunk whole.
pub(super) struct Prefixed<T> {
    first: Option<u8>,
    /// An error met while reading what came with the first byte, returned
    /// by the next read.
    error: Option<io::Error>,
    io: T,
}

impl<T> Prefixed<T> {
    pub(super) fn new(first: Option<u8>, io: T) -> Prefixed<T> {
        Prefixed { first, error: None, io }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.error.take() {
            return Poll::Ready(Err(error));
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let Some(byte) = this.first.take() else { return Pin::new(&mut this.io).poll_read(cx, buf) };
        buf.put_slice(&[byte]);
        if let Poll::Ready(Err(error)) = Pin::new(&mut this.io).poll_read(cx, buf) {
            this.error = Some(error);
        }
        Poll::Ready(Ok(()))
    }
}

super::forward_write::forward_async_write!(Prefixed);

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn the_first_byte_comes_back_in_front() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let outbox: Outbox = Outbox::new(None, usize::MAX, true);
        let killer = Killer::default();
        a.write_all(b"hello").await.unwrap();
        let Woke::Active(first) = until_active(&mut b, &outbox, &killer).await else { panic!("not active") };
        assert_eq!(first, Some(b'h'));
        let mut b = Prefixed::new(first, b);
        let mut chunk = [0u8; 16];
        assert_eq!(b.read(&mut chunk).await.unwrap(), 5, "one read gives the first chunk whole");
        assert_eq!(&chunk[..5], b"hello");
        a.write_all(b" world").await.unwrap();
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b" world");
    }

    #[tokio::test]
    async fn a_queued_frame_or_a_kill_wakes_an_idle_connection() {
        let (_a, mut b) = tokio::io::duplex(64);
        let outbox: Outbox = Outbox::new(None, usize::MAX, true);
        let killer = Killer::default();
        outbox.push(b"frame").unwrap();
        assert!(matches!(until_active(&mut b, &outbox, &killer).await, Woke::Active(None)));
        let outbox: Outbox = Outbox::new(None, usize::MAX, true);
        killer.kill(None);
        assert!(matches!(until_active(&mut b, &outbox, &killer).await, Woke::Killed(None)));
    }
}
