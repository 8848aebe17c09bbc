//! [`TlsConfig`] and [`Interface`]: node-ipc's `tls` and `interface`, and
//! the ipc-transport configurations they describe.

use std::path::PathBuf;

use ipc_transport::tcp::{IpFamily, TcpConnectOptions};
use ipc_transport::tls::{TlsClientConfig, TlsServerConfig};
use std::net::IpAddr;

/// node-ipc's `interface`: how TCP and TLS clients bind their side.
/// (`hints` and `lookup` are node's DNS hooks and have no counterpart.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interface {
    /// `interface.localAddress`.
    pub local_address: Option<IpAddr>,
    /// `interface.localPort`.
    pub local_port: Option<u16>,
    /// `interface.family`: 4 or 6.
    pub family: Option<IpFamily>,
}

impl Interface {
    pub(crate) fn tcp_options(&self) -> TcpConnectOptions {
        let mut options = TcpConnectOptions::default();
        if let Some(a) = self.local_address {
            options = options.local_address(a);
        }
        if let Some(p) = self.local_port {
            options = options.local_port(p);
        }
        if let Some(f) = self.family {
            options = options.family(f);
        }
        options
    }
}

/// node-ipc's `tls` options: PEM files as node-ipc names them.
///
/// A server needs [`private`](TlsConfig::private) and [`public`](TlsConfig::public)
/// (no certificates are bundled, unlike node-ipc 9.x); a client verifies the
/// server against [`trusted_connections`](TlsConfig::trusted_connections) and
/// presents `private`/`public` when both are set.
///
/// Like [`Config`](crate::Config), a plain object with public fields, set one by one:
///
/// ```
/// use ipc_compat::TlsConfig;
///
/// // ipc.config.tls = {private: 'server.key', public: 'server.pub', trustedConnections: ['client.pub']}
/// let mut tls = TlsConfig::default();
/// tls.private = Some("server.key".into());
/// tls.public = Some("server.pub".into());
/// tls.trusted_connections = vec!["client.pub".into()];
/// assert_eq!(tls.trusted_connections.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `tls.private`: the private key file (PEM).
    pub private: Option<PathBuf>,
    /// `tls.public`: the certificate file (PEM).
    pub public: Option<PathBuf>,
    /// `tls.dhparam`: accepted for compatibility and otherwise unused: rustls
    /// offers only elliptic-curve key exchange, so there are no
    /// finite-field Diffie-Hellman parameters to load.
    pub dhparam: Option<PathBuf>,
    /// `tls.trustedConnections`: CA files. A server verifies client
    /// certificates against them (and asks for one unless `request_cert` says
    /// otherwise); a client verifies the server.
    pub trusted_connections: Vec<PathBuf>,
    /// `tls.requestCert`: a server asks clients for a certificate (default:
    /// on when `trusted_connections` is set, as node-ipc 14).
    pub request_cert: Option<bool>,
    /// `tls.rejectUnauthorized`: a server turns away clients without a valid
    /// certificate (default on once `request_cert` is); a client with `Some(false)`
    /// accepts any server certificate (encrypted, not authenticated: tests only).
    pub reject_unauthorized: Option<bool>,
    /// node's `servername`: the name the server certificate must carry
    /// (default: the host connected to).
    pub server_name: Option<String>,
}

impl TlsConfig {
    pub(crate) fn server_config(&self) -> TlsServerConfig {
        let mut config = TlsServerConfig::new();
        if let Some(p) = &self.private {
            config = config.private(p);
        }
        if let Some(p) = &self.public {
            config = config.public(p);
        }
        config = config.trusted_connections(self.trusted_connections.iter());
        if let Some(on) = self.request_cert {
            config = config.request_cert(on);
        }
        if let Some(on) = self.reject_unauthorized {
            config = config.reject_unauthorized(on);
        }
        config
    }

    /// The client configuration, connecting over TCP with `tcp` (node-ipc's
    /// `interface`, and keepalive).
    pub(crate) fn client_config(&self, tcp: TcpConnectOptions) -> TlsClientConfig {
        let mut config =
            TlsClientConfig::new().trusted_connections(self.trusted_connections.iter()).tcp_options(tcp);
        if let (Some(key), Some(cert)) = (&self.private, &self.public) {
            config = config.private(key).public(cert);
        }
        if self.reject_unauthorized == Some(false) {
            config = config.danger_accept_invalid_certs(true);
        }
        if let Some(name) = &self.server_name {
            config = config.server_name(name);
        }
        config
    }
}
