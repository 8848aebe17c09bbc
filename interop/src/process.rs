//! Spawning a Node script and talking to it line by line, with timeouts.
//!
//! Blocking and runtime-free: a reader thread per output stream, stdout lines
//! delivered through a channel and awaited with `recv_timeout`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{interop_dir, NodeIpc, PeerError, PeerErrorKind};

/// How long [`PeerProcess::wait_ready`] waits when a test has no better idea.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// How many trailing stdout lines and stderr bytes go into error messages.
const CONTEXT_LINES: usize = 20;
const CONTEXT_STDERR: usize = 8 * 1024;

#[derive(Debug)]
enum Script {
    File(PathBuf),
    Inline {
        source: String,
        extension: &'static str,
    },
    /// `<loader> <module> <role>`: see [`crate::PeerRuntime::role`].
    Role {
        module: String,
        role: String,
    },
}

/// A Node script to run, with its arguments and environment; made by
/// [`crate::PeerRuntime::role`], [`crate::PeerRuntime::script`],
/// [`crate::PeerRuntime::inline`] or [`crate::PeerRuntime::echo_server`],
/// started with [`PeerBuilder::spawn`].
#[derive(Debug)]
pub struct PeerBuilder {
    flavor: NodeIpc,
    node: PathBuf,
    script: Script,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
}

impl PeerBuilder {
    pub(crate) fn file(flavor: NodeIpc, node: PathBuf, script: PathBuf) -> Self {
        Self::new(flavor, node, Script::File(script))
    }

    pub(crate) fn inline(flavor: NodeIpc, node: PathBuf, source: String) -> Self {
        let extension = if flavor.is_esm() { "mjs" } else { "cjs" };
        Self::new(flavor, node, Script::Inline { source, extension })
    }

    pub(crate) fn role(flavor: NodeIpc, node: PathBuf, module: &str, role: &str) -> Self {
        Self::new(flavor, node, Script::Role { module: module.to_owned(), role: role.to_owned() })
    }

    fn new(flavor: NodeIpc, node: PathBuf, script: Script) -> Self {
        Self { flavor, node, script, args: Vec::new(), envs: Vec::new(), cwd: None }
    }

