//! node-ipc's socket-path rules: socket root + appspace + id, the 9.x and
//! 14.x socket roots, and the Windows pipe-name mapping. Pure logic, the same
//! on every platform.

use std::io;
use std::path::{Component, Path, PathBuf};

use super::LocalListenerOptions;
use crate::endpoint::Endpoint;

/// `path` made absolute (against the current directory) with `.` and `..`
/// resolved lexically, without following links: node's `path.resolve`, by
/// which node-ipc compares socket paths with their root.
///
/// ```
/// use std::path::Path;
/// use ipc_transport::local::resolve_path;
///
/// # #[cfg(unix)]
/// assert_eq!(resolve_path(Path::new("/tmp/./a/../app.world")).unwrap(), Path::new("/tmp/app.world"));
/// # #[cfg(windows)]
/// # assert_eq!(resolve_path(Path::new(r"C:\tmp\.\a\..\app.world")).unwrap(), Path::new(r"C:\tmp\app.world"));
/// ```
///
/// # Errors
///
/// Only when `path` is relative and the current directory cannot be read.
pub fn resolve_path(path: &Path) -> io::Result<PathBuf> {
    let absolute = if path.is_absolute() { path.to_owned() } else { std::env::current_dir()?.join(path) };
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Whether `path` names an entry of the directory `root` itself, both
/// resolved as [`resolve_path`] does: node-ipc 14's rule for the socket of a
/// server with the assured parser.
///
/// ```
/// use std::path::Path;
/// use ipc_transport::local::directly_inside;
///
/// let root = Path::new("/run/user/1000/node-ipc/");
/// assert!(directly_inside(root, Path::new("/run/user/1000/node-ipc/app.world")));
/// assert!(!directly_inside(root, Path::new("/run/user/1000/node-ipc/sub/app.world")));
/// assert!(!directly_inside(root, Path::new("/run/user/1000/node-ipc/../app.world")));
/// ```
pub fn directly_inside(root: &Path, path: &Path) -> bool {
    match (resolve_path(root), resolve_path(path)) {
        (Ok(root), Ok(path)) => path.parent() == Some(root.as_path()) && path.file_name().is_some(),
        _ => false,
    }
}

/// node-ipc 9.x's socket root.
pub const V9_SOCKET_ROOT: &str = "/tmp/";

/// node-ipc's default appspace (prefix of every socket name).
pub const DEFAULT_APPSPACE: &str = "app.";

/// The prefix of every Windows named pipe.
pub const PIPE_PREFIX: &str = r"\\.\pipe\";

/// The Windows named pipe node-ipc uses for a socket path: `\\.\pipe\` + the
/// path without its leading `/`, with every `/` replaced by `-`. A name that
/// already starts with `\\.\pipe\` is kept (as node-ipc's client does).
///
/// ```
/// use ipc_transport::local::windows_pipe_name;
///
/// assert_eq!(windows_pipe_name("/tmp/app.world"), r"\\.\pipe\tmp-app.world");
/// assert_eq!(windows_pipe_name("/node-ipc-ann/app.world"), r"\\.\pipe\node-ipc-ann-app.world");
/// assert_eq!(windows_pipe_name(r"\\.\pipe\mine"), r"\\.\pipe\mine");
/// ```
pub fn windows_pipe_name(path: &str) -> String {
    if path.starts_with(PIPE_PREFIX) {
        return path.to_owned();
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("{PIPE_PREFIX}{}", path.replace('/', "-"))
}

/// node-ipc 14.x's per-user socket root for this process, with its trailing
/// separator: `$XDG_RUNTIME_DIR/node-ipc/` when that variable is set, else
/// `<tmpdir>/node-ipc-<uid>/` (tmpdir as node's `os.tmpdir()`: `$TMPDIR`,
/// `$TMP`, `$TEMP`, `/tmp`); on Windows `/node-ipc-<user name>/`.
pub fn per_user_socket_root() -> String {
    #[cfg(windows)]
    {
        let user = std::env::var("USERNAME").unwrap_or_default();
        windows_per_user_root(if user.is_empty() { "user" } else { &user })
    }
    #[cfg(not(windows))]
    {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let tmpdir = node_tmpdir(var("TMPDIR"), var("TMP"), var("TEMP"));
        unix_per_user_root(var("XDG_RUNTIME_DIR").as_deref(), &tmpdir, &current_uid())
    }
}

#[cfg(unix)]
fn current_uid() -> String {
    rustix::process::getuid().as_raw().to_string()
}

#[cfg(not(unix))]
#[allow(dead_code)]
fn current_uid() -> String {
    "user".to_owned()
}

#[cfg_attr(windows, allow(dead_code))]
/// node's `os.tmpdir()` on POSIX: the first non-empty of `TMPDIR`, `TMP`,
/// `TEMP`, else `/tmp`, without a trailing `/`.
fn node_tmpdir(tmpdir: Option<String>, tmp: Option<String>, temp: Option<String>) -> String {
    let mut dir = tmpdir.or(tmp).or(temp).unwrap_or_else(|| "/tmp".to_owned());
    if dir.len() > 1 && dir.ends_with('/') {
        dir.pop();
    }
    dir
}

#[cfg_attr(windows, allow(dead_code))]
/// `path.join(dir, name) + '/'` for the simple inputs node-ipc builds.
fn join_dir(dir: &str, name: &str) -> String {
    format!("{}/{name}/", dir.trim_end_matches('/'))
}

#[cfg_attr(windows, allow(dead_code))]
fn unix_per_user_root(xdg_runtime_dir: Option<&str>, tmpdir: &str, uid: &str) -> String {
    match xdg_runtime_dir {
        Some(runtime) if !runtime.is_empty() => join_dir(runtime, "node-ipc"),
        _ => join_dir(tmpdir, &format!("node-ipc-{uid}")),
    }
}

#[cfg_attr(not(windows), allow(dead_code))]
fn windows_per_user_root(user: &str) -> String {
    let safe: String =
        user.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    format!("/node-ipc-{safe}/")
}

/// How node-ipc names a local socket: `socketRoot + appspace + id`, plain
/// string concatenation, as both 9.x and 14.x do.
///
/// ```
/// use ipc_transport::local::SocketPathRules;
///
/// let v9 = SocketPathRules::v9();
/// assert_eq!(v9.path_for("world"), std::path::Path::new("/tmp/app.world"));
///
/// let mine = SocketPathRules::new("/run/my-app/", "svc.", true);
/// assert_eq!(mine.path_for("db"), std::path::Path::new("/run/my-app/svc.db"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPathRules {
    socket_root: String,
    appspace: String,
    secure_socket_root: bool,
}

impl Default for SocketPathRules {
    /// node-ipc 14.x's rules ([`SocketPathRules::v14`]).
    fn default() -> SocketPathRules {
        SocketPathRules::v14()
    }
}

impl SocketPathRules {
    /// node-ipc 9.x: root `/tmp/`, appspace `app.`, no socket-root checks.
    pub fn v9() -> SocketPathRules {
        SocketPathRules {
            socket_root: V9_SOCKET_ROOT.to_owned(),
            appspace: DEFAULT_APPSPACE.to_owned(),
            secure_socket_root: false,
        }
    }

    /// node-ipc 14.x: the per-user root ([`per_user_socket_root`]), appspace
    /// `app.`, secure socket root on.
    pub fn v14() -> SocketPathRules {
        SocketPathRules {
            socket_root: per_user_socket_root(),
            appspace: DEFAULT_APPSPACE.to_owned(),
            secure_socket_root: true,
        }
    }

    /// Your own root, appspace and `secureSocketRoot`. Include the trailing
    /// `/` in the root: the parts are concatenated as strings.
    pub fn new(
        socket_root: impl Into<String>,
        appspace: impl Into<String>,
        secure_socket_root: bool,
    ) -> SocketPathRules {
        SocketPathRules { socket_root: socket_root.into(), appspace: appspace.into(), secure_socket_root }
    }

    /// The socket root.
    pub fn socket_root(&self) -> &str {
        &self.socket_root
    }

    /// The appspace.
    pub fn appspace(&self) -> &str {
        &self.appspace
    }

    /// Whether the socket root is checked (and created 0700) before binding.
    pub fn secure_socket_root(&self) -> bool {
        self.secure_socket_root
    }

    /// `socketRoot + appspace + id`.
    pub fn path_for(&self, id: &str) -> PathBuf {
        PathBuf::from(format!("{}{}{}", self.socket_root, self.appspace, id))
    }

    /// The socket path of a local endpoint: a `unix:` path as is, an `id:`
    /// through these rules (socket root + appspace + id); `None` for network endpoints.
    ///
    /// ```
    /// use ipc_transport::{local::SocketPathRules, Endpoint};
    ///
    /// let rules = SocketPathRules::v9();
    /// let path = rules.endpoint_path(&Endpoint::id("world")).unwrap();
    /// assert_eq!(path, std::path::Path::new("/tmp/app.world"));
    /// ```
    pub fn endpoint_path(&self, endpoint: &Endpoint) -> Option<PathBuf> {
        match endpoint {
            Endpoint::Unix(p) => Some(p.clone()),
            Endpoint::Id(id) => Some(self.path_for(id)),
            _ => None,
        }
    }

    /// Listener options that prepare this socket root as node-ipc 14 does
    /// (created 0700; with `secure_socket_root`, checked) before binding a
    /// socket inside it.
    pub fn listener_options(&self) -> LocalListenerOptions {
        LocalListenerOptions::default()
            .socket_root(&self.socket_root)
            .secure_socket_root(self.secure_socket_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names_as_node_ipc() {
        assert_eq!(windows_pipe_name("/tmp/app.world"), r"\\.\pipe\tmp-app.world");
        assert_eq!(windows_pipe_name("tmp/app.world"), r"\\.\pipe\tmp-app.world");
        // only one leading slash goes, as with node's replace(/^\//, '')
        assert_eq!(windows_pipe_name("//x/y"), r"\\.\pipe\-x-y");
        assert_eq!(windows_pipe_name("/a/b/c.d"), r"\\.\pipe\a-b-c.d");
        assert_eq!(windows_pipe_name("plain"), r"\\.\pipe\plain");
        assert_eq!(windows_pipe_name(r"\\.\pipe\kept/as-is"), r"\\.\pipe\kept/as-is");
        let rules = SocketPathRules::new(windows_per_user_root("ann"), "app.", true);
        let path = rules.path_for("world");
        assert_eq!(windows_pipe_name(path.to_str().unwrap()), r"\\.\pipe\node-ipc-ann-app.world");
    }

    #[test]
    fn per_user_roots_as_node_ipc_14() {
        assert_eq!(unix_per_user_root(Some("/run/user/1000"), "/tmp", "1000"), "/run/user/1000/node-ipc/");
        assert_eq!(unix_per_user_root(Some("/run/user/1000/"), "/tmp", "1000"), "/run/user/1000/node-ipc/");
        assert_eq!(unix_per_user_root(Some(""), "/tmp", "1000"), "/tmp/node-ipc-1000/");
        assert_eq!(unix_per_user_root(None, "/var/tmp", "42"), "/var/tmp/node-ipc-42/");
        assert_eq!(unix_per_user_root(None, "/", "0"), "/node-ipc-0/");
        assert_eq!(windows_per_user_root("Ann Lee"), "/node-ipc-Ann_Lee/");
        assert_eq!(windows_per_user_root("dom\\ann"), "/node-ipc-dom_ann/");
    }

    #[test]
    fn tmpdir_as_node() {
        assert_eq!(node_tmpdir(None, None, None), "/tmp");
        assert_eq!(node_tmpdir(Some("/x/".into()), Some("/y".into()), None), "/x");
        assert_eq!(node_tmpdir(None, Some("/y".into()), Some("/z".into())), "/y");
        assert_eq!(node_tmpdir(None, None, Some("/z".into())), "/z");
        assert_eq!(node_tmpdir(Some("/".into()), None, None), "/");
    }

    #[test]
    fn path_rules() {
        assert_eq!(SocketPathRules::v9().path_for("w"), PathBuf::from("/tmp/app.w"));
        assert!(!SocketPathRules::v9().secure_socket_root());
        let v14 = SocketPathRules::v14();
        assert!(v14.secure_socket_root() && v14.socket_root().ends_with('/'));
        assert_eq!(v14.path_for("w"), PathBuf::from(format!("{}app.w", v14.socket_root())));
        assert_eq!(SocketPathRules::default(), v14);
        // plain concatenation, as node-ipc does
        let r = SocketPathRules::new("/tmp/x", "", false);
        assert_eq!(r.path_for("y"), PathBuf::from("/tmp/xy"));
        #[cfg(unix)]
        {
            let root = per_user_socket_root();
            let xdg = std::env::var("XDG_RUNTIME_DIR").unwrap_or_default();
            if xdg.is_empty() {
                assert!(
                    root.ends_with(&format!("node-ipc-{}/", rustix::process::getuid().as_raw())),
                    "{root}"
                );
            } else {
                assert!(root.ends_with("/node-ipc/"), "{root}");
            }
        }
    }
}
