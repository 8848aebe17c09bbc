//! [`Config`]: every `ipc.config` variable of node-ipc 9 and 14, with both presets.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipc_codec::{
    Encoding, JsonCodec, Profile, Rules, DEFAULT_MAX_EVENT_NAME_LENGTH, DEFAULT_MESSAGE_TIMEOUT,
};

use crate::error::Error;

mod assured;
mod logger;
mod tls;
mod transport;

pub(crate) use assured::Side;
pub use logger::Logger;
pub use tls::{Interface, TlsConfig};

/// node-ipc 14's `maxPendingBytes` default: 8 MiB of unsent data per connection.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

/// How many events a client keeps while it is not connected (beyond node-ipc,
/// which fails such writes): [`Config::max_queued_events`].
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 1024;

/// How many requests one connection answers at once (beyond node-ipc, which
/// has no requests): [`Config::max_concurrent_requests`].
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;

/// `ipc.config`: every node-ipc configuration variable, under its Rust name,
/// with node-ipc's defaults.
///
/// [`Config::default`] is the seed's node-ipc 9.x configuration (the README's
/// table); [`Config::v14`] is node-ipc 14.0.0's. Fields are public, as
/// `ipc.config` is a plain object: change them before you connect or serve
/// ([`Ipc::configure`](crate::Ipc::configure) changes them later, and the
/// retry settings take effect at once, as in node-ipc).
///
/// | node-ipc | field | 9.x preset (`default`) | 14.x preset (`v14`) |
/// |---|---|---|---|
/// | `appspace` | [`appspace`](Config::appspace) | `app.` | `app.` |
/// | `socketRoot` | [`socket_root`](Config::socket_root) | `/tmp/` | per user (see below) |
/// | `id` | [`id`](Config::id) | `os.hostname()` | `os.hostname()` |
/// | `networkHost` | [`network_host`](Config::network_host) | `127.0.0.1` | `::1` if the first interface is IPv6, else `127.0.0.1` |
/// | `networkPort` | [`network_port`](Config::network_port) | 8000 | 8000 |
/// | `encoding` | [`encoding`](Config::encoding) | utf8 | utf8 |
/// | `rawBuffer` | [`raw_buffer`](Config::raw_buffer) | false | false |
/// | `sync` | [`sync`](Config::sync) | false | false |
/// | `silent` | [`silent`](Config::silent) | false | false |
/// | `logInColor` | [`log_in_color`](Config::log_in_color) | true | true |
/// | `logDepth` | [`log_depth`](Config::log_depth) | 5 | 5 |
/// | `logger` | [`logger`](Config::logger) | stdout | stdout |
/// | `maxConnections` | [`max_connections`](Config::max_connections) | 100 | 100 |
/// | `retry` | [`retry`](Config::retry) | 500 ms | 500 ms |
/// | `maxRetries` | [`max_retries`](Config::max_retries) | `None` (no limit) | `None` |
/// | `stopRetrying` | [`stop_retrying`](Config::stop_retrying) | `Off` (false) | `Off` |
/// | `unlink` | [`unlink`](Config::unlink) | true | true |
/// | `delimiter` | [`delimiter`](Config::delimiter) | `\f` | `\f` |
/// | `readableAll` / `writableAll` | [`readable_all`](Config::readable_all) / [`writable_all`](Config::writable_all) | false | false |
/// | `interface` | [`interface`](Config::interface) | none set | none set |
/// | `tls` | [`tls`](Config::tls) | `None` (false) | `None` |
/// | `parser` | [`parser`](Config::parser) | fast | fast |
/// | `maxMessageSize` | [`max_message_size`](Config::max_message_size) | profile's | profile's (1 MiB for guarded) |
/// | `maxPendingBytes` | [`max_pending_bytes`](Config::max_pending_bytes) | 8 MiB | 8 MiB |
/// | `maxEventNameLength` | [`max_event_name_length`](Config::max_event_name_length) | 256 | 256 |
/// | `messageTimeout` | [`message_timeout`](Config::message_timeout) | 30 s | 30 s |
/// | `allowReservedEvents` | [`allow_reserved_events`](Config::allow_reserved_events) | false | false |
/// | `allowedEvents` | [`allowed_events`](Config::allowed_events) | `None` (false) | `None` |
/// | `identifyPeer` | [`identify_peer`](Config::identify_peer) | true (9.x always did) | false |
/// | `secureSocketRoot` | [`secure_socket_root`](Config::secure_socket_root) | false (9.x had none) | true |
/// | `logPayloads` | [`log_payloads`](Config::log_payloads) | true (9.x always did) | false |
///
/// Beyond node-ipc: [`legacy_v9_data`](Config::legacy_v9_data),
/// [`on_bad_frame`](Config::on_bad_frame) and
/// [`max_queued_events`](Config::max_queued_events), which the presets set to
/// what each node-ipc line does;
/// [`max_concurrent_requests`](Config::max_concurrent_requests) for
/// request/response (`PROTOCOL.md`); and, off in both presets,
/// [`allowed_peers`](Config::allowed_peers) (who may connect to a local
/// server; Assured admits the server's own uid), [`keepalive`](Config::keepalive)
/// (TCP keepalive) and [`idle_timeout`](Config::idle_timeout) (close a
/// connection that has sent nothing for that long).
///
/// ```
/// use std::time::Duration;
/// use ipc_compat::{Config, StopRetrying};
///
/// let mut config = Config::default(); // node-ipc 9.x, as in the seed README
/// config.id = "world".into();          // ipc.config.id = 'world'
/// config.retry = Duration::from_millis(1500);
/// config.max_retries = Some(10);
/// config.stop_retrying = StopRetrying::After(3);
/// assert_eq!(config.socket_path_for("world").to_str(), Some("/tmp/app.world"));
///
/// let v14 = Config::v14();
/// assert!(!v14.identify_peer && v14.secure_socket_root);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// `appspace`: prefix of every local socket name (socket path = `socket_root + appspace + id`).
    pub appspace: String,
    /// `socketRoot`: the directory local sockets are created in, with its
    /// trailing `/` (the parts are concatenated as strings, as in node-ipc).
    /// 9.x: `/tmp/`; 14.x: `$XDG_RUNTIME_DIR/node-ipc/` or `<tmpdir>/node-ipc-<uid>/`.
    pub socket_root: String,
    /// `id`: this process's id; the default socket name of [`serve`](crate::Ipc::serve).
    /// Default: the host name, as `os.hostname()`.
    pub id: String,
    /// `networkHost`: the host TCP, TLS and UDP servers bind and clients
    /// connect to when none is given. 9.x always uses `127.0.0.1` (its
    /// interface check never matches); 14.x uses `::1` when the machine's first
    /// network interface is IPv6.
    pub network_host: String,
    /// `networkPort`: the port used when none is given (8000).
    pub network_port: u16,
    /// `encoding`: how raw-buffer strings become bytes ([`emit_raw`](crate::Client::emit_raw)
    /// with a string). utf8, hex, base64, ascii, utf16le/ucs2, latin1/binary.
    pub encoding: Encoding,
    /// `rawBuffer`: no JSON framing at all; bytes are sent with `emit_raw` and
    /// arrive as `data` lifecycle events.
    pub raw_buffer: bool,
    /// `sync`: a client sends one event, then waits until the server sends
    /// anything before it sends the next (node-ipc's js-queue). Servers ignore it, as in node-ipc.
    pub sync: bool,
    /// `silent`: turns logging off ([`Ipc::log`](crate::Ipc::log) and this crate's own lines).
    pub silent: bool,
    /// `logInColor`: colors in [`Ipc::inspect`](crate::Ipc::inspect), as `util.inspect` colors.
    pub log_in_color: bool,
    /// `logDepth`: how deep [`Ipc::inspect`](crate::Ipc::inspect) prints nested values.
    pub log_depth: usize,
    /// `logger`: where log lines go (`console.log` in node-ipc: stdout here;
    /// [`Logger::tracing`] forwards them to `tracing`).
    pub logger: Logger,
    /// `maxConnections`: the most connections a stream server keeps open (0:
    /// no limit), and the most UDP peers a UDP server remembers for `broadcast`.
    pub max_connections: usize,
    /// `retry`: how long a client waits before reconnecting.
    pub retry: Duration,
    /// `maxRetries`: how many times a client reconnects after each disconnect
    /// before it gives up (`destroy`); the count starts again after every
    /// successful connection. `None`: no limit (node-ipc's `false`/`Infinity`).
    pub max_retries: Option<u32>,
    /// `stopRetrying`: stop reconnecting at once ([`StopRetrying::Now`], node's
    /// `true`, also when set while a client waits to retry), after `n` retries
    /// ([`StopRetrying::After`]; `After(0)` never reconnects), or not at all (`Off`, node's `false`).
    pub stop_retrying: StopRetrying,
    /// `unlink`: remove a stale socket file before serving. Off, a path that
    /// exists is an error, unless a server of this process already listens on
    /// it, whose listener is then shared (node-ipc's cluster pattern).
    pub unlink: bool,
    /// `delimiter`: what ends each JSON frame (`\f`).
    pub delimiter: String,
    /// `readableAll`: make the socket file readable by everyone.
    pub readable_all: bool,
    /// `writableAll`: make the socket file writable by everyone.
    pub writable_all: bool,
    /// `interface`: local address, port and family of TCP/TLS clients.
    pub interface: Interface,
    /// `tls`: `Some` makes `serve_net` / `connect_to_net` use TLS (node's `tls: false` is `None`).
    pub tls: Option<TlsConfig>,
    /// `parser` (14.x): the decoder's profile, fast, guarded or assured (raw
    /// buffers are [`raw_buffer`](Config::raw_buffer)).
    pub parser: Profile,
    /// `maxMessageSize` (14.x): the largest frame, in bytes. `None`: the
    /// profile's default, 1 MiB for guarded and assured (node-ipc's default),
    /// 16 MiB for fast (node-ipc's fast parser has no limit; ours is always bounded).
    /// `Some` applies to every profile.
    pub max_message_size: Option<usize>,
    /// `maxPendingBytes` (14.x): unsent bytes a connection may hold; an emit
    /// that would pass it fails with [`Error::Backpressure`] and closes that
    /// connection, as node-ipc 14 does. `None`: no limit (node-ipc 9.x).
    pub max_pending_bytes: Option<usize>,
    /// `maxEventNameLength` (14.x): the longest event type guarded and assured accept.
    pub max_event_name_length: usize,
    /// `messageTimeout` (14.x): how long guarded and assured wait for the rest
    /// of an incomplete frame before closing the connection; `None` is node's `0`.
    pub message_timeout: Option<Duration>,
    /// `allowReservedEvents` (14.x): let lifecycle names (`connect`, `error`,
    /// ...) arrive as wire events under guarded.
    pub allow_reserved_events: bool,
    /// `allowedEvents` (14.x): the event types assured accepts (and sends).
    pub allowed_events: Option<Vec<String>>,
    /// `identifyPeer` (14.x): a server learns a socket's id from `data.id` of
    /// the events it sends (9.x always did). The id is what
    /// `socket.disconnected` reports.
    pub identify_peer: bool,
    /// `secureSocketRoot` (14.x): create the socket root with mode 0700 and
    /// refuse one that is a symbolic link or not ours.
    pub secure_socket_root: bool,
    /// `logPayloads` (14.x): include event data in this crate's log lines
    /// (9.x always did).
    pub log_payloads: bool,
    /// Beyond node-ipc: encode data as node-ipc 9.x does, which sends `""`,
    /// `null` and objects with a truthy `_maxListeners` as `{}`.
    pub legacy_v9_data: bool,
    /// Beyond node-ipc: what a malformed frame does to its connection:
    /// report it as an `error` and go on (9.x), or report it and close that
    /// connection (14.x). Other connections are never affected.
    pub on_bad_frame: BadFrame,
    /// Beyond node-ipc: how many events a client keeps while it is not
    /// connected, to send in order once it is; more are dropped and reported
    /// as an `error` ([`Error::EventsDropped`]) when the client connects again.
    pub max_queued_events: usize,
    /// Beyond node-ipc: which peers a local server admits, by the credentials
    /// the operating system reports for each connection (uid, gid; Unix
    /// sockets only). A refused peer is closed at accept and reported as an
    /// `error` event holding [`Error::Transport`] with
    /// [`PeerRefused`](ipc_transport::Error::PeerRefused); other connections
    /// are unaffected. `None`: everyone who can open the socket file, except
    /// under the Assured profile, which admits peers of the server's own uid
    /// ([`Config::admitted_peers`]). A server with allowed peers does not start
    /// on Windows (named pipes report no uid here: see `SECURITY.md`).
    ///
    /// ```
    /// use ipc_compat::{AllowedPeers, Config};
    ///
    /// let mut config = Config::v14();
    /// config.allowed_peers = Some(AllowedPeers::default().same_uid(true).uid(1001).gid(100));
    /// ```
    pub allowed_peers: Option<ipc_transport::local::AllowedPeers>,
    /// Beyond node-ipc: TCP keepalive for TCP and TLS connections, servers'
    /// and clients' alike (`None`, the default: off, as in node). A peer that
    /// vanished without closing (power lost, a partition) then fails the
    /// connection within [`Keepalive::max_detection_time`](ipc_transport::tcp::Keepalive::max_detection_time)
    /// of the last traffic: a server reports it and closes that socket, a
    /// client reports it and reconnects as after any failure.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipc_compat::{Config, Keepalive};
    ///
    /// let mut config = Config::v14();
    /// config.keepalive = Some(Keepalive::new(Duration::from_secs(10)).interval(Duration::from_secs(2)).count(3));
    /// ```
    pub keepalive: Option<ipc_transport::tcp::Keepalive>,
    /// Beyond node-ipc: closes a stream connection (local, TCP, TLS; server
    /// sockets and clients) from which nothing was read for this long, and
    /// reports [`Error::IdleTimeout`] as its `error`; a client then reconnects
    /// as after any failure. Only bytes received count: a connection that
    /// only sends is idle. `None` (the default): never. Costs nothing when off;
    /// when on, a clock reading per read (not per event) and one timer per connection.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut config = ipc_compat::Config::v14();
    /// config.idle_timeout = Some(Duration::from_secs(60)); // peers that say nothing for a minute go
    /// ```
    pub idle_timeout: Option<Duration>,
    /// Beyond node-ipc: how many requests (`on_request` handlers) one
    /// connection runs at once. Past it, that connection reads nothing more
    /// until one of them finishes, which slows the peer down instead of
    /// growing without bound (its own replies wait too). Default
    /// [`DEFAULT_MAX_CONCURRENT_REQUESTS`] (1,024).
    pub max_concurrent_requests: usize,
    /// Beyond node-ipc: acknowledged delivery (`PROTOCOL.md`), off by default
    /// and in both presets. With [`Acks::On`](crate::Acks::On) a client numbers
    /// every event it emits, keeps it until the server acknowledges it, and
    /// sends it again after a reconnect if the server has not received it; a
    /// server hands each event to its handlers once and in order, and
    /// acknowledges them in batches. The two ends agree on it when they
    /// connect; a server that does not answer (any node-ipc) gets the plain
    /// wire, with a warning, or is refused with [`Acks::Required`](crate::Acks::Required).
    /// The other way too: a client with acks on asks for the server's events
    /// acknowledged, and a server with acks on numbers what it emits to such
    /// a client, keeps it per client session ([`ack_linger`](Config::ack_linger))
    /// and replays it after a reconnect; a client that does not ask (any
    /// node-ipc) gets the plain wire. Not with [`sync`](Config::sync) (refused).
    /// Off, nothing changes on the wire and nothing is paid per event.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipc_compat::{Acks, Config, WhenFull};
    ///
    /// let mut config = Config::v14();
    /// config.acks = Acks::On;
    /// config.ack_window = 10_000;                  // unacknowledged events kept, at most
    /// config.when_window_full = WhenFull::Wait;    // emit_async waits for room
    /// config.ack_agreement_timeout = Duration::from_secs(5); // a slow link: wait longer for the answer
    /// ```
    pub acks: crate::acked::Acks,
    /// Beyond node-ipc, with [`acks`](Config::acks): how many unacknowledged
    /// events a client keeps (its replay buffer; while it is not connected,
    /// this replaces [`max_queued_events`](Config::max_queued_events)).
    /// Default [`DEFAULT_ACK_WINDOW`](crate::DEFAULT_ACK_WINDOW) (4,096).
    pub ack_window: usize,
    /// Beyond node-ipc, with [`acks`](Config::acks): what an emit does when
    /// the replay buffer is full: fail ([`WhenFull::Error`](crate::WhenFull::Error),
    /// the default) or wait for room ([`WhenFull::Wait`](crate::WhenFull::Wait),
    /// with [`Client::emit_async`](crate::Client::emit_async)).
    pub when_window_full: crate::acked::WhenFull,
    /// Beyond node-ipc, with [`acks`](Config::acks): how long a client waits,
    /// after each connect, for the server's answer to the agreement before it
    /// falls back to the plain wire (or refuses). Events emitted meanwhile
    /// wait. Default [`DEFAULT_ACK_AGREEMENT_TIMEOUT`](crate::DEFAULT_ACK_AGREEMENT_TIMEOUT)
    /// (2 s: a server of ours answers in one round trip; node-ipc never does).
    pub ack_agreement_timeout: Duration,
    /// Beyond node-ipc, with [`acks`](Config::acks), a server's: how long the
    /// events it emitted to a client session stay kept for that client's
    /// return once it has no connection. Past it, they are dropped (counted
    /// in [`AckStats::expired`](crate::AckStats::expired)) the next time any
    /// client agrees, and the returning client is told to skip them. The
    /// sessions kept are bounded too ([`MAX_SESSIONS`](crate::MAX_SESSIONS),
    /// the oldest forgotten), so a server holds at most that many times
    /// [`ack_window`](Config::ack_window) events. Default
    /// [`DEFAULT_ACK_LINGER`](crate::DEFAULT_ACK_LINGER) (60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut config = ipc_compat::Config::v14();
    /// assert_eq!(config.ack_linger, ipc_compat::DEFAULT_ACK_LINGER);
    /// config.ack_linger = Duration::from_secs(5);
    /// ```
    pub ack_linger: Duration,
}

