//! `nipc serve ENDPOINT`: a server that prints what it receives, with who sent
//! it, and sends its stdin lines to every peer or to one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use ipc_transport::{BatchSender, IpcListener, PeerAddr};
use tracing::Instrument as _;

use crate::args::Settings;
use crate::lines::{Line, Printer, StdinLines, Target};
use crate::message::{Mode, Outgoing};
use crate::report::{note, Failure};
use crate::wire::{self, Bound, Framed, Udp, WireCodec};

/// Runs `nipc serve` until SIGINT or SIGTERM (Ok) or a failure of the listener.
pub(crate) async fn run(settings: &Settings) -> Result<(), Failure> {
    let printer = Printer::start();
    let result = match wire::bind(settings).await? {
        Bound::Streams(listener, name) => {
            note!("listening on {name}");
            crate::diagnostics::listening(&name);
            streams(&settings.mode, listener, &printer).await
        }
        Bound::Udp(udp) => {
            let addr = udp.local_addr().map_err(|e| Failure::runtime(format!("local address: {e}")))?;
            note!("listening on {}", PeerAddr::Udp(addr));
            crate::diagnostics::listening(&PeerAddr::Udp(addr));
            datagrams(&settings.mode, udp, &printer).await
        }
    };
    printer.flush().await;
    result
}

/// Resolves at SIGINT or SIGTERM (Ctrl-C elsewhere) with the signal's name.
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

/// One open connection.
struct Conn {
    /// `#N ADDR`, as printed.
    peer: String,
    /// `ADDR`, as printed.
    addr: String,
    /// Its writer's queue.
    tx: BatchSender<Outgoing>,
}

/// The open connections by number.
type Registry = Arc<Mutex<BTreeMap<u64, Conn>>>;

fn lock(registry: &Registry) -> std::sync::MutexGuard<'_, BTreeMap<u64, Conn>> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn streams(mode: &Mode, mut listener: IpcListener, printer: &Printer) -> Result<(), Failure> {
    let registry = Registry::default();
    let codec = WireCodec::new(mode);
    let accepting = async {
        let mut next = 1u64;
        loop {
            match wire::accept(&mut listener, &codec).await {
                Ok((framed, addr)) => {
                    spawn_conn(next, framed, addr, mode.clone(), registry.clone(), printer.clone());
                    next += 1;
                }
                Err(e) if e.is_connection_error() => note!("{e}"),
                Err(e) => return Failure::runtime(format!("cannot accept: {e}")),
            }
        }
    };
    let input = async {
        let mut stdin = StdinLines::new(mode);
        loop {
            match stdin.next().await {
                Ok(Some((number, line))) => deliver(&codec, &registry, number, line).await,
                Ok(None) => break,
                Err(e) => {
                    note!("cannot read stdin: {e}");
                    break;
                }
            }
        }
        note!("stdin ended; still serving (interrupt to stop)");
        std::future::pending::<()>().await;
    };
    tokio::select! {
        failure = accepting => Err(failure),
        () = input => unreachable!("input never ends"),
        signal = interrupted() => {
            note!("{signal}: stopping");
            Ok(())
        }
    }
}

/// Serves one connection on a task of its own: prints what it sends, writes what is queued for it.
fn spawn_conn(n: u64, framed: Framed, addr: PeerAddr, mode: Mode, registry: Registry, printer: Printer) {
    let peer = format!("#{n} {addr}");
    let (sink, mut incoming) = framed.split();
    let (tx, writer) = ipc_transport::batch_writer(sink, 256);
    lock(&registry).insert(n, Conn { peer: peer.clone(), addr: addr.to_string(), tx });
    note!("{peer} connected");
    let span = crate::diagnostics::server_connection(&addr, n);
    span.in_scope(crate::diagnostics::connected);
    let served = async move {
        let reading = async {
            while let Some(item) = incoming.next().await {
                printer.show(&item?, &mode, Some(&peer)).await;
            }
            Ok::<(), ipc_codec::CodecError>(())
        };
        let reason = tokio::select! {
            read = reading => read.err().map(|e| e.to_string()),
            written = writer.run() => written.err().map(|e| e.to_string()),
        };
        lock(&registry).remove(&n);
        crate::diagnostics::disconnected(reason.as_ref().map(|r| r as &dyn std::fmt::Display));
        match reason {
            Some(reason) => note!("{peer} disconnected: {reason}"),
            None => note!("{peer} disconnected"),
        }
    };
    tokio::spawn(served.instrument(span));
}

