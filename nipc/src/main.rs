//! `nipc`: poke at any node-ipc service from the command line.
//!
//! `nipc serve ENDPOINT` prints every event it receives as a JSON line
//! `{"type":..,"data":..,"peer":..}` and sends the JSON lines of its stdin;
//! `nipc connect ENDPOINT` does the same as a client; `nipc emit ENDPOINT TYPE
//! [JSON]` sends one event. Built straight on `ipc-transport` and `ipc-codec`,
//! so what it prints is what was on the wire: event data keeps its bytes.
//!
//! `-v` (info), `-vv` (debug), `-vvv` (trace) or `RUST_LOG` (which wins when
//! set) turn on the `tracing` output of nipc and its libraries on stderr.
//!
//! Exit codes: 0 done, 1 runtime failure (connection refused, bind failed,
//! connection lost), 2 bad arguments. A bad stdin line is reported on stderr
//! and skipped; it does not change the exit code.
#![forbid(unsafe_code)]

// The modules form layers, and each imports only from the layers above it.
// Shared types, and what goes to stderr:
mod message;
mod report;

// -v and RUST_LOG: tracing on stderr:
mod diagnostics;

// Lines on stdin and stdout:
mod lines;

// The command line:
mod args;

// Sockets and codecs:
mod wire;

// The commands:
mod connect;
mod emit;
mod serve;

use std::process::ExitCode;

use args::Command;
use report::{note, Failure};

fn main() -> ExitCode {
    let settings = match args::parse() {
        Ok(settings) => settings,
        Err(failure) => return report(failure),
    };
    diagnostics::init(settings.verbosity);
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
