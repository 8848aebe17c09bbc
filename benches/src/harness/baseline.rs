//! The `baseline` lane: what a user writes without our crates (tokio,
//! tokio-util's `AnyDelimiterCodec`, `serde_json::Value`). Its server and
//! client are a program of their own, `benches/baseline/`, which this module
//! builds and drives.
//!
//! Why apart: a cargo build unifies features, and our crates need
//! serde_json's `preserve_order` (JavaScript key order). Built inside this
//! package, the baseline's every `Value` map was an `IndexMap` hashed with
//! SipHash, about 30 % more CPU per round trip than the same program with
//! serde_json's defaults, which is what a user's program has.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use interop::PeerProcess;

use super::common::{Job, Res, Sample, Target, Transport};
use super::result::read_result;
use super::workload::Workload;

/// Builds the baseline program (release, in this binary's target directory)
/// and returns its path, or why it is not available.
pub(crate) fn build() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline/Cargo.toml");
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            // target/release/ipc-bench -> target
            exe.parent().and_then(Path::parent).ok_or("no target directory")?.to_path_buf()
        }
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--locked", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!("building {} failed: {}", manifest.display(), tail.join(" | ")));
    }
    Ok(target_dir.join("release").join("ipc-bench-baseline"))
}

/// Starts the baseline server on `transport` (at `path`, or a free loopback port).
pub(crate) fn spawn_server(exe: &Path, transport: Transport, path: &Path) -> Res<(PeerProcess, Target)> {
    let mut command = Command::new(exe);
    command.arg("serve").arg(format!("transport={}", transport.name()));
    match transport {
        Transport::Unix => command.arg(format!("bind={}", path.display())),
        Transport::Tcp | Transport::Udp => command.arg("bind=127.0.0.1:0"),
        Transport::Tls => return Err("the baseline has no TLS lane".into()),
    };
    let mut process = PeerProcess::spawn_command(command, "baseline server")?;
    let ready = process.wait_ready(Duration::from_secs(30))?;
    Ok((process, Target::from_ready(transport, &ready)?))
}

/// Runs the baseline client for one workload and reads its `RESULT` line.
pub(crate) fn client(
    exe: &Path,
    workload: Workload,
    target: &Target,
    job: Job,
    timeout: Duration,
) -> Res<Sample> {
    let name = match workload {
        Workload::RoundTrip => "rt",
        Workload::OneWay64 | Workload::OneWay1K | Workload::Large => "ow",
        Workload::FanOut => "fanout",
        Workload::Udp => "udp",
        Workload::Latency => "latency",
        Workload::Idle => return Err("idle is measured by the harness".into()),
    };
    let (transport, address) = match target {
        Target::Unix(path) => ("unix", path.display().to_string()),
        Target::Tcp(addr) => ("tcp", addr.port().to_string()),
        Target::Udp(addr) => ("udp4", addr.port().to_string()),
        Target::Tls(_) => return Err("the baseline has no TLS lane".into()),
    };
    let mut command = Command::new(exe);
    command.args([
        "client".to_owned(),
        format!("workload={name}"),
        format!("transport={transport}"),
        format!("target={address}"),
        format!("n={}", job.n),
        format!("size={}", job.size),
        format!("window={}", job.window),
        format!("clients={}", job.clients),
        format!("rate={}", job.rate),
    ]);
    let mut process = PeerProcess::spawn_command(command, "baseline client")?;
    read_result(&mut process, "baseline client", timeout)
}
