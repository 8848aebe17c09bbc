//! A server's stream connections (local, TCP, TLS): the accept loop, and
//! each connection's life from `connect` to `socket.disconnected`.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ipc_events::Lifecycle;
use ipc_transport::{IpcListener, PeerAddr, PeerCredentials};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::{until_stopped, Ctx};
use crate::acked::SocketAcks;
use crate::core::{serve_woken, until_active, Conn, Ended, IdleTimeout, Killer, Outbox, Reader, Woke};
use crate::error::Error;
use crate::log::log;
use crate::socket::{Link, Socket};

/// How long a connection whose peer closed its side may take to send what is still queued.
const LINGER: Duration = Duration::from_secs(5);

/// Accepts connections until the server stops or drains (a graceful stop),
/// then waits for them to close.
pub(super) async fn accept_loop(
    ctx: Ctx,
    mut listener: IpcListener,
    stop: watch::Receiver<bool>,
    mut drain: watch::Receiver<bool>,
) {
    // Shared: a connection's task holds a pointer, not a copy.
    let ctx = Arc::new(ctx);
    let mut connections = JoinSet::new();
    let mut stopped = stop.clone();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    let peer = stream.peer().clone();
                    let who = Who {
                        authorized: stream.is_authorized(),
                        // one system call per local connection, none for network ones
                        credentials: match peer {
                            PeerAddr::Local(_) => stream.peer_credentials().ok(),
                            _ => None,
                        },
                    };
                    let ctx = Arc::clone(&ctx);
                    // wrapped only when on: without it a connection runs exactly as before
                    match ctx.config.idle_timeout {
                        None => connections.spawn(run_connection(ctx, stream, peer, who, stop.clone())),
                        Some(after) => connections.spawn(run_connection(
                            ctx,
                            IdleTimeout::new(stream, after),
                            peer,
                            who,
                            stop.clone(),
                        )),
                    };
                }
                Err(e) => {
                    let fatal = !e.is_connection_error();
                    if fatal {
                        crate::trace::accept_failed(&e);
                    }
                    ctx.server.inner.events.emit_lifecycle(Lifecycle::error(None, Error::Transport(e))).await;
                    if fatal {
                        // EMFILE and the like: give the system a moment instead of spinning.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            },
            () = until_stopped(&mut stopped) => break,
            () = until_stopped(&mut drain) => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    crate::trace::stopped();
}

/// What a listener learned about a connection's peer besides its address.
#[derive(Debug, Default)]
pub(super) struct Who {
    /// TLS: whether its certificate verified.
    pub(super) authorized: Option<bool>,
    /// Local sockets: its credentials.
    pub(super) credentials: Option<PeerCredentials>,
}

/// Serves one stream connection until it closes; raises `connect`, then
/// `close` and `socket.disconnected` exactly once. The connection's events
/// go to a `connection` span of its own, made here.
///
/// Until the connection has something to do, its task waits in a small
/// future ([`until_active`]); the reader and writer are built on the heap
/// then (an idle connection's cost is this future's size).
pub(super) fn run_connection<T>(
    ctx: Arc<Ctx>,
    io: T,
    peer: PeerAddr,
    who: Who,
    stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let serial = ctx.server.next_serial();
    let span = crate::trace::server_connection(&peer, serial);
    connection(ctx, io, serial, peer, who, stop).instrument(span)
}

async fn connection<T>(
    ctx: Arc<Ctx>,
    mut io: T,
    serial: u64,
    peer: PeerAddr,
    who: Who,
    mut stop: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let server = &ctx.server;
    let outbox = Arc::new(Outbox::new(ctx.config.max_pending_bytes, usize::MAX, true));
    let killer = Arc::new(Killer::default());
    let link = Link::Stream { outbox: outbox.clone(), killer: killer.clone() };
    let acks = (ctx.config.acks != crate::Acks::Off)
        .then(|| SocketAcks::new(server.inner.sessions.clone(), Some(&ctx.config)));
    let socket = Socket::new(serial, peer, ctx.out.clone(), link, who.authorized)
        .with_credentials(who.credentials)
        .with_acks(acks);
    let draining = {
        let mut sockets = server.lock_sockets();
        sockets.push(socket.clone());
        // under the lock: a graceful stop either finds this socket in the
        // list or set the flag before we read it
        server.inner.draining.load(Ordering::SeqCst)
    };
    crate::trace::connected();
    if draining {
        socket.end();
    }
    log(&ctx.config, || format!("## socket connection to server detected ## {socket}"));
    server.inner.events.emit_lifecycle(Lifecycle::Connect(socket.clone())).await;
    let woke = tokio::select! {
        woke = until_active(&mut io, &outbox, &killer) => Some(woke),
        () = until_stopped(&mut stop) => None,
    };
    Box::pin(serve_and_close(&ctx, io, woke, &outbox, &killer, socket, stop)).await;
}

/// The rest of [`run_connection`] once the connection woke (`None`: the
/// server stopped first).
async fn serve_and_close<T>(
    ctx: &Ctx,
    io: T,
    woke: Option<Woke>,
    outbox: &Outbox,
    killer: &Killer,
    socket: Socket,
    mut stop: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let server = &ctx.server;
    let events = &server.inner.events;
    let reader = Reader {
        events,
        responders: &server.inner.responders,
        config: &ctx.config,
        received: "received event of :",
        identify: ctx.config.identify_peer,
        bad_frame_log: None,
    };
    let ended = match woke {
        Some(woke) => {
            let conn = Conn {
                codec: &ctx.codec,
                outbox,
                killer,
                reader: &reader,
                peer: &socket,
                gate: None,
                linger: Some(LINGER),
            };
            let served = serve_woken(woke, io, conn);
            tokio::select! {
                ended = served => Some(ended),
                () = until_stopped(&mut stop) => None,
            }
        }
        None => None,
    };
    crate::trace::disconnected(ended.as_ref(), || socket.id());
    let error = ended.and_then(Ended::into_error);
    outbox.abandon_in_flight();
    outbox.close(true);
    socket.fail_requests();
    socket.stop_acks();
    if let Some(error) = error {
        log(&ctx.config, || format!("server socket error {error}"));
        events.emit_lifecycle(Lifecycle::Error { peer: Some(socket.clone()), error: Arc::new(error) }).await;
    }
    server.lock_sockets().retain(|s| s != &socket);
    let id = socket.id();
    log(&ctx.config, || format!("socket disconnected {}", id.as_deref().unwrap_or("false")));
    events.emit_lifecycle(Lifecycle::Close(socket.clone())).await;
    events.emit_lifecycle(Lifecycle::SocketDisconnected { peer: socket, id }).await;
}
