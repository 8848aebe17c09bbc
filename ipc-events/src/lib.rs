//! Event dispatch with node-ipc's semantics: handlers keyed by event type,
//! wildcard, `once`/`off`, typed handlers through serde, and lifecycle events
//! kept apart from events that arrive on the wire.
//!
//! This crate is being built: see issue 4. Nothing here is usable yet.
