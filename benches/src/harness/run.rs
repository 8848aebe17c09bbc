//! The runner: starts each lane's server, runs its client on every workload
//! and transport, alternating lanes within each repetition, then prints and
//! writes the summary.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use interop::{NodeIpc, PeerProcess, PeerRuntime};

use super::cli::{Settings, NODE_DIVISOR};
use super::common::{Job, Res, Sample, Target, TlsFiles, Transport};
use super::lane::Lane;
use super::report::{self, Measurement, Record};
use super::serve::ServeArgs;
use super::sock::Sock;
use super::workload::Workload;
use super::{baseline, compat, floor, node, official, ours, sys, tokio_floor};

/// A running server of one lane.
struct Server {
    process: PeerProcess,
    target: Target,
}

struct Harness<'a> {
    settings: &'a Settings,
    dir: tempfile::TempDir,
    tls: Option<std::sync::Arc<TlsFiles>>,
    node: HashMap<Lane, PeerRuntime>,
    /// The baseline program, once built.
    baseline: Option<PathBuf>,
    servers: HashMap<(Lane, Transport), Server>,
    next_socket: usize,
}

/// Runs every measurement `settings` ask for; true when none failed.
pub(crate) fn run(settings: &Settings) -> Res<bool> {
    let nofile = sys::raise_nofile_limit().unwrap_or(0);
    let started = Instant::now();
    let mut machine = report::Machine {
        date: sys::now_utc(),
        commit: sys::commit(),
        cpu: sys::cpu(),
        load_start: sys::load(),
        load_end: String::new(),
        nofile,
        mode: settings.mode.to_owned(),
        reps: settings.reps,
    };
    println!("ipc-bench ({} mode, {} repetitions)", settings.mode, settings.reps);
    println!(
        "  round trips {} x 64 B, {} in flight | one-way {} x 64 B and x 1 KiB | {} x 1 MiB | fan-out {} x 64 B to {} \
         clients | idle {} | udp4 {} x 64 B | node-ipc lanes: 1/{NODE_DIVISOR} of rt, one-way, large and udp",
        settings.round_trips,
        settings.window,
        settings.one_way,
        settings.large,
        settings.fan_events,
        settings.fan_clients,
        settings.idle,
        settings.udp
    );
    println!("  {} | commit {} | {}", machine.date, machine.commit, machine.cpu);
    println!("  load average at start: {} | open-file limit: {nofile}", machine.load_start);

    let mut lanes = Vec::new();
    let mut gaps = Vec::new();
    let mut node = HashMap::new();
    let mut baseline_exe = None;
    let wanted = settings.lanes.clone().unwrap_or_else(|| Lane::ALL.to_vec());
    for lane in wanted {
        match lane {
            Lane::Node14 | Lane::Node9 => {
                let flavor = if lane == Lane::Node14 { NodeIpc::V14 } else { NodeIpc::V9 };
                match node::runtime(flavor) {
                    Ok(rt) => {
                        node.insert(lane, rt);
                        lanes.push(lane);
                    }
                    Err(why) => gaps.push((lane, format!("not run: {why}"))),
                }
            }
            Lane::Baseline => match baseline::build() {
                Ok(exe) => {
                    baseline_exe = Some(exe);
                    lanes.push(lane);
                }
                Err(why) => gaps.push((lane, format!("not run: {why}"))),
            },
            other => lanes.push(other),
        }
    }
    for lane in &lanes {
        println!("  lane {:<9} {}", lane.name(), lane.describe());
    }
    for (lane, why) in &gaps {
        println!("  lane {:<9} {why}", lane.name());
    }
    println!();

    let tls = if settings.transports.contains(&Transport::Tls) {
        Some(std::sync::Arc::new(TlsFiles::generate()?))
    } else {
        None
    };
    let mut h = Harness {
        settings,
        dir: tempfile::Builder::new().prefix("ipc-bench-").tempdir()?,
        tls,
        node,
        baseline: baseline_exe,
        servers: HashMap::new(),
        next_socket: 0,
    };
    let mut records: Vec<Record> = Vec::new();
    let mut failures = 0;
    for &workload in &settings.workloads {
        for &transport in workload.transports() {
            if !settings.transports.contains(&transport) {
                continue;
            }
            let here: Vec<Lane> = lanes.iter().copied().filter(|l| l.supports(transport)).collect();
            for rep in 0..settings.reps {
                for i in 0..here.len() {
                    let lane = here[(i + rep) % here.len()];
                    let result = h.measure(lane, workload, transport);
                    match result {
                        Ok(ms) => {
                            for m in ms {
                                println!(
                                    "lane={} workload={} transport={} value={} unit={} rep={}",
                                    lane.name(),
                                    m.workload,
                                    transport.name(),
                                    report::plain(m.value),
                                    m.unit,
                                    rep + 1
                                );
                                report::push(&mut records, lane, transport, &m);
                            }
                        }
                        Err(e) => {
                            failures += 1;
                            println!(
                                "lane={} workload={} transport={} error=\"{}\" rep={}",
                                lane.name(),
                                workload.name(),
                                transport.name(),
                                e.to_string().replace('"', "'").replace('\n', " "),
                                rep + 1
                            );
                            // A failed server is not reused.
                            if let Some(mut s) = h.servers.remove(&(lane, transport)) {
                                s.process.kill();
                            }
                        }
                    }
                    let _ = std::io::stdout().flush();
                }
            }
            // Fresh servers for the next workload: no state or memory carried over.
            for (_, mut s) in h.servers.drain() {
                s.process.kill();
            }
        }
    }
    machine.load_end = sys::load();
    println!();
    let summary = report::Summary::new(machine, &lanes, gaps, records, started.elapsed());
    summary.print();
    std::fs::create_dir_all(&settings.out)?;
    let json = settings.out.join("results.json");
    std::fs::write(&json, summary.json())?;
    let svg = settings.out.join("ratios.svg");
    std::fs::write(&svg, summary.svg())?;
    println!("\nresults: {} | chart: {}", json.display(), svg.display());
    if failures > 0 {
        println!("{failures} measurement(s) failed (see error= lines above)");
    }
    Ok(failures == 0)
}

