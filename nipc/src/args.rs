//! The command line: clap definitions, then checks that turn them into [`Settings`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ipc_codec::{Encoding, JsonCodec, Profile, Rules};
use ipc_transport::local::SocketPathRules;
use ipc_transport::Endpoint;

use crate::lines;
use crate::message::{Mode, Outgoing};
use crate::report::Failure;

const AFTER_HELP: &str = "\
ENDPOINT is one of
  unix:/path/to/socket     a Unix socket (Windows: the named pipe node-ipc maps the path to)
  id:NAME                  socket root + appspace + NAME, as node-ipc's serve() / connectTo(NAME)
  tcp://HOST:PORT          TCP            tls://HOST:PORT   TLS (see --tls-*)
  udp4://HOST:PORT         UDP over IPv4  udp6://[HOST]:PORT UDP over IPv6

Stdin lines are {\"type\":T,\"data\":D} (data optional); nipc serve also takes \"to\": PEER, a
peer as printed (\"#3 tcp://127.0.0.1:50123\", or just 3, or its address). Events print as
{\"type\":T,\"data\":D} (serve adds \"peer\") with D exactly the bytes that came in.
With --raw, stdin lines and printed lines are payloads in --encoding (utf8 by default).
Progress and errors go to stderr as `nipc: ...` lines; -v adds the libraries' tracing output there
(-v info: connections, refusals, bad frames; -vv debug: binds, accepts, TLS handshakes; -vvv trace),
and RUST_LOG (e.g. RUST_LOG=ipc_transport=debug), when set, replaces what -v selects.

Exit status: 0 done, 1 runtime failure, 2 bad arguments (bad stdin lines are reported and skipped).";

/// `nipc`: poke at any node-ipc service.
#[derive(Parser, Debug)]
#[command(name = "nipc", version, about = "Poke at any node-ipc service: serve, connect, emit.")]
#[command(after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
    #[command(flatten)]
    options: Options,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Serve ENDPOINT: print each event received as {"type","data","peer"}; send each stdin line
    /// {"type","data"} to every peer, or with "to": PEER to one. Runs until interrupted.
    Serve {
        /// Where to listen.
        #[arg(value_name = "ENDPOINT")]
        endpoint: String,
    },
    /// Connect to ENDPOINT: print each event received as {"type","data"}; emit each stdin line
    /// {"type","data"}. Exits 0 once stdin ends and everything is written.
    Connect {
        /// The server.
        #[arg(value_name = "ENDPOINT")]
        endpoint: String,
    },
    /// Send one event (data JSON, or none) to ENDPOINT; exits 0 once it is written.
    /// With --raw: `nipc emit --raw ENDPOINT PAYLOAD`.
    Emit {
        /// The server.
        #[arg(value_name = "ENDPOINT")]
        endpoint: String,
        /// The event type (with --raw: the payload, in --encoding).
        #[arg(value_name = "TYPE")]
        event_type: String,
        /// The event data, as JSON; without it the event has no data (sent as {}, as node-ipc does).
        #[arg(value_name = "JSON")]
        json: Option<String>,
    },
}

#[derive(Args, Debug)]
struct Options {
    /// Raw-buffer mode (node-ipc rawBuffer): no framing; stdin and printed lines are payloads.
    #[arg(long, global = true)]
    raw: bool,
    /// With --raw: how payload lines are written (utf8, hex, base64, base64url, ascii, utf16le/ucs2,
    /// latin1/binary).
    #[arg(long, global = true, value_name = "ENC", value_parser = parse_encoding)]
    encoding: Option<Encoding>,
    /// TLS private key, PEM (node-ipc tls.private): a server's key, or a client certificate's.
    #[arg(long = "tls-key", global = true, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// TLS certificate, PEM (node-ipc tls.public): a server's, or a client certificate.
    #[arg(long = "tls-cert", global = true, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// Trusted CA, PEM (node-ipc tls.trustedConnections; repeatable). A client verifies the
    /// server with it (required); a server given one requires and verifies client certificates.
    #[arg(long = "tls-ca", global = true, value_name = "FILE")]
    tls_ca: Vec<PathBuf>,
    /// node-ipc 14 parser profile for what is read and sent: fast (default), guarded or assured.
    #[arg(long, global = true, value_name = "PROFILE", value_parser = parse_profile)]
    profile: Option<Profile>,
    /// An event type the assured profile lets through (node-ipc allowedEvents; repeatable).
    #[arg(long, global = true, value_name = "TYPE")]
    allow: Vec<String>,
    /// Frame delimiter (node-ipc delimiter; default \f). Escapes: \f \n \r \t \0 \\ \xHH.
    #[arg(long, global = true, value_name = "TEXT")]
    delimiter: Option<String>,
    /// Largest frame accepted, in bytes (node-ipc 14 maxMessageSize; default: the profile's).
    #[arg(long = "max-message-size", global = true, value_name = "BYTES")]
    max_message_size: Option<usize>,
    /// connect, emit: our node-ipc id; object data without an "id" member gets "id": NAME first,
    /// as node-ipc clients announce themselves (a node-ipc 9 server learns socket ids from data.id).
    #[arg(long, global = true, value_name = "NAME")]
    id: Option<String>,
    /// For id: endpoints: the socket root, joined as node-ipc does (root + appspace + id, so end
    /// it with /). Default: node-ipc 14's per-user root; node-ipc 9 used /tmp/.
    #[arg(long = "socket-root", global = true, value_name = "DIR")]
    socket_root: Option<String>,
    /// For id: endpoints: the appspace (default app.).
    #[arg(long, global = true, value_name = "PREFIX")]
    appspace: Option<String>,
    /// connect, emit over UDP: the local address to send from (IP or IP:PORT; default any, port 0).
    #[arg(long, global = true, value_name = "ADDR")]
    bind: Option<String>,
    /// Tracing output on stderr: -v info, -vv debug, -vvv trace (RUST_LOG, when set, wins).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    s.parse().map_err(|e: ipc_codec::CodecError| e.to_string())
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse().map_err(|e: ipc_codec::CodecError| e.to_string())
}

/// What to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// `nipc serve`.
    Serve,
    /// `nipc connect`.
    Connect,
    /// `nipc emit`, with the message already built (and checked).
    Emit(Outgoing),
}

/// The TLS files given.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFiles {
    /// `--tls-key`.
    pub(crate) key: Option<PathBuf>,
    /// `--tls-cert`.
    pub(crate) cert: Option<PathBuf>,
    /// `--tls-ca`, in order.
    pub(crate) cas: Vec<PathBuf>,
}