impl Default for Config {
    /// node-ipc 9.x's configuration, as the seed README lists it ([`Config::v9`]).
    fn default() -> Config {
        Config::v9()
    }
}

impl Config {
    /// node-ipc 9.2.1's configuration (the seed README's defaults).
    pub fn v9() -> Config {
        Config {
            appspace: ipc_transport::local::DEFAULT_APPSPACE.to_owned(),
            socket_root: ipc_transport::local::V9_SOCKET_ROOT.to_owned(),
            id: hostname(),
            network_host: "127.0.0.1".to_owned(),
            network_port: 8000,
            encoding: Encoding::Utf8,
            raw_buffer: false,
            sync: false,
            silent: false,
            log_in_color: true,
            log_depth: 5,
            logger: Logger::stdout(),
            max_connections: 100,
            retry: Duration::from_millis(500),
            max_retries: None,
            stop_retrying: StopRetrying::Off,
            unlink: true,
            delimiter: "\x0c".to_owned(),
            readable_all: false,
            writable_all: false,
            interface: Interface::default(),
            tls: None,
            parser: Profile::Fast,
            max_message_size: None,
            max_pending_bytes: Some(DEFAULT_MAX_PENDING_BYTES),
            max_event_name_length: DEFAULT_MAX_EVENT_NAME_LENGTH,
            message_timeout: Some(DEFAULT_MESSAGE_TIMEOUT),
            allow_reserved_events: false,
            allowed_events: None,
            identify_peer: true,
            secure_socket_root: false,
            log_payloads: true,
            legacy_v9_data: true,
            on_bad_frame: BadFrame::Report,
            max_queued_events: DEFAULT_MAX_QUEUED_EVENTS,
            allowed_peers: None,
            keepalive: None,
            idle_timeout: None,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            acks: crate::acked::Acks::Off,
            ack_window: crate::acked::DEFAULT_ACK_WINDOW,
            when_window_full: crate::acked::WhenFull::Error,
            ack_agreement_timeout: crate::acked::DEFAULT_ACK_AGREEMENT_TIMEOUT,
            ack_linger: crate::acked::DEFAULT_ACK_LINGER,
        }
    }

