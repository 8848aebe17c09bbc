//! The `ipc-bench` harness: every lane on the same workloads, in one run, on
//! this machine. See `BENCHMARKS.md` at the workspace root.
//!
//! Each measurement is a server process (our Rust lanes re-run this binary as
//! `ipc-bench serve ...`; the baseline runs its own program, built from
//! `benches/baseline/`; node-ipc lanes run `interop/peers/bench/`) and a
//! client (in this process for the Rust lanes, a node-ipc script for the node
//! lanes). Lanes alternate within each repetition, the order rotating from one
//! repetition to the next, and the table reports medians.
//!
//! The modules come in three layers, and each imports only from the layers
//! below it:
//!
//! - shared: `common` (transports, targets, the control protocol, samples),
//!   `lane` and `workload` (what runs), `serve` (what every server process
//!   shares), `proto` (the wire format as the async server uses it), `connect`
//!   (client connections of the tokio lanes), `sock` (blocking sockets),
//!   `aserver` (the async server of the tokio lanes), `result` (the `RESULT`
//!   line of a client process), `report`, `sys`;
//! - lanes, which import only shared modules, never each other: `floor`,
//!   `tokio_floor`, `ours`, `compat`, `official`, `baseline`, `node`;
//! - drivers: `cli` (the command line), `run` (the runner), and this module,
//!   which picks a lane's server or client by name.

mod aserver;
mod baseline;
mod cli;
mod common;
mod compat;
mod connect;
mod floor;
mod lane;
mod node;
mod official;
mod ours;
mod proto;
mod report;
mod result;
mod run;
mod serve;
mod sock;
mod sys;
mod tokio_floor;
mod workload;

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;

use cli::{Settings, USAGE};
use common::{Res, Target, Transport};
use lane::Lane;
use serve::ServeArgs;
use workload::Workload;

/// `ipc-bench` and `ipc-bench serve ...`.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("client") {
        return match one_client(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ipc-bench client: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::parse(&args) {
        Ok(s) => s,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ipc-bench: {e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run::run(&settings) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ipc-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `ipc-bench serve ...`: runs until stdin closes.
fn serve(args: &[String]) -> ExitCode {
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
    let _ = sys::raise_nofile_limit();
    let result = match (args.lane, args.transport) {
        (Lane::Floor, _) => floor::serve(&args),
        (Lane::TokioFloor, _) => tokio_floor::serve(&args),
        (Lane::Official, _) => official::serve(&args),
        (Lane::Compat, _) => compat::serve(&args, false),
        (Lane::Acked, _) => compat::serve(&args, true),
        (Lane::Ours, Transport::Udp) => ours::serve_udp(&args.bind),
        (Lane::Ours, _) => aserver::serve::<ours::Ours>(&args),
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

/// `ipc-bench client lane=.. workload=.. transport=.. target=<path or port> [n=..]`:
/// one client run against a server started by hand (`ipc-bench serve ...`), for profilers.
fn one_client(args: &[String]) -> Res<()> {
    let mut kv = HashMap::new();
    for arg in args {
        let (k, v) = arg.split_once('=').ok_or_else(|| format!("bad argument {arg:?}"))?;
        kv.insert(k.to_owned(), v.to_owned());
    }
    let get = |k: &str| kv.get(k).map(String::as_str).ok_or_else(|| format!("{k}= missing"));
    let lane = Lane::parse(get("lane")?).ok_or("unknown lane")?;
    let workload = Workload::parse(get("workload")?).ok_or("unknown workload")?;
    let transport = Transport::parse(get("transport")?).ok_or("unknown transport")?;
    let target = Target::from_ready(transport, get("target")?)?;
    let mut job = Settings::full().job(workload);
    if let Some(n) = kv.get("n") {
        job.n = n.parse()?;
    }
    let sample = match lane {
        Lane::Floor => floor::client(workload, &target, job),
        Lane::TokioFloor => tokio_floor::client(workload, &target, job),
        Lane::Ours => ours::client(workload, &target, None, job),
        Lane::Compat => compat::client(workload, &target, None, job, false),
        Lane::Acked => compat::client(workload, &target, None, job, true),
        Lane::Official => official::client(workload, &target, job),
        _ => Err("no Rust client for this lane".into()),
    }?;
    for m in report::measurements(workload, job, &sample) {
        println!(
            "lane={} workload={} transport={} value={} unit={}",
            lane.name(),
            m.workload,
            transport.name(),
            report::plain(m.value),
            m.unit
        );
    }
    Ok(())
}