/// Everything a command needs, checked.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The command.
    pub(crate) command: Command,
    /// Where to serve or connect.
    pub(crate) endpoint: Endpoint,
    /// JSON frames or raw buffers.
    pub(crate) mode: Mode,
    /// TLS files (only with `tls://`).
    pub(crate) tls: TlsFiles,
    /// How `id:` endpoints become paths.
    pub(crate) path_rules: SocketPathRules,
    /// Whether `--socket-root` was given (then the root is used as is, never created or chmod'ed).
    pub(crate) custom_socket_root: bool,
    /// Local address for UDP clients.
    pub(crate) bind: Option<SocketAddr>,
    /// How many `-v` were given.
    pub(crate) verbosity: u8,
}

/// Parses and checks the command line. Help and version print and exit here.
pub(crate) fn parse() -> Result<Settings, Failure> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => return Err(Failure::usage(clap_message(&e))),
    };
    settings(cli)
}

/// The first line of a clap error, without its `error: ` prefix, plus a hint.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    // The first paragraph, on one line: "the following required arguments were not provided: <ENDPOINT>".
    let first: Vec<&str> =
        text.lines().map(str::trim).skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
    let first = first.join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    if first.is_empty() {
        return "invalid arguments (see nipc --help)".to_owned();
    }
    format!("{first} (see nipc --help)")
}

