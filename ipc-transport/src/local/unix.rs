//! Unix domain sockets: binding with node-ipc's hygiene rules, and cleanup.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

use super::{resolve_path, LocalListenerOptions};
use crate::error::Error;
use crate::peer::PeerCredentials;

pub(super) type Stream = UnixStream;

/// How long the liveness probe of an existing socket may take before we
/// assume a live (busy) server holds it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound socket and the identity of the file we created, for cleanup.
pub(super) struct Listener {
    inner: UnixListener,
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl Listener {
    pub(super) async fn bind(
        path: &Path,
        options: &LocalListenerOptions,
    ) -> Result<(Listener, PathBuf), Error> {
        let bind_err = |source| Error::Bind { endpoint: format!("unix:{}", path.display()), source };
        if let Some(root) = &options.socket_root {
            if is_inside(root, path).map_err(bind_err)? {
                // normalized: a trailing '/' would make lstat follow a symbolic link
                prepare_socket_root(&resolve_path(root).map_err(bind_err)?, options.secure_socket_root)?;
            }
        }
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(bind_err(e)),
            Ok(_) if !options.unlink => return Err(Error::AddrInUse { path: path.to_owned(), live: false }),
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(Error::NotASocket { path: path.to_owned() })
            }
            Ok(_) => remove_if_stale(path).await?,
        }
        let inner = UnixListener::bind(path).map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => Error::AddrInUse { path: path.to_owned(), live: false },
            _ => bind_err(e),
        })?;
        let meta = fs::symlink_metadata(path).map_err(bind_err)?;
        let identity = Some((meta.dev(), meta.ino()));
        let listener = Listener { inner, path: path.to_owned(), identity };
        if let Some(mode) = widened_mode(meta.mode(), options.readable_all, options.writable_all) {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(bind_err)?;
        }
        Ok((listener, path.to_owned()))
    }

    pub(super) async fn accept(&self) -> io::Result<Stream> {
        self.inner.accept().await.map(|(stream, _)| stream)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Remove the socket file only if it is still the one we bound: another
        // server may have replaced it since.
        if let Ok(meta) = fs::symlink_metadata(&self.path) {
            if meta.file_type().is_socket() && Some((meta.dev(), meta.ino())) == self.identity {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// The socket file's new mode for node's `readableAll` / `writableAll`, as
/// libuv's `uv_pipe_chmod`: keep the mode, add read (write) for everyone;
/// `None` when nothing changes.
fn widened_mode(mode: u32, readable_all: bool, writable_all: bool) -> Option<u32> {
    let add = if readable_all { 0o444 } else { 0 } | if writable_all { 0o222 } else { 0 };
    (mode & add != add).then_some((mode | add) & 0o7777)
}

pub(super) async fn connect(path: &Path) -> io::Result<(Stream, PathBuf)> {
    Ok((UnixStream::connect(path).await?, path.to_owned()))
}

/// The peer's credentials, through tokio's `peer_cred` (no unsafe code of
/// ours): `SO_PEERCRED` on Linux and Android, `getpeereid` on macOS, iOS and
/// the BSDs, `getpeerucred` on Solaris and illumos. Elsewhere (tokio reports
/// made-up root credentials on some such targets) nothing is trusted.
///
/// Not rustix's `socket_peercred`: its `UCred` holds the pid as a non-zero
/// type, and the kernel reports pid 0 for a peer outside our PID namespace
/// (a server in a container, a client on the host), which rustix 1.1 then
/// turns into a bogus error through an invalid value.
pub(super) fn peer_credentials(stream: &Stream) -> io::Result<PeerCredentials> {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "solaris",
        target_os = "illumos",
    ))]
    {
        let cred = stream.peer_cred()?;
        let pid = cred.pid().and_then(|pid| u32::try_from(pid).ok()).filter(|pid| *pid != 0);
        Ok(PeerCredentials::new(cred.uid(), cred.gid(), pid))
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "solaris",
        target_os = "illumos",
    )))]
    {
        let _ = stream;
        Err(io::Error::new(io::ErrorKind::Unsupported, "peer credentials are not supported on this platform"))
    }
}

/// The effective uid a peer must have to count as the same user.
pub(super) fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Removes the socket at `path` unless a server answers on it.
async fn remove_if_stale(path: &Path) -> Result<(), Error> {
    match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
        Ok(Ok(_)) | Err(_) => Err(Error::AddrInUse { path: path.to_owned(), live: true }),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused || e.kind() == io::ErrorKind::NotFound => {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(Error::Bind { endpoint: format!("unix:{}", path.display()), source: e })
                }
                _ => Ok(()),
            }
        }
        Ok(Err(e)) => Err(Error::Bind { endpoint: format!("unix:{}", path.display()), source: e }),
    }
}

/// node-ipc 14's `prepareSocketRoot`: create the root 0700; when `secure`,
/// insist on a real directory owned by us, and drop group/other permissions.
fn prepare_socket_root(root: &Path, secure: bool) -> Result<(), Error> {
    let insecure = |reason: String| Error::InsecureSocketRoot { path: root.to_owned(), reason };
    if let Err(e) = fs::DirBuilder::new().recursive(true).mode(0o700).create(root) {
        return Err(insecure(format!("cannot create it: {e}")));
    }
    if !secure {
        return Ok(());
    }
    let meta = fs::symlink_metadata(root).map_err(|e| insecure(format!("cannot inspect it: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(insecure("it is a symbolic link".to_owned()));
    }
    if !meta.is_dir() {
        return Err(insecure("it is not a directory".to_owned()));
    }
    let uid = rustix::process::getuid().as_raw();
    if meta.uid() != uid {
        return Err(insecure(format!("it is owned by uid {}, not by us (uid {uid})", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))
            .map_err(|e| insecure(format!("cannot make it private: {e}")))?;
    }
    Ok(())
}

/// Whether `path` lies inside `root`, comparing lexically normalized
/// absolute paths (as node's `path.resolve` / `path.relative`).
fn is_inside(root: &Path, path: &Path) -> io::Result<bool> {
    let (root, path) = (resolve_path(root)?, resolve_path(path)?);
    Ok(path != root && path.starts_with(&root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_widen_as_libuv() {
        assert_eq!(widened_mode(0o140700, true, false), Some(0o744));
        assert_eq!(widened_mode(0o140700, false, true), Some(0o722));
        assert_eq!(widened_mode(0o140700, true, true), Some(0o766));
        assert_eq!(widened_mode(0o140755, true, false), None);
        assert_eq!(widened_mode(0o140755, true, true), Some(0o777));
        assert_eq!(widened_mode(0o140600, false, false), None);
    }

    #[test]
    fn inside_root_is_lexical() {
        assert!(is_inside(Path::new("/tmp/r/"), Path::new("/tmp/r/app.x")).unwrap());
        assert!(is_inside(Path::new("/tmp/r"), Path::new("/tmp/r/sub/../app.x")).unwrap());
        assert!(!is_inside(Path::new("/tmp/r"), Path::new("/tmp/rapp.x")).unwrap());
        assert!(!is_inside(Path::new("/tmp/r"), Path::new("/tmp/r/../x")).unwrap());
        assert!(!is_inside(Path::new("/tmp/r"), Path::new("/tmp/r")).unwrap());
    }
}