impl Harness<'_> {
    fn socket_path(&mut self) -> PathBuf {
        self.next_socket += 1;
        self.dir.path().join(format!("bench-{}.sock", self.next_socket))
    }

    fn spawn_server(&mut self, lane: Lane, transport: Transport, idle: bool) -> Res<Server> {
        let path = self.socket_path();
        if lane == Lane::Baseline {
            let exe = self.baseline.as_ref().ok_or("the baseline is not built")?;
            let (process, target) = baseline::spawn_server(exe, transport, &path)?;
            return Ok(Server { process, target });
        }
        if lane.is_rust_server() {
            let bind = match transport {
                Transport::Unix => path.display().to_string(),
                _ => "127.0.0.1:0".to_owned(),
            };
            let args = ServeArgs {
                lane,
                transport,
                bind,
                tls: match (transport, &self.tls) {
                    (Transport::Tls, Some(t)) => Some((t.cert.clone(), t.key.clone())),
                    _ => None,
                },
                idle,
            };
            let mut command = Command::new(own_exe()?);
            command.args(args.to_args());
            let mut process = PeerProcess::spawn_command(command, format!("{} server", lane.name()))?;
            let ready = process.wait_ready(Duration::from_secs(30))?;
            Ok(Server { target: Target::from_ready(transport, &ready)?, process })
        } else {
            let runtime = self.node.get(&lane).ok_or("node lane without runtime")?;
            let (process, target) = node::spawn_server(runtime, transport, &path, self.tls.as_deref())?;
            Ok(Server { process, target })
        }
    }

    fn measure(&mut self, lane: Lane, workload: Workload, transport: Transport) -> Res<Vec<Measurement>> {
        if workload == Workload::Idle {
            return self.measure_idle(lane, transport);
        }
        let job = self.settings.job_for(lane, workload);
        // Fan-out servers keep their registered clients: a fresh one each time.
        if workload == Workload::FanOut {
            if let Some(mut s) = self.servers.remove(&(lane, transport)) {
                s.process.kill();
            }
        }
        if !self.servers.contains_key(&(lane, transport)) {
            let server = self.spawn_server(lane, transport, false)?;
            self.servers.insert((lane, transport), server);
        }
        let target = self.servers[&(lane, transport)].target.clone();
        let sample = self.client(lane, workload, &target, job)?;
        Ok(report::measurements(workload, job, &sample))
    }

    /// Runs the client of `lane`; a Rust client runs on its own thread and
    /// the server is killed if it overruns the timeout (which ends the client).
    fn client(&mut self, lane: Lane, workload: Workload, target: &Target, job: Job) -> Res<Sample> {
        let timeout = self.settings.timeout;
        if let Some(runtime) = self.node.get(&lane) {
            return node::client(runtime, workload, target, job, self.tls.as_deref(), timeout);
        }
        if lane == Lane::Baseline {
            let exe = self.baseline.as_ref().ok_or("the baseline is not built")?;
            return baseline::client(exe, workload, target, job, timeout);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let target2 = target.clone();
        let tls = self.tls.clone();
        let handle = std::thread::spawn(move || {
            let tls = tls.as_deref();
            let result = match lane {
                Lane::Floor => floor::client(workload, &target2, job),
                Lane::TokioFloor => tokio_floor::client(workload, &target2, job),
                Lane::Ours => ours::client(workload, &target2, tls, job),
                Lane::Compat => compat::client(workload, &target2, tls, job, false),
                Lane::Acked => compat::client(workload, &target2, tls, job, true),
                Lane::Official => official::client(workload, &target2, job),
                _ => Err("no client for this lane".into()),
            };
            let _ = tx.send(result);
        });
        match rx.recv_timeout(timeout) {
            Ok(result) => {
                let _ = handle.join();
                result
            }
            Err(_) => {
                if let Some(mut s) = self.servers.remove(&(lane, target_transport(target))) {
                    s.process.kill();
                }
                let _ = rx.recv_timeout(Duration::from_secs(10));
                Err(format!("no result within {timeout:?}").into())
            }
        }
    }

    /// Connects `idle` plain sockets to a fresh server and reads its RSS growth per connection.
    fn measure_idle(&mut self, lane: Lane, transport: Transport) -> Res<Vec<Measurement>> {
        let n = self.settings.idle;
        let mut server = self.spawn_server(lane, transport, true)?;
        let pid = server.process.id();
        std::thread::sleep(Duration::from_millis(300));
        let files0 = sys::open_files(pid)?;
        let rss0 = sys::rss_kib(pid)?;
        let mut held = Vec::with_capacity(n);
        let wait_for = |count: usize| -> Res<()> {
            let deadline = Instant::now() + Duration::from_secs(60);
            while sys::open_files(pid)? < files0 + count {
                if Instant::now() > deadline {
                    return Err(format!("the server accepted fewer than {count} connections").into());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        };
        for i in 0..n {
            held.push(Sock::connect(&server.target)?);
            if (i + 1) % 500 == 0 {
                wait_for(i + 1)?;
            }
        }
        wait_for(n)?;
        std::thread::sleep(Duration::from_millis(500));
        let rss1 = sys::rss_kib(pid)?;
        server.process.kill();
        drop(held);
        let per_conn = rss1.saturating_sub(rss0) as f64 / n as f64;
        Ok(vec![Measurement {
            workload: Workload::Idle.name(),
            unit: Workload::Idle.unit(),
            value: per_conn,
        }])
    }
}

/// This program, to re-run as a server. On Linux `/proc/self/exe`, which still
/// names this binary when a build in the shared target directory has replaced
/// the file since we started.
fn own_exe() -> std::io::Result<PathBuf> {
    let proc_exe = PathBuf::from("/proc/self/exe");
    if cfg!(target_os = "linux") && proc_exe.exists() {
        return Ok(proc_exe);
    }
    std::env::current_exe()
}

fn target_transport(target: &Target) -> Transport {
    match target {
        Target::Unix(_) => Transport::Unix,
        Target::Tcp(_) => Transport::Tcp,
        Target::Tls(_) => Transport::Tls,
        Target::Udp(_) => Transport::Udp,
    }
}
