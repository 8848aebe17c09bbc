//! Running the built `nipc` binary: line-by-line stdout and stderr with
//! timeouts, stdin, exit codes. (The TLS test PKI is `interop::pki`.)

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one step may take (a line to appear, a process to exit).
pub(crate) const STEP: Duration = Duration::from_secs(20);

/// A running `nipc`, killed when dropped.
pub(crate) struct Nipc {
    child: Child,
    label: String,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stdout line read so far.
    pub(crate) stdout_seen: Vec<String>,
    /// Every stderr line read so far.
    pub(crate) stderr_seen: Vec<String>,
    status: Option<ExitStatus>,
}

fn lines_of(pipe: impl Read + Send + 'static, name: String) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        })
        .expect("spawn a reader thread");
    rx
}

impl Nipc {
    /// Starts `nipc ARGS` with piped stdio.
    pub(crate) fn spawn<I, S>(args: I) -> Nipc
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let label =
            format!("nipc {}", args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "));
        let mut child = Command::new(env!("CARGO_BIN_EXE_nipc"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        let stdout = lines_of(child.stdout.take().unwrap(), format!("nipc-out-{}", child.id()));
        let stderr = lines_of(child.stderr.take().unwrap(), format!("nipc-err-{}", child.id()));
        Nipc {
            stdin: child.stdin.take(),
            child,
            label,
            stdout,
            stderr,
            stdout_seen: Vec::new(),
            stderr_seen: Vec::new(),
            status: None,
        }
    }

    /// What we know, for failure messages.
    pub(crate) fn context(&mut self) -> String {
        while let Ok(line) = self.stderr.try_recv() {
            self.stderr_seen.push(line);
        }
        format!(
            "{}\n  stdout so far: {:#?}\n  stderr so far: {:#?}",
            self.label, self.stdout_seen, self.stderr_seen
        )
    }

    /// The next stdout line.
    pub(crate) fn stdout_line(&mut self) -> String {
        match self.stdout.recv_timeout(STEP) {
            Ok(line) => {
                self.stdout_seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => panic!("no stdout line within {STEP:?}: {}", self.context()),
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed: {}", self.context()),
        }
    }

    /// Reads stderr until a line contains `needle`, and returns that line.
    pub(crate) fn stderr_until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.stderr_seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no stderr line with {needle:?} within {STEP:?}: {}", self.context()),
            }
        }
    }

    /// Writes `line` and a newline to stdin.
    pub(crate) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        let written = stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush());
        if let Err(e) = written {
            panic!("cannot write to stdin: {e}: {}", self.context());
        }
    }

    /// Closes stdin.
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the exit and returns the code; stdout and stderr are read to
    /// their end into `stdout_seen` and `stderr_seen`.
    pub(crate) fn exit_code(&mut self) -> i32 {
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.status {
                break status;
            }
            match self.child.try_wait() {
                Ok(Some(status)) => self.status = Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => panic!("did not exit within {STEP:?}: {}", self.context()),
                Err(e) => panic!("cannot wait: {e}"),
            }
        };
        // The pipes close with the process: drain them.
        while let Ok(line) = self.stdout.recv_timeout(STEP) {
            self.stdout_seen.push(line);
        }
        while let Ok(line) = self.stderr.recv_timeout(STEP) {
            self.stderr_seen.push(line);
        }
        status.code().unwrap_or_else(|| panic!("killed by a signal ({status}): {}", self.context()))
    }

    /// Sends SIGTERM (what `kill` does) and returns the exit code.
    pub(crate) fn terminate(&mut self) -> i32 {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed: {}", self.context());
        self.exit_code()
    }
}

impl Drop for Nipc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `nipc ARGS` with `input` on stdin to the end; returns (code, stdout lines, stderr lines).
pub(crate) fn run<I, S>(args: I, input: &str) -> (i32, Vec<String>, Vec<String>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut nipc = Nipc::spawn(args);
    if let Some(mut stdin) = nipc.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let code = nipc.exit_code();
    (code, std::mem::take(&mut nipc.stdout_seen), std::mem::take(&mut nipc.stderr_seen))
}

/// A free UDP port on 127.0.0.1 (released before returning).
pub(crate) fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
