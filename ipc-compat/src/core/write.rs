//! The write path: one writer per connection takes what its [`Outbox`] holds
//! and puts it on the wire in as few system calls as it can.
//!
//! A stream's frames were encoded straight into its queue's buffer, back to
//! back, so the writer takes them as one contiguous chunk and writes it as it
//! is (no copy into a second buffer). UDP frames are packed into datagrams
//! per destination by the endpoint's sink.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use futures::Sink;
use ipc_events::SyncGate;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::outbox::DatagramQueue;
use super::Outbox;

/// How many frames a writer takes from the queue at a time (as ipc-transport's batch writer).
const MAX_BATCH: usize = ipc_transport::DEFAULT_MAX_BATCH;

/// About how many bytes a stream's writer takes at a time: about a socket
/// buffer, so that progress (and `flush`) moves as the peer reads, and the
/// queue's buffer is handed back to emits a piece at a time.
const MAX_CHUNK: usize = 256 * 1024;

/// How long a connection stays quiet before its queue gives back a buffer
/// that a burst grew past `KEEP_AT_MOST` (connections that write small frames
/// never arm this timer).
const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes queued frames to `io` until the queue is closed and drained (`Ok`)
/// or a write fails. With a sync gate, one frame at a time, each after the
/// gate opens (node-ipc's `sync`).
///
/// Cancel safe together with [`Outbox::abandon_in_flight`].
pub(crate) async fn write_stream<W>(outbox: &Outbox, io: &mut W, gate: Option<&SyncGate>) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    // whether the last batch left the queue empty with a burst's buffer to give back
    let mut spare = false;
    loop {
        let queued = if spare {
            match tokio::time::timeout(RELEASE_AFTER, outbox.wait_queued()).await {
                Ok(queued) => queued,
                Err(_quiet) => {
                    outbox.release_buffer();
                    outbox.wait_queued().await
                }
            }
        } else {
            outbox.wait_queued().await
        };
        if !queued {
            return Ok(());
        }
        if let Some(gate) = gate {
            gate.ready().await;
        }
        let chunk = outbox.take(if gate.is_some() { 1 } else { usize::MAX }, MAX_CHUNK);
        if chunk.is_empty() {
            continue;
        }
        io.write_all(&chunk).await?;
        drop(chunk); // before `written`: the queue's buffer can take the space back
        io.flush().await?;
        spare = outbox.written();
    }
}

/// Sends queued datagrams until the queue is closed: feeds everything queued,
/// flushes once (frames to one destination share datagrams). Errors are per
/// datagram and handed to `report`; the writer goes on.
pub(crate) async fn write_datagrams<S>(
    outbox: &Outbox<DatagramQueue>,
    sink: &mut S,
    report: impl Fn(ipc_transport::Error),
) where
    S: Sink<(Bytes, SocketAddr), Error = ipc_transport::Error> + Unpin,
{
    while outbox.wait_queued().await {
        let batch = outbox.take(MAX_BATCH, usize::MAX);
        if let Err(e) = ipc_transport::send_batch(sink, batch).await {
            report(e);
        }
        outbox.written();
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// Accepts at most `chunk` bytes per write.
    struct Trickle {
        got: Vec<u8>,
        chunk: usize,
        writes: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let n = buf.len().min(this.chunk);
            this.got.extend_from_slice(&buf[..n]);
            this.writes += 1;
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn partial_writes_deliver_every_byte_in_order() {
        let frames: Vec<String> = (0..1000).map(|i| format!("frame {i};")).collect();
        let want = frames.concat().into_bytes();
        for chunk in [7, 4096, 1 << 20] {
            let outbox: Outbox = Outbox::new(None, usize::MAX, true);
            for frame in &frames {
                outbox.push(frame.as_bytes()).unwrap();
            }
            outbox.close(false);
            let mut io = Trickle { got: Vec::new(), chunk, writes: 0 };
            write_stream(&outbox, &mut io, None).await.unwrap();
            assert_eq!(io.got, want, "chunk {chunk}");
            outbox.flush().await.unwrap();
            if chunk == 1 << 20 {
                assert_eq!(io.writes, 1, "1000 queued frames go out in one write");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_buffer_is_given_back_once_the_connection_is_quiet() {
        let outbox: Outbox = Outbox::new(None, usize::MAX, true);
        let frame = vec![b'x'; 1024];
        for _ in 0..1024 {
            outbox.push(&frame).unwrap(); // 1 MiB queued at once
        }
        let mut io = Trickle { got: Vec::new(), chunk: usize::MAX, writes: 0 };
        {
            let writer = write_stream(&outbox, &mut io, None);
            tokio::pin!(writer);
            assert!(tokio::time::timeout(std::time::Duration::from_millis(10), writer.as_mut())
                .await
                .is_err());
            assert!(outbox.holds_a_large_buffer(), "drained, still holding the burst's buffer");
            assert!(tokio::time::timeout(RELEASE_AFTER * 2, writer.as_mut()).await.is_err());
            assert!(!outbox.holds_a_large_buffer(), "given back after a quiet second");
            outbox.push(b"more").unwrap();
            outbox.close(false);
            writer.await.unwrap();
        }
        assert_eq!(io.got.len(), 1024 * 1024 + 4);
    }

    #[tokio::test]
    async fn sync_mode_writes_one_frame_per_opening() {
        let outbox: Outbox = Outbox::new(None, usize::MAX, true);
        for frame in ["a", "bb", "ccc"] {
            outbox.push(frame.as_bytes()).unwrap();
        }
        outbox.close(false);
        let gate = SyncGate::new();
        let mut io = Trickle { got: Vec::new(), chunk: usize::MAX, writes: 0 };
        {
            let writer = write_stream(&outbox, &mut io, Some(&gate));
            tokio::pin!(writer);
            for _ in 0..2 {
                assert!(futures::FutureExt::now_or_never(writer.as_mut()).is_none(), "waits for the answer");
                gate.release();
            }
            writer.await.unwrap();
        }
        assert_eq!((io.got.as_slice(), io.writes), (&b"abbccc"[..], 3));
    }
}
