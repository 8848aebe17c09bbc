//! [`AllowedPeers`]: which local peers a listener admits, by their credentials.

use crate::peer::PeerCredentials;

/// Which peers a [`LocalListener`](super::LocalListener) admits, by the
/// credentials the operating system reports for each connection
/// ([`PeerCredentials`]): peers running as the same user as the server, and
/// peers whose uid or gid is on a list. A peer is admitted when any rule
/// admits it; an empty `AllowedPeers` admits no one.
///
/// The listener checks at accept, before the connection counts toward
/// `maxConnections`. A refused peer is closed at once and reported as
/// [`Error::PeerRefused`](crate::Error::PeerRefused) (a connection error: the
/// listener goes on); so is a peer whose credentials the operating system
/// cannot report. Set it with [`LocalListenerOptions::allowed_peers`](super::LocalListenerOptions::allowed_peers).
///
/// Unix sockets only: binding a Windows named pipe with allowed peers fails
/// ([`Error::UnsupportedEndpoint`](crate::Error::UnsupportedEndpoint)), since a
/// pipe reports no uid or gid here.
///
/// ```
/// use ipc_transport::local::AllowedPeers;
/// use ipc_transport::PeerCredentials;
///
/// let allowed = AllowedPeers::default().same_uid(true).gid(100);
/// let me = 1000;
/// assert!(allowed.admits(&PeerCredentials::new(1000, 1000, None), me)); // same user
/// assert!(allowed.admits(&PeerCredentials::new(1001, 100, None), me)); // group 100
/// assert!(!allowed.admits(&PeerCredentials::new(65534, 65534, None), me));
/// assert!(!AllowedPeers::default().admits(&PeerCredentials::new(1000, 1000, None), me));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AllowedPeers {
    same_uid: bool,
    uids: Vec<u32>,
    gids: Vec<u32>,
}

impl AllowedPeers {
    /// Admits peers whose effective uid is the server's (its effective uid
    /// when it accepts the connection).
    pub fn same_uid(mut self, on: bool) -> Self {
        self.same_uid = on;
        self
    }

    /// Admits peers with this effective uid (repeatable).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uids.push(uid);
        self
    }

    /// Admits peers with this effective (primary) gid (repeatable).
    /// Supplementary groups are not reported by the operating system, so they do not count.
    pub fn gid(mut self, gid: u32) -> Self {
        self.gids.push(gid);
        self
    }

    /// Whether `peer` is admitted by a server running as `own_uid`.
    pub fn admits(&self, peer: &PeerCredentials, own_uid: u32) -> bool {
        (self.same_uid && peer.uid() == own_uid)
            || self.uids.contains(&peer.uid())
            || self.gids.contains(&peer.gid())
    }

    /// Whether peers of the server's own uid are admitted.
    pub fn is_same_uid(&self) -> bool {
        self.same_uid
    }

    /// The uids admitted besides.
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// The gids admitted besides.
    pub fn gids(&self) -> &[u32] {
        &self.gids
    }
}
