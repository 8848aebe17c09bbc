//! Event dispatch with node-ipc's semantics: handlers keyed by event type, a
//! wildcard that runs first, `once`/`off`, typed handlers through serde, bounded
//! stream subscriptions, and lifecycle events kept apart from wire events.
//!
//! It sits between decoded [`Event`](ipc_codec::Event)s and user code: feed
//! [`Dispatcher::dispatch`] from a connection's reader (any `Framed` stream of
//! events will do) with the peer the event came from.
//!
//! ```
//! use futures::StreamExt;
//! use ipc_codec::{Event, JsonCodec};
//! use ipc_events::Dispatcher;
//! use tokio_util::codec::FramedRead;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dispatcher = Dispatcher::<&'static str>::new();
//! dispatcher.on_typed("app.message", |text: String, peer| println!("{peer} says {text}"));
//!
//! let wire = &b"{\"type\":\"app.message\",\"data\":\"hello\"}\x0c"[..];
//! let mut frames = FramedRead::new(wire, JsonCodec::default());
//! while let Some(Ok(event)) = frames.next().await {
//!     dispatcher.dispatch(&event, &"client-1").await;
//! }
//! # }
//! ```
//!
//! The pieces: [`Dispatcher`] (handlers, ordering, what happens to handlers
//! changed during a dispatch), [`Lifecycle`] (the local `connect`, `error`, ...
//! events), [`Subscription`] and [`Overflow`] (streams and their buffers),
//! [`SyncGate`] (node-ipc's sync mode), [`Error`].
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README (the crate's page on crates.io) and its example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod dispatcher;
mod error;
mod handler_id;
mod lifecycle;
mod subscription;
mod sync_mode;

pub use dispatcher::{Dispatch, Dispatched, Dispatcher, WeakDispatcher, WILDCARD};
pub use error::Error;
pub use handler_id::HandlerId;
pub use lifecycle::Lifecycle;
pub use subscription::{Overflow, Subscription};
pub use sync_mode::SyncGate;
