//! node-ipc's API for Rust: [`Ipc`] with `serve`, `serve_net`, `connect_to`,
//! `connect_to_net`, `disconnect`, `of` and `server`, its [`Config`] with every
//! node-ipc variable, retries, sync mode and raw buffers, speaking node-ipc's
//! wire format to node-ipc 9.x and 14.x peers (and to other Rust processes).
//!
//! The README's world/hello pair, in one program:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ipc_compat::Error> {
//! use futures::StreamExt;
//! use ipc_compat::{Config, Ipc};
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = Config::default(); // node-ipc 9.x's defaults
//! config.socket_root = format!("{}/", dir.path().display());
//! config.silent = true;
//!
//! // the server: ipc.config.id = 'world'; ipc.serve(() => ipc.server.on('message', ...))
//! let mut world_config = config.clone();
//! world_config.id = "world".into();
//! let world = Ipc::new(world_config);
//! let server = world.serve(None)?;
//! server.on("message", |event, socket| {
//!     let text: String = event.data_as().unwrap_or_default();
//!     socket.emit("message", format!("{text} world!")).ok();
//! });
//! server.start().await?;
//!
//! // the client: ipc.connectTo('world', () => ipc.of.world.on('connect', ...))
//! let mut hello_config = config;
//! hello_config.id = "hello".into();
//! let hello = Ipc::new(hello_config);
//! let client = hello.connect_to("world", None)?;
//! let mut messages = client.subscribe("message", 8);
//! client.connected().await?;
//! client.emit("message", "hello")?;
//! let (reply, _) = messages.next().await.unwrap();
//! assert_eq!(reply.data_as::<String>()?, "hello world!");
//! # Ok(())
//! # }
//! ```
//!
//! Where node-ipc takes a callback, this crate has a handler method
//! ([`Client::on`], [`Server::on_start`], ...) and an async counterpart
//! ([`Server::start`], [`Client::connected`], [`Client::subscribe`],
//! [`Client::lifecycle`]). Wire events and lifecycle events (`connect`,
//! `disconnect`, `destroy`, `error`, `socket.disconnected`, `data`, ...) travel
//! apart ([`Lifecycle`]), so a peer cannot fake a lifecycle event. See
//! `API-MAP.md` in the crate for every item of node-ipc's README and its
//! counterpart here.
//!
//! Beyond node-ipc, over its own wire (`PROTOCOL.md` in the repository):
//! request/response with deadlines ([`Client::request`], [`Socket::request`],
//! answered by [`Server::on_request`] and [`Client::on_request`], or by a
//! node-ipc program with a small JavaScript helper), and a graceful close
//! that delivers what is queued ([`Client::close`], [`Server::stop_within`]),
//! and acknowledged delivery, opt-in ([`Config::acks`]): numbered events,
//! batched acknowledgements, resent after a reconnect, duplicates dropped.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README (the crate's page on crates.io) and its example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod acked;
mod client;
mod config;
mod core;
mod error;
mod events;
mod ipc;
mod log;
mod request;
mod server;
mod socket;
mod trace;
mod wire;

pub use acked::{
    AckStats, Acks, WhenFull, ACK_DELAY, ACK_EVENT, ACK_EVERY, DEFAULT_ACK_AGREEMENT_TIMEOUT,
    DEFAULT_ACK_LINGER, DEFAULT_ACK_WINDOW, EVENT_EVENT, HELLO_EVENT, MAX_SESSIONS,
};
pub use client::{Client, ClientState};
pub use config::{
    BadFrame, Config, Interface, Logger, StopRetrying, TlsConfig, DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_MAX_PENDING_BYTES, DEFAULT_MAX_QUEUED_EVENTS,
};
pub use error::Error;
pub use ipc::Ipc;
pub use log::inspect;
pub use request::{REPLY_EVENT, REQUEST_EVENT};
pub use server::{Server, UdpType};
pub use socket::Socket;
pub use wire::RawPayload;

pub use ipc_codec::{Encoding, Event, Profile};
pub use ipc_events::{HandlerId, Lifecycle, Subscription};
pub use ipc_transport::local::AllowedPeers;
pub use ipc_transport::tcp::{IpFamily, Keepalive};
pub use ipc_transport::{Endpoint, PeerAddr, PeerCredentials};
