//! Acknowledged delivery over ordinary node-ipc events (`PROTOCOL.md` at the
//! workspace root is the specification; this is the Rust side of it).
//!
//! - **Agreement**: a client with [`Config::acks`](crate::Config::acks) on
//!   sends [`HELLO_EVENT`] `{session, next}` first on each connection; a
//!   server with acks on answers `{acks: 1, received}`. No answer within
//!   [`Config::ack_agreement_timeout`](crate::Config::ack_agreement_timeout):
//!   the plain wire (with a warning), or a refusal ([`Acks::Required`]).
//! - **Sending** ([`send`]): each emit gets the next sequence number and is
//!   kept in a bounded replay buffer until the server acknowledges it; it goes
//!   out as [`EVENT_EVENT`] `{seq, type, data}`. After a reconnect, what the
//!   server has not received is sent again.
//! - **Receiving** ([`receive`]): the server keeps, per sender session, the
//!   last sequence number handled; older ones are duplicates and dropped, the
//!   next one is handed to the handlers, and [`ACK_EVENT`] `{seq}` acknowledges
//!   cumulatively, every [`ACK_EVERY`] events or after [`ACK_DELAY`].
//! - **The other way** (the client's hello says `receive: 1`): the server
//!   keeps a [`send`] `Sender` per client session (its events survive the
//!   connection, bounded by the window and [`Config::ack_linger`](crate::Config::ack_linger)),
//!   names its own session in the answer, and replays on the session's next
//!   connection; the client's [`receive`] side dedupes per server session.
//!
//! The read path's only hook is [`Reader::deliver`](crate::core::Reader),
//! where every event already pays one check for the reserved `ipc.` prefix;
//! a client or server with acks off pays nothing more, on read or on emit
//! beyond one test of an `Option` it holds.

mod receive;
mod send;

use std::time::Duration;

pub(crate) use receive::{Sessions, SocketAcks};
pub(crate) use send::Sender;

/// The side of acknowledged delivery a connection's peer plays (each end
/// both numbers what it sends and acknowledges what it receives).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AckEnd<'a> {
    /// A client: its sender across connections, and its receiver of the server's events.
    Client {
        /// Numbers what the client emits.
        sender: &'a Sender,
        /// Acknowledges what the server emits.
        receiver: &'a SocketAcks,
    },
    /// A server connection: it acknowledges what it receives, and numbers
    /// what it sends through its client session's sender.
    Server(&'a SocketAcks),
}

impl<'a> AckEnd<'a> {
    /// The receiving part.
    pub(crate) fn receiver(self) -> &'a SocketAcks {
        match self {
            AckEnd::Client { receiver, .. } | AckEnd::Server(receiver) => receiver,
        }
    }
}

/// The agreement: `{"session": <string>, "next": <number>}` from a client,
/// `{"acks": 1, "received": <number>}` from a server.
pub const HELLO_EVENT: &str = "ipc.hello";

/// An acknowledged event: `{"seq": <number>, "type": <string>, "data": <any>}`.
pub const EVENT_EVENT: &str = "ipc.event";

/// A cumulative acknowledgement: `{"seq": <number>}`, every event up to it is handled.
pub const ACK_EVENT: &str = "ipc.ack";

/// A receiver acknowledges at least every this many events...
pub const ACK_EVERY: u64 = 256;

/// ...and at most this long after handling one.
pub const ACK_DELAY: Duration = Duration::from_millis(10);

/// How long a client waits for the server's answer to the agreement by
/// default ([`Config::ack_agreement_timeout`](crate::Config::ack_agreement_timeout)).
pub const DEFAULT_ACK_AGREEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a server keeps what it emitted to a client session that has no
/// connection, by default ([`Config::ack_linger`](crate::Config::ack_linger)).
pub const DEFAULT_ACK_LINGER: Duration = Duration::from_secs(60);

/// How many unacknowledged events a client keeps by default ([`Config::ack_window`](crate::Config::ack_window)).
pub const DEFAULT_ACK_WINDOW: usize = 4096;

/// How many sender sessions a server remembers; past it, the one heard from
/// longest ago is forgotten (its next connection starts over: at least once).
pub const MAX_SESSIONS: usize = 4096;

/// Acknowledged delivery for a client or a server ([`Config::acks`](crate::Config::acks)).
///
/// ```
/// use ipc_compat::{Acks, Config};
///
/// let mut config = Config::v14();
/// assert_eq!(config.acks, Acks::Off); // node-ipc's plain wire, byte for byte
/// config.acks = Acks::On;             // agree when connecting; plain wire with a warning if the peer cannot
/// config.acks = Acks::Required;       // or refuse a peer that cannot
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Acks {
    /// The plain wire (node-ipc's): no agreement, nothing numbered.
    #[default]
    Off,
    /// A client proposes acks on each connection and falls back to the plain
    /// wire, with a warning, when the server does not answer in time; a
    /// server answers clients that propose it.
    On,
    /// As `On`, but a client refuses a server that does not answer: the
    /// connection fails with [`Error::AcksUnsupported`](crate::Error::AcksUnsupported)
    /// and the client is destroyed.
    Required,
}

/// What an acknowledged emit does when the replay buffer ([`Config::ack_window`](crate::Config::ack_window))
/// is full ([`Config::when_window_full`](crate::Config::when_window_full)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WhenFull {
    /// Fail with [`Error::AckWindowFull`](crate::Error::AckWindowFull); the event is not sent.
    #[default]
    Error,
    /// [`Client::emit_async`](crate::Client::emit_async) waits for acknowledgements
    /// to make room ([`Client::emit`](crate::Client::emit), which cannot wait, still fails).
    Wait,
}

/// Counters of acknowledged delivery ([`Client::ack_stats`](crate::Client::ack_stats),
/// [`Server::ack_stats`](crate::Server::ack_stats)): each end both sends
/// (the "Sender" fields; a server's summed over its client sessions) and
/// receives (the "Receiver" fields; a client's from its servers' sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AckStats {
    /// Sender: events numbered (emitted with acks agreed or pending).
    pub sent: u64,
    /// Sender: events written again after a reconnect.
    pub resent: u64,
    /// Sender: events the peer acknowledged.
    pub acknowledged: u64,
    /// Sender: acknowledgements received.
    pub acks_received: u64,
    /// Sender: events in the replay buffer now.
    pub buffered: usize,
    /// Sender: their bytes (frames as written).
    pub buffered_bytes: usize,
    /// Sender: the most events the replay buffer ever held.
    pub buffered_peak: usize,
    /// Sender: connections that fell back to the plain wire.
    pub fallbacks: u64,
    /// Sender (a server): events dropped unacknowledged because their client
    /// session had no connection for longer than [`Config::ack_linger`](crate::Config::ack_linger).
    pub expired: u64,
    /// Receiver: events handed to the handlers.
    pub delivered: u64,
    /// Receiver: duplicates dropped.
    pub duplicates: u64,
    /// Receiver: events dropped because they skipped a sequence number (or
    /// had none); the connection is then cut, and the sender starts over.
    pub out_of_order: u64,
    /// Receiver: events dropped because they came before the agreement on
    /// their connection (left over from the sender's previous connection; it
    /// sends them again after the agreement).
    pub before_agreement: u64,
    /// Receiver: events whose inner type the profile's rules refuse (a
    /// lifecycle name under Guarded, a name off the allow-list under
    /// Assured): not handed over, and acknowledged as handled.
    pub refused: u64,
    /// Receiver: acknowledgements sent.
    pub acks_sent: u64,
    /// Receiver: sender sessions remembered now.
    pub sessions: usize,
}
