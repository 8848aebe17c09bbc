//! What a [`Config`] tells ipc-transport: where sockets live, how listeners
//! bind and how clients connect.

use ipc_codec::Profile;
use ipc_transport::local::{AllowedPeers, LocalListenerOptions, SocketPathRules};
use ipc_transport::tcp::{TcpConnectOptions, TcpListenerOptions};
use ipc_transport::{BindOptions, ConnectOptions};

use super::Config;

impl Config {
    /// node-ipc's socket path rules of this configuration: `socketRoot`,
    /// `appspace` and `secureSocketRoot`.
    ///
    /// ```
    /// let rules = ipc_compat::Config::default().socket_path_rules();
    /// assert_eq!(rules.path_for("world"), std::path::Path::new("/tmp/app.world"));
    /// ```
    pub fn socket_path_rules(&self) -> SocketPathRules {
        SocketPathRules::new(&self.socket_root, &self.appspace, self.secure_socket_root)
    }

    /// How servers of this configuration bind: `unlink`, `readableAll`,
    /// `writableAll`, `maxConnections`, the socket root (prepared when a
    /// socket lies inside it), the allowed peers, keepalive and `tls`.
    pub(crate) fn bind_options(&self) -> BindOptions {
        let mut tcp = TcpListenerOptions::default().max_connections(self.max_connections);
        if let Some(keepalive) = self.keepalive {
            tcp = tcp.keepalive(keepalive);
        }
        let mut options = BindOptions::default()
            .socket_path_rules(self.socket_path_rules())
            .local(self.local_listener_options())
            .tcp(tcp);
        if let Some(tls) = &self.tls {
            options = options.tls(tls.server_config());
        }
        options
    }

    /// How local servers of this configuration bind: `unlink`, `readableAll`,
    /// `writableAll`, `maxConnections`, and the socket root (prepared when the
    /// socket lies inside it; checked with `secureSocketRoot`), and the
    /// peers admitted ([`Config::admitted_peers`]).
    pub(crate) fn local_listener_options(&self) -> LocalListenerOptions {
        let mut options = LocalListenerOptions::default()
            .unlink(self.unlink)
            .readable_all(self.readable_all)
            .writable_all(self.writable_all)
            .max_connections(self.max_connections)
            .secure_socket_root(self.secure_socket_root);
        if let Some(allowed) = self.admitted_peers() {
            options = options.allowed_peers(allowed);
        }
        if self.socket_root.is_empty() {
            options
        } else {
            options.socket_root(&self.socket_root)
        }
    }

    /// Which local peers a server of this configuration admits:
    /// [`allowed_peers`](Config::allowed_peers) when set, else peers of the
    /// server's own uid under the Assured profile, else everyone (`None`).
    ///
    /// ```
    /// use ipc_compat::{AllowedPeers, Config, Profile};
    ///
    /// let mut config = Config::v14();
    /// assert_eq!(config.admitted_peers(), None);
    /// config.parser = Profile::Assured;
    /// assert_eq!(config.admitted_peers(), Some(AllowedPeers::default().same_uid(true)));
    /// config.allowed_peers = Some(AllowedPeers::default().same_uid(true).gid(100));
    /// assert_eq!(config.admitted_peers(), config.allowed_peers);
    /// ```
    pub fn admitted_peers(&self) -> Option<AllowedPeers> {
        match (&self.allowed_peers, self.parser) {
            (Some(allowed), _) => Some(allowed.clone()),
            (None, Profile::Assured) => Some(AllowedPeers::default().same_uid(true)),
            (None, _) => None,
        }
    }

    /// How clients of this configuration connect over TCP and TLS:
    /// `interface` and keepalive.
    fn tcp_connect_options(&self) -> TcpConnectOptions {
        let options = self.interface.tcp_options();
        match self.keepalive {
            Some(keepalive) => options.keepalive(keepalive),
            None => options,
        }
    }

    /// How clients of this configuration connect: `interface`, keepalive and `tls`.
    pub(crate) fn connect_options(&self) -> ConnectOptions {
        let mut options = ConnectOptions::default()
            .socket_path_rules(self.socket_path_rules())
            .tcp(self.tcp_connect_options());
        if let Some(tls) = &self.tls {
            options = options.tls(tls.client_config(self.tcp_connect_options()));
        }
        options
    }
}
