//! A UDP server: each source address it hears from becomes a [`Socket`]
//! (remembered for `broadcast`, at most `maxConnections`, least recently heard
//! from forgotten first), and replies go back to it as datagrams.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use ipc_events::Lifecycle;
use ipc_transport::udp::UdpEndpoint;
use ipc_transport::PeerAddr;
use tokio::sync::watch;

use super::{until_stopped, Ctx, DatagramOutbox};
use crate::core::{write_datagrams, Reader};
use crate::error::Error;
use crate::socket::{Link, Socket};
use crate::wire::WireCodec;

/// Serves a UDP socket until the server stops.
pub(super) async fn udp_loop(
    ctx: Ctx,
    endpoint: UdpEndpoint<WireCodec>,
    out: Arc<DatagramOutbox>,
    mut stop: watch::Receiver<bool>,
) {
    let events = ctx.server.inner.events.clone();
    let local = endpoint.local_addr().ok();
    let (mut sink, mut stream) = endpoint.split();
    if let Some(local) = local {
        // node-ipc raises `connect` once with the UDP socket itself when it is bound
        let link = Link::Udp { out: out.clone(), to: local };
        let me = Socket::new(0, PeerAddr::Udp(local), ctx.out.clone(), link, None);
        events.emit_lifecycle(Lifecycle::Connect(me)).await;
    }
    let report_events = events.clone();
    let report = move |e: ipc_transport::Error| {
        let events = report_events.clone();
        tokio::spawn(async move { events.emit_lifecycle(Lifecycle::error(None, Error::Transport(e))).await });
    };
    let reader = Reader {
        events: &events,
        responders: &ctx.server.inner.responders,
        config: &ctx.config,
        received: "received event of :",
        identify: ctx.config.identify_peer,
        bad_frame_log: None,
    };
    let read = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok((inbound, from)) => reader.deliver(&udp_peer(&ctx, &out, from), inbound).await,
                Err(e) => {
                    let peer = match &e {
                        ipc_transport::Error::Datagram { from, .. }
                        | ipc_transport::Error::PartialFrameDropped { from, .. } => {
                            Some(udp_peer(&ctx, &out, *from))
                        }
                        _ => None,
                    };
                    events.emit_lifecycle(Lifecycle::error(peer, Error::Transport(e))).await;
                }
            }
        }
    };
    tokio::select! {
        () = read => {},
        () = write_datagrams(&out, &mut sink, report) => {},
        () = until_stopped(&mut stop) => {},
    }
    out.close(true);
    ctx.server.lock_sockets().clear();
    crate::trace::stopped();
}

/// The socket of source `from`: known ones move to the back (most recently
/// heard from), new ones are added and the oldest forgotten past `maxConnections`.
fn udp_peer(ctx: &Ctx, out: &Arc<DatagramOutbox>, from: SocketAddr) -> Socket {
    let server = &ctx.server;
    let mut sockets = server.lock_sockets();
    if let Some(i) = sockets.iter().position(|s| s.addr() == Some(from)) {
        let socket = sockets.remove(i);
        sockets.push(socket.clone());
        return socket;
    }
    let link = Link::Udp { out: out.clone(), to: from };
    let peer = PeerAddr::Udp(from);
    crate::trace::new_udp_peer(&peer);
    let socket = Socket::new(server.next_serial(), peer, ctx.out.clone(), link, None);
    sockets.push(socket.clone());
    let max = ctx.config.max_connections;
    if max > 0 && sockets.len() > max {
        let excess = sockets.len() - max;
        sockets.drain(..excess);
    }
    socket
}
