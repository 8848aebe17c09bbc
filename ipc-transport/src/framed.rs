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
use tokio_util::codec::{Decoder, Encoder, Framed, FramedParts, FramedRead};

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
///
/// It offers what tokio-util's `Framed` does besides: the buffers
/// ([`read_buffer`](Self::read_buffer), [`write_buffer`](Self::write_buffer)
/// and their `_mut` forms), [`into_parts`](Self::into_parts) and
/// [`map_codec`](Self::map_codec).
///
/// # Examples
///
/// An echo server that answers every event it has buffered before it writes:
/// it feeds each reply while more input is waiting in the read buffer, and
/// flushes once the read buffer is empty, so a burst of requests costs one
/// write. (`JsonCodec` encodes several item types, so `flush` names one.)
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_codec::CodecError> {
/// use futures::{SinkExt, StreamExt};
/// use ipc_codec::{Event, JsonCodec};
///
/// let (client, server) = tokio::io::duplex(64 * 1024);
/// let echo = tokio::spawn(async move {
///     let mut server = ipc_transport::framed(server, JsonCodec::default());
///     while let Some(event) = server.next().await {
///         server.feed(event?).await?; // the echo: each event goes back as it came
///         if server.read_buffer().is_empty() {
///             SinkExt::<Event>::flush(&mut server).await?;
///         }
///     }
///     Ok::<_, ipc_codec::CodecError>(())
/// });
///
/// let mut client = ipc_transport::framed(client, JsonCodec::default());
/// for i in 0..3 {
///     client.feed(Event::new("ping", serde_json::json!(i))).await?;
/// }
/// SinkExt::<Event>::flush(&mut client).await?;
/// for i in 0..3 {
///     let reply = client.next().await.unwrap()?;
///     assert_eq!(reply.event_type(), "ping");
///     assert_eq!(reply.data_as::<i32>()?, i);
/// }
/// drop(client);
/// echo.await.unwrap()?;
/// # Ok(())
/// # }
/// ```
///
/// A read buffer holding only the start of a frame is not empty: a peer that
/// stops half-way through a frame to wait for replies gets them once the frame
/// is whole (or 64 KiB of replies are queued).
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

    /// The bytes read but not decoded yet.
    pub fn read_buffer(&self) -> &BytesMut {
        self.inner.read_buffer()
    }

    /// The bytes read but not decoded yet, mutably. Changing them can corrupt
    /// the framing. Bytes appended here are decoded with those of the next
    /// read (as in tokio-util, the codec is not asked again before one).
    pub fn read_buffer_mut(&mut self) -> &mut BytesMut {
        self.inner.read_buffer_mut()
    }

    /// The bytes encoded but not written yet.
    pub fn write_buffer(&self) -> &BytesMut {
        self.inner.write_buffer()
    }

    /// The bytes encoded but not written yet, mutably. Bytes appended here go
    /// out with the next write, as they are.
    pub fn write_buffer_mut(&mut self) -> &mut BytesMut {
        self.inner.write_buffer_mut()
    }

    /// Replaces the codec, keeping the connection and both buffers, as
    /// `Framed::map_codec` does.
    ///
    /// A stream that has timed out stays ended. Otherwise the new codec's own
    /// deadline applies from here on: the old codec's timer is dropped. A
    /// codec that wraps the old one (`ContinueOnError::new`) keeps its clock;
    /// a fresh codec is offered the bytes left in the read buffer on the next
    /// poll and starts its clock then. The 64 KiB write batch is kept.
    ///
    /// ```
    /// use ipc_codec::{ContinueOnError, JsonCodec};
    ///
    /// let (io, _peer) = tokio::io::duplex(1024);
    /// let strict = ipc_transport::framed(io, JsonCodec::default());
    /// let lenient = strict.map_codec(ContinueOnError::new);
    /// # let _: &ContinueOnError<JsonCodec> = lenient.codec();
    /// ```
    pub fn map_codec<D, F>(self, map: F) -> IpcFramed<T, D>
    where
        F: FnOnce(C) -> D,
    {
        let mut inner = self.inner.map_codec(map);
        inner.set_backpressure_boundary(WRITE_BATCH);
        IpcFramed { inner, deadline: self.deadline.for_new_codec() }
    }

    /// The plain `Framed` (no deadline from here on).
    pub fn into_framed(self) -> Framed<T, C> {
        self.inner
    }

    /// The connection, the codec, the bytes read but not decoded and the
    /// bytes encoded but not written: tokio-util's `FramedParts`, which
    /// `Framed::from_parts` (or [`framed()`] with `read_buffer_mut` and
    /// `write_buffer_mut`) takes back. The deadline state is not part of it.
    ///
    /// ```
    /// use ipc_codec::JsonCodec;
    ///
    /// let (io, _peer) = tokio::io::duplex(1024);
    /// let parts = ipc_transport::framed(io, JsonCodec::default()).into_parts();
    /// assert!(parts.read_buf.is_empty() && parts.write_buf.is_empty());
    /// ```
    pub fn into_parts(self) -> FramedParts<T, C> {
        self.inner.into_parts()
    }

    /// The connection; buffered bytes are lost (keep them with
    /// [`into_parts`](Self::into_parts)).
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
    /// The state to keep when the codec is replaced: an ended stream stays
    /// ended; the old codec's timer goes (the new codec sets its own).
    fn for_new_codec(self) -> Self {
        Self { timer: None, timed_out: self.timed_out }
    }

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

    /// The connection, mutably. Reading it directly corrupts the framing.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The codec, mutably.
    pub fn codec_mut(&mut self) -> &mut C {
        self.inner.decoder_mut()
    }

    /// The bytes read but not decoded yet.
    pub fn read_buffer(&self) -> &BytesMut {
        self.inner.read_buffer()
    }

    /// The bytes read but not decoded yet, mutably. Changing them can corrupt
    /// the framing. Bytes appended here are decoded with those of the next
    /// read (as in tokio-util, the codec is not asked again before one).
    pub fn read_buffer_mut(&mut self) -> &mut BytesMut {
        self.inner.read_buffer_mut()
    }

    /// Replaces the decoder, keeping the connection and the read buffer, as
    /// `FramedRead::map_decoder` does.
    ///
    /// A stream that has timed out stays ended; otherwise the new decoder's
    /// deadline applies from here on. A decoder that wraps the old one
    /// (`ContinueOnError::new`) keeps its clock. A fresh decoder, as in
    /// tokio-util, is offered bytes the old one found incomplete only with the
    /// next read, and starts its clock then (unlike [`IpcFramed::map_codec`],
    /// which offers them on the next poll).
    ///
    /// ```
    /// use ipc_codec::{ContinueOnError, JsonCodec};
    ///
    /// let (io, _peer) = tokio::io::duplex(1024);
    /// let strict = ipc_transport::framed_read(io, JsonCodec::default());
    /// let lenient = strict.map_decoder(ContinueOnError::new);
    /// # let _: &ContinueOnError<JsonCodec> = lenient.codec();
    /// ```
    pub fn map_decoder<D, F>(self, map: F) -> IpcFramedRead<T, D>
    where
        F: FnOnce(C) -> D,
    {
        IpcFramedRead { inner: self.inner.map_decoder(map), deadline: self.deadline.for_new_codec() }
    }

    /// The connection, the codec and the bytes read but not decoded, as
    /// `FramedRead::into_parts` gives them (`write_buf` is empty). The
    /// deadline state is not part of it.
    pub fn into_parts(self) -> FramedParts<T, C> {
        self.inner.into_parts()
    }

    /// The connection; buffered bytes are lost (keep them with
    /// [`into_parts`](Self::into_parts)).
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

    const TWO_FRAMES: &[u8] = b"{\"type\":\"a\",\"data\":1}\x0c{\"type\":\"b\",\"data\":2}\x0c";

    #[tokio::test]
    async fn read_buffer_holds_the_undecoded_frames() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed(b, JsonCodec::default());
        a.write_all(TWO_FRAMES).await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
        assert_eq!(&b.read_buffer()[..], b"{\"type\":\"b\",\"data\":2}\x0c");
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "b");
        assert!(b.read_buffer().is_empty());
    }

    #[tokio::test]
    async fn read_buffer_mut_bytes_are_decoded_with_the_next_read() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed(b, JsonCodec::default());
        b.read_buffer_mut().extend_from_slice(b"{\"type\":\"injected\"}\x0c");
        a.write_all(b"{\"type\":\"read\"}\x0c").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "injected");
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "read");
    }

    #[tokio::test]
    async fn write_buffer_holds_fed_frames_until_flush() {
        use futures::SinkExt;
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed(b, JsonCodec::default());
        b.feed(ipc_codec::Event::new("a", serde_json::json!(1))).await.unwrap();
        assert_eq!(&b.write_buffer()[..], b"{\"type\":\"a\",\"data\":1}\x0c");
        b.write_buffer_mut().extend_from_slice(b"{\"type\":\"b\",\"data\":2}\x0c");
        SinkExt::<ipc_codec::Event>::flush(&mut b).await.unwrap();
        assert!(b.write_buffer().is_empty());
        let mut got = vec![0; TWO_FRAMES.len()];
        tokio::io::AsyncReadExt::read_exact(&mut a, &mut got).await.unwrap();
        assert_eq!(got, TWO_FRAMES);
    }

    #[tokio::test]
    async fn into_parts_keeps_buffered_undecoded_and_unwritten_bytes() {
        use futures::SinkExt;
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed(b, JsonCodec::default());
        a.write_all(TWO_FRAMES).await.unwrap();
        a.write_all(b"{\"type\":").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
        b.feed(ipc_codec::Event::new("out", serde_json::json!(0))).await.unwrap();
        let parts = b.into_parts();
        assert_eq!(&parts.read_buf[..], b"{\"type\":\"b\",\"data\":2}\x0c{\"type\":");
        assert_eq!(&parts.write_buf[..], b"{\"type\":\"out\",\"data\":0}\x0c");
        let mut plain = Framed::from_parts(parts);
        assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "b");
        a.write_all(b"\"c\"}\x0c").await.unwrap();
        assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "c");
    }

    #[tokio::test]
    async fn read_half_into_parts_keeps_buffered_undecoded_bytes() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed_read(b, JsonCodec::default());
        a.write_all(TWO_FRAMES).await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
        assert_eq!(&b.read_buffer()[..], b"{\"type\":\"b\",\"data\":2}\x0c");
        let parts = b.into_parts();
        assert_eq!(&parts.read_buf[..], b"{\"type\":\"b\",\"data\":2}\x0c");
        assert!(parts.write_buf.is_empty());
        // A new FramedRead decodes the kept bytes with those of its first read.
        let mut plain = FramedRead::new(parts.io, parts.codec);
        *plain.read_buffer_mut() = parts.read_buf;
        a.write_all(b"{\"type\":\"c\"}\x0c").await.unwrap();
        assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "b");
        assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "c");
    }

    #[tokio::test]
    async fn read_half_get_mut_and_read_buffer_mut() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed_read(b, JsonCodec::default());
        b.read_buffer_mut().extend_from_slice(b"{\"type\":\"injected\"}\x0c");
        a.write_all(b"{\"type\":\"read\"}\x0c").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "injected");
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "read");
        // The connection itself: what we write through it reaches the peer.
        b.get_mut().write_all(b"raw").await.unwrap();
        let mut got = [0; 3];
        tokio::io::AsyncReadExt::read_exact(&mut a, &mut got).await.unwrap();
        assert_eq!(&got, b"raw");
    }

    #[tokio::test]
    async fn map_codec_keeps_both_buffers() {
        use futures::SinkExt;
        let (mut a, b) = tokio::io::duplex(1024);
        let mut b = framed(b, JsonCodec::default());
        a.write_all(b"{\"type\":\"a\",\"data\":1}\x0cnot json\x0c{\"type\":\"c\"}\x0c").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
        b.feed(ipc_codec::Event::new("out", serde_json::json!(0))).await.unwrap();
        let mut b = b.map_codec(ipc_codec::ContinueOnError::new);
        assert_eq!(&b.write_buffer()[..], b"{\"type\":\"out\",\"data\":0}\x0c");
        assert_eq!(b.read_buffer().len(), b"not json\x0c{\"type\":\"c\"}\x0c".len());
        // The new codec decodes what was buffered: a bad frame is now an item.
        assert!(b.next().await.unwrap().unwrap().is_err());
        assert_eq!(b.next().await.unwrap().unwrap().unwrap().event_type(), "c");
        SinkExt::<ipc_codec::Event>::flush(&mut b).await.unwrap();
        let mut got = [0; 24];
        tokio::io::AsyncReadExt::read_exact(&mut a, &mut got).await.unwrap();
        assert_eq!(&got, b"{\"type\":\"out\",\"data\":0}\x0c");
    }

    #[tokio::test]
    async fn map_codec_keeps_the_write_batch() {
        let (_a, b) = tokio::io::duplex(1024);
        let b = framed(b, JsonCodec::default()).map_codec(ipc_codec::ContinueOnError::new);
        assert_eq!(b.into_framed().backpressure_boundary(), WRITE_BATCH);
    }

    fn guarded_5s() -> JsonCodec {
        JsonCodec::builder()
            .rules(Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build())
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn map_codec_after_a_timeout_stays_ended() {
        let (mut a, b) = tokio::io::duplex(64);
        let mut b = framed(b, guarded_5s());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(b.next().await.unwrap().is_err());
        let mut b = b.map_codec(|_| JsonCodec::default());
        a.write_all(b"\"x\"}\x0c").await.unwrap();
        assert!(b.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn map_codec_applies_the_new_codecs_deadline() {
        // Guarded to Fast: the pending timer goes, and Fast waits.
        let (mut a, b) = tokio::io::duplex(64);
        let mut b = framed(b, guarded_5s());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(1), b.next()).await.is_err());
        let mut b = b.map_codec(|_| JsonCodec::default());
        assert!(tokio::time::timeout(Duration::from_secs(3600), b.next()).await.is_err());
        a.write_all(b"\"x\"}\x0c").await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().event_type(), "x");
    }

    // Codecs keep std time, which a paused runtime does not advance: each of
    // these tests starts a runtime of its own, and waits before the new codec
    // sees a frame shorten its deadline.

    #[tokio::test(start_paused = true)]
    async fn map_codec_to_a_guarded_codec_times_the_buffered_frame() {
        // From the next poll.
        let (mut a, b) = tokio::io::duplex(64);
        let mut b = framed(b, JsonCodec::default());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(1), b.next()).await.is_err());
        let mut b = b.map_codec(|_| guarded_5s());
        let started = tokio::time::Instant::now();
        assert_timed_out(b.next().await);
        assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
        assert!(b.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn map_decoder_to_a_guarded_codec_times_the_buffered_frame() {
        // From the next read.
        let (mut a, b) = tokio::io::duplex(64);
        let mut b = framed_read(b, JsonCodec::default());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(60), b.next()).await.is_err());
        let mut b = b.map_decoder(|_| guarded_5s());
        a.write_all(b"\"").await.unwrap();
        assert_timed_out(b.next().await);
        assert!(b.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn map_codec_wrapping_the_codec_keeps_its_clock() {
        let (mut a, b) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        let mut b = framed(b, guarded_5s());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(3), b.next()).await.is_err());
        let mut b = b.map_codec(ipc_codec::ContinueOnError::new);
        let item = b.next().await.unwrap();
        assert!(matches!(item, Err(ipc_codec::CodecError::Io(ref e)) if e.kind() == io::ErrorKind::TimedOut));
        assert_about_5s(started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn map_decoder_wrapping_the_codec_keeps_its_clock() {
        let (mut a, b) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        let mut b = framed_read(b, guarded_5s());
        a.write_all(b"{\"type\":").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(3), b.next()).await.is_err());
        let mut b = b.map_decoder(ipc_codec::ContinueOnError::new);
        assert!(b.next().await.unwrap().is_err());
        assert_about_5s(started.elapsed());
    }

    /// 5 s from the frame's start, not 5 s from the codec's replacement (8 s).
    fn assert_about_5s(elapsed: Duration) {
        assert!(elapsed >= Duration::from_secs(5) && elapsed < Duration::from_millis(5_500), "{elapsed:?}");
    }

    fn assert_timed_out<I: fmt::Debug>(item: Option<Result<I, ipc_codec::CodecError>>) {
        let err = item.unwrap().unwrap_err();
        assert!(
            matches!(err, ipc_codec::CodecError::Io(ref e) if e.kind() == io::ErrorKind::TimedOut),
            "{err}"
        );
    }
}
