//! [`Sock`]: a blocking Unix or TCP stream, for the lanes on std sockets and
//! the harness's idle connections.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;

use super::common::{Res, Target};

/// A blocking stream of either kind.
#[derive(Debug)]
pub(crate) enum Sock {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Sock {
    pub(crate) fn connect(target: &Target) -> Res<Sock> {
        Ok(match target {
            Target::Unix(path) => Sock::Unix(UnixStream::connect(path)?),
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                Sock::Tcp(s)
            }
            _ => return Err("the floor has no such stream transport".into()),
        })
    }

    pub(crate) fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
        })
    }

    /// Reads one reply of a one-in-flight exchange: until the buffer ends
    /// with the delimiter.
    pub(crate) fn read_reply(&mut self, buf: &mut [u8]) -> Res<usize> {
        let mut filled = 0;
        loop {
            let n = self.read(&mut buf[filled..])?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            filled += n;
            if buf[filled - 1] == 0x0c {
                return Ok(filled);
            }
            if filled == buf.len() {
                return Err("reply too large".into());
            }
        }
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => s.read(buf),
            Sock::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => s.write(buf),
            Sock::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
