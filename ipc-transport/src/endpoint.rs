//! [`Endpoint`]: node-ipc addresses, parsed and printed.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::Error;

/// Where a node-ipc server listens, in one string.
///
/// | text | meaning | node-ipc |
/// |---|---|---|
/// | `unix:/tmp/app.world` | a local socket at this path (Windows: the named pipe it maps to) | `serve(path)`, `connectTo(id, path)` |
/// | `id:world` | a local socket at socket root + appspace + `world` | `serve()`, `connectTo(id)` |
/// | `tcp://127.0.0.1:8000` | TCP | `serveNet(host, port)`, `connectToNet(id, host, port)` |
/// | `tls://localhost:8000` | TLS over TCP | the same with `config.tls` set |
/// | `udp4://127.0.0.1:8000` | UDP over IPv4 | `serveNet(host, port, 'udp4')` |
/// | `udp6://[::1]:8000` | UDP over IPv6 | `serveNet(host, port, 'udp6')` |
///
/// IPv6 literals are written in brackets; host names are allowed everywhere a
/// host is (`udp6://[::1]:8000`, `tcp://localhost:8000`). Port 0 asks for an
/// ephemeral port when binding. Printing and parsing round-trip.
///
/// ```
/// use ipc_transport::Endpoint;
///
/// let e: Endpoint = "tcp://[::1]:8000".parse().unwrap();
/// assert_eq!(e, Endpoint::tcp("::1", 8000));
/// assert_eq!(e.to_string(), "tcp://[::1]:8000");
/// assert_eq!((e.host(), e.port()), (Some("::1"), Some(8000)));
///
/// assert_eq!("id:world".parse::<Endpoint>().unwrap(), Endpoint::id("world"));
/// let err = "tcp://::1:8000".parse::<Endpoint>().unwrap_err();
/// assert!(err.to_string().contains("brackets"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `unix:PATH`: a local socket at `PATH` (Windows: the named pipe `PATH` maps to).
    Unix(PathBuf),
    /// `id:NAME`: a local socket at socket root + appspace + `NAME`.
    Id(String),
    /// `tcp://HOST:PORT`.
    Tcp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// `tls://HOST:PORT`: TLS over TCP.
    Tls {
        /// Host name or IP address (IPv6 without brackets); also the name the server certificate is checked against.
        host: String,
        /// Port.
        port: u16,
    },
    /// `udp4://HOST:PORT`: UDP over IPv4.
    Udp4 {
        /// Host name or IPv4 address.
        host: String,
        /// Port.
        port: u16,
    },
    /// `udp6://[HOST]:PORT`: UDP over IPv6.
    Udp6 {
        /// Host name or IPv6 address (without brackets).
        host: String,
        /// Port.
        port: u16,
    },
}

impl Endpoint {
    /// `unix:PATH`.
    pub fn unix(path: impl Into<PathBuf>) -> Endpoint {
        Endpoint::Unix(path.into())
    }

    /// `id:NAME`.
    pub fn id(name: impl Into<String>) -> Endpoint {
        Endpoint::Id(name.into())
    }

    /// `tcp://HOST:PORT`.
    pub fn tcp(host: impl Into<String>, port: u16) -> Endpoint {
        Endpoint::Tcp { host: host.into(), port }
    }

    /// `tls://HOST:PORT`.
    pub fn tls(host: impl Into<String>, port: u16) -> Endpoint {
        Endpoint::Tls { host: host.into(), port }
    }

    /// `udp4://HOST:PORT`.
    pub fn udp4(host: impl Into<String>, port: u16) -> Endpoint {
        Endpoint::Udp4 { host: host.into(), port }
    }

    /// `udp6://[HOST]:PORT`.
    pub fn udp6(host: impl Into<String>, port: u16) -> Endpoint {
        Endpoint::Udp6 { host: host.into(), port }
    }

