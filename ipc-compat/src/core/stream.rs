//! [`serve_stream`]: one stream connection, read and written side by side.

use std::io;
use std::time::Duration;

use futures::StreamExt;
use ipc_codec::CodecError;
use ipc_events::SyncGate;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::idle::Prefixed;
pub(crate) use super::idle::{until_active, Woke};
use super::idle_timeout::idle_timed_out;
use super::write::write_stream;
use super::{Killer, Outbox, Peer, Reader};
use crate::error::Error;
use crate::wire::WireCodec;

/// How long a connection closed gracefully (its queue closed and written,
/// then half-closed) waits for the peer to close its side too, reading and
/// handling what still comes. Closing while the peer may still send could
/// reset the connection, and a reset can throw away what we wrote and the
/// peer did not read yet.
const PEER_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Why a stream connection ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The peer closed its side (end of stream).
    PeerClosed,
    /// Our side was ended (`socket.end()`, `Client::close`, `Server::stop_within`):
    /// what was queued is written, and the connection was half-closed.
    Drained,
    /// Reading failed: I/O, a frame the 14.x policy refuses, or an unfinished
    /// frame past `messageTimeout` (I/O kind `TimedOut`).
    ReadFailed(CodecError),
    /// Writing failed.
    WriteFailed(io::Error),
    /// Nothing was read for this long (`idle_timeout`).
    IdleTimeout(Duration),
    /// Killed from outside, with the reason (`None`: on purpose, no error).
    Killed(Option<Error>),
}

impl Ended {
    /// The error to report, if the connection ended with one.
    pub(crate) fn into_error(self) -> Option<ipc_events::Error> {
        match self {
            Ended::PeerClosed | Ended::Drained | Ended::Killed(None) => None,
            Ended::ReadFailed(e) => Some(e.into()),
            Ended::WriteFailed(e) => Some(CodecError::Io(e).into()),
            Ended::Killed(Some(e)) => Some(e.into()),
            Ended::IdleTimeout(after) => Some(Error::IdleTimeout { after }.into()),
        }
    }

    /// A failed read: an idle timeout ([`IdleTimeout`](super::IdleTimeout)), or anything else.
    fn read_failed(error: CodecError) -> Ended {
        match &error {
            CodecError::Io(e) => match idle_timed_out(e) {
                Some(after) => Ended::IdleTimeout(after),
                None => Ended::ReadFailed(error),
            },
            _ => Ended::ReadFailed(error),
        }
    }
}

/// What serving one stream connection works with, besides the stream.
pub(crate) struct Conn<'a, P> {
    /// Decodes what arrives (cloned for the connection once it is active).
    pub(crate) codec: &'a WireCodec,
    /// What to write.
    pub(crate) outbox: &'a Outbox,
    /// Ends the connection from outside.
    pub(crate) killer: &'a Killer,
    /// Hands each decoded item on.
    pub(crate) reader: &'a Reader<'a, P>,
    /// The other end, as the handlers see it.
    pub(crate) peer: &'a P,
    /// Sync mode: a frame goes out only after the answer to the previous one arrived.
    pub(crate) gate: Option<&'a SyncGate>,
    /// When the peer closes its side: how long what is still queued may take
    /// to go out (`None`: it is dropped).
    pub(crate) linger: Option<Duration>,
}

impl<P> Clone for Conn<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Conn<'_, P> {}

/// Serves one stream connection until it ends: decodes what arrives with
/// `conn.codec` and hands it to `conn.reader`, while writing what
/// `conn.outbox` holds.
///
/// When the peer closes its side and `conn.linger` is set, what is still
/// queued is written (for at most `linger`) before the connection closes, as
/// node does (`allowHalfOpen` off). When the outbox is closed (a graceful
/// close), what it holds is written, the write side is shut down, and the
/// connection ends once the peer closed its side too (at most
/// [`PEER_CLOSE_WAIT`]; on Windows at once, named pipes cannot half-close).
/// Frames taken by the writer but not written when the connection ends are
/// recorded as lost ([`Outbox::flush`] reports them).
pub(crate) async fn serve_stream<T, P>(mut io: T, conn: Conn<'_, P>) -> Ended
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
    P: Peer,
{
    let woke = until_active(&mut io, conn.outbox, conn.killer).await;
    Box::pin(serve_woken(woke, io, conn)).await
}

/// [`serve_stream`] after [`until_active`] woke: for a caller that waits for
/// activity itself (alongside other things).
pub(crate) async fn serve_woken<T, P>(woke: Woke, io: T, conn: Conn<'_, P>) -> Ended
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
    P: Peer,
{
    let first = match woke {
        Woke::Active(first) => first,
        Woke::ReadFailed(e) => return Ended::read_failed(CodecError::Io(e)),
        Woke::Killed(reason) => return Ended::Killed(reason),
    };
    // The codec is cloned (its state is this connection's) only now, so that
    // an idle connection does not hold it.
    serve_active(Prefixed::new(first, io), conn.codec.clone(), conn).await
}

/// [`serve_stream`] once the connection has something to do.
async fn serve_active<T, P>(io: T, codec: WireCodec, conn: Conn<'_, P>) -> Ended
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
    P: Peer,
{
    let Conn { outbox, killer, reader, peer, gate, linger, .. } = conn;
    let (read, mut write) = tokio::io::split(io);
    let mut incoming = ipc_transport::framed_read(read, codec);
    let reading = async {
        while let Some(item) = incoming.next().await {
            reader.deliver(peer, item?).await;
            if let Some(gate) = gate {
                gate.release();
            }
        }
        Ok::<(), CodecError>(())
    };
    tokio::pin!(reading);
    // Biased: the writer is polled right after the reader, in the same poll,
    // so what the handlers of one read emitted goes out without another trip
    // through the scheduler (unbiased, the writer was polled first half the
    // time and woken again by the reader's emits).
    let ended = tokio::select! {
        biased;
        read = &mut reading => match read {
            Ok(()) => Ended::PeerClosed,
            Err(e) => Ended::read_failed(e),
        },
        written = write_stream(outbox, &mut write, gate) => match written {
            Ok(()) => Ended::Drained,
            Err(e) => Ended::WriteFailed(e),
        },
        killed = killer.killed() => Ended::Killed(killed),
    };
    outbox.abandon_in_flight();
    match (&ended, linger) {
        (Ended::PeerClosed, Some(linger)) => {
            outbox.close(false);
            let _ = tokio::time::timeout(linger, write_stream(outbox, &mut write, None)).await;
            outbox.abandon_in_flight();
        }
        (Ended::Drained, _) => half_close(&mut write, reading, killer).await,
        _ => {}
    }
    ended
}

/// The end of a graceful close, everything written: says so (shuts the write
/// side down), then waits for the peer to say it too, reading and handling
/// what it still sends. On Windows it ends at once (a named pipe has no half-close).
async fn half_close<W, R>(write: &mut W, reading: std::pin::Pin<&mut R>, killer: &Killer)
where
    W: AsyncWrite + Unpin,
    R: std::future::Future,
{
    if write.shutdown().await.is_err() || cfg!(windows) {
        return;
    }
    let peer_closed = async {
        tokio::select! {
            _ = reading => {},
            _ = killer.killed() => {},
        }
    };
    let _ = tokio::time::timeout(PEER_CLOSE_WAIT, peer_closed).await;
}
