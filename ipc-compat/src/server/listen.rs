//! Where a server listens, and binding it: any stream endpoint through
//! ipc-transport's [`IpcListener`], UDP through its [`UdpEndpoint`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use ipc_transport::local::LocalListener;
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use ipc_transport::{Endpoint, IpcListener};

use crate::config::Config;
use crate::error::Error;
use crate::wire::WireCodec;

/// node-ipc's `UDPType`: which UDP socket `serve_net` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpType {
    /// `'udp4'`.
    Udp4,
    /// `'udp6'`.
    Udp6,
}

/// Where a server listens, as `serve` / `serve_net` were asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listen {
    Local(PathBuf),
    Net { host: String, port: u16, udp: Option<UdpType> },
}

impl Listen {
    /// The endpoint: a network stream server is TLS when `tls` is set.
    pub(crate) fn endpoint(&self, tls: bool) -> Endpoint {
        match self {
            Listen::Local(path) => Endpoint::unix(path),
            Listen::Net { host, port, udp: Some(UdpType::Udp4) } => Endpoint::udp4(host.clone(), *port),
            Listen::Net { host, port, udp: Some(UdpType::Udp6) } => Endpoint::udp6(host.clone(), *port),
            Listen::Net { host, port, udp: None } if tls => Endpoint::tls(host.clone(), *port),
            Listen::Net { host, port, udp: None } => Endpoint::tcp(host.clone(), *port),
        }
    }
}

/// What a server bound.
pub(crate) enum Bound {
    /// A local, TCP or TLS listener.
    Streams(IpcListener),
    /// A UDP socket.
    Datagrams(Box<UdpEndpoint<WireCodec>>),
}

/// Local listeners of this process by path, so that a second server with
/// `unlink` off shares the first one's listener (node's cluster workers).
static LOCAL_LISTENERS: LazyLock<Mutex<HashMap<PathBuf, Weak<LocalListener>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Binds `endpoint` as `config` says.
pub(crate) async fn bind(endpoint: &Endpoint, config: &Config, codec: &WireCodec) -> Result<Bound, Error> {
    match endpoint {
        Endpoint::Udp4 { .. } | Endpoint::Udp6 { .. } => {
            let options = UdpOptions::default().pack_frames(!config.raw_buffer);
            Ok(Bound::Datagrams(Box::new(
                UdpEndpoint::bind_endpoint(endpoint, codec.clone(), options).await?,
            )))
        }
        Endpoint::Unix(path) => Ok(Bound::Streams(bind_local(path, config).await?.into())),
        _ => Ok(Bound::Streams(IpcListener::bind(endpoint, &config.bind_options()).await?)),
    }
}

/// A local listener: this process's own at `path` when `unlink` is off and
/// it has one, else a new one (remembered for the next server).
async fn bind_local(path: &PathBuf, config: &Config) -> Result<Arc<LocalListener>, Error> {
    let shared = {
        let mut registry = LOCAL_LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
        registry.retain(|_, weak| weak.strong_count() > 0);
        registry.get(path).and_then(Weak::upgrade)
    };
    if let (false, Some(shared)) = (config.unlink, shared) {
        return Ok(shared);
    }
    let listener = Arc::new(LocalListener::bind_with(path, &config.local_listener_options()).await?);
    LOCAL_LISTENERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(path.clone(), Arc::downgrade(&listener));
    Ok(listener)
}