    /// The scheme: `unix`, `id`, `tcp`, `tls`, `udp4` or `udp6`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Unix(_) => "unix",
            Endpoint::Id(_) => "id",
            Endpoint::Tcp { .. } => "tcp",
            Endpoint::Tls { .. } => "tls",
            Endpoint::Udp4 { .. } => "udp4",
            Endpoint::Udp6 { .. } => "udp6",
        }
    }

    /// Whether this is a local socket (`unix:` or `id:`).
    pub fn is_local(&self) -> bool {
        matches!(self, Endpoint::Unix(_) | Endpoint::Id(_))
    }

    /// The host of a network endpoint (IPv6 without brackets).
    pub fn host(&self) -> Option<&str> {
        match self {
            Endpoint::Tcp { host, .. }
            | Endpoint::Tls { host, .. }
            | Endpoint::Udp4 { host, .. }
            | Endpoint::Udp6 { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The port of a network endpoint.
    pub fn port(&self) -> Option<u16> {
        match self {
            Endpoint::Tcp { port, .. }
            | Endpoint::Tls { port, .. }
            | Endpoint::Udp4 { port, .. }
            | Endpoint::Udp6 { port, .. } => Some(*port),
            _ => None,
        }
    }

    /// The path of a `unix:` endpoint.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Endpoint::Unix(p) => Some(p),
            _ => None,
        }
    }

    /// Resolves a network endpoint's host to socket addresses, keeping only
    /// IPv4 addresses for `udp4` and IPv6 ones for `udp6`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedEndpoint`] for local endpoints, [`Error::Io`] when
    /// the lookup fails, [`Error::NoAddress`] when no address is left.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "tcp", feature = "udp"))))]
    pub async fn resolve(&self) -> Result<Vec<std::net::SocketAddr>, Error> {
        let (Some(host), Some(port)) = (self.host(), self.port()) else {
            return Err(Error::UnsupportedEndpoint {
                endpoint: self.to_string(),
                reason: "a local socket has no network address",
            });
        };
        let family = match self {
            Endpoint::Udp4 { .. } => Some(false),
            Endpoint::Udp6 { .. } => Some(true),
            _ => None,
        };
        resolve_host(host, port, family).await
    }
}

/// Looks `host` up; `v6`: `Some(true)` keeps IPv6 only, `Some(false)` IPv4 only.
#[cfg(any(feature = "tcp", feature = "udp"))]
pub(crate) async fn resolve_host(
    host: &str,
    port: u16,
    v6: Option<bool>,
) -> Result<Vec<std::net::SocketAddr>, Error> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await?
        .filter(|a| v6.is_none_or(|v6| a.is_ipv6() == v6))
        .collect();
    if addrs.is_empty() {
        return Err(Error::NoAddress {
            host: host.to_owned(),
            port,
            family: v6.map(|v6| if v6 { "IPv6" } else { "IPv4" }),
        });
    }
    Ok(addrs)
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Id(id) => write!(f, "id:{id}"),
            _ => {
                let (host, port) = (self.host().unwrap_or_default(), self.port().unwrap_or_default());
                if host.contains(':') {
                    write!(f, "{}://[{host}]:{port}", self.scheme())
                } else {
                    write!(f, "{}://{host}:{port}", self.scheme())
                }
            }
        }
    }
}

impl FromStr for Endpoint {
    type Err = Error;

    fn from_str(input: &str) -> Result<Endpoint, Error> {
        let bad = |reason: &'static str| Error::InvalidEndpoint { input: input.to_owned(), reason };
        if input.contains('\0') {
            return Err(bad("contains a NUL byte"));
        }
        if let Some(path) = input.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad("missing socket path after unix:"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(id) = input.strip_prefix("id:") {
            if id.is_empty() {
                return Err(bad("missing id after id:"));
            }
            return Ok(Endpoint::Id(id.to_owned()));
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(bad("expected unix:PATH, id:NAME or tcp|tls|udp4|udp6://HOST:PORT"));
        };
        let (host, port) = parse_host_port(rest).map_err(bad)?;
        let literal = host.parse::<IpAddr>().ok();
        match scheme {
            "tcp" => Ok(Endpoint::Tcp { host, port }),
            "tls" => Ok(Endpoint::Tls { host, port }),
            "udp4" if matches!(literal, Some(IpAddr::V6(_))) => {
                Err(bad("udp4 needs an IPv4 address or a host name"))
            }
            "udp4" => Ok(Endpoint::Udp4 { host, port }),
            "udp6" if matches!(literal, Some(IpAddr::V4(_))) => {
                Err(bad("udp6 needs an IPv6 address or a host name"))
            }
            "udp6" => Ok(Endpoint::Udp6 { host, port }),
            _ => Err(bad("unknown scheme: expected unix, id, tcp, tls, udp4 or udp6")),
        }
    }
}

impl TryFrom<&str> for Endpoint {
    type Error = Error;

