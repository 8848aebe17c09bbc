//! Every node-ipc socket kind as a tokio stream: local sockets (Unix domain
//! sockets, Windows named pipes), TCP, TLS and UDP, each behind its own cargo
//! feature, ready to wrap in a `tokio_util::codec::Framed` with an `ipc-codec` codec.
//!
//! This crate is being built: see issue 3. Nothing here is usable yet.
