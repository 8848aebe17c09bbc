//! Any endpoint, opened in one place: [`IpcStream::connect`] and
//! [`IpcListener::bind`] turn an [`Endpoint`](crate::Endpoint) (`unix:`, `id:`,
//! `tcp://`, `tls://`) into a connection or a listener of the right kind, so
//! that programs serving "whatever the user named" need no match of their own.
//! UDP is datagrams, not a stream: [`UdpEndpoint`](crate::udp::UdpEndpoint)
//! binds those.

mod listener;
mod stream;

pub use listener::{BindOptions, IpcListener};
pub use stream::{ConnectOptions, IpcStream};

/// The error for an endpoint that `what` does not open.
fn unsupported(endpoint: &crate::Endpoint, reason: &'static str) -> crate::Error {
    crate::Error::UnsupportedEndpoint { endpoint: endpoint.to_string(), reason }
}
