//! The batching writer: many events, one flush.
//!
//! Every `flush` of a `Framed` is at least one write system call (and, on TCP
//! with `TCP_NODELAY`, usually one packet). Sending events one `send` at a
//! time therefore costs a syscall per event. The writer here *feeds* events
//! into the sink while more are already queued and flushes once when the
//! queue is empty (or after [`DEFAULT_MAX_BATCH`] events), so a burst of N
//! events costs a handful of writes instead of N, and a lone event still
//! leaves at once: batching never adds latency. `Framed` itself writes its
//! buffer out whenever it passes its backpressure boundary (64 KiB for
//! [`framed`](crate::framed()); tokio-util's default is 8 KiB), so a batch never
//! buffers without bound.

use std::fmt;

use futures::{Sink, SinkExt};
use tokio::sync::mpsc;

/// How many items a [`BatchWriter`] feeds before it flushes even though more are queued.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// Feeds every item of `items` into `sink`, then flushes once.
///
/// The batch for items you already hold: `SinkExt::send` in a loop would flush
/// after each one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_codec::CodecError> {
/// use futures::StreamExt;
/// use ipc_codec::{Event, JsonCodec};
/// use serde_json::json;
///
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let mut a = ipc_transport::framed(a, JsonCodec::default());
/// let events = (0..100).map(|i| Event::new("tick", json!(i)));
/// ipc_transport::send_batch(&mut a, events).await?; // one flush
/// let mut b = ipc_transport::framed(b, JsonCodec::default());
/// assert_eq!(b.next().await.unwrap()?.data()?, json!(0));
/// # Ok(())
/// # }
/// ```
pub async fn send_batch<S, I, It>(sink: &mut S, items: It) -> Result<(), S::Error>
where
    S: Sink<I> + Unpin,
    It: IntoIterator<Item = I>,
{
    for item in items {
        sink.feed(item).await?;
    }
    sink.flush().await
}

/// A writer task's input and the task itself: clone the [`BatchSender`] into
/// every producer, run the [`BatchWriter`] on one task.
///
/// `capacity` bounds the queue (at least 1); a producer waits when it is full,
/// which is how backpressure from a slow peer reaches the producers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use futures::StreamExt;
/// use ipc_codec::{Event, JsonCodec};
/// use serde_json::json;
///
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let (tx, writer) = ipc_transport::batch_writer(ipc_transport::framed(a, JsonCodec::default()), 1024);
/// let writer = tokio::spawn(writer.run());
/// for i in 0..1000 {
///     tx.send(Event::new("tick", json!(i))).await?;
/// }
/// drop(tx); // the writer flushes what is left and ends
/// writer.await??;
///
/// let mut b = ipc_transport::framed(b, JsonCodec::default());
/// for i in 0..1000 {
///     assert_eq!(b.next().await.unwrap()?.data()?, json!(i));
/// }
/// # Ok(())
/// # }
/// ```
pub fn batch_writer<S, I>(sink: S, capacity: usize) -> (BatchSender<I>, BatchWriter<S, I>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (BatchSender { tx }, BatchWriter { sink, rx, max_batch: DEFAULT_MAX_BATCH })
}

/// Writes queued items to a sink: feeds while more are queued, flushes once.
/// Made by [`batch_writer`].
pub struct BatchWriter<S, I> {
    sink: S,
    rx: mpsc::Receiver<I>,
    max_batch: usize,
}

impl<S, I> fmt::Debug for BatchWriter<S, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchWriter").field("max_batch", &self.max_batch).finish_non_exhaustive()
    }
}

impl<S, I> BatchWriter<S, I>
where
    S: Sink<I> + Unpin,
{
    /// Flushes after at most `n` items (at least 1) even when more are queued.
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// Writes until every [`BatchSender`] is dropped, then flushes and
    /// returns the sink. On a sink error it stops at once and returns the
    /// error; senders then see [`WriterClosed`].
    ///
    /// # Errors
    ///
    /// The sink's first error.
    pub async fn run(mut self) -> Result<S, S::Error> {
        while let Some(first) = self.rx.recv().await {
            self.sink.feed(first).await?;
            let mut fed = 1;
            while fed < self.max_batch {
                match self.rx.try_recv() {
                    Ok(item) => {
                        self.sink.feed(item).await?;
                        fed += 1;
                    }
                    Err(_) => break,
                }
            }
            self.sink.flush().await?;
        }
        Ok(self.sink)
    }
}

/// The producer side of a [`batch_writer`]; cheap to clone.
pub struct BatchSender<I> {
    tx: mpsc::Sender<I>,
}

impl<I> Clone for BatchSender<I> {
    fn clone(&self) -> Self {
        BatchSender { tx: self.tx.clone() }
    }
}

impl<I> fmt::Debug for BatchSender<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSender").field("closed", &self.tx.is_closed()).finish()
    }
}

impl<I> BatchSender<I> {
    /// Queues `item`, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// [`WriterClosed`] (holding the item) when the writer has stopped.
    pub async fn send(&self, item: I) -> Result<(), WriterClosed<I>> {
        self.tx.send(item).await.map_err(|e| WriterClosed(e.0))
    }

    /// Whether the writer has stopped (its sink failed, or it was dropped).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The [`BatchWriter`] has stopped; the item that could not be queued is inside.
pub struct WriterClosed<I>(pub I);

impl<I> fmt::Debug for WriterClosed<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriterClosed(..)")
    }
}

impl<I> fmt::Display for WriterClosed<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the batch writer has stopped")
    }
}

impl<I> std::error::Error for WriterClosed<I> {}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// Records items and flushes.
    #[derive(Default)]
    struct Recorder {
        items: Vec<u32>,
        flushes: Vec<usize>,
    }

    impl Sink<u32> for Recorder {
        type Error = std::convert::Infallible;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, item: u32) -> Result<(), Self::Error> {
            self.get_mut().items.push(item);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            let this = self.get_mut();
            this.flushes.push(this.items.len());
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.poll_flush(cx)
        }
    }

    #[tokio::test]
    async fn queued_items_share_one_flush() {
        let (tx, writer) = batch_writer(Recorder::default(), 100);
        for i in 0..10 {
            tx.send(i).await.unwrap();
        }
        drop(tx);
        let sink = writer.run().await.unwrap();
        assert_eq!(sink.items, (0..10).collect::<Vec<_>>());
        assert_eq!(sink.flushes, vec![10]);
    }

    #[tokio::test]
    async fn max_batch_bounds_a_batch() {
        let (tx, writer) = batch_writer(Recorder::default(), 100);
        for i in 0..10 {
            tx.send(i).await.unwrap();
        }
        drop(tx);
        let sink = writer.max_batch(4).run().await.unwrap();
        assert_eq!(sink.flushes, vec![4, 8, 10]);
    }

    #[tokio::test]
    async fn send_batch_flushes_once() {
        let mut sink = Recorder::default();
        send_batch(&mut sink, 0..5).await.unwrap();
        assert_eq!(sink.flushes, vec![5]);
    }

    #[tokio::test]
    async fn sender_sees_a_stopped_writer() {
        let (tx, writer) = batch_writer::<Recorder, u32>(Recorder::default(), 1);
        drop(writer);
        assert!(tx.is_closed());
        assert_eq!(tx.send(7).await.unwrap_err().0, 7);
    }
}
