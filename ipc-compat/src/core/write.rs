//! The write path: one writer per connection takes what its [`Outbox`] holds
//! and puts it on the wire in as few system calls as it can.
//!
//! A stream gets the queued frames with vectored writes, straight from the
//! buffers the emits encoded into (no copy into a second buffer); a stream
//! that cannot write vectored gets them copied into one buffer per batch
//! instead of one write per frame. UDP frames are packed into datagrams per
//! destination by the endpoint's sink.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures::Sink;
use ipc_events::SyncGate;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::Outbox;

/// How many frames a writer takes from the queue at a time (as ipc-transport's batch writer).
const MAX_BATCH: usize = ipc_transport::DEFAULT_MAX_BATCH;

/// How many buffers one vectored write passes (Linux takes up to 1024).
const MAX_SLICES: usize = 256;

/// Writes queued frames to `io` until the queue is closed and drained (`Ok`)
/// or a write fails. With a sync gate, one frame at a time, each after the
/// gate opens (node-ipc's `sync`).
///
/// Cancel safe together with [`Outbox::abandon_in_flight`].
pub(crate) async fn write_stream<W>(outbox: &Outbox, io: &mut W, gate: Option<&SyncGate>) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    loop {
        if !outbox.wait_queued().await {
            return Ok(());
        }
        if let Some(gate) = gate {
            gate.ready().await;
        }
        // a fresh batch each time: an idle connection keeps no batch buffer
        let mut batch = Vec::new();
        outbox.take_into(if gate.is_some() { 1 } else { MAX_BATCH }, &mut batch);
        if batch.is_empty() {
            continue;
        }
        if io.is_write_vectored() || batch.len() == 1 {
            write_all_vectored(io, &mut batch).await?;
        } else {
            let mut joined = BytesMut::with_capacity(batch.iter().map(Bytes::len).sum());
            batch.iter().for_each(|frame| joined.extend_from_slice(frame));
            io.write_all(&joined).await?;
        }
        io.flush().await?;
        outbox.written();
    }
}

/// Writes every byte of `frames`, advancing through them as the writes go.
async fn write_all_vectored<W: AsyncWrite + Unpin>(io: &mut W, frames: &mut [Bytes]) -> io::Result<()> {
    let mut first = 0;
    while first < frames.len() {
        let mut written = poll_fn(|cx| poll_write_frames(Pin::new(&mut *io), cx, &frames[first..])).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let frame = &mut frames[first];
            let n = written.min(frame.len());
            frame.advance(n);
            written -= n;
            if frame.is_empty() {
                first += 1;
            }
        }
        while first < frames.len() && frames[first].is_empty() {
            first += 1;
        }
    }
    Ok(())
}

/// One vectored write of up to [`MAX_SLICES`] frames. The slices live only in
/// this call's stack frame, not in the writer's future, which keeps every
/// connection's task small.
fn poll_write_frames<W: AsyncWrite>(
    io: Pin<&mut W>,
    cx: &mut Context<'_>,
    frames: &[Bytes],
) -> Poll<io::Result<usize>> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let n = frames.len().min(MAX_SLICES);
    for (slice, frame) in slices.iter_mut().zip(frames) {
        *slice = IoSlice::new(frame);
    }
    io.poll_write_vectored(cx, &slices[..n])
}

/// Sends queued datagrams until the queue is closed: feeds everything queued,
/// flushes once (frames to one destination share datagrams). Errors are per
/// datagram and handed to `report`; the writer goes on.
pub(crate) async fn write_datagrams<S>(
    outbox: &Outbox<(Bytes, SocketAddr)>,
    sink: &mut S,
    report: impl Fn(ipc_transport::Error),
) where
    S: Sink<(Bytes, SocketAddr), Error = ipc_transport::Error> + Unpin,
{
    while outbox.wait_queued().await {
        let mut batch = Vec::new();
        outbox.take_into(MAX_BATCH, &mut batch);
        if let Err(e) = ipc_transport::send_batch(sink, batch).await {
            report(e);
        }
        outbox.written();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts at most `chunk` bytes per write, vectored or not.
    struct Trickle {
        got: Vec<u8>,
        chunk: usize,
        vectored: bool,
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
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let mut left = this.chunk;
            for buf in bufs {
                let n = buf.len().min(left);
                this.got.extend_from_slice(&buf[..n]);
                left -= n;
                if left == 0 {
                    break;
                }
            }
            this.writes += 1;
            Poll::Ready(Ok(this.chunk - left))
        }
        fn is_write_vectored(&self) -> bool {
            self.vectored
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn partial_vectored_writes_deliver_every_byte_in_order() {
        let frames: Vec<Bytes> = (0..1000).map(|i| Bytes::from(format!("frame {i};"))).collect();
        let want: Vec<u8> = frames.concat();
        for (chunk, vectored) in [(7, true), (4096, true), (1 << 20, true), (5, false), (1 << 20, false)] {
            let outbox = Outbox::new(None, usize::MAX, true);
            outbox.push_all(&frames).unwrap();
            outbox.close(false);
            let mut io = Trickle { got: Vec::new(), chunk, vectored, writes: 0 };
            write_stream(&outbox, &mut io, None).await.unwrap();
            assert_eq!(io.got, want, "chunk {chunk}, vectored {vectored}");
            outbox.flush().await.unwrap();
            if chunk == 1 << 20 {
                // 1000 frames in batches of 512: two writes, never one per frame
                assert_eq!(io.writes, if vectored { 4 } else { 2 }, "vectored {vectored}");
            }
        }
    }
}
