//! What `nipc` says on stderr: `nipc: ...` notes, and the [`Failure`] that
//! ends a run with its exit code.

use std::fmt;
use std::io::Write as _;

/// Why `nipc` stops early: a message for stderr and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    /// 1 for runtime failures, 2 for bad arguments.
    pub(crate) code: u8,
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

/// Writes `nipc: <message>` on stderr, kept to one line (what [`note!`] expands to).
pub(crate) fn write_note(message: fmt::Arguments<'_>) {
    let text = message.to_string().replace(['\n', '\r'], " ");
    let _ = writeln!(std::io::stderr().lock(), "nipc: {text}");
}

/// Prints one `nipc: ...` line on stderr.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::report::write_note(format_args!($($arg)*))
    };
}
pub(crate) use note;
