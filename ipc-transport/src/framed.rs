//! [`framed()`]: any stream of this crate (or any `AsyncRead + AsyncWrite`) as a
//! `Framed` of events, with the codec's incomplete-frame deadline enforced.

use std::fmt;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::{Sink, Stream};
use ipc_codec::PartialFrameDeadline;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;
use tokio_util::codec::{Decoder, Encoder, Framed, FramedRead};

/// Wraps a connection in a `Framed` with `codec`, enforcing the codec's
/// incomplete-frame deadline: the one call from a stream to events.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_codec::CodecError> {
/// use futures::{SinkExt, StreamExt};
/// use ipc_codec::{Event, JsonCodec};
///
/// let (a, b) = tokio::io::duplex(1024);
/// let mut a = ipc_transport::framed(a, JsonCodec::default());
/// let mut b = ipc_transport::framed(b, JsonCodec::default());
/// a.send(Event::new("ping", serde_json::json!(1))).await?;
/// assert_eq!(b.next().await.unwrap()?.event_type(), "ping");
/// # Ok(())
/// # }
/// ```
pub fn framed<T, C>(io: T, codec: C) -> IpcFramed<T, C>
where
    T: AsyncRead + AsyncWrite,
{
    let mut inner = Framed::new(io, codec);
    inner.set_backpressure_boundary(WRITE_BATCH);
    IpcFramed { inner, deadline: ReadDeadline::default() }
}

/// The read half of [`framed()`]: decodes `io` with `codec`, enforcing the
/// codec's incomplete-frame deadline, for connections whose writes go another
/// way (a writer task with the write half of `tokio::io::split`, say).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_codec::CodecError> {
/// use futures::StreamExt;
/// use ipc_codec::JsonCodec;
/// use tokio::io::AsyncWriteExt;
///
/// let (mut a, b) = tokio::io::duplex(1024);
/// let (read, _write) = tokio::io::split(b);
/// let mut events = ipc_transport::framed_read(read, JsonCodec::default());
/// a.write_all(b"{\"type\":\"ping\",\"data\":1}\x0c").await?;
/// assert_eq!(events.next().await.unwrap()?.event_type(), "ping");
/// # Ok(())
/// # }
/// ```
pub fn framed_read<T, C>(io: T, codec: C) -> IpcFramedRead<T, C>
where
    T: AsyncRead,
{
    IpcFramedRead { inner: FramedRead::new(io, codec), deadline: ReadDeadline::default() }
}

/// Bytes queued before `poll_ready` writes them out: a sender feeding events
/// makes one write per 64 KiB instead of tokio-util's default 8 KiB, which
/// took a fifth of a fast sender's time in system calls.
const WRITE_BATCH: usize = 64 * 1024;

/// What a read buffer grows to take in once a read has filled it: a busy
/// stream then reads 64 KiB per call instead of 8 KiB, while quiet
/// connections keep the small initial buffer (idle memory stays low).
const READ_BURST: usize = 64 * 1024;

/// The most undecoded bytes a full read buffer may still hold when it grows
/// (growing copies them): a 64 KiB burst then copies at most 4 KiB again.
const GROW_WHEN_LEFT: usize = 4 * 1024;

/// A `tokio_util::codec::Framed` that also closes the stream when an
/// incomplete frame outlives the codec's deadline ([`PartialFrameDeadline`]).
///
/// It is a `Stream` of decoded items and a `Sink` of anything the codec
/// encodes, with the codec's error type. When the deadline passes, the stream
/// yields one error whose I/O kind is `TimedOut` and then ends (node-ipc 14
/// closes the socket with `ERR_IPC_MESSAGE_TIMEOUT`). Without a deadline it
/// behaves like `Framed`. The timer needs a tokio runtime with time enabled.
///
/// Buffers: queued writes go out once 64 KiB are pending (or on `flush`);
/// reads start with tokio-util's 8 KiB buffer, which grows by 64 KiB when a
/// read has filled it and at most 4 KiB of it are left to decode (growing
/// copies those), and keeps that size. Quiet connections stay small; each
/// busy one holds about 64 KiB for reading.
///
/// Write through it with `feed` and one `flush` (or [`send_batch`](crate::send_batch),
/// or a [`batch_writer`](crate::batch_writer)): each `send` flushes. A codec
/// that encodes several item types leaves `SinkExt::close` ambiguous; name the
/// item type to half-close the connection: `SinkExt::<Event>::close(&mut framed)`.
pub struct IpcFramed<T, C> {
    inner: Framed<T, C>,
    deadline: ReadDeadline,
}

impl<T: fmt::Debug, C: fmt::Debug> fmt::Debug for IpcFramed<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcFramed")
            .field("io", self.inner.get_ref())
            .field("codec", self.inner.codec())
            .field("timed_out", &self.deadline.timed_out)
            .finish_non_exhaustive()
    }
}

impl<T, C> IpcFramed<T, C> {
    /// The connection.
    pub fn get_ref(&self) -> &T {
        self.inner.get_ref()
    }

    /// The connection, mutably. Reading or writing it directly corrupts the framing.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        self.inner.codec()
    }

    /// The codec, mutably.
    pub fn codec_mut(&mut self) -> &mut C {
        self.inner.codec_mut()
    }

    /// The plain `Framed` (no deadline from here on).
    pub fn into_framed(self) -> Framed<T, C> {
        self.inner
    }

    /// The connection; buffered bytes are lost.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T, C> Stream for IpcFramed<T, C>
