//! Every node-ipc socket kind as a tokio stream: local sockets (Unix domain
//! sockets; Windows named pipes), TCP, TLS and UDP, each behind its own cargo
//! feature, ready to wrap in a `Framed` with any `ipc-codec` codec.
//!
//! The shortest useful program: serve node-ipc events on a Unix socket and
//! answer each one (a node-ipc client, `ipc.connectTo(id, path)`, talks to it as is).
//!
//! ```
//! # #[cfg(all(unix, feature = "local"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::{SinkExt, StreamExt};
//! use ipc_codec::{Event, JsonCodec};
//! use ipc_transport::local::{LocalListener, LocalStream};
//! use serde_json::json;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("app.world");
//! let listener = LocalListener::bind(&path).await?;
//! tokio::spawn(async move {
//!     while let Ok(stream) = listener.accept().await {
//!         let mut events = ipc_transport::framed(stream, JsonCodec::default());
//!         while let Some(Ok(event)) = events.next().await {
//!             let _ = events.send(("app.message", &json!({"echo": event.event_type()}))).await;
//!         }
//!     }
//! });
//!
//! let mut client = ipc_transport::framed(LocalStream::connect(&path).await?, JsonCodec::default());
//! client.send(Event::new("app.message", json!({"id": "hello"}))).await?;
//! let reply = client.next().await.unwrap()?;
//! assert_eq!(reply.data()?, json!({"echo": "app.message"}));
//! # Ok(())
//! # }
//! # #[cfg(not(all(unix, feature = "local")))]
//! # fn main() {}
//! ```
//!
//! # What is where
//!
//! | feature | module | server side | client side |
//! |---|---|---|---|
//! | `local` | `local` | `local::LocalListener` | `local::LocalStream::connect` |
//! | `tcp` | `tcp` | `tcp::TcpListener` | `tcp::TcpStream::connect` |
//! | `tls` | `tls` | `tls::TlsListener` | `tls::TlsStream::connect` |
//! | `udp` | `udp` | `udp::UdpEndpoint` (both sides) | |
//! | any of `local`, `tcp` | | [`IpcListener::bind`] (any stream endpoint) | [`IpcStream::connect`] |
//!
//! Every stream is `AsyncRead + AsyncWrite` and knows its [`PeerAddr`] (a
//! local stream also its peer's [`PeerCredentials`]: uid, gid, pid);
//! [`framed()`] wraps one in a `Framed` that also enforces the codec's
//! incomplete-frame deadline (node-ipc 14's `messageTimeout`). [`Endpoint`]
//! parses and prints node-ipc addresses (`unix:/path`, `id:NAME`,
//! `tcp://host:port`, `tls://host:port`, `udp4://host:port`, `udp6://[host]:port`).
//! [`batch_writer`] is the batching writer: many events, one flush.
//!
//! Listeners enforce node-ipc's `maxConnections` (100 by default) at accept:
//! the extra connection is closed at once and reported as
//! [`Error::TooManyConnections`]; accept loops go on after any error for which
//! [`Error::is_connection_error`] is true.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README (the crate's page on crates.io) and its example, run as a doctest.
#[cfg(all(doctest, feature = "tcp"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod batch;
#[cfg(any(feature = "local", feature = "tcp"))]
#[macro_use]
mod delegate;
mod endpoint;
mod error;
mod framed;
#[cfg(any(feature = "local", feature = "tcp"))]
mod limit;
#[cfg(any(feature = "local", feature = "tcp"))]
mod open;
mod peer;
mod trace;

#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub mod local;
#[cfg(feature = "tcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tcp")))]
pub mod tcp;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
#[cfg(feature = "udp")]
#[cfg_attr(docsrs, doc(cfg(feature = "udp")))]
pub mod udp;

pub use batch::{batch_writer, send_batch, BatchSender, BatchWriter, WriterClosed, DEFAULT_MAX_BATCH};
pub use endpoint::Endpoint;
pub use error::Error;
pub use framed::{framed, framed_read, IpcFramed, IpcFramedRead};
#[cfg(any(feature = "local", feature = "tcp"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "local", feature = "tcp"))))]
pub use open::{BindOptions, ConnectOptions, IpcListener, IpcStream};
pub use peer::{PeerAddr, PeerCredentials};

/// node-ipc's default `maxConnections`: how many connections a listener keeps open at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;