    /// node-ipc 14.0.0's configuration: per-user socket root with
    /// `secureSocketRoot`, `identifyPeer` off, payloads not logged, data sent
    /// as given, a malformed frame closes its connection.
    pub fn v14() -> Config {
        Config {
            socket_root: ipc_transport::local::per_user_socket_root(),
            network_host: first_interface_host(),
            identify_peer: false,
            secure_socket_root: true,
            log_payloads: false,
            legacy_v9_data: false,
            on_bad_frame: BadFrame::Close,
            ..Config::v9()
        }
    }

    /// `socketRoot + appspace + id`: where [`serve`](crate::Ipc::serve) and
    /// [`connect_to`](crate::Ipc::connect_to) put the socket named `id`.
    pub fn socket_path_for(&self, id: &str) -> PathBuf {
        self.socket_path_rules().path_for(id)
    }

    /// Checks the configuration as node-ipc 14 does when it builds its parser.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the problem: an empty delimiter, a limit of
    /// 0, assured without `allowed_events`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.delimiter.is_empty() {
            return Err(Error::Config("delimiter must be a non-empty string".into()));
        }
        if self.max_message_size == Some(0)
            || self.max_event_name_length == 0
            || self.max_pending_bytes == Some(0)
        {
            return Err(Error::Config(
                "maxMessageSize, maxPendingBytes and maxEventNameLength must be at least 1".into(),
            ));
        }
        if self.max_queued_events == 0 || self.max_concurrent_requests == 0 {
            return Err(Error::Config(
                "max_queued_events and max_concurrent_requests must be at least 1".into(),
            ));
        }
        if self.acks != crate::acked::Acks::Off && self.sync {
            // sync holds each event until the server sends anything back, and a
            // server acknowledges in batches (every 256 events or 10 ms): every
            // event would wait out the delay; ack_window already bounds what is in flight
            return Err(Error::Config(
                "acks cannot be combined with sync: ack_window bounds what is in flight instead".into(),
            ));
        }
        if self.acks != crate::acked::Acks::Off && (self.raw_buffer || self.ack_window == 0) {
            return Err(Error::Config(
                "acks need JSON events (rawBuffer off) and an ack_window of at least 1".into(),
            ));
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(Error::Config("idle_timeout must be longer than zero (None turns it off)".into()));
        }
        self.json_codec().map(drop)
    }

    /// The decoder and encoder rules this configuration describes.
    pub fn rules(&self) -> Rules {
        let mut rules = Rules::builder(self.parser)
            .max_event_name_length(self.max_event_name_length)
            .allow_reserved_events(self.allow_reserved_events);
        if let Some(max) = self.max_message_size {
            rules = rules.max_message_size(max);
        }
        if self.parser != Profile::Fast {
            rules = rules.message_timeout(self.message_timeout);
        }
        if let Some(allowed) = &self.allowed_events {
            rules = rules.allowed_events(allowed.iter().map(String::as_str));
        }
        rules.build()
    }

    /// The JSON codec this configuration describes (delimiter, rules, 9.x data rewrite).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the codec rejects the configuration.
    pub fn json_codec(&self) -> Result<JsonCodec, Error> {
        JsonCodec::builder()
            .delimiter(self.delimiter.as_bytes())
            .rules(self.rules())
            .legacy_v9_data(self.legacy_v9_data)
            .build()
            .map_err(|e| Error::Config(e.to_string()))
    }

    pub(crate) fn retries_allowed(&self) -> u32 {
        let max = self.max_retries.unwrap_or(u32::MAX);
        match self.stop_retrying {
            StopRetrying::After(n) => max.min(n),
            _ => max,
        }
    }
}