where
    T: AsyncRead + Unpin,
    C: Decoder + PartialFrameDeadline + Unpin,
{
    type Item = Result<C::Item, C::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.deadline.timed_out {
            return Poll::Ready(None);
        }
        grow_when_full(this.inner.read_buffer_mut());
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        this.deadline.after_poll(polled, this.inner.codec(), cx)
    }
}

/// No spare room means the last read filled the buffer (splitting frames off
/// the front shrinks length and capacity alike): more is waiting. Grow only
/// once few bytes are left to decode, since growing copies them.
fn grow_when_full(buffer: &mut BytesMut) {
    if buffer.len() == buffer.capacity() && buffer.len() <= GROW_WHEN_LEFT {
        buffer.reserve(READ_BURST);
    }
}

/// The incomplete-frame timer of one reader.
#[derive(Default)]
struct ReadDeadline {
    timer: Option<Pin<Box<Sleep>>>,
    timed_out: bool,
}

impl ReadDeadline {
    /// Passes a ready item on (and forgets the timer); while pending, arms the
    /// timer at the codec's deadline and, once it fires, yields one `TimedOut` error.
    fn after_poll<I, E, C>(
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

/// The read half of [`IpcFramed`], made by [`framed_read`]: a `Stream` of
/// decoded items that ends after one `TimedOut` error once an incomplete
/// frame outlives the codec's deadline. Its read buffer grows as
/// [`IpcFramed`]'s does.
pub struct IpcFramedRead<T, C> {
    inner: FramedRead<T, C>,
    deadline: ReadDeadline,
}

impl<T: fmt::Debug, C: fmt::Debug> fmt::Debug for IpcFramedRead<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcFramedRead")
            .field("io", self.inner.get_ref())
            .field("codec", self.inner.decoder())
            .field("timed_out", &self.deadline.timed_out)
            .finish_non_exhaustive()
    }
}

impl<T, C> IpcFramedRead<T, C> {
    /// The connection.
    pub fn get_ref(&self) -> &T {
        self.inner.get_ref()
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        self.inner.decoder()
    }

    /// The codec, mutably.
    pub fn codec_mut(&mut self) -> &mut C {
        self.inner.decoder_mut()
    }

    /// The connection; buffered bytes are lost.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T, C> Stream for IpcFramedRead<T, C>
where
    T: AsyncRead + Unpin,
    C: Decoder + PartialFrameDeadline + Unpin,
{
    type Item = Result<C::Item, C::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.deadline.timed_out {
            return Poll::Ready(None);
        }
        grow_when_full(this.inner.read_buffer_mut());
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        this.deadline.after_poll(polled, this.inner.decoder(), cx)
    }
}

impl<T, C, I> Sink<I> for IpcFramed<T, C>
where
    T: AsyncWrite + Unpin,
    C: Encoder<I> + Unpin,
    C::Error: From<io::Error>,
{
    type Error = C::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: I) -> Result<(), Self::Error> {
        Pin::new(&mut self.get_mut().inner).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use ipc_codec::{JsonCodec, Profile, Rules};
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn incomplete_frame_times_out() {
        let (mut a, b) = tokio::io::duplex(64);
        let codec = JsonCodec::builder()
            .rules(Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build())
            .build()
            .unwrap();
        let mut b = framed(b, codec);
        a.write_all(b"{\"type\":\"a\",\"data\":1}\x0c{\"type\":").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
        let started = tokio::time::Instant::now();
        let err = b.next().await.unwrap().unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(5));
        assert!(
            matches!(err, ipc_codec::CodecError::Io(ref e) if e.kind() == io::ErrorKind::TimedOut),
            "{err}"
        );
        assert!(b.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn incomplete_frame_times_out_on_a_read_half() {
        let (mut a, b) = tokio::io::duplex(64);
        let codec = JsonCodec::builder()
            .rules(Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build())
            .build()
            .unwrap();
        let (read, _write) = tokio::io::split(b);
        let mut b = framed_read(read, codec);
        a.write_all(b"{\"type\":\"a\",\"data\":1}\x0c{\"type\":").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
        let err = b.next().await.unwrap().unwrap_err();
        assert!(
            matches!(err, ipc_codec::CodecError::Io(ref e) if e.kind() == io::ErrorKind::TimedOut),
            "{err}"
        );
        assert!(b.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn fast_profile_waits_without_deadline() {
        let (mut a, b) = tokio::io::duplex(64);
        let mut b = framed(b, JsonCodec::default());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(3600), b.next()).await.is_err());
        a.write_all(b"\"x\"}\x0c").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "x");
    }

    /// Records the largest read it was offered room for.
    struct ReadSizes<R> {
        inner: R,
        largest: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for ReadSizes<R> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.largest.fetch_max(buf.remaining(), std::sync::atomic::Ordering::Relaxed);
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<R: Unpin> AsyncWrite for ReadSizes<R> {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn reads_grow_to_64_kib_only_while_reads_fill_the_buffer() {
        let frame = b"{\"type\":\"a\",\"data\":\"0123456789012345678901234567890123456789\"}\x0c";
        for (frames, want_burst) in [(3, false), (4_000, true)] {
            let (mut a, b) = tokio::io::duplex(1 << 20);
            let largest = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let reader = ReadSizes { inner: b, largest: std::sync::Arc::clone(&largest) };
            let mut b = framed(reader, JsonCodec::default());
            a.write_all(&frame.repeat(frames)).await.unwrap();
            for _ in 0..frames {
                b.next().await.unwrap().unwrap();
            }
            let largest = largest.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(largest >= READ_BURST, want_burst, "{frames} frames: largest read offered {largest}");
        }
    }
}