    fn try_from(input: &str) -> Result<Endpoint, Error> {
        input.parse()
    }
}

fn parse_host_port(rest: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unclosed '[' in host")?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err("brackets must hold an IPv6 address");
        }
        let port = after.strip_prefix(':').ok_or("missing :PORT after the host")?;
        (host, port)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or("missing :PORT after the host")?;
        if host.contains(':') {
            return Err("IPv6 addresses must be in brackets, as in tcp://[::1]:8000");
        }
        if host.is_empty() {
            return Err("missing host");
        }
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
            return Err("unexpected character in host");
        }
        (host, port)
    };
    if port.is_empty() {
        return Err("missing port");
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("port must be a number (and nothing may follow it)");
    }
    let port = port.parse::<u16>().map_err(|_| "port must be in 0..=65535")?;
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Endpoint {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn reason(s: &str) -> &'static str {
        match s.parse::<Endpoint>() {
            Err(Error::InvalidEndpoint { input, reason }) => {
                assert_eq!(input, s);
                reason
            }
            other => panic!("{s}: expected InvalidEndpoint, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(parse("unix:/tmp/app.world"), Endpoint::unix("/tmp/app.world"));
        assert_eq!(parse("unix:relative/sock"), Endpoint::unix("relative/sock"));
        assert_eq!(parse("id:world"), Endpoint::id("world"));
        assert_eq!(parse("tcp://127.0.0.1:8000"), Endpoint::tcp("127.0.0.1", 8000));
        assert_eq!(parse("tcp://localhost:0"), Endpoint::tcp("localhost", 0));
        assert_eq!(parse("tls://[::1]:65535"), Endpoint::tls("::1", 65535));
        assert_eq!(parse("udp4://127.0.0.1:8001"), Endpoint::udp4("127.0.0.1", 8001));
        assert_eq!(parse("udp4://localhost:8001"), Endpoint::udp4("localhost", 8001));
        assert_eq!(parse("udp6://[::1]:8002"), Endpoint::udp6("::1", 8002));
        assert_eq!(parse("udp6://[fe80::1]:1"), Endpoint::udp6("fe80::1", 1));
    }

    #[test]
    fn prints_and_round_trips() {
        for s in [
            "unix:/tmp/app.world",
            "id:app-1",
            "tcp://127.0.0.1:8000",
            "tcp://[::1]:8000",
            "tls://localhost:443",
            "udp4://127.0.0.1:0",
            "udp6://[::1]:9",
        ] {
            assert_eq!(parse(s).to_string(), s);
            assert_eq!(parse(&parse(s).to_string()), parse(s));
        }
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert!(reason("").contains("expected"));
        assert!(reason("unix:").contains("path"));
        assert!(reason("id:").contains("id"));
        assert!(reason("tcp://::1:8000").contains("brackets"));
        assert!(reason("tcp://[::1]8000").contains(":PORT"));
        assert!(reason("tcp://[127.0.0.1]:80").contains("IPv6"));
        assert!(reason("tcp://[::1:80").contains("unclosed"));
        assert!(reason("tcp://host").contains(":PORT"));
        assert!(reason("tcp://:80").contains("host"));
        assert!(reason("tcp://host:").contains("port"));
        assert!(reason("tcp://host:65536").contains("65535"));
        assert!(reason("tcp://host:80/path").contains("number"));
        assert!(reason("tcp://host:-1").contains("number"));
        assert!(reason("tcp://us er:1").contains("character"));
        assert!(reason("http://host:80").contains("scheme"));
        assert!(reason("udp4://[::1]:80").contains("IPv4"));
        assert!(reason("udp6://127.0.0.1:80").contains("IPv6"));
        assert!(reason("unix:/a\0b").contains("NUL"));
    }

    #[test]
    fn accessors() {
        let e = parse("udp6://[::1]:7");
        assert_eq!((e.scheme(), e.host(), e.port(), e.path()), ("udp6", Some("::1"), Some(7), None));
        let u = parse("unix:/x");
        assert!(u.is_local() && !e.is_local());
        assert_eq!((u.host(), u.port(), u.path()), (None, None, Some(Path::new("/x"))));
        assert_eq!(Endpoint::try_from("id:x").unwrap(), Endpoint::id("x"));
    }
}
