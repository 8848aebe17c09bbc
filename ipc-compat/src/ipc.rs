//! [`Ipc`]: one node-ipc instance (`new RawIPC`), with its config, clients and server.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::client::{Client, ClientState, Target};
use crate::config::Config;
use crate::error::Error;
use crate::server::{Listen, Server, UdpType};

struct Inner {
    config: Arc<RwLock<Config>>,
    of: Mutex<HashMap<String, Client>>,
    server: Mutex<Option<Server>>,
}

/// One node-ipc instance: `require('node-ipc')`, or `new ipc.IPC` for an
/// independent one. Any number of instances live side by side in a process,
/// each with its own [`Config`], clients ([`of`](Ipc::of)) and
/// [`server`](Ipc::server). Cheap to clone (clones are the same instance).
///
/// | node-ipc | here |
/// |---|---|
/// | `ipc.config.x = ..` | [`Ipc::new`] with a [`Config`], or [`Ipc::configure`] |
/// | `ipc.log(a, b, ..)` | [`Ipc::log`], [`ipc_log!`](crate::ipc_log) |
/// | `ipc.connectTo(id, path?, cb?)` | [`Ipc::connect_to`] |
/// | `ipc.connectToNet(id, host?, port?, cb?)` | [`Ipc::connect_to_net`] |
/// | `ipc.disconnect(id)` | [`Ipc::disconnect`] |
/// | `ipc.serve(path?, cb?)` | [`Ipc::serve`] then [`Server::start`] |
/// | `ipc.serveNet(host?, port?, udpType?, cb?)` | [`Ipc::serve_net`] then [`Server::start`] |
/// | `ipc.of[id]` | [`Ipc::of`] |
/// | `ipc.server` | [`Ipc::server`] |
///
/// Methods that start connections need a tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ipc_compat::Error> {
/// use ipc_compat::{Config, Ipc};
///
/// let mut json = Config::default();
/// json.silent = true;
/// let ipc = Ipc::new(json);
///
/// let mut raw = Config::default();
/// raw.silent = true;
/// raw.raw_buffer = true;
/// raw.encoding = "hex".parse()?;
/// let some_other_explicit_ipc = Ipc::new(raw);
///
/// assert!(!ipc.config().raw_buffer && some_other_explicit_ipc.config().raw_buffer);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Ipc {
    inner: Arc<Inner>,
}

impl Default for Ipc {
    /// An instance with node-ipc 9.x's configuration ([`Config::default`]).
    fn default() -> Ipc {
        Ipc::new(Config::default())
    }
}

impl fmt::Debug for Ipc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ipc")
            .field("id", &self.config().id)
            .field("of", &self.lock_of().keys().collect::<Vec<_>>())
            .field("server", &self.server())
            .finish()
    }
}

impl Ipc {
    /// An instance with `config`.
    pub fn new(config: Config) -> Ipc {
        Ipc {
            inner: Arc::new(Inner {
                config: Arc::new(RwLock::new(config)),
                of: Mutex::new(HashMap::new()),
                server: Mutex::new(None),
            }),
        }
    }

