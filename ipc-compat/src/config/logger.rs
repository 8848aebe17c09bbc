//! [`Logger`]: where `ipc.log` lines go.

use std::fmt;
use std::sync::Arc;

/// `ipc.config.logger`: where log lines go. Cheap to clone.
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
pub struct Logger(Arc<dyn Fn(&str) + Send + Sync>);

impl Logger {
    /// A logger that calls `f` with each line.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Logger {
        Logger(Arc::new(f))
    }

    /// Prints each line to stdout (node-ipc's `console.log`).
    pub fn stdout() -> Logger {
        Logger::new(|line| println!("{line}"))
    }

    /// Prints each line to stderr.
    pub fn stderr() -> Logger {
        Logger::new(|line| eprintln!("{line}"))
    }

    /// Logs one line.
    pub fn log(&self, line: &str) {
        (self.0)(line);
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Logger(..)")
    }
}
