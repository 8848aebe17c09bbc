//! The read path: what happens to each item a connection decodes.

use ipc_codec::Event;
use ipc_events::{Dispatcher, Lifecycle};
use ipc_transport::PeerAddr;

use crate::acked::{AckEnd, ACK_EVENT, EVENT_EVENT, HELLO_EVENT};
use crate::config::Config;
use crate::error::Error;
use crate::log::{log, log_event};
use crate::request::{Channel, Responders, REPLY_EVENT, REQUEST_EVENT};
use crate::wire::Inbound;

/// Whom a connection reads for: a server's [`Socket`](crate::Socket) or a
/// [`Client`](crate::Client).
pub(crate) trait Peer: Channel {
    /// Learns the id the peer announced in `data.id` (a server's socket does;
    /// a client has nothing to learn).
    fn learn_id(&self, _event: &Event) {}

    /// The source of a UDP peer, which no connection span names (diagnostics only).
    fn datagram_source(&self) -> Option<&PeerAddr> {
        None
    }

    /// Its part in acknowledged delivery (`None`: acks off, the plain wire).
    fn acks(&self) -> Option<AckEnd<'_>> {
        None
    }

    /// Queues a frame as it is (resending what was not acknowledged).
    fn push_frame(&self, _frame: &[u8]) -> Result<(), Error> {
        Ok(())
    }

    /// Ends the connection at once (a sender out of step: it starts over).
    fn cut(&self) {}
}

/// Delivers what one connection reads: events to the handlers, raw chunks as
/// `data`, bad frames (9.x policy) as `error`, each with the peer it came from.
#[derive(Debug)]
pub(crate) struct Reader<'a, P> {
    /// The handlers.
    pub(crate) events: &'a Dispatcher<P>,
    /// The request handlers (request/response, [`crate::request`]).
    pub(crate) responders: &'a Responders<P>,
    /// The configuration of this connection (logging, `identifyPeer`).
    pub(crate) config: &'a Config,
    /// What the log says before a received event's type (node-ipc's words
    /// differ between server and client).
    pub(crate) received: &'static str,
    /// Whether the peer's id is learned from `data.id`.
    pub(crate) identify: bool,
    /// The log line's start for a bad frame, when such frames are logged.
    pub(crate) bad_frame_log: Option<&'static str>,
}

impl<P: Peer> Reader<'_, P> {
    /// An event of acknowledged delivery, on a connection that has it on.
    async fn acked(&self, event: &Event, peer: &P) {
        match (peer.acks(), event.event_type()) {
            (Some(AckEnd::Client { sender, receiver }), HELLO_EVENT) => {
                // the receiving side first: the server's replay follows its answer
                receiver.answered(event, peer);
                sender.on_hello(event, &|frame: &[u8]| peer.push_frame(frame));
            }
            (Some(AckEnd::Client { sender, .. }), ACK_EVENT) => sender.on_ack(event),
            (Some(AckEnd::Server(acks)), HELLO_EVENT) => acks.hello(event, peer),
            (Some(AckEnd::Server(acks)), ACK_EVENT) => acks.on_ack(event),
            (Some(end), EVENT_EVENT) => {
                end.receiver().deliver(event, peer, self.events, self.identify).await;
            }
            _ => {}
        }
    }

    /// Delivers one item read from `peer`.
    pub(crate) async fn deliver(&self, peer: &P, item: Inbound) {
        match item {
            Inbound::Event(event) => {
                if self.identify {
                    peer.learn_id(&event);
                }
                log_event(self.config, self.received, &event);
                // the reserved types of request/response and acknowledged delivery go
                // to them, never to the handlers; any other event pays this prefix test
                let kind = event.event_type();
                if !kind.starts_with("ipc.") {
                    self.events.dispatch(&event, peer).await;
                    return;
                }
                match kind {
                    REPLY_EVENT => {
                        if let Some(requests) = peer.requests_if_any() {
                            requests.settle(&event);
                        }
                    }
                    REQUEST_EVENT => {
                        let max = self.config.max_concurrent_requests;
                        if let Some(wait) = self.responders.answer(&event, peer, self.events, max) {
                            wait.await;
                        }
                    }
                    HELLO_EVENT | EVENT_EVENT | ACK_EVENT if peer.acks().is_some() => {
                        self.acked(&event, peer).await;
                    }
                    _ => {
                        self.events.dispatch(&event, peer).await;
                    }
                }
            }
            Inbound::Chunk(bytes) => {
                self.events.emit_lifecycle(Lifecycle::Data { peer: peer.clone(), bytes }).await;
            }
            Inbound::Bad(error) => {
                crate::trace::bad_frame(&error, false, peer.datagram_source());
                if let Some(what) = self.bad_frame_log {
                    log(self.config, || format!("{what} {error}"));
                }
                self.events.emit_lifecycle(Lifecycle::error(Some(peer.clone()), error)).await;
            }
        }
    }
}