/// node-ipc's `stopRetrying`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StopRetrying {
    /// `false`: reconnect as `retry` and `maxRetries` say.
    #[default]
    Off,
    /// `true`: never reconnect, and stop a client that waits to reconnect.
    Now,
    /// A number: reconnect at most this many times after each disconnect
    /// (together with `maxRetries`, the smaller wins). `After(0)` never reconnects.
    After(u32),
}

impl From<bool> for StopRetrying {
    fn from(stop: bool) -> StopRetrying {
        if stop {
            StopRetrying::Now
        } else {
            StopRetrying::Off
        }
    }
}

impl From<u32> for StopRetrying {
    fn from(n: u32) -> StopRetrying {
        StopRetrying::After(n)
    }
}

/// What a malformed frame does to its connection (see [`Config::on_bad_frame`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BadFrame {
    /// node-ipc 9.x: an `error` event, then the next frame.
    #[default]
    Report,
    /// node-ipc 14.x: an `error` event, then that connection closes (a client
    /// then does not reconnect, as node-ipc 14's `protocolViolation`).
    Close,
}

/// `os.hostname()`.
fn hostname() -> String {
    #[cfg(unix)]
    {
        rustix::system::uname().nodename().to_string_lossy().into_owned()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_else(|_| "localhost".to_owned())
    }
}

