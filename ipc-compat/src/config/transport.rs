//! What a [`Config`] tells ipc-transport: where sockets live, how listeners
//! bind and how clients connect.

use ipc_transport::local::{LocalListenerOptions, SocketPathRules};
use ipc_transport::tcp::TcpListenerOptions;
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
    /// socket lies inside it) and `tls`.
    pub(crate) fn bind_options(&self) -> BindOptions {
        let mut options = BindOptions::default()
            .socket_path_rules(self.socket_path_rules())
            .local(self.local_listener_options())
            .tcp(TcpListenerOptions::default().max_connections(self.max_connections));
        if let Some(tls) = &self.tls {
            options = options.tls(tls.server_config());
        }
        options
    }

    /// How local servers of this configuration bind: `unlink`, `readableAll`,
    /// `writableAll`, `maxConnections`, and the socket root (prepared when the
    /// socket lies inside it; checked with `secureSocketRoot`).
    pub(crate) fn local_listener_options(&self) -> LocalListenerOptions {
        let options = LocalListenerOptions::default()
            .unlink(self.unlink)
            .readable_all(self.readable_all)
            .writable_all(self.writable_all)
            .max_connections(self.max_connections)
            .secure_socket_root(self.secure_socket_root);
        if self.socket_root.is_empty() {
            options
        } else {
            options.socket_root(&self.socket_root)
        }
    }

    /// How clients of this configuration connect: `interface` and `tls`.
    pub(crate) fn connect_options(&self) -> ConnectOptions {
        let mut options = ConnectOptions::default()
            .socket_path_rules(self.socket_path_rules())
            .tcp(self.interface.tcp_options());
        if let Some(tls) = &self.tls {
            options = options.tls(tls.client_config(&self.interface));
        }
        options
    }
}
