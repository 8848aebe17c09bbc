//! Helpers shared by ipc-compat's integration tests: quiet configs, lifecycle
//! waits, process resource readings, child processes to kill and node peers
//! driven from async code ([`Peer`]). Timeouts on awaits (`interop::within`)
//! and the test PKI (`interop::pki`) come from interop.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interop::{within, PeerBuilder, PeerProcess};
use ipc_compat::{Config, Error, Lifecycle, Subscription};
use serde_json::Value;

/// How long a child process may stay silent.
pub const STEP: Duration = Duration::from_secs(20);

/// A silent 9.x config with its socket root in `dir` and a short retry.
pub fn v9(dir: &Path) -> Config {
    let mut c = Config::v9();
    c.silent = true;
    c.socket_root = format!("{}/", dir.display());
    c.retry = Duration::from_millis(20);
    c
}

/// A silent 14.x config with its (secure) socket root in `dir/root/` and a short retry.
pub fn v14(dir: &Path) -> Config {
    let mut c = Config::v14();
    c.silent = true;
    c.socket_root = format!("{}/root/", dir.display());
    c.retry = Duration::from_millis(20);
    c
}

/// What a local server reports as its path for the socket path `path`: the
/// path itself, or on Windows the pipe name node-ipc maps it to.
pub fn local_name(path: &Path) -> std::path::PathBuf {
    if cfg!(windows) {
        ipc_transport::local::windows_pipe_name(&path.to_string_lossy()).into()
    } else {
        path.to_owned()
    }
}

/// The next lifecycle event, whatever it is.
pub async fn next_lifecycle<P: Clone + Send + Sync + 'static>(
    sub: &mut Subscription<Lifecycle<P>>,
) -> Lifecycle<P> {
    within("a lifecycle event", sub.recv()).await.expect("the lifecycle stream ended")
}

/// Waits for the lifecycle event called `name`, returning it and the names seen before it.
pub async fn wait_lifecycle<P: Clone + Send + Sync + 'static>(
    sub: &mut Subscription<Lifecycle<P>>,
    name: &str,
) -> (Lifecycle<P>, Vec<&'static str>) {
    let mut seen = Vec::new();
    loop {
        let event = next_lifecycle(sub).await;
        if event.name() == name {
            return (event, seen);
        }
        seen.push(event.name());
    }
}

/// Waits for the next lifecycle event called `name` and returns it.
pub async fn wait_for<P: Clone + Send + Sync + 'static>(
    sub: &mut Subscription<Lifecycle<P>>,
    name: &str,
) -> Lifecycle<P> {
    wait_lifecycle(sub, name).await.0
}

/// `connect_to` with a lifecycle subscription made before the client starts.
pub fn watched(
    ipc: &ipc_compat::Ipc,
    id: &str,
    path: Option<&Path>,
) -> (ipc_compat::Client, Subscription<Lifecycle<ipc_compat::Client>>) {
    let mut life = None;
    let client = ipc.connect_to_with(id, path, |c| life = Some(c.lifecycle(256))).unwrap();
    (client, life.unwrap())
}

/// Waits for the next `error` lifecycle event and returns its peer and text,
/// with this crate's error when it raised it.
pub async fn next_error<P: Clone + Send + Sync + 'static>(
    sub: &mut Subscription<Lifecycle<P>>,
) -> (Option<P>, std::sync::Arc<ipc_events::Error>) {
    match wait_for(sub, "error").await {
        Lifecycle::Error { peer, error } => (peer, error),
        _ => unreachable!(),
    }
}

/// The transport error inside an `error` event raised by ipc-compat, if it is one.
pub fn transport_error(error: &ipc_events::Error) -> Option<&ipc_transport::Error> {
    match Error::of(error) {
        Some(Error::Transport(e)) => Some(e),
        _ => None,
    }
}

/// Open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resident memory now, in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS")
}

/// Peak resident memory since the last [`reset_peak_rss`] (or since the
/// process started), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM")
}

/// Starts a new peak-RSS measurement (Linux: `5` into `/proc/self/clear_refs`)
/// and returns the RSS now, in KiB.
pub fn reset_peak_rss() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS through /proc/self/clear_refs");
    rss_kib()
}

/// How long a node peer may take for one line.
pub const LINE: Duration = Duration::from_secs(15);

/// A node peer, driven from async code (its API is blocking).
pub struct Peer(Arc<Mutex<PeerProcess>>);

impl Peer {
    pub async fn spawn(builder: PeerBuilder) -> Peer {
        Peer::spawn_ready(builder).await.0
    }

    /// [`spawn`](Peer::spawn), also returning what the peer said after `READY`, parsed.
    pub async fn spawn_ready(builder: PeerBuilder) -> (Peer, Value) {
        let (process, ready) = tokio::task::spawn_blocking(move || builder.spawn_ready(LINE))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
        let ready = serde_json::from_str(&ready).unwrap_or(Value::String(ready));
        (Peer(Arc::new(Mutex::new(process))), ready)
    }

