//! Running the built `nipc` binary as an `interop::PeerProcess`: stdout lines
//! and stderr lines with timeouts, stdin, exit codes. (The TLS test PKI is
//! `interop::pki`.)

use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

use interop::{PeerErrorKind, PeerProcess};

/// How long any one step may take (a line to appear, a process to exit).
pub(crate) const STEP: Duration = Duration::from_secs(20);

/// A running `nipc`, killed when dropped.
pub(crate) struct Nipc {
    process: PeerProcess,
    /// Every stdout line, once [`exit_code`](Self::exit_code) has returned.
    pub(crate) stdout_seen: Vec<String>,
    /// Every stderr line, once [`exit_code`](Self::exit_code) has returned.
    pub(crate) stderr_seen: Vec<String>,
}

impl Nipc {
    /// Starts `nipc ARGS` with piped stdio (and without `RUST_LOG`: stderr
    /// holds nipc's notes alone).
    pub(crate) fn spawn<I, S>(args: I) -> Nipc
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Nipc::spawn_with_log(args, None)
    }

    /// Starts `nipc ARGS` with `RUST_LOG` set to `rust_log`, or unset.
    pub(crate) fn spawn_with_log<I, S>(args: I, rust_log: Option<&str>) -> Nipc
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut label =
            format!("nipc {}", args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "));
        let mut command = Command::new(env!("CARGO_BIN_EXE_nipc"));
        command.args(&args);
        match rust_log {
            Some(filter) => {
                command.env("RUST_LOG", filter);
                label = format!("RUST_LOG={filter} {label}");
            }
            None => {
                command.env_remove("RUST_LOG");
            }
        }
        let process = PeerProcess::spawn_command(command, label).unwrap_or_else(|e| panic!("{e}"));
        Nipc { process, stdout_seen: Vec::new(), stderr_seen: Vec::new() }
    }

    /// What we know, for failure messages.
    pub(crate) fn context(&mut self) -> String {
        let context = self.process.context();
        format!("{}{context}", self.process.label())
    }

    /// The next stdout line.
    pub(crate) fn stdout_line(&mut self) -> String {
        self.process.next_line(STEP).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads stderr until a line contains `needle`, and returns that line.
    pub(crate) fn stderr_until(&mut self, needle: &str) -> String {
        self.process.wait_for_stderr(needle, STEP).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Writes `line` and a newline to stdin.
    pub(crate) fn send(&mut self, line: &str) {
        self.process.send_line(line).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Closes stdin.
    pub(crate) fn close_stdin(&mut self) {
        self.process.close_stdin();
    }

    /// Waits for the exit and returns the code; stdout and stderr are read to
    /// their end into `stdout_seen` and `stderr_seen`.
    pub(crate) fn exit_code(&mut self) -> i32 {
        let status = self.process.wait_exit(STEP).unwrap_or_else(|e| panic!("{e}"));
        // The pipes close with the process: read stdout to its end.
        loop {
            match self.process.next_line(STEP) {
                Ok(_) => {}
                Err(e) if e.kind() == PeerErrorKind::Exited => break,
                Err(e) => panic!("{e}"),
            }
        }
        self.stdout_seen = self.process.stdout_history().to_vec();
        self.stderr_seen = self.process.stderr_text().lines().map(str::to_owned).collect();
        status.code().unwrap_or_else(|| panic!("killed by a signal ({status}): {}", self.context()))
    }

    /// Stops `nipc serve` as a user does and checks that it exits 0: SIGTERM
    /// (what `kill` sends). On Windows `nipc serve` stops on Ctrl-C, which a
    /// test cannot send to another process without unsafe Win32 calls: there
    /// it is killed, and the exit code goes unchecked, saying so.
    pub(crate) fn interrupt(&mut self) {
        if cfg!(windows) {
            interop::not_checked_here(
                "nipc serve's exit code on an interrupt (Ctrl-C cannot be sent to another process \
                 without unsafe Win32 calls; the server is killed instead)",
            );
            self.process.kill();
            return;
        }
        let status = Command::new("kill").arg("-TERM").arg(self.process.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed: {}", self.context());
        assert_eq!(self.exit_code(), 0, "{}", self.context());
    }
}

/// Runs `nipc ARGS` with `input` on stdin to the end; returns (code, stdout lines, stderr lines).
pub(crate) fn run<I, S>(args: I, input: &str) -> (i32, Vec<String>, Vec<String>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_log(args, input, None)
}

/// [`run`] with `RUST_LOG` set to `rust_log` (or unset).
pub(crate) fn run_with_log<I, S>(
    args: I,
    input: &str,
    rust_log: Option<&str>,
) -> (i32, Vec<String>, Vec<String>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut nipc = Nipc::spawn_with_log(args, rust_log);
    // nipc may exit before reading it all (bad arguments): a broken pipe is fine.
    let _ = nipc.process.write_stdin(input.as_bytes());
    nipc.close_stdin();
    let code = nipc.exit_code();
    (code, std::mem::take(&mut nipc.stdout_seen), std::mem::take(&mut nipc.stderr_seen))
}

/// A free UDP port on 127.0.0.1 (released before returning).
pub(crate) fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