fn settings(cli: Cli) -> Result<Settings, Failure> {
    let o = cli.options;
    let (Sub::Serve { endpoint } | Sub::Connect { endpoint } | Sub::Emit { endpoint, .. }) = &cli.command;
    let endpoint: Endpoint =
        endpoint.parse().map_err(|e: ipc_transport::Error| Failure::usage(e.to_string()))?;
    let serving = matches!(cli.command, Sub::Serve { .. });
    let udp = matches!(endpoint, Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. });

    let given = |on: bool, name: &str| if on { Some(name.to_owned()) } else { None };
    if o.raw {
        let json_only = [
            given(o.profile.is_some(), "--profile"),
            given(!o.allow.is_empty(), "--allow"),
            given(o.delimiter.is_some(), "--delimiter"),
            given(o.max_message_size.is_some(), "--max-message-size"),
            given(o.id.is_some(), "--id"),
        ];
        if let Some(flag) = json_only.into_iter().flatten().next() {
            return Err(Failure::usage(format!("{flag} applies to JSON frames, not with --raw")));
        }
    } else if o.encoding.is_some() {
        return Err(Failure::usage("--encoding applies with --raw only"));
    }
    if !matches!(endpoint, Endpoint::Tls { .. })
        && (o.tls_key.is_some() || o.tls_cert.is_some() || !o.tls_ca.is_empty())
    {
        return Err(Failure::usage("--tls-key, --tls-cert and --tls-ca apply to tls:// endpoints only"));
    }
    if matches!(endpoint, Endpoint::Tls { .. }) {
        if serving && (o.tls_key.is_none() || o.tls_cert.is_none()) {
            return Err(Failure::usage("serving tls:// needs --tls-key and --tls-cert"));
        }
        if !serving && o.tls_ca.is_empty() {
            return Err(Failure::usage("connecting to tls:// needs --tls-ca to verify the server"));
        }
        if o.tls_key.is_some() != o.tls_cert.is_some() {
            return Err(Failure::usage("--tls-key and --tls-cert go together"));
        }
    }
    if !matches!(endpoint, Endpoint::Id(_)) && (o.socket_root.is_some() || o.appspace.is_some()) {
        return Err(Failure::usage("--socket-root and --appspace apply to id: endpoints only"));
    }
    if o.bind.is_some() && (serving || !udp) {
        return Err(Failure::usage(
            "--bind applies to connect and emit over udp4:// or udp6:// (a UDP server binds its ENDPOINT)",
        ));
    }
    if o.id.is_some() && serving {
        return Err(Failure::usage("--id applies to connect and emit (it is what a client announces)"));
    }
    if !o.allow.is_empty() && o.profile != Some(Profile::Assured) {
        return Err(Failure::usage("--allow applies to --profile assured"));
    }

    let mode = if o.raw {
        Mode::Raw(o.encoding.unwrap_or_default())
    } else {
        let mut rules = Rules::builder(o.profile.unwrap_or_default());
        if !o.allow.is_empty() {
            rules = rules.allowed_events(o.allow);
        }
        if let Some(max) = o.max_message_size {
            rules = rules.max_message_size(max);
        }
        let mut builder = JsonCodec::builder().rules(rules.build());
        if let Some(text) = &o.delimiter {
            builder = builder.delimiter(unescape(text).map_err(Failure::usage)?);
        }
        let codec = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
        Mode::Json { codec: Box::new(codec), id: o.id }
    };

    let bind = match &o.bind {
        Some(text) => Some(parse_bind(text, &endpoint)?),
        None => None,
    };

    let v14 = SocketPathRules::v14();
    let path_rules = SocketPathRules::new(
        o.socket_root.as_deref().unwrap_or(v14.socket_root()),
        o.appspace.as_deref().unwrap_or(v14.appspace()),
        v14.secure_socket_root(),
    );

    let command = match &cli.command {
        Sub::Serve { .. } => Command::Serve,
        Sub::Connect { .. } => Command::Connect,
        Sub::Emit { event_type, json, .. } => {
            Command::Emit(lines::emit_message(&mode, event_type, json.as_deref()).map_err(Failure::usage)?)
        }
    };

    Ok(Settings {
        command,
        endpoint,
        mode,
        tls: TlsFiles { key: o.tls_key, cert: o.tls_cert, cas: o.tls_ca },
        path_rules,
        custom_socket_root: o.socket_root.is_some(),
        bind,
        verbosity: o.verbose,
    })
}

