//! [`framed()`]: any stream of this crate (or any `AsyncRead + AsyncWrite`) as a
//! `Framed` of events, with the codec's incomplete-frame deadline enforced.
//!
//! The read half alone is [`framed_read()`] (module `read`); the deadline and
//! the buffer rules both share live in `deadline` and `buffers`, polled together
//! by `state` (`ReadState`); tests in `tests`.

mod buffers;
mod deadline;
mod read;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::{Sink, Stream};
use ipc_codec::PartialFrameDeadline;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder, Framed, FramedParts};

use buffers::before_write;
pub use read::{framed_read, IpcFramedRead};
use state::ReadState;

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
    // No buffers until there is something to read or write (module `buffers`).
    *inner.read_buffer_mut() = BytesMut::new();
    *inner.write_buffer_mut() = BytesMut::new();
    IpcFramed { inner, read: ReadState::default() }
}

/// Bytes queued before `poll_ready` writes them out: a sender feeding events
/// makes one write per 64 KiB instead of tokio-util's default 8 KiB, which
/// took a fifth of a fast sender's time in system calls.
const WRITE_BATCH: usize = 64 * 1024;

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
    read: ReadState,
}

impl<T: fmt::Debug, C: fmt::Debug> fmt::Debug for IpcFramed<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcFramed")
            .field("io", self.inner.get_ref())
            .field("codec", self.inner.codec())
            .field("timed_out", &self.read.timed_out())
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
        IpcFramed { inner, read: self.read.for_new_codec() }
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
        this.read.poll_next(&mut this.inner, cx)
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
        let this = self.get_mut();
        before_write(this.inner.write_buffer_mut());
        Pin::new(&mut this.inner).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
