//! The node-ipc lanes: the `server` and `client` roles of
//! `interop/peers/bench/bench-common.cjs`, run by the pinned Node binaries
//! through interop's loaders, server and client both node-ipc.

use std::time::Duration;

use interop::{NodeIpc, PeerProcess, PeerRuntime};

use super::common::{Job, Res, Sample, Target, TlsFiles, Transport};
use super::result::read_result;
use super::workload::Workload;

/// The server script of `flavor`, listening on `transport` (a socket under `dir`, or a free loopback port).
pub(crate) fn spawn_server(
    runtime: &PeerRuntime,
    transport: Transport,
    path: &std::path::Path,
    tls: Option<&TlsFiles>,
) -> Res<(PeerProcess, Target)> {
    let mut last = None;
    // node-ipc reads port 0 as 8000: pick a free port, and retry if someone takes it first.
    for _ in 0..5 {
        let script = runtime.role("bench/bench-common.cjs", "server");
        let builder = match transport {
            Transport::Unix => script.arg("transport=unix").arg(format!("path={}", path.display())),
            Transport::Tcp | Transport::Udp => script
                .arg(format!("transport={}", if transport == Transport::Tcp { "tcp" } else { "udp4" }))
                .arg("host=127.0.0.1")
                .arg(format!("port={}", interop::pick_loopback_port()?)),
            Transport::Tls => {
                let tls = tls.ok_or("no TLS files")?;
                let config = serde_json::json!({"tls": {"private": tls.key, "public": tls.cert}});
                script
                    .arg("transport=tls")
                    .arg("host=127.0.0.1")
                    .arg(format!("port={}", interop::pick_loopback_port()?))
                    .arg(format!("config={config}"))
            }
        };
        match builder.spawn_ready(Duration::from_secs(30)) {
            Ok((process, ready)) => return Ok((process, Target::from_ready(transport, &ready)?)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("tried at least once").into())
}

/// Runs the client script for one workload and reads its `RESULT` line.
pub(crate) fn client(
    runtime: &PeerRuntime,
    workload: Workload,
    target: &Target,
    job: Job,
    tls: Option<&TlsFiles>,
    timeout: Duration,
) -> Res<Sample> {
    let script = runtime.role("bench/bench-common.cjs", "client");
    let name = match workload {
        Workload::RoundTrip => "rt",
        Workload::OneWay64 | Workload::OneWay1K | Workload::Large => "ow",
        Workload::FanOut => "fanout",
        Workload::Udp => "udp",
        Workload::Latency => "latency",
        Workload::Idle => return Err("idle is measured by the harness".into()),
    };
    let mut builder = script
        .arg(format!("workload={name}"))
        .arg(format!("n={}", job.n))
        .arg(format!("size={}", job.size))
        .arg(format!("window={}", job.window))
        .arg(format!("clients={}", job.clients))
        .arg(format!("rate={}", job.rate));
    builder = match target {
        Target::Unix(path) => builder.arg("transport=unix").arg(format!("path={}", path.display())),
        Target::Tcp(addr) => {
            builder.arg("transport=tcp").arg("host=127.0.0.1").arg(format!("port={}", addr.port()))
        }
        Target::Udp(addr) => builder
            .arg("transport=udp4")
            .arg("host=127.0.0.1")
            .arg(format!("port={}", addr.port()))
            .arg(format!("localPort={}", interop::pick_loopback_port()?)),
        Target::Tls(addr) => {
            let tls = tls.ok_or("no TLS files")?;
            let config = serde_json::json!({"tls": {"trustedConnections": [tls.ca]}});
            builder
                .arg("transport=tls")
                .arg("host=127.0.0.1")
                .arg(format!("port={}", addr.port()))
                .arg(format!("config={config}"))
        }
    };
    let mut process = builder.spawn()?;
    read_result(&mut process, "node client", timeout)
}

/// The installed runtime of `flavor`, or why it is not available.
pub(crate) fn runtime(flavor: NodeIpc) -> Result<PeerRuntime, String> {
    if interop::skip_requested() {
        return Err(format!("{} is set", interop::SKIP_ENV));
    }
    interop::try_peer(flavor).map_err(|e| e.to_string())
}
