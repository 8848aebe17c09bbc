//! Who is on the other end of a connection: [`PeerAddr`] (where it is) and,
//! for local sockets, [`PeerCredentials`] (which user and process it is).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The other end of a connection: a socket path or a network address.
///
/// Printed as an [`Endpoint`](crate::Endpoint) would be (`unix:/tmp/app.world`,
/// `tcp://127.0.0.1:8000`, `tls://[::1]:8000`, `udp4://127.0.0.1:8000`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// A local socket: the socket path (Unix) or pipe name (Windows) the
    /// connection goes through. Local clients have no address of their own, so
    /// a server reports its own socket path for each of them.
    Local(PathBuf),
    /// A TCP peer.
    Tcp(SocketAddr),
    /// A TLS peer (over TCP).
    Tls(SocketAddr),
    /// A UDP peer.
    Udp(SocketAddr),
}

impl PeerAddr {
    /// The network address, for TCP, TLS and UDP peers.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Tcp(a) | PeerAddr::Tls(a) | PeerAddr::Udp(a) => Some(*a),
            PeerAddr::Local(_) => None,
        }
    }

    /// The socket path, for local peers.
    pub fn path(&self) -> Option<&Path> {
        match self {
            PeerAddr::Local(p) => Some(p),
            _ => None,
        }
    }

    /// The transport, as an endpoint's scheme names it: `"unix"` (a local
    /// socket; a named pipe on Windows), `"tcp"`, `"tls"`, `"udp4"` or `"udp6"`.
    /// The `transport` field of the `tracing` events and spans about this peer.
    ///
    /// ```
    /// use ipc_transport::PeerAddr;
    ///
    /// let peer = PeerAddr::Udp("[::1]:8000".parse().unwrap());
    /// assert_eq!(peer.scheme(), "udp6");
    /// assert!(peer.to_string().starts_with("udp6://"));
    /// ```
    pub fn scheme(&self) -> &'static str {
        match self {
            PeerAddr::Local(_) => "unix",
            PeerAddr::Tcp(_) => "tcp",
            PeerAddr::Tls(_) => "tls",
            PeerAddr::Udp(SocketAddr::V4(_)) => "udp4",
            PeerAddr::Udp(SocketAddr::V6(_)) => "udp6",
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Local(p) => write!(f, "unix:{}", p.display()),
            PeerAddr::Tcp(a) => write!(f, "tcp://{a}"),
            PeerAddr::Tls(a) => write!(f, "tls://{a}"),
            PeerAddr::Udp(a @ SocketAddr::V4(_)) => write!(f, "udp4://{a}"),
            PeerAddr::Udp(a @ SocketAddr::V6(_)) => write!(f, "udp6://{a}"),
        }
    }
}

/// Who a local peer is, as the operating system reports it for a Unix socket:
/// the user and group the peer process ran as when it connected (or, for a
/// client, when the server called `listen`), and its process id.
///
/// Made by [`LocalStream::peer_credentials`](crate::local::LocalStream::peer_credentials)
/// and [`IpcStream::peer_credentials`](crate::IpcStream::peer_credentials):
/// Linux and Android read `SO_PEERCRED`; macOS, iOS and the BSDs `getpeereid`
/// (with `LOCAL_PEERPID` for the pid on Apple systems); Solaris and illumos
/// `getpeerucred`. Windows named pipes have no counterpart here (see
/// `SECURITY.md`).
///
/// The gid is the peer's effective (primary) group; supplementary groups are
/// not reported. The pid is `None` where the platform does not report one, or
/// when the peer's process is not visible from ours (a client outside the PID
/// namespace of a server in a container).
///
/// ```
/// use ipc_transport::PeerCredentials;
///
/// let peer = PeerCredentials::new(1000, 100, Some(4242));
/// assert_eq!((peer.uid(), peer.gid(), peer.pid()), (1000, 100, Some(4242)));
/// assert_eq!(peer.to_string(), "uid 1000, gid 100, pid 4242");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    uid: u32,
    gid: u32,
    pid: Option<u32>,
}

impl PeerCredentials {
    /// Credentials with these ids (for a connection that did not come from a
    /// listener of this crate, or a test).
    pub fn new(uid: u32, gid: u32, pid: Option<u32>) -> PeerCredentials {
        PeerCredentials { uid, gid, pid }
    }

    /// The peer's effective user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The peer's effective group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The peer's process id, when the platform reports it and the process is visible from ours.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
}

impl fmt::Display for PeerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {}, gid {}", self.uid, self.gid)?;
        match self.pid {
            Some(pid) => write!(f, ", pid {pid}"),
            None => write!(f, ", pid unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_an_endpoint() {
        assert_eq!(PeerAddr::Local("/tmp/app.x".into()).to_string(), "unix:/tmp/app.x");
        assert_eq!(PeerAddr::Tcp(([127, 0, 0, 1], 80).into()).to_string(), "tcp://127.0.0.1:80");
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(PeerAddr::Tls(v6).to_string(), "tls://[::1]:9");
        assert_eq!(PeerAddr::Udp(v6).to_string(), "udp6://[::1]:9");
        assert_eq!(PeerAddr::Udp(v6).socket_addr(), Some(v6));
        assert_eq!(PeerAddr::Local("/x".into()).path(), Some(Path::new("/x")));
        assert_eq!(PeerAddr::Udp(v6).scheme(), "udp6");
        assert_eq!(PeerAddr::Local("/x".into()).scheme(), "unix");
    }
}
