//! [`framed_read()`]: the read half of [`framed()`](crate::framed())(super::framed()).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::Stream;
use ipc_codec::PartialFrameDeadline;
use tokio::io::AsyncRead;
use tokio_util::codec::{Decoder, FramedParts, FramedRead};

use super::state::ReadState;

/// The read half of [`framed()`](crate::framed()): decodes `io` with `codec`, enforcing the
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
    let mut inner = FramedRead::new(io, codec);
    // No buffer until there is something to read (module `buffers`).
    *inner.read_buffer_mut() = BytesMut::new();
    IpcFramedRead { inner, read: ReadState::default() }
}

/// The read half of [`IpcFramed`](crate::IpcFramed), made by [`framed_read`]: a `Stream` of
/// decoded items that ends after one `TimedOut` error once an incomplete
/// frame outlives the codec's deadline. Its read buffer grows as
/// [`IpcFramed`](crate::IpcFramed)'s does.
pub struct IpcFramedRead<T, C> {
    inner: FramedRead<T, C>,
    read: ReadState,
}

impl<T: fmt::Debug, C: fmt::Debug> fmt::Debug for IpcFramedRead<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcFramedRead")
            .field("io", self.inner.get_ref())
            .field("codec", self.inner.decoder())
            .field("timed_out", &self.read.timed_out())
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
    /// next read, and starts its clock then (unlike [`IpcFramed::map_codec`](crate::IpcFramed::map_codec),
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
        IpcFramedRead { inner: self.inner.map_decoder(map), read: self.read.for_new_codec() }
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
        this.read.poll_next(&mut this.inner, cx)
    }
}
