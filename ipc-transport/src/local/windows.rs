//! Windows named pipes, kept thin: node-ipc's pipe name, one server instance
//! waiting at a time, clients retrying while every instance is busy.
//!
//! A listener refuses a name in use with [`Error::AddrInUse`] (node's
//! `EADDRINUSE`), whatever `unlink` says, since there is no stale pipe to
//! remove. Two guards: the name is probed with a connection first, as on Unix
//! (a live server accepts it, a connection that closes at once), then the
//! listener creates the first instance of the name (libuv's
//! `FILE_FLAG_FIRST_PIPE_INSTANCE`, whose `ERROR_ACCESS_DENIED` node reports as
//! `EADDRINUSE`). The probe is what holds under Wine 8, which creates a second
//! "first" instance without complaint.
//!
//! A pipe dropped in this process closes only once the runtime has seen its
//! pending I/O cancelled (mio's rule), so a probe that finds the name taken
//! asks again after [`CLOSING_GRACE`]: a server stopped and started again
//! at once gets its name back, as in node.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions};
use tokio::sync::Mutex;

use super::{windows_pipe_name, LocalListenerOptions};
use crate::error::Error;

/// `ERROR_PIPE_BUSY`: every instance of the pipe is taken.
const ERROR_PIPE_BUSY: i32 = 231;
/// `ERROR_NO_DATA`: the client of an instance closed before it was accepted.
const ERROR_NO_DATA: i32 = 232;
/// `ERROR_ACCESS_DENIED`: the first instance exists already (a live server holds the name).
const ERROR_ACCESS_DENIED: i32 = 5;
/// How long a bind lets pipes this process has just dropped finish closing
/// before it believes a probe that found the name taken.
const CLOSING_GRACE: Duration = Duration::from_millis(50);

/// Whether a server holds the pipe `name`: a connection to it opens (closed
/// at once: a plain file handle, which closes when dropped), or every
/// instance is busy.
fn answers(name: &str) -> bool {
    match std::fs::OpenOptions::new().read(true).write(true).open(name) {
        Ok(_probe) => true,
        Err(e) => e.raw_os_error() == Some(ERROR_PIPE_BUSY),
    }
}

pub(super) struct Listener {
    name: String,
    next: Mutex<NamedPipeServer>,
}

impl Listener {
    /// Binds the pipe name of `path`. `options` has nothing for Windows:
    /// `unlink` has nothing to remove, and modes and socket roots are files'.
    pub(super) async fn bind(
        path: &Path,
        _options: &LocalListenerOptions,
    ) -> Result<(Listener, PathBuf), Error> {
        let name = windows_pipe_name(&path.to_string_lossy());
        let in_use = || Error::AddrInUse { path: PathBuf::from(&name), live: true };
        if answers(&name) {
            tokio::time::sleep(CLOSING_GRACE).await;
            if answers(&name) {
                return Err(in_use());
            }
        }
        let first = ServerOptions::new().first_pipe_instance(true).create(&name).map_err(|e| {
            if e.raw_os_error() == Some(ERROR_ACCESS_DENIED) {
                in_use()
            } else {
                Error::Bind { endpoint: format!("unix:{name}"), source: e }
            }
        })?;
        Ok((Listener { next: Mutex::new(first), name: name.clone() }, PathBuf::from(name)))
    }

    pub(super) async fn accept(&self) -> io::Result<Stream> {
        let mut next = self.next.lock().await;
        loop {
            match next.connect().await {
                Ok(()) => break,
                // A client came and went before it was accepted (a probe, an
                // impatient client): that instance is spent. Wait on a fresh
                // one, as libuv does.
                Err(e) if e.raw_os_error() == Some(ERROR_NO_DATA) => {
                    *next = ServerOptions::new().create(&self.name)?;
                }
                Err(e) => return Err(e),
            }
        }
        let fresh = ServerOptions::new().create(&self.name)?;
        Ok(Stream::Server(std::mem::replace(&mut *next, fresh)))
    }
}

pub(super) async fn connect(path: &Path) -> io::Result<(Stream, PathBuf)> {
    let name = windows_pipe_name(&path.to_string_lossy());
    let mut tries = 0;
    loop {
        match ClientOptions::new().open(&name) {
            Ok(client) => return Ok((Stream::Client(client), PathBuf::from(name))),
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Named pipes report no uid or gid here (`GetNamedPipeClientProcessId` and
/// the client's token would need Win32 calls this crate does not make).
pub(super) fn peer_credentials(_stream: &Stream) -> io::Result<crate::peer::PeerCredentials> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "named pipes report no peer credentials"))
}

pub(super) enum Stream {
    Server(NamedPipeServer),
    Client(NamedPipeClient),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Server(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Client(c) => Pin::new(c).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Server(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Client(c) => Pin::new(c).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Server(s) => Pin::new(s).poll_flush(cx),
            Stream::Client(c) => Pin::new(c).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Server(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Client(c) => Pin::new(c).poll_shutdown(cx),
        }
    }
}
