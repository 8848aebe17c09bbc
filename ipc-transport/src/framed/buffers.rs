//! When a framed connection holds buffers: none until it receives or
//! writes. A read buffer is taken when a read is attempted and given back
//! while nothing has arrived yet ([`ReadBuffer`] says why not later); a write
//! buffer is taken for the first frame. An idle connection then costs its task and socket, not 16 KiB of
//! buffers (tokio-util's `Framed` allocates 8 KiB for each side up front).

use bytes::BytesMut;

/// What a read buffer starts with.
pub(super) const READ_INITIAL: usize = 8 * 1024;

/// What a read buffer grows to take in once a read has filled it: a busy
/// stream then reads 64 KiB per call instead of 8 KiB.
pub(super) const READ_BURST: usize = 64 * 1024;

/// The most undecoded bytes a full read buffer may still hold when it grows
/// (growing copies them): a 64 KiB burst then copies at most 4 KiB again.
const GROW_WHEN_LEFT: usize = 4 * 1024;

/// What a write buffer starts with: encoders reserve one frame at a time,
/// and a batch of small frames should not regrow it from nothing.
pub(super) const WRITE_INITIAL: usize = 8 * 1024;

/// The read buffer's life: taken when a read is attempted and grown for
/// bursts. A connection that has never received anything gives it back each
/// time a read finds nothing (an idle connection holds no buffer). Once the
/// connection has received, the buffer stays between reads, as tokio-util
/// keeps it: giving it back at every drain cost a third more instructions per
/// round trip for small frames (a fresh allocation per wake-up) and a
/// reallocation per burst for large ones (callgrind, `ipc-bench` rt-64B and
/// latency, ours lane).
#[derive(Debug, Default)]
pub(super) struct ReadBuffer {
    received: bool,
}

impl ReadBuffer {
    /// Before a read: take a buffer if none is held. No spare room means the
    /// last read filled the buffer (splitting frames off the front shrinks
    /// length and capacity alike): more is waiting, so grow, once few bytes
    /// are left to decode, since growing copies them. Inline, one comparison
    /// per poll; the rest is out of line.
    #[inline]
    pub(super) fn before_read(&mut self, buffer: &mut BytesMut) {
        if buffer.len() == buffer.capacity() {
            take_or_grow(buffer);
        }
    }

    /// After a poll of the decoder: the buffer of a connection that has
    /// never received is given back. Inline, one test per poll.
    #[inline]
    pub(super) fn after_poll<T>(&mut self, polled: &std::task::Poll<T>, buffer: &mut BytesMut) {
        if !self.received {
            self.before_first_item(polled.is_ready(), buffer);
        }
    }

    #[cold]
    #[inline(never)]
    fn before_first_item(&mut self, ready: bool, buffer: &mut BytesMut) {
        if ready {
            self.received = true;
        } else if buffer.is_empty() && buffer.capacity() > 0 {
            *buffer = BytesMut::new();
        }
    }
}

#[inline]
fn take_or_grow(buffer: &mut BytesMut) {
    if buffer.capacity() == 0 {
        // A new buffer, not `reserve`: `BytesMut` sizes the buffers it
        // reallocates later after the capacity it was created with.
        *buffer = BytesMut::with_capacity(READ_INITIAL);
    } else if buffer.len() <= GROW_WHEN_LEFT {
        buffer.reserve(READ_BURST);
    }
}

/// Before encoding: take a write buffer if none is held (a connection that
/// never writes holds none).
pub(super) fn before_write(buffer: &mut BytesMut) {
    if buffer.capacity() == 0 {
        *buffer = BytesMut::with_capacity(WRITE_INITIAL);
    }
}
