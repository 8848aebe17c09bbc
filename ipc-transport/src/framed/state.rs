//! What both framed types add to tokio-util's on the read side, polled in
//! one place: the read buffer's life ([`ReadBuffer`]) and the
//! incomplete-frame deadline ([`ReadDeadline`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::Stream;
use ipc_codec::PartialFrameDeadline;
use tokio_util::codec::{Decoder, Framed, FramedRead};

use super::buffers::ReadBuffer;
use super::deadline::ReadDeadline;

/// The read state of one framed connection.
#[derive(Default)]
pub(super) struct ReadState {
    deadline: ReadDeadline,
    buffer: ReadBuffer,
}

impl ReadState {
    /// Whether the stream ended on the deadline.
    pub(super) fn timed_out(&self) -> bool {
        self.deadline.timed_out
    }

    /// The state to keep when the codec is replaced (see [`ReadDeadline::for_new_codec`]).
    pub(super) fn for_new_codec(self) -> Self {
        ReadState { deadline: self.deadline.for_new_codec(), buffer: self.buffer }
    }

    /// Polls `inner` for its next item: takes (or grows) the read buffer
    /// first, gives it back after if nothing was ever received, and enforces
    /// the codec's deadline.
    #[inline]
    pub(super) fn poll_next<F, I, E>(
        &mut self,
        inner: &mut F,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<I, E>>>
    where
        F: ReadSide + Stream<Item = Result<I, E>> + Unpin,
        E: From<io::Error>,
    {
        if self.deadline.timed_out {
            return Poll::Ready(None);
        }
        self.buffer.before_read(inner.read_buffer_mut());
        let polled = Pin::new(&mut *inner).poll_next(cx);
        self.buffer.after_poll(&polled, inner.read_buffer_mut());
        self.deadline.after_poll(polled, inner.deadline_codec(), cx)
    }
}

/// tokio-util's `Framed` and `FramedRead`, as [`ReadState::poll_next`] needs them.
pub(super) trait ReadSide {
    type Codec: PartialFrameDeadline;
    fn read_buffer_mut(&mut self) -> &mut BytesMut;
    fn deadline_codec(&self) -> &Self::Codec;
}

impl<T, C: Decoder + PartialFrameDeadline> ReadSide for Framed<T, C> {
    type Codec = C;
    fn read_buffer_mut(&mut self) -> &mut BytesMut {
        Framed::read_buffer_mut(self)
    }
    fn deadline_codec(&self) -> &C {
        self.codec()
    }
}

impl<T, C: Decoder + PartialFrameDeadline> ReadSide for FramedRead<T, C> {
    type Codec = C;
    fn read_buffer_mut(&mut self) -> &mut BytesMut {
        FramedRead::read_buffer_mut(self)
    }
    fn deadline_codec(&self) -> &C {
        self.decoder()
    }
}