    /// Appends one argument for the script (after the script path).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments for the script.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the peer (the rest is inherited).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Sets the peer's working directory (default: the `interop/` directory).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Starts the peer with stdin, stdout and stderr piped.
    pub fn spawn(self) -> Result<PeerProcess, PeerError> {
        let mut script_args = Vec::new();
        let (script_path, script_dir, label) = match self.script {
            Script::File(path) => {
                let label = format!(
                    "{} ({})",
                    path.file_name()
                        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
                    self.flavor
                );
                (path, None, label)
            }
            Script::Inline { source, extension } => {
                let dir = tempfile::Builder::new()
                    .prefix("interop-peer-")
                    .tempdir()
                    .map_err(|e| io_error("create a temp dir for an inline script", &e))?;
                let path = dir.path().join(format!("peer.{extension}"));
                std::fs::write(&path, source)
                    .map_err(|e| io_error(&format!("write {}", path.display()), &e))?;
                (path, Some(dir), format!("inline script ({})", self.flavor))
            }
            Script::Role { module, role } => {
                let label = format!("{module} {role} ({})", self.flavor);
                script_args.push(module);
                script_args.push(role);
                (self.flavor.loader(), None, label)
            }
        };

        let mut command = crate::node_command(&self.node);
        command
            .arg(&script_path)
            .args(&script_args)
            .args(&self.args)
            .current_dir(self.cwd.as_deref().unwrap_or_else(|| interop_dir()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        PeerProcess::start(command, label, script_dir)
    }

    /// [`spawn`](Self::spawn), then [`PeerProcess::wait_ready`] with `timeout`.
    /// Returns the process and the text after `READY`.
    pub fn spawn_ready(self, timeout: Duration) -> Result<(PeerProcess, String), PeerError> {
        let mut peer = self.spawn()?;
        let ready = peer.wait_ready(timeout)?;
        Ok((peer, ready))
    }
}

fn io_error(what: &str, error: &std::io::Error) -> PeerError {
    PeerError::new(PeerErrorKind::Io, format!("cannot {what}: {error}"))
}

#[derive(Debug)]
enum StdoutMsg {
    Line(String),
    Eof,
    Failed(String),
}

/// A running peer process. Killed (and reaped) on drop.
///
/// Stdout is read line by line: [`wait_ready`](Self::wait_ready),
/// [`wait_for_line`](Self::wait_for_line) and [`next_line`](Self::next_line) take
/// a timeout and never block longer. Stderr is captured in the background and
/// included in every error message; [`wait_for_stderr`](Self::wait_for_stderr)
/// waits for a line of it. Any program can run this way
/// ([`spawn_command`](Self::spawn_command)), not only node-ipc peers.
#[derive(Debug)]
pub struct PeerProcess {
    child: Child,
    label: String,
    stdin: Option<ChildStdin>,
    lines: Receiver<StdoutMsg>,
    stdout_closed: bool,
    history: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// How many bytes of `stderr` [`Self::wait_for_stderr`] has searched.
    stderr_searched: usize,
    stderr_done: Receiver<()>,
    exit: Option<ExitStatus>,
    // Keeps an inline script alive as long as the process; dropped after it.
    _script_dir: Option<tempfile::TempDir>,
}

impl PeerProcess {
    /// Spawns `command` (its stdio is replaced by pipes) and starts the reader
    /// threads. `label` names the peer in error messages.
    pub fn spawn_command(mut command: Command, label: impl Into<String>) -> Result<Self, PeerError> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        Self::start(command, label.into(), None)
    }

    fn start(
        mut command: Command,
        label: String,
        script_dir: Option<tempfile::TempDir>,
    ) -> Result<Self, PeerError> {
        let mut child = command.spawn().map_err(|e| {
            PeerError::new(PeerErrorKind::Spawn, format!("cannot start {label}: {e} (command: {command:?})"))
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");

        let (line_tx, lines) = mpsc::channel();
        let spawned = thread::Builder::new().name(format!("peer-stdout-{}", child.id())).spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) => {
                        let _ = line_tx.send(StdoutMsg::Eof);
                        return;
                    }
                    Ok(_) => {
                        while matches!(buf.last(), Some(b'\n' | b'\r')) {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if line_tx.send(StdoutMsg::Line(line)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = line_tx.send(StdoutMsg::Failed(e.to_string()));
                        return;
                    }
                }
            }
        });

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, stderr_done) = mpsc::channel();
        let sink = Arc::clone(&stderr);
        let spawned_err =
            thread::Builder::new().name(format!("peer-stderr-{}", child.id())).spawn(move || {
                let mut pipe = stderr_pipe;
                let mut chunk = [0u8; 4096];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = done_tx.send(());
            });