    fn lock_of(&self) -> MutexGuard<'_, HashMap<String, Client>> {
        self.inner.of.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of `ipc.config`.
    pub fn config(&self) -> Config {
        self.inner.config.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Changes `ipc.config`. Clients and servers made later use the new
    /// values; existing clients read `retry`, `maxRetries` and `stopRetrying`
    /// from it when they next decide whether to reconnect (setting
    /// [`StopRetrying::Now`](crate::StopRetrying::Now) stops them, as in node-ipc).
    ///
    /// ```
    /// let ipc = ipc_compat::Ipc::default();
    /// ipc.configure(|c| c.stop_retrying = true.into());
    /// assert_eq!(ipc.config().stop_retrying, ipc_compat::StopRetrying::Now);
    /// ```
    pub fn configure(&self, change: impl FnOnce(&mut Config)) {
        change(&mut self.inner.config.write().unwrap_or_else(PoisonError::into_inner));
    }

    /// `ipc.log(...)`: writes one line to `config.logger` unless `config.silent`.
    /// [`ipc_log!`](crate::ipc_log) joins several values with spaces and
    /// skips the formatting when silent.
    pub fn log(&self, message: impl fmt::Display) {
        let config = self.inner.config.read().unwrap_or_else(PoisonError::into_inner);
        if !config.silent && config.logger.is_wanted() {
            config.logger.log(&message.to_string());
        }
    }

    /// Whether logging is on: `!config.silent`, and the logger takes lines
    /// now (a [`Logger::tracing`](crate::Logger::tracing) one only while a
    /// subscriber wants them).
    pub fn is_logging(&self) -> bool {
        let config = self.inner.config.read().unwrap_or_else(PoisonError::into_inner);
        !config.silent && config.logger.is_wanted()
    }

    /// `util.inspect(value, {depth: logDepth, colors: logInColor})`, for log lines.
    pub fn inspect(&self, value: &serde_json::Value) -> String {
        let config = self.inner.config.read().unwrap_or_else(PoisonError::into_inner);
        crate::log::inspect(value, config.log_depth, config.log_in_color)
    }

    /// `ipc.connectTo(id, path)`: a client of the local socket at `path`
    /// (default `socketRoot + appspace + id`; on Windows the named pipe it
    /// maps to), stored as `ipc.of[id]`. It connects in the background; the
    /// returned client is node-ipc's callback argument, and
    /// [`Client::connected`] waits for the connection.
    ///
    /// When `ipc.of[id]` exists and is not destroyed, that client is returned
    /// and nothing new is made (node-ipc's "Already Connected").
    ///
    /// # Errors
    ///
    /// [`Error::MissingId`] for an empty id, [`Error::NoRuntime`] outside a
    /// tokio runtime, [`Error::Config`] for an unusable configuration.
    pub fn connect_to(&self, id: &str, path: Option<&Path>) -> Result<Client, Error> {
        self.connect_to_with(id, path, |_| {})
    }

    /// [`connect_to`](Ipc::connect_to) with node-ipc's callback: `setup` runs
    /// with the new client *before* it starts connecting, so handlers it
    /// registers see every event, the first `connect` or `error` included
    /// (with plain `connect_to`, a handler registered after the call can miss
    /// events of a connection that is quicker than you).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// let mut config = ipc_compat::Config::default();
    /// config.silent = true;
    /// config.stop_retrying = true.into();
    /// let ipc = ipc_compat::Ipc::new(config);
    /// let mut events = None;
    /// let world = ipc.connect_to_with("world", Some("/nonexistent/app.world".as_ref()), |world| {
    ///     world.on_connect(|_| println!("## connected to world ##"));
    ///     events = Some(world.lifecycle(8));
    /// })?;
    /// let mut events = events.unwrap();
    /// assert_eq!(events.recv().await.unwrap().name(), "error"); // nothing listens there
    /// world.destroyed().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`connect_to`](Ipc::connect_to).
    pub fn connect_to_with(
        &self,
        id: &str,
        path: Option<&Path>,
        setup: impl FnOnce(&Client),
    ) -> Result<Client, Error> {
        let path = match path {
            Some(p) => p.to_owned(),
            None => self.config().socket_path_for(id),
        };
        self.connect(id, Target::Local(path), setup)
    }

    /// `ipc.connectToNet(id, host, port)`: a TCP client (TLS when
    /// `config.tls` is set) of `host` (default `networkHost`) and `port`
    /// (default `networkPort`), stored as `ipc.of[id]`. Otherwise as
    /// [`connect_to`](Ipc::connect_to).
    ///
    /// # Errors
    ///
    /// As [`connect_to`](Ipc::connect_to).
    pub fn connect_to_net(&self, id: &str, host: Option<&str>, port: Option<u16>) -> Result<Client, Error> {
        self.connect_to_net_with(id, host, port, |_| {})
    }

    /// [`connect_to_net`](Ipc::connect_to_net) with node-ipc's callback,
    /// run before the client starts connecting (see [`connect_to_with`](Ipc::connect_to_with)).
    ///
    /// # Errors
    ///
    /// As [`connect_to`](Ipc::connect_to).
    pub fn connect_to_net_with(
        &self,
        id: &str,
        host: Option<&str>,
        port: Option<u16>,
        setup: impl FnOnce(&Client),
    ) -> Result<Client, Error> {
        let config = self.config();
        let host = host.map_or(config.network_host, str::to_owned);
        let port = port.unwrap_or(config.network_port);
        self.connect(id, Target::Net { host, port }, setup)
    }

    fn connect(&self, id: &str, target: Target, setup: impl FnOnce(&Client)) -> Result<Client, Error> {
        if id.is_empty() {
            return Err(Error::MissingId);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let mut of = self.lock_of();
        if let Some(existing) = of.get(id) {
            if existing.state() != ClientState::Destroyed {
                let existing = existing.clone();
                drop(of);
                self.log(format_args!("Already Connected to {id} - So executing success without connection"));
                setup(&existing);
                return Ok(existing);
            }
        }
        let client = Client::new(id.to_owned(), target, self.inner.config.clone())?;
        of.insert(id.to_owned(), client.clone());
        drop(of);
        setup(&client);
        let span = crate::trace::client(id, &client.endpoint());
        runtime.spawn(tracing::Instrument::instrument(client.clone().run(), span));
        Ok(client)
    }

    /// `ipc.disconnect(id)`: ends the client for good, at once, as node-ipc
    /// does: unsent events are dropped, its handlers removed, and it leaves
    /// `ipc.of`. Returns whether there was such a client.
    ///
    /// To deliver what is queued first, close it gracefully instead:
    /// [`Client::close`] (or [`Client::close_within`], with a deadline)
    /// writes everything emitted before it, then closes the connection
    /// without losing what was written.
    pub fn disconnect(&self, id: &str) -> bool {
        let client = self.lock_of().remove(id);
        match client {
            Some(client) => {
                client.disconnect();
                true
            }
            None => false,
        }
    }

    /// `ipc.of[id]`: the client made by `connect_to` / `connect_to_net` for `id`.
    pub fn of(&self, id: &str) -> Option<Client> {
        self.lock_of().get(id).cloned()
    }

    /// Every client of `ipc.of`, by id.
    pub fn clients(&self) -> Vec<(String, Client)> {
        self.lock_of().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// `ipc.serve(path)`: a local-socket server at `path` (default
    /// `socketRoot + appspace + config.id`; on Windows the named pipe it maps
    /// to), stored as `ipc.server`. Register handlers, then
    /// [`start`](Server::start) it (node-ipc's callback is what runs after `start`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unusable configuration.
    pub fn serve(&self, path: Option<&Path>) -> Result<Server, Error> {
        let config = self.config();
        config.validate()?;
        let path = match path {
            Some(p) => p.to_owned(),
            None => {
                let path = config.socket_path_for(&config.id);
                self.log(format_args!(
                    "Server path not specified, so defaulting to ipc.config.socketRoot + ipc.config.appspace + ipc.config.id {}",
                    path.display()
                ));
                path
            }
        };
        Ok(self.set_server(Listen::Local(path)))
    }

    /// `ipc.serveNet(host, port, udpType)`: a TCP server (TLS when
    /// `config.tls` is set), or a UDP one, on `host` (default `networkHost`)
    /// and `port` (default `networkPort`), stored as `ipc.server`.
    ///
    /// Port `Some(0)` binds an ephemeral port ([`Server::local_addr`] tells
    /// which); node-ipc reads 0 as "not given". A `udp4` server asked to bind
    /// `::1` binds `127.0.0.1`, as node-ipc does.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unusable configuration.
    pub fn serve_net(
        &self,
        host: Option<&str>,
        port: Option<u16>,
        udp: Option<UdpType>,
    ) -> Result<Server, Error> {
        let config = self.config();
        config.validate()?;
        let mut host = host.map_or(config.network_host.clone(), str::to_owned);
        if udp == Some(UdpType::Udp4) && host == "::1" {
            host = "127.0.0.1".to_owned();
        }
        let port = port.unwrap_or(config.network_port);
        Ok(self.set_server(Listen::Net { host, port, udp }))
    }

    fn set_server(&self, listen: Listen) -> Server {
        let server = Server::new(self.inner.config.clone(), listen);
        *self.inner.server.lock().unwrap_or_else(PoisonError::into_inner) = Some(server.clone());
        server
    }

    /// `ipc.server`: the server made by the last `serve` / `serve_net`.
    pub fn server(&self) -> Option<Server> {
        self.inner.server.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// `ipc.log(a, b, c, ...)`: joins the values (anything `Display`) with single
/// spaces and logs the line, doing no formatting at all when `config.silent`
/// is set.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ipc_compat::{ipc_log, Config, Ipc, Logger};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// let mut config = Config::default();
/// config.logger = Logger::new(move |line| sink.lock().unwrap().push(line.to_owned()));
/// let ipc = Ipc::new(config);
/// let data = serde_json::json!({"id": "hello"});
/// ipc_log!(ipc, "got a message :", ipc.inspect(&data), 42);
/// assert_eq!(lines.lock().unwrap()[0], "got a message : { id: \u{1b}[32m'hello'\u{1b}[39m } 42");
/// ```
#[macro_export]
macro_rules! ipc_log {
    ($ipc:expr, $($arg:expr),+ $(,)?) => {{
        let ipc: &$crate::Ipc = &$ipc;
        if ipc.is_logging() {
            let parts: &[&dyn ::std::fmt::Display] = &[$(&$arg),+];
            let mut line = ::std::string::String::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                ::std::fmt::Write::write_fmt(&mut line, format_args!("{}", part)).ok();
            }
            ipc.log(line);
        }
    }};
}
