//! `nipc`: poke at any node-ipc service from the command line.
//!
//! `nipc serve ENDPOINT` prints every event it receives as a JSON line
//! `{"type":..,"data":..,"peer":..}` and sends the JSON lines of its stdin;
//! `nipc connect ENDPOINT` does the same as a client; `nipc emit ENDPOINT TYPE
//! [JSON]` sends one event. Built straight on `ipc-transport` and `ipc-codec`,
//! so what it prints is what was on the wire: event data keeps its bytes.
//!
//! Exit codes: 0 done, 1 runtime failure (connection refused, bind failed,
//! connection lost), 2 bad arguments. A bad stdin line is reported on stderr
//! and skipped; it does not change the exit code.
#![forbid(unsafe_code)]

mod args;
mod connect;
mod emit;
mod lines;
mod serve;
mod wire;

use std::fmt;
use std::process::ExitCode;

use args::Command;

/// Why `nipc` stops early: a message for stderr and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    /// 1 for runtime failures, 2 for bad arguments.
    code: u8,
    /// One line, without the `nipc: ` prefix.
    message: String,
}

impl Failure {
    /// Bad arguments (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure { code: 2, message: message.into() }
    }

    /// A runtime failure (exit code 1).
    pub(crate) fn runtime(message: impl Into<String>) -> Failure {
        Failure { code: 1, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep it to one line whatever the source said.
        f.write_str(&self.message.replace(['\n', '\r'], " "))
    }
}

impl From<ipc_transport::Error> for Failure {
    fn from(err: ipc_transport::Error) -> Failure {
        use ipc_transport::Error as E;
        match err {
            E::InvalidEndpoint { .. } | E::UnsupportedEndpoint { .. } | E::TlsConfig { .. } => {
                Failure::usage(err.to_string())
            }
            other => Failure::runtime(other.to_string()),
        }
    }
}

/// Prints one `nipc: ...` line on stderr.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::lines::note(format_args!($($arg)*))
    };
}
pub(crate) use note;

fn main() -> ExitCode {
    let settings = match args::parse() {
        Ok(settings) => settings,
        Err(failure) => return report(failure),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return report(Failure::runtime(format!("cannot start the async runtime: {e}"))),
    };
    let result = runtime.block_on(async {
        match &settings.command {
            Command::Serve => serve::run(&settings).await,
            Command::Connect => connect::run(&settings).await,
            Command::Emit(message) => emit::run(&settings, message).await,
        }
    });
    let code = match result {
        Ok(()) => 0,
        Err(failure) => {
            note!("{failure}");
            failure.code
        }
    };
    // tokio's stdin reader may sit in a blocking read that would hold up the
    // runtime's shutdown: leave without waiting for it.
    std::process::exit(i32::from(code));
}

fn report(failure: Failure) -> ExitCode {
    note!("{failure}");
    ExitCode::from(failure.code)
}