        if let Err(e) = spawned.and(spawned_err) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io_error("start a reader thread", &e));
        }

        Ok(Self {
            child,
            label,
            stdin,
            lines,
            stdout_closed: false,
            history: Vec::new(),
            stderr,
            stderr_searched: 0,
            stderr_done,
            exit: None,
            _script_dir: script_dir,
        })
    }

    /// The peer's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line starting with `READY` and returns the rest of it
    /// (without the separating space). Lines before it are kept in
    /// [`stdout_history`](Self::stdout_history).
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<String, PeerError> {
        self.wait_for_line("READY", timeout)
    }

    /// Reads lines until one starts with `prefix` (as a whole word: followed by
    /// a space or the end of the line) and returns the rest of that line. Other
    /// lines are consumed but kept in [`stdout_history`](Self::stdout_history).
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> Result<String, PeerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = self
                .recv(remaining)
                .map_err(|e| self.annotate(e, &format!("waiting for a `{prefix}` line")))?;
            if let Some(rest) = line.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Ok(String::new());
                }
                if let Some(rest) = rest.strip_prefix(' ') {
                    return Ok(rest.to_owned());
                }
            }
        }
    }

    /// Returns the next stdout line (without its line ending).
    pub fn next_line(&mut self, timeout: Duration) -> Result<String, PeerError> {
        self.recv(timeout).map_err(|e| self.annotate(e, "waiting for a stdout line"))
    }

    fn recv(&mut self, timeout: Duration) -> Result<String, (PeerErrorKind, String)> {
        if self.stdout_closed {
            return Err((PeerErrorKind::Exited, "stdout was already closed".into()));
        }
        match self.lines.recv_timeout(timeout) {
            Ok(StdoutMsg::Line(line)) => {
                self.history.push(line.clone());
                Ok(line)
            }
            Ok(StdoutMsg::Eof) | Err(RecvTimeoutError::Disconnected) => {
                self.stdout_closed = true;
                Err((PeerErrorKind::Exited, "the peer closed stdout".into()))
            }
            Ok(StdoutMsg::Failed(e)) => {
                self.stdout_closed = true;
                Err((PeerErrorKind::Io, format!("reading stdout failed: {e}")))
            }
            Err(RecvTimeoutError::Timeout) => {
                Err((PeerErrorKind::Timeout, format!("timed out after {timeout:?}")))
            }
        }
    }

    fn annotate(&mut self, (kind, what): (PeerErrorKind, String), doing: &str) -> PeerError {
        if kind == PeerErrorKind::Exited {
            // Let the process finish and stderr drain so the message is complete.
            let _ = self.wait_exit(Duration::from_secs(2));
        }
        let mut message = format!("{}: {what} while {doing}", self.label);
        message.push_str(&self.context());
        PeerError::new(kind, message)
    }

    /// Reads stderr until a line contains `needle` and returns that line
    /// (without its line ending). Each call searches only what came after the
    /// line the previous call returned.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) -> Result<String, PeerError> {
        let deadline = Instant::now() + timeout;
        let doing = format!("waiting for a stderr line with {needle:?}");
        loop {
            // Whether the pipe has closed, asked before searching so that nothing
            // written before it closed is missed.
            let closed = matches!(self.stderr_done.try_recv(), Ok(()) | Err(TryRecvError::Disconnected));
            if let Some(line) = self.search_stderr(needle, closed) {
                return Ok(line);
            }
            if closed {
                return Err(self.annotate((PeerErrorKind::Exited, "stderr closed".into()), &doing));
            }
            if Instant::now() >= deadline {
                let what = format!("timed out after {timeout:?}");
                return Err(self.annotate((PeerErrorKind::Timeout, what), &doing));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The first whole line (or, once `closed`, the unterminated rest) of stderr
    /// not searched yet that contains `needle`; marks what it read as searched.
    fn search_stderr(&mut self, needle: &str, closed: bool) -> Option<String> {
        let bytes = self.stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while self.stderr_searched < bytes.len() {
            let rest = &bytes[self.stderr_searched..];
            let (line, used) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => (&rest[..end], end + 1),
                None if closed => (rest, rest.len()),
                None => return None,
            };
            self.stderr_searched += used;
            let line = String::from_utf8_lossy(line);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.contains(needle) {
                return Some(line.to_owned());
            }
        }
        None
    }

    /// Exit status (if known), recent stdout lines and stderr, for failure messages.
    pub fn context(&mut self) -> String {
        let mut out = String::new();
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        match self.exit {
            Some(status) => {
                let _ = write!(out, "\n  exit status: {status}");
            }
            None => {
                let _ = write!(out, "\n  (still running, pid {})", self.child.id());
            }
        }
        let skip = self.history.len().saturating_sub(CONTEXT_LINES);
        let _ = write!(out, "\n  stdout ({} lines", self.history.len());
        if skip > 0 {
            let _ = write!(out, ", last {CONTEXT_LINES}");
        }
        out.push_str("):");
        for line in &self.history[skip..] {
            let _ = write!(out, "\n    {line}");
        }
        let stderr = self.stderr_text();
        let tail = if stderr.len() > CONTEXT_STDERR {
            let mut start = stderr.len() - CONTEXT_STDERR;
            while !stderr.is_char_boundary(start) {
                start += 1;
            }
            format!("[...]{}", &stderr[start..])
        } else {
            stderr
        };
        let _ = write!(out, "\n  stderr:");
        for line in tail.lines() {
            let _ = write!(out, "\n    {line}");
        }
        out
    }

    /// Every stdout line received so far, oldest first.
    pub fn stdout_history(&self) -> &[String] {
        &self.history
    }

    /// What the peer has written to stderr so far (lossy UTF-8).
    pub fn stderr_text(&self) -> String {
        let bytes = self.stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Writes bytes to the peer's stdin and flushes.
    pub fn write_stdin(&mut self, bytes: &[u8]) -> Result<(), PeerError> {
        let result = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(bytes).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin already closed")),
        };
        result.map_err(|e| {
            let mut message = format!("{}: cannot write to stdin: {e}", self.label);
            message.push_str(&self.context());
            PeerError::new(PeerErrorKind::Io, message)
        })
    }

    /// Writes `line` plus `\n` to the peer's stdin.
    pub fn send_line(&mut self, line: &str) -> Result<(), PeerError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.write_stdin(&bytes)
    }

    /// Closes the peer's stdin (the scripts in `interop/peers` exit on that).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `timeout` for the peer to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, PeerError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit {
                // The stderr pipe closes when the process (and any child holding it) is gone.
                let left = deadline.saturating_duration_since(Instant::now());
                let _ = self.stderr_done.recv_timeout(left.max(Duration::from_millis(100)));
                return Ok(status);
            }
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit = Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    let mut message = format!("{}: did not exit within {timeout:?}", self.label);
                    message.push_str(&self.context());
                    return Err(PeerError::new(PeerErrorKind::Timeout, message));
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(io_error("wait for the peer", &e)),
            }
        }
    }

    /// Closes stdin and waits up to `timeout` for a clean exit; kills the peer
    /// if it is still running then. Returns the exit status.
    pub fn shutdown(&mut self, timeout: Duration) -> Result<ExitStatus, PeerError> {
        self.close_stdin();
        match self.wait_exit(timeout) {
            Ok(status) => Ok(status),
            Err(e) => {
                self.kill();
                Err(e)
            }
        }
    }

    /// Kills the peer (SIGKILL) and reaps it. Idempotent.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    /// The name this peer goes by in error messages (script and node-ipc version).
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stdin = None;
        self.kill();
    }
}

