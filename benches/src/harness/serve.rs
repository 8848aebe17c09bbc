//! The server side of the Rust lanes, run as a child process of the harness
//! (`ipc-bench serve lane=.. transport=.. bind=..`) so that every lane, ours
//! and node-ipc's alike, is a server process and a client, and the server's
//! memory can be read from `/proc`.

use std::fmt::Display;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::common::{Ack, Res, Transport};
use super::Lane;

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

    fn parse(args: &[String]) -> Res<ServeArgs> {
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

/// `ipc-bench serve ...`: runs until stdin closes.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let args = match ServeArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ipc-bench serve: {e}");
            return ExitCode::from(2);
        }
    };
    // The harness holds our stdin: when it closes (the harness ended or died), so do we.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while let Ok(n) = std::io::stdin().read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        std::process::exit(0);
    });
    let _ = super::sys::raise_nofile_limit();
    let result = match (args.lane, args.transport) {
        (Lane::Floor, _) => super::floor::serve(&args),
        (Lane::Official, _) => super::official::serve(&args),
        (Lane::Compat, _) => super::compat::serve(&args),
        (Lane::Ours, Transport::Udp) => super::ours::serve_udp(&args.bind),
        (Lane::Ours, _) => super::aserver::serve::<super::ours::Ours>(&args),
        (Lane::Baseline, Transport::Udp) => super::baseline::serve_udp(&args.bind),
        (Lane::Baseline, _) => super::aserver::serve::<super::baseline::Baseline>(&args),
        (lane, _) => Err(format!("lane {} has no Rust server", lane.name()).into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-bench serve: {e}");
            ExitCode::FAILURE
        }
    }
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
