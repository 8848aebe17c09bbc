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

/// Serves one stream connection for `peer` until it ends: decodes what
/// arrives with `codec` and hands it to `reader`, while writing what `outbox`
/// holds. With `gate` (sync mode) a frame goes out only after the answer to
/// the previous one arrived.
///
/// When the peer closes its side and `linger` is set, what is still queued is
/// written (for at most `linger`) before the connection closes, as node does
/// (`allowHalfOpen` off). When `outbox` is closed (a graceful close), what
/// it holds is written, the write side is shut down, and the connection
/// ends once the peer closed its side too (at most [`PEER_CLOSE_WAIT`]; on
/// Windows at once, named pipes cannot half-close). Frames taken by the
/// writer but not written when the connection ends are recorded as lost
/// ([`Outbox::flush`] reports them).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve_stream<T, P>(
    mut io: T,
    codec: &WireCodec,
    outbox: &Outbox,
    killer: &Killer,
    reader: &Reader<'_, P>,
    peer: &P,
    gate: Option<&SyncGate>,
    linger: Option<Duration>,
) -> Ended
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
    P: Peer,
{
    let woke = until_active(&mut io, outbox, killer).await;
    Box::pin(serve_woken(woke, io, codec, outbox, killer, reader, peer, gate, linger)).await
}

/// [`serve_stream`] after [`until_active`] woke: for a caller that waits for
/// activity itself (alongside other things).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve_woken<T, P>(
    woke: Woke,
    io: T,
    codec: &WireCodec,
    outbox: &Outbox,
    killer: &Killer,
    reader: &Reader<'_, P>,
    peer: &P,
    gate: Option<&SyncGate>,
    linger: Option<Duration>,
) -> Ended
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
    serve_active(Prefixed::new(first, io), codec.clone(), outbox, killer, reader, peer, gate, linger).await
}

/// [`serve_stream`] once the connection has something to do.
#[allow(clippy::too_many_arguments)]
async fn serve_active<T, P>(
    io: T,
    codec: WireCodec,
    outbox: &Outbox,
    killer: &Killer,
    reader: &Reader<'_, P>,
    peer: &P,
    gate: Option<&SyncGate>,
    linger: Option<Duration>,
) -> Ended
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
    P: Peer,
{
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
