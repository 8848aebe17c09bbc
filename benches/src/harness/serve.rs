//! What the server processes of the Rust lanes share: their arguments, the
//! `READY` line, the UDP counter. The Rust lanes' servers run as child processes
//! of the harness (`ipc-bench serve lane=.. transport=.. bind=..`) so that every
//! lane, ours and node-ipc's alike, is a server process and a client, and the
//! server's memory can be read from `/proc`.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use super::common::{Ack, Res, Transport};
use super::lane::Lane;

/// The arguments of `ipc-bench serve`.
#[derive(Debug)]
pub(crate) struct ServeArgs {
    pub(crate) lane: Lane,
    pub(crate) transport: Transport,
    /// A socket path, or `127.0.0.1:0`.
    pub(crate) bind: String,
    /// Certificate and key files (TLS).
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    /// Only hold connections (the floor's idle server).
    pub(crate) idle: bool,
}

impl ServeArgs {
    pub(crate) fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "serve".to_owned(),
            format!("lane={}", self.lane.name()),
            format!("transport={}", self.transport.name()),
            format!("bind={}", self.bind),
        ];
        if let Some((cert, key)) = &self.tls {
            args.push(format!("cert={}", cert.display()));
            args.push(format!("key={}", key.display()));
        }
        if self.idle {
            args.push("idle=1".to_owned());
        }
        args
    }

    pub(crate) fn parse(args: &[String]) -> Res<ServeArgs> {
        let mut lane = None;
        let mut transport = None;
        let mut bind = None;
        let mut cert = None;
        let mut key = None;
        let mut idle = false;
        for arg in args {
            let (k, v) = arg.split_once('=').ok_or_else(|| format!("bad argument {arg:?}"))?;
            match k {
                "lane" => lane = Lane::parse(v),
                "transport" => transport = Transport::parse(v),
                "bind" => bind = Some(v.to_owned()),
                "cert" => cert = Some(PathBuf::from(v)),
                "key" => key = Some(PathBuf::from(v)),
                "idle" => idle = v == "1",
                _ => return Err(format!("unknown argument {arg:?}").into()),
            }
        }
        Ok(ServeArgs {
            lane: lane.ok_or("lane= missing or unknown")?,
            transport: transport.ok_or("transport= missing or unknown")?,
            bind: bind.ok_or("bind= missing")?,
            tls: cert.zip(key),
            idle,
        })
    }
}

/// Announces the listening address to the harness.
pub(crate) fn ready(addr: impl Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY {addr}");
    let _ = out.flush();
}

/// Counts one-way UDP events between two `end`s.
#[derive(Debug, Default)]
pub(crate) struct UdpCounter {
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    ended: bool,
}

impl UdpCounter {
    pub(crate) fn count(&mut self) {
        if self.ended {
            *self = UdpCounter::default();
        }
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.count += 1;
    }

    /// The ack for an `end` (repeated `end`s get the same answer).
    pub(crate) fn end(&mut self) -> Ack {
        self.ended = true;
        let us = match (self.first, self.last) {
            (Some(a), Some(b)) => b.duration_since(a).as_micros() as u64,
            _ => 0,
        };
        Ack { count: self.count, us }
    }
}
