//! node-ipc's API for Rust: `serve`, `connect_to`, `broadcast`, retries, sync
//! mode and raw buffers, composed from `ipc-codec`, `ipc-transport` and `ipc-events`.
//!
//! This crate is being built: see issue 5. Nothing here is usable yet.
