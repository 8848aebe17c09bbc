//! The connection core: how every connection of this crate reads and writes,
//! whether it is a server's stream connection, a server's UDP peer or a client.
//!
//! - **Reading** ([`read`]): a stream is decoded by [`WireCodec`](crate::wire::WireCodec)
//!   on the read half; each item goes through [`Reader::deliver`]: identify
//!   the peer by `data.id` (servers), log, dispatch to the handlers, or raise
//!   `data` / `error`.
//! - **Writing** ([`outbox`], [`write`](mod@write)): an emit encodes its frame once,
//!   straight into the buffer of the connection's [`Outbox`], without
//!   waiting; one writer per connection takes what is queued as one chunk and
//!   writes it as it is (UDP: packs the frames into datagrams).
//! - **One stream connection** ([`stream`]): [`serve_stream`] runs the reader
//!   and the writer side by side until the peer closes, a side fails, or the
//!   connection is killed ([`Killer`]), and says which ([`Ended`]). Until a
//!   connection has something to do it waits in a small future ([`idle`]).
//!   With `idle_timeout` on, the stream is wrapped in an [`IdleTimeout`]
//!   ([`idle_timeout`]), whose reads fail once the peer has been silent too long.

mod forward_write;
mod idle;
mod idle_timeout;
mod kill;
mod outbox;
mod read;
mod stream;
mod write;

pub(crate) use idle_timeout::IdleTimeout;
pub(crate) use kill::Killer;
pub(crate) use outbox::{DatagramQueue, Outbox, Queue};
pub(crate) use read::{Peer, Reader};
pub(crate) use stream::{serve_stream, serve_woken, until_active, Conn, Ended, Woke};
pub(crate) use write::write_datagrams;