/// The full path of a peer script: absolute paths are kept, relative ones are
/// taken relative to `interop/peers/`.
pub(crate) fn resolve_script(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        crate::peers_dir().join(path)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> PeerProcess {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        PeerProcess::spawn_command(command, "sh").unwrap()
    }

    #[test]
    fn stderr_lines_are_waited_for_in_order() {
        let mut p = sh("echo one >&2; echo 'two two' >&2; printf three >&2");
        assert_eq!(p.wait_for_stderr("two", DEFAULT_TIMEOUT).unwrap(), "two two");
        // "one" came before the line returned: it is not searched again.
        let err = p.wait_for_stderr("one", DEFAULT_TIMEOUT).unwrap_err();
        assert_eq!(err.kind(), PeerErrorKind::Exited, "{err}");
        assert!(err.to_string().contains("three"), "the message shows stderr: {err}");
    }

    #[test]
    fn an_unterminated_last_line_counts_once_stderr_closes() {
        let mut p = sh("printf 'last words' >&2");
        assert_eq!(p.wait_for_stderr("words", DEFAULT_TIMEOUT).unwrap(), "last words");
    }

    #[test]
    fn waiting_for_stderr_times_out() {
        let mut p = sh("echo nothing useful >&2; sleep 5");
        let err = p.wait_for_stderr("useful thing", Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), PeerErrorKind::Timeout, "{err}");
    }
}
