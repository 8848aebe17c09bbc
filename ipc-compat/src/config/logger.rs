//! [`Logger`]: where `ipc.log` lines go.

use std::fmt;
use std::sync::Arc;

/// `ipc.config.logger`: where log lines go. Cheap to clone.
///
/// node-ipc's lines (`ipc.log`, and what the crate logs unless
/// `config.silent`) go to stdout by default, as `console.log`;
/// [`Logger::tracing`] sends them to `tracing` instead, next to the crate's
/// own spans and events.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ipc_compat::Logger;
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// let logger = Logger::new(move |line| sink.lock().unwrap().push(line.to_owned()));
/// logger.log("hello");
/// assert_eq!(lines.lock().unwrap()[0], "hello");
/// ```
#[derive(Clone)]
pub struct Logger {
    write: Arc<dyn Fn(&str) + Send + Sync>,
    /// Whether a line would go anywhere now (`None`: always).
    wanted: Option<fn() -> bool>,
}

impl Logger {
    /// A logger that calls `f` with each line.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Logger {
        Logger { write: Arc::new(f), wanted: None }
    }

    /// Prints each line to stdout (node-ipc's `console.log`).
    pub fn stdout() -> Logger {
        Logger::new(|line| println!("{line}"))
    }

    /// Prints each line to stderr.
    pub fn stderr() -> Logger {
        Logger::new(|line| eprintln!("{line}"))
    }

    /// Forwards each line to `tracing`: an `INFO` event with target
    /// `ipc_compat::log` whose message is the line, inside whatever span is
    /// current (the connection's, for the lines about one connection). Lines
    /// are still built only when `config.silent` is off; a subscriber's
    /// filter then decides (`RUST_LOG=ipc_compat::log=off` drops them), and
    /// while no subscriber wants them they are not even built.
    ///
    /// ```
    /// use ipc_compat::{Config, Ipc, Logger};
    ///
    /// let mut config = Config::default();
    /// config.logger = Logger::tracing();
    /// let ipc = Ipc::new(config);
    /// ipc.log("hello"); // an INFO event, target ipc_compat::log, message "hello"
    /// ```
    pub fn tracing() -> Logger {
        Logger {
            write: Arc::new(|line| tracing::info!(target: "ipc_compat::log", "{line}")),
            wanted: Some(|| tracing::enabled!(target: "ipc_compat::log", tracing::Level::INFO)),
        }
    }

    /// Logs one line.
    pub fn log(&self, line: &str) {
        (self.write)(line);
    }

    /// Whether a line logged now would go anywhere (false only for a
    /// [`Logger::tracing`] that no subscriber listens to): lines are not built otherwise.
    pub(crate) fn is_wanted(&self) -> bool {
        self.wanted.is_none_or(|wanted| wanted())
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Logger(..)")
    }
}