/// node-ipc 14's `networkHost`: `::1` when the first address of the first
/// interface (as `os.networkInterfaces()` orders them) is IPv6.
fn first_interface_host() -> String {
    let first = if_addrs::get_if_addrs()
        .ok()
        .and_then(|interfaces| interfaces.into_iter().find(|i| i.is_oper_up()).map(|i| i.ip()));
    match first {
        Some(IpAddr::V6(_)) => "::1".to_owned(),
        _ => "127.0.0.1".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_node_ipc() {
        let v9 = Config::default();
        assert_eq!(v9.socket_root, "/tmp/");
        assert_eq!(v9.network_host, "127.0.0.1");
        assert_eq!(v9.network_port, 8000);
        assert_eq!(v9.retry, Duration::from_millis(500));
        assert_eq!(v9.delimiter, "\x0c");
        assert!(v9.identify_peer && v9.legacy_v9_data && v9.unlink);
        assert_eq!(v9.on_bad_frame, BadFrame::Report);
        assert!(!v9.id.is_empty());
        let v14 = Config::v14();
        assert!(v14.socket_root.ends_with('/') && v14.socket_root.contains("node-ipc"));
        assert_eq!(v14.on_bad_frame, BadFrame::Close);
        assert!(v14.network_host == "127.0.0.1" || v14.network_host == "::1");
        v9.validate().unwrap();
        v14.validate().unwrap();
    }

    #[test]
    fn retry_limits_combine() {
        let mut c = Config::default();
        assert_eq!(c.retries_allowed(), u32::MAX);
        c.max_retries = Some(5);
        assert_eq!(c.retries_allowed(), 5);
        c.stop_retrying = StopRetrying::After(2);
        assert_eq!(c.retries_allowed(), 2);
        c.stop_retrying = 0.into();
        assert_eq!(c.retries_allowed(), 0);
        assert_eq!(StopRetrying::from(true), StopRetrying::Now);
    }

    #[test]
    fn rules_follow_the_profile() {
        let mut c = Config::v14();
        assert_eq!(c.rules().max_message_size(), ipc_codec::FAST_MAX_MESSAGE_SIZE);
        assert_eq!(c.rules().message_timeout(), None);
        c.parser = Profile::Guarded;
        assert_eq!(c.rules().max_message_size(), 1024 * 1024);
        assert_eq!(c.rules().message_timeout(), Some(Duration::from_secs(30)));
        c.parser = Profile::Assured;
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        c.allowed_events = Some(vec!["app.message".into()]);
        c.validate().unwrap();
        c.delimiter.clear();
        assert!(c.validate().is_err());
    }
}