/// Sends a stdin line to its peer, or to every peer.
async fn deliver(codec: &WireCodec, registry: &Registry, number: usize, line: Line) {
    if let Err(e) = codec.check(&line.message) {
        note!("stdin line {number}: {e}; skipped");
        return;
    }
    let targets: Vec<BatchSender<Outgoing>> = {
        let conns = lock(registry);
        match &line.to {
            None => conns.values().map(|c| c.tx.clone()).collect(),
            Some(Target::Conn(k)) => conns.get(k).map(|c| c.tx.clone()).into_iter().collect(),
            Some(Target::Addr(a)) => {
                let found: Vec<_> = conns.values().filter(|c| &c.addr == a || &c.peer == a).collect();
                if found.len() > 1 {
                    note!(
                        "stdin line {number}: {a} is {} connections (local peers share the socket path); \
                         pick one by number; skipped",
                        found.len()
                    );
                    return;
                }
                found.into_iter().map(|c| c.tx.clone()).collect()
            }
        }
    };
    if targets.is_empty() {
        match &line.to {
            None => note!("stdin line {number}: no peer is connected; dropped"),
            Some(Target::Conn(k)) => note!("stdin line {number}: no peer #{k}; skipped"),
            Some(Target::Addr(a)) => note!("stdin line {number}: no peer {a}; skipped"),
        }
        return;
    }
    for tx in targets {
        // A peer that has just gone is reported by its own task.
        let _ = tx.send(line.message.clone()).await;
    }
}

/// Reads a UDP `"to"`: `udp4://IP:PORT`, `udp6://[IP]:PORT` or `IP:PORT`.
fn udp_target(to: &Target) -> Result<SocketAddr, String> {
    match to {
        Target::Conn(_) => Err("a UDP peer is an address (udp4://IP:PORT), not a number".to_owned()),
        Target::Addr(text) => {
            let bare = text.strip_prefix("udp4://").or_else(|| text.strip_prefix("udp6://")).unwrap_or(text);
            bare.parse().map_err(|_| format!("{text:?} is not a UDP address (udp4://IP:PORT)"))
        }
    }
}

async fn datagrams(mode: &Mode, udp: Box<Udp>, printer: &Printer) -> Result<(), Failure> {
    let codec = WireCodec::new(mode);
    let (mut sink, mut incoming) = (*udp).split::<(Outgoing, SocketAddr)>();
    // Peers in the order first heard from; node-ipc broadcasts to these.
    let peers = Mutex::new(Vec::<SocketAddr>::new());
    let reading = async {
        loop {
            match incoming.next().await {
                Some(Ok((item, from))) => {
                    let new = {
                        let mut peers = peers.lock().unwrap_or_else(PoisonError::into_inner);
                        let new = !peers.contains(&from);
                        if new {
                            peers.push(from);
                        }
                        new
                    };
                    let peer = PeerAddr::Udp(from).to_string();
                    if new {
                        note!("heard from {peer}");
                        crate::diagnostics::new_udp_peer(&PeerAddr::Udp(from));
                    }
                    printer.show(&item, mode, Some(&peer)).await;
                }
                Some(Err(e)) if e.is_connection_error() => note!("{e}"),
                Some(Err(e)) => return Failure::runtime(format!("socket failed: {e}")),
                None => return Failure::runtime("the socket closed"),
            }
        }
    };
    let input = async {
        let mut stdin = StdinLines::new(mode);
        loop {
            let (number, line) = match stdin.next().await {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(e) => {
                    note!("cannot read stdin: {e}");
                    break;
                }
            };
            if let Err(e) = codec.check(&line.message) {
                note!("stdin line {number}: {e}; skipped");
                continue;
            }
            let targets = match &line.to {
                None => peers.lock().unwrap_or_else(PoisonError::into_inner).clone(),
                Some(to) => match udp_target(to) {
                    Ok(addr) => vec![addr],
                    Err(reason) => {
                        note!("stdin line {number}: {reason}; skipped");
                        continue;
                    }
                },
            };
            if targets.is_empty() {
                note!("stdin line {number}: no peer has been heard from yet; dropped");
                continue;
            }
            let batch = targets.into_iter().map(|to| (line.message.clone(), to));
            if let Err(e) = ipc_transport::send_batch(&mut sink, batch).await {
                note!("stdin line {number}: {e}");
            }
        }
        note!("stdin ended; still serving (interrupt to stop)");
        std::future::pending::<()>().await;
    };
    tokio::select! {
        failure = reading => Err(failure),
        () = input => unreachable!("input never ends"),
        signal = interrupted() => {
            note!("{signal}: stopping");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_targets() {
        let addr: SocketAddr = "127.0.0.1:5".parse().unwrap();
        assert_eq!(udp_target(&Target::Addr("udp4://127.0.0.1:5".into())).unwrap(), addr);
        assert_eq!(udp_target(&Target::Addr("127.0.0.1:5".into())).unwrap(), addr);
        assert_eq!(
            udp_target(&Target::Addr("udp6://[::1]:5".into())).unwrap(),
            "[::1]:5".parse::<SocketAddr>().unwrap()
        );
        assert!(udp_target(&Target::Conn(1)).is_err());
        assert!(udp_target(&Target::Addr("x".into())).is_err());
    }
}
