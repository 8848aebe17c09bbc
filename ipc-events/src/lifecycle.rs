//! [`Lifecycle`]: node-ipc's local events, on their own typed channel.

use std::sync::Arc;

use bytes::Bytes;

use crate::Error;

/// A local lifecycle event: what node-ipc publishes on its emitter for
/// connections, listeners and errors, as opposed to events that arrive on the
/// wire.
///
/// Lifecycle events reach only the handlers registered with
/// [`Dispatcher::on_lifecycle`](crate::Dispatcher::on_lifecycle) and the streams
/// of [`Dispatcher::subscribe_lifecycle`](crate::Dispatcher::subscribe_lifecycle),
/// and only the local code that holds the dispatcher can raise them
/// ([`Dispatcher::emit_lifecycle`](crate::Dispatcher::emit_lifecycle)). A frame
/// from a peer whose type is `connect` or `error` goes through
/// [`Dispatcher::dispatch`](crate::Dispatcher::dispatch) like any other wire
/// event, so it can never pass for one of these (node-ipc 9 and node-ipc 14's
/// Fast profile share one emitter for both, and a peer can fake them).
///
/// `P` is the peer handle the layer above chose (see [`Dispatcher`](crate::Dispatcher)).
///
/// # Examples
///
/// ```
/// use ipc_events::{Dispatcher, Lifecycle};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let dispatcher = Dispatcher::<u32>::new();
/// dispatcher.on_lifecycle(|event| match event {
///     Lifecycle::Connect(peer) => println!("socket {peer} connected"),
///     Lifecycle::SocketDisconnected { peer, id } => println!("socket {peer} ({id:?}) left"),
///     Lifecycle::Error { peer, error } => eprintln!("error on {peer:?}: {error}"),
///     _ => {}
/// });
/// dispatcher.emit_lifecycle(Lifecycle::Connect(7)).await;
/// assert_eq!(Lifecycle::Connect(7).name(), "connect");
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Lifecycle<P> {
    /// A server is listening (node-ipc `start`).
    Start,
    /// A connection is up (node-ipc `connect`): on a server a socket was
    /// accepted, on a client the connection to the server was made.
    Connect(P),
    /// A client lost its connection to the server and may retry (node-ipc `disconnect`).
    Disconnect(P),
    /// A server's socket closed (node-ipc 14 `close`, before `socket.disconnected`).
    Close(P),
    /// A server's socket is gone (node-ipc `socket.disconnected`), with the id
    /// it announced in `data.id`, if it announced one (node-ipc passes `false`).
    SocketDisconnected {
        /// The socket that is gone.
        peer: P,
        /// The id the socket announced, if any.
        id: Option<String>,
    },
    /// A client stopped retrying: the connection is gone for good (node-ipc `destroy`).
    Destroy(P),
    /// Something failed (node-ipc `error`): a handler's data did not
    /// deserialize, a subscription was full, or the layer above reports a
    /// frame or I/O error.
    Error {
        /// The connection the error concerns, when there is one.
        peer: Option<P>,
        /// What went wrong (shared, so the event stays cheap to clone).
        error: Arc<Error>,
    },
    /// Raw-buffer mode: bytes as they arrived, without framing (node-ipc `data`).
    Data {
        /// The connection the bytes came from.
        peer: P,
        /// The bytes.
        bytes: Bytes,
    },
}

impl<P> Lifecycle<P> {
    /// node-ipc's name for this event (`"start"`, `"connect"`, `"socket.disconnected"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Lifecycle::Start => "start",
            Lifecycle::Connect(_) => "connect",
            Lifecycle::Disconnect(_) => "disconnect",
            Lifecycle::Close(_) => "close",
            Lifecycle::SocketDisconnected { .. } => "socket.disconnected",
            Lifecycle::Destroy(_) => "destroy",
            Lifecycle::Error { .. } => "error",
            Lifecycle::Data { .. } => "data",
        }
    }

    /// The peer the event concerns, if any.
    pub fn peer(&self) -> Option<&P> {
        match self {
            Lifecycle::Start => None,
            Lifecycle::Connect(peer)
            | Lifecycle::Disconnect(peer)
            | Lifecycle::Close(peer)
            | Lifecycle::Destroy(peer)
            | Lifecycle::SocketDisconnected { peer, .. }
            | Lifecycle::Data { peer, .. } => Some(peer),
            Lifecycle::Error { peer, .. } => peer.as_ref(),
        }
    }

    /// A [`Lifecycle::Error`] from any error of this crate.
    pub fn error(peer: Option<P>, error: impl Into<Error>) -> Lifecycle<P> {
        Lifecycle::Error { peer, error: Arc::new(error.into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_node_ipc_reserved_names() {
        let all: [Lifecycle<u8>; 8] = [
            Lifecycle::Start,
            Lifecycle::Connect(1),
            Lifecycle::Disconnect(1),
            Lifecycle::Close(1),
            Lifecycle::SocketDisconnected { peer: 1, id: None },
            Lifecycle::Destroy(1),
            Lifecycle::error(Some(1), std::io::Error::other("x")),
            Lifecycle::Data { peer: 1, bytes: Bytes::new() },
        ];
        for event in &all {
            assert!(ipc_codec::RESERVED_EVENT_TYPES.contains(&event.name()), "{}", event.name());
        }
        let mut names: Vec<_> = all.iter().map(Lifecycle::name).collect();
        names.sort_unstable();
        let mut reserved = ipc_codec::RESERVED_EVENT_TYPES.to_vec();
        reserved.sort_unstable();
        assert_eq!(names, reserved);
        assert_eq!(all[0].peer(), None);
        assert_eq!(all[4].peer(), Some(&1));
        assert_eq!(all[6].peer(), Some(&1));
    }
}