/// `--bind`: `IP`, `IP:PORT` or `[IPv6]:PORT`, of the endpoint's family.
fn parse_bind(text: &str, endpoint: &Endpoint) -> Result<SocketAddr, Failure> {
    let addr = text
        .parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
        .map_err(|_| {
            Failure::usage(format!("--bind {text:?}: expected IP or IP:PORT (IPv6 as [IP]:PORT)"))
        })?;
    let want_v6 = matches!(endpoint, Endpoint::Udp6 { .. });
    if addr.is_ipv6() != want_v6 {
        let family = if want_v6 { "IPv6" } else { "IPv4" };
        return Err(Failure::usage(format!(
            "--bind {text}: {} needs an {family} address",
            endpoint.scheme()
        )));
    }
    Ok(addr)
}

/// The default local address of a UDP client: any address of the endpoint's family, port 0.
pub(crate) fn default_bind(endpoint: &Endpoint) -> SocketAddr {
    match endpoint {
        Endpoint::Udp6 { .. } => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    }
}

/// Reads `--delimiter`: text with the escapes `\f \n \r \t \0 \\ \xHH`.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("--delimiter {text:?}: bad escape (use \\f \\n \\r \\t \\0 \\\\ or \\xHH)");
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let after = &rest[i + 1..];
        let (byte, used) = match after.as_bytes().first() {
            Some(b'f') => (0x0c, 1),
            Some(b'n') => (b'\n', 1),
            Some(b'r') => (b'\r', 1),
            Some(b't') => (b'\t', 1),
            Some(b'0') => (0, 1),
            Some(b'\\') => (b'\\', 1),
            Some(b'x') => {
                let hex = after.get(1..3).ok_or_else(bad)?;
                (u8::from_str_radix(hex, 16).map_err(|_| bad())?, 3)
            }
            _ => return Err(bad()),
        };
        out.push(byte);
        rest = &after[used..];
    }
    out.extend_from_slice(rest.as_bytes());
    if out.is_empty() {
        return Err("--delimiter must not be empty".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_escapes() {
        assert_eq!(unescape(r"\f").unwrap(), b"\x0c");
        assert_eq!(unescape(r"a\x00b\\\n").unwrap(), b"a\0b\\\n");
        assert_eq!(unescape("||").unwrap(), b"||");
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\x4").is_err());
        assert!(unescape("").is_err());
    }

    #[test]
    fn bind_addresses() {
        let udp4 = Endpoint::udp4("127.0.0.1", 9);
        let udp6 = Endpoint::udp6("::1", 9);
        assert_eq!(parse_bind("127.0.0.1", &udp4).unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(parse_bind("127.0.0.1:5", &udp4).unwrap(), "127.0.0.1:5".parse().unwrap());
        assert_eq!(parse_bind("[::1]:5", &udp6).unwrap(), "[::1]:5".parse().unwrap());
        assert_eq!(parse_bind("::1", &udp6).unwrap(), "[::1]:0".parse().unwrap());
        assert!(parse_bind("::1", &udp4).is_err());
        assert!(parse_bind("nope", &udp4).is_err());
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
