//! node-ipc 14's transport rules for the Assured profile: which endpoints an
//! Assured server may listen on and an Assured client may connect to.

use std::path::Path;

use ipc_codec::Profile;
use ipc_transport::Endpoint;

use super::Config;
use crate::error::Error;

/// Why an Assured server may not listen on a local endpoint on Windows:
/// node-ipc 14's `ERR_IPC_ASSURED_TRANSPORT` message, in our error style
/// (lowercase, no full stop).
pub(crate) const ASSURED_LOCAL_ON_WINDOWS: &str =
    "assured local transport requires Unix socket ownership checks; \
     use mutual TLS or an application-owned Windows ACL";

/// Which end of a connection an endpoint is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A server listens on it.
    Server,
    /// A client connects to it.
    Client,
}

impl Config {
    /// Checks that `endpoint` may be used under the Assured profile by a
    /// server or a client (anything goes under the other profiles).
    ///
    /// A server's local socket is refused on Windows (named pipes have no
    /// owner check to rely on; node-ipc 14 refuses it first of all), and
    /// elsewhere needs `secureSocketRoot` and a path directly inside `socketRoot`; a network server
    /// needs TLS with a trusted client CA, `requestCert` and
    /// `rejectUnauthorized`. A client's network connection needs TLS with a
    /// key, a certificate, a trusted CA and `rejectUnauthorized`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] saying which rule the endpoint breaks.
    pub(crate) fn check_assured(&self, endpoint: &Endpoint, side: Side) -> Result<(), Error> {
        let checked = match (self.parser, side) {
            (Profile::Assured, Side::Server) => self.assured_server(endpoint),
            (Profile::Assured, Side::Client) => self.assured_client(endpoint),
            _ => Ok(()),
        };
        if let Err(e) = &checked {
            let side = if side == Side::Server { "server" } else { "client" };
            crate::trace::assured_refused(endpoint, side, e);
        }
        checked
    }

    fn assured_server(&self, endpoint: &Endpoint) -> Result<(), Error> {
        let tls_needed = || Error::Config("the assured parser requires TLS for network servers".into());
        match endpoint {
            // node-ipc 14 checks the platform first, whatever secureSocketRoot says
            Endpoint::Unix(_) | Endpoint::Id(_) if cfg!(windows) => {
                Err(Error::Config(ASSURED_LOCAL_ON_WINDOWS.into()))
            }
            Endpoint::Unix(_) | Endpoint::Id(_) if !self.secure_socket_root => {
                Err(Error::Config("the assured parser requires secureSocketRoot for local sockets".into()))
            }
            Endpoint::Unix(path)
                if !ipc_transport::local::directly_inside(Path::new(&self.socket_root), path) =>
            {
                Err(Error::Config(
                    "the assured parser requires a local endpoint directly inside socketRoot".into(),
                ))
            }
            Endpoint::Unix(_) | Endpoint::Id(_) => Ok(()),
            Endpoint::Tls { .. } => {
                let tls = self.tls.as_ref().ok_or_else(tls_needed)?;
                if tls.trusted_connections.is_empty()
                    || tls.request_cert == Some(false)
                    || tls.reject_unauthorized == Some(false)
                {
                    return Err(Error::Config(
                        "assured network servers require a trusted client CA, requestCert and rejectUnauthorized"
                            .into(),
                    ));
                }
                Ok(())
            }
            _ => Err(tls_needed()),
        }
    }

    fn assured_client(&self, endpoint: &Endpoint) -> Result<(), Error> {
        if endpoint.is_local() {
            return Ok(());
        }
        match &self.tls {
            Some(tls)
                if matches!(endpoint, Endpoint::Tls { .. })
                    && tls.private.is_some()
                    && tls.public.is_some()
                    && !tls.trusted_connections.is_empty()
                    && tls.reject_unauthorized != Some(false) =>
            {
                Ok(())
            }
            Some(_) => Err(Error::Config(
                "assured network clients require a key, certificate, trusted CA and rejectUnauthorized"
                    .into(),
            )),
            None => Err(Error::Config("the assured parser requires TLS for network connections".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;

    #[test]
    fn assured_needs_secure_transports() {
        let mut config = Config::v14();
        config.parser = Profile::Assured;
        config.allowed_events = Some(vec!["a".into()]);
        let tcp = Endpoint::tcp("127.0.0.1", 1);
        assert!(config.check_assured(&tcp, Side::Server).is_err());
        assert!(config.check_assured(&Endpoint::udp4("127.0.0.1", 1), Side::Server).is_err());
        let inside = Endpoint::unix(Path::new(&config.socket_root).join("app.x"));
        assert_eq!(config.check_assured(&inside, Side::Server).is_ok(), cfg!(unix));
        config.tls = Some(TlsConfig { trusted_connections: vec!["ca.pem".into()], ..TlsConfig::default() });
        assert!(config.check_assured(&Endpoint::tls("127.0.0.1", 1), Side::Server).is_ok());
        config.secure_socket_root = false;
        assert!(config.check_assured(&inside, Side::Server).is_err());
    }

    #[test]
    fn assured_clients_need_mutual_tls_on_the_network() {
        let mut config = Config::v14();
        config.parser = Profile::Assured;
        assert!(config.check_assured(&Endpoint::unix("/x"), Side::Client).is_ok());
        assert!(config.check_assured(&Endpoint::tcp("127.0.0.1", 1), Side::Client).is_err());
        config.tls = Some(TlsConfig { trusted_connections: vec!["ca.pem".into()], ..TlsConfig::default() });
        assert!(config.check_assured(&Endpoint::tls("127.0.0.1", 1), Side::Client).is_err());
        config.tls = Some(TlsConfig {
            private: Some("k".into()),
            public: Some("c".into()),
            trusted_connections: vec!["ca.pem".into()],
            ..TlsConfig::default()
        });
        assert!(config.check_assured(&Endpoint::tls("127.0.0.1", 1), Side::Client).is_ok());
    }

    #[test]
    fn assured_local_endpoints_sit_directly_inside_the_socket_root() {
        let mut config = Config::v14();
        config.parser = Profile::Assured;
        config.socket_root = "/run/user/1000/node-ipc/".into();
        for (path, ok) in [
            ("/run/user/1000/node-ipc/app.world", true),
            ("/run/user/1000/node-ipc/./app.world", true),
            ("/run/user/1000/node-ipc/sub/app.world", false),
            ("/run/user/1000/node-ipc/../app.world", false),
            ("/run/user/1000/node-ipc/sub/../app.world", true),
            ("/tmp/app.world", false),
            ("/run/user/1000/node-ipc", false),
            ("/run/user/1000/node-ipc/", false),
        ] {
            assert_eq!(
                config.check_assured(&Endpoint::unix(path), Side::Server).is_ok(),
                ok && cfg!(unix),
                "{path}"
            );
        }
    }

    #[test]
    fn assured_local_servers_are_refused_on_windows_before_anything_else() {
        let mut config = Config::v14();
        config.parser = Profile::Assured;
        for secure_socket_root in [true, false] {
            config.secure_socket_root = secure_socket_root;
            let refused = config.check_assured(&Endpoint::id("world"), Side::Server);
            match refused {
                Err(Error::Config(why)) if cfg!(windows) => assert_eq!(why, ASSURED_LOCAL_ON_WINDOWS),
                Err(Error::Config(why)) => {
                    assert!(!secure_socket_root && why.contains("secureSocketRoot"), "{why}")
                }
                other => assert!(cfg!(unix) && secure_socket_root && other.is_ok(), "{other:?}"),
            }
        }
    }
}