    /// The rest of the next line starting with `prefix`.
    pub async fn line(&self, prefix: &'static str) -> String {
        let process = self.0.clone();
        tokio::task::spawn_blocking(move || process.lock().unwrap().wait_for_line(prefix, LINE))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next `EVENT` line, parsed.
    pub async fn event(&self) -> Value {
        serde_json::from_str(&self.line("EVENT").await).unwrap()
    }

    pub fn send(&self, line: &str) {
        self.0.lock().unwrap().send_line(line).unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn kill(&self) {
        self.0.lock().unwrap().kill();
    }
}

/// A node-ipc server restarted under `client` (whose lifecycle is `life`):
/// `seq` 0 reaches `first`, which then quits; 1 to 10 are emitted while no
/// server is up; `restart` brings one back, and once the client has
/// reconnected (after nothing but errors and disconnects) it gets 1 to 10, in
/// order. Returns the restarted server and how long the reconnect took once
/// it was up.
pub async fn seq_across_a_restart(
    client: &ipc_compat::Client,
    life: &mut Subscription<Lifecycle<ipc_compat::Client>>,
    first: &Peer,
    restart: impl std::future::Future<Output = Peer>,
) -> (Peer, Duration) {
    wait_lifecycle(life, "connect").await;
    client.emit("seq", 0).unwrap();
    assert_eq!(first.event().await, serde_json::json!({"type": "seq", "data": 0}));

    first.send("QUIT");
    wait_lifecycle(life, "disconnect").await;
    for i in 1..=10 {
        client.emit("seq", i).unwrap();
    }
    let restarted = restart.await;
    let up = std::time::Instant::now();
    let (_, before) = wait_lifecycle(life, "connect").await;
    let took = up.elapsed();
    assert!(before.iter().all(|n| *n == "error" || *n == "disconnect"), "{before:?}");
    for i in 1..=10 {
        assert_eq!(restarted.event().await, serde_json::json!({"type": "seq", "data": i}));
    }
    within("flush", client.flush()).await.unwrap();
    (restarted, took)
}

/// Environment variable that tells a child test which role to play.
pub const CHILD_ENV: &str = "IPC_FAULT_CHILD";

/// A copy of this test binary running one `#[ignore]`d helper test as a
/// separate process, so that the parent can kill it (SIGKILL: no cleanup, no
/// unlink, no flush). The helper writes lines to stdout; lines starting with
/// `@` are for the parent (libtest's own lines are skipped).
pub struct ChildProcess {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ChildProcess {
    /// Starts `test` (an ignored test of this binary) with `arg` in [`CHILD_ENV`].
    pub fn spawn(test: &str, arg: &str) -> ChildProcess {
        let exe = std::env::current_exe().expect("the test binary");
        ChildProcess::spawn_from(Command::new(exe), test, arg)
    }

    /// [`spawn`](ChildProcess::spawn) through `command`, a command that runs
    /// this test binary (or a copy of it) as it is told: as another user
    /// (`CommandExt::uid`), inside a network namespace (`ip netns exec NS binary`).
    pub fn spawn_from(mut command: Command, test: &str, arg: &str) -> ChildProcess {
        let mut child = command
            .args([test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, arg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child test process");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(ours) = line.strip_prefix('@') {
                    if tx.send(ours.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        ChildProcess { child, lines }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next `@` line, waiting at most [`STEP`]; `None` once the child is gone.
    pub fn next_line(&self) -> Option<String> {
        self.next_line_within(STEP)
    }

    /// The next `@` line, waiting at most `limit`; `None` once the child is gone.
    pub fn next_line_within(&self, limit: Duration) -> Option<String> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Some(line),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the child said nothing for {limit:?}"),
        }
    }

    /// Waits for the child to exit on its own: its stdout closes (each line
    /// waited for at most `limit`), then it is reaped. Returns whether it
    /// succeeded and the `@` lines it still said.
    pub fn finish(&mut self, limit: Duration) -> (bool, Vec<String>) {
        let lines = std::iter::from_fn(|| self.next_line_within(limit)).collect();
        (self.child.wait().expect("reap the child").success(), lines)
    }

    /// Waits for the `@` line `want`, returning the lines before it.
    pub fn expect_line(&self, want: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            match self.next_line() {
                Some(line) if line == want => return before,
                Some(line) => before.push(line),
                None => panic!("the child ended before saying {want:?}; it said {before:?}"),
            }
        }
    }

    /// Every `@` line still to come, until the child's stdout closes.
    pub fn remaining_lines(&self) -> Vec<String> {
        std::iter::from_fn(|| self.next_line()).collect()
    }

    /// SIGKILL, then reap it.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill the child");
        self.child.wait().expect("reap the child");
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In a child helper test: the argument the parent gave, or `None` when the
/// helper was run directly (then it has nothing to do).
pub fn child_arg() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// In a child helper test: a line for the parent.
pub fn tell_parent(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // on a line of its own: libtest's "test name ... " has no newline yet
    writeln!(out, "\n@{line}").unwrap();
    out.flush().unwrap();
}

/// Things handlers saw, in order, that a test can wait on without polling.
#[derive(Debug)]
pub struct Log<T>(std::sync::Arc<tokio::sync::watch::Sender<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(self.0.clone())
    }
}

impl<T: Clone + Send + Sync> Log<T> {
    pub fn new() -> Log<T> {
        Log(std::sync::Arc::new(tokio::sync::watch::channel(Vec::new()).0))
    }

    /// Appends one entry (from a handler).
    pub fn push(&self, entry: T) {
        self.0.send_modify(|v| v.push(entry));
    }

    /// A copy of what is logged now.
    pub fn snapshot(&self) -> Vec<T> {
        self.0.borrow().clone()
    }

    /// Waits until `done` holds for the log, then returns a copy of it.
    pub async fn until(&self, what: &str, mut done: impl FnMut(&[T]) -> bool) -> Vec<T> {
        let mut rx = self.0.subscribe();
        let seen =
            within(what, rx.wait_for(|v| done(v))).await.expect("the log's sender lives as long as the log");
        seen.clone()
    }

    /// Waits until the log holds at least `n` entries.
    pub async fn until_len(&self, what: &str, n: usize) -> Vec<T> {
        self.until(what, |v| v.len() >= n).await
    }
}
