//! The `ipc-bench` harness: every lane on the same workloads, in one run, on
//! this machine. See `BENCHMARKS.md` at the workspace root.
//!
//! Each measurement is a server process (our Rust lanes re-run this binary as
//! `ipc-bench serve ...`; node-ipc lanes run `interop/peers/bench/`) and a
//! client (in this process for the Rust lanes, a node-ipc script for the node
//! lanes). Lanes alternate within each repetition, the order rotating from one
//! repetition to the next, and the table reports medians.

mod aserver;
mod baseline;
mod common;
mod compat;
mod floor;
mod node;
mod official;
mod ours;
mod report;
mod serve;
mod sys;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use interop::{NodeIpc, PeerProcess, PeerRuntime};

use common::{Job, Res, Sample, Target, TlsFiles, Transport};
use report::{Measurement, Record};

const USAGE: &str = "\
ipc-bench: our node-ipc lanes side by side with node-ipc, the official crate and the raw floor

usage: ipc-bench [--quick | --smoke] [--reps N] [--lanes a,b] [--workloads a,b]
                 [--transports a,b] [--out DIR]

  --quick        100,000 round trips, 200,000 one-way events, 2,000 fan-out events, 3 repetitions
                 (node-ipc lanes: a tenth of the round trips, one-way, large and udp events, always)
  --smoke        a few thousand events per lane, 1 repetition (CI)
  --reps N       repetitions (default 5, --quick 3, --smoke 1)
  --lanes        floor,ours,compat,official,baseline,node14,node9 (default: every installed lane)
  --workloads    rt,oneway-64B,oneway-1KiB,large,fanout,idle,udp (default: all)
  --transports   unix,tcp,tls,udp4 (default: all)
  --out DIR      where results.json and ratios.svg go (default: target/ipc-bench)

Environment: IPC_INTEROP_SKIP=1 leaves out the node-ipc lanes.";

/// A contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Lane {
    /// Raw bytes, blocking std sockets, no JSON work.
    Floor,
    /// Ours through `Framed` + `JsonCodec`.
    Ours,
    /// Ours through `ipc-compat` (node-ipc's API).
    Compat,
    /// The official `node-ipc` crate 14.0.0.
    Official,
    /// tokio + `AnyDelimiterCodec` + `serde_json::Value`.
    Baseline,
    /// node-ipc 14.0.0 on Node 22.
    Node14,
    /// node-ipc 9.2.1 on Node 20.
    Node9,
}

impl Lane {
    pub(crate) const ALL: [Lane; 7] =
        [Lane::Floor, Lane::Ours, Lane::Compat, Lane::Official, Lane::Baseline, Lane::Node14, Lane::Node9];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Lane::Floor => "floor",
            Lane::Ours => "ours",
            Lane::Compat => "compat",
            Lane::Official => "official",
            Lane::Baseline => "baseline",
            Lane::Node14 => "node14",
            Lane::Node9 => "node9",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Lane::Floor => "raw floor: same bytes, no JSON, blocking std sockets, batched reads/writes",
            Lane::Ours => "ours: ipc-transport + Framed + JsonCodec (feed, then one flush)",
            Lane::Compat => "ours through ipc-compat (node-ipc's API)",
            Lane::Official => "official node-ipc crate 14.0.0 (blocking, thread per connection)",
            Lane::Baseline => "tokio + AnyDelimiterCodec + serde_json::Value (feed, then one flush)",
            Lane::Node14 => "node-ipc 14.0.0 on Node 22 (server and client)",
            Lane::Node9 => "node-ipc 9.2.1 on Node 20 (server and client)",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|l| l.name() == s)
    }

    fn supports(self, transport: Transport) -> bool {
        match self {
            Lane::Ours | Lane::Baseline | Lane::Compat | Lane::Node14 | Lane::Node9 => true,
            Lane::Floor | Lane::Official => transport != Transport::Tls,
        }
    }

    fn is_rust_server(self) -> bool {
        matches!(self, Lane::Floor | Lane::Ours | Lane::Official | Lane::Baseline | Lane::Compat)
    }
}

/// A workload of the issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Workload {
    RoundTrip,
    OneWay64,
    OneWay1K,
    Large,
    FanOut,
    Idle,
    Udp,
}

impl Workload {
    pub(crate) const ALL: [Workload; 7] = [
        Workload::RoundTrip,
        Workload::OneWay64,
        Workload::OneWay1K,
        Workload::Large,
        Workload::FanOut,
        Workload::Idle,
        Workload::Udp,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::RoundTrip => "rt-64B",
            Workload::OneWay64 => "oneway-64B",
            Workload::OneWay1K => "oneway-1KiB",
            Workload::Large => "large-1MiB",
            Workload::FanOut => "fanout",
            Workload::Idle => "idle",
            Workload::Udp => "udp-64B",
        }
    }

    fn parse(s: &str) -> Option<Workload> {
        let s = match s {
            "rt" => "rt-64B",
            "large" => "large-1MiB",
            "udp" => "udp-64B",
            other => other,
        };
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }

    pub(crate) fn unit(self) -> &'static str {
        match self {
            Workload::RoundTrip => "rt/s",
            Workload::OneWay64 | Workload::OneWay1K | Workload::Udp => "events/s",
            Workload::Large => "MB/s",
            Workload::FanOut => "deliveries/s",
            Workload::Idle => "KiB/conn",
        }
    }

    fn transports(self) -> &'static [Transport] {
        match self {
            Workload::Idle => &[Transport::Unix, Transport::Tcp],
            Workload::Udp => &[Transport::Udp],
            _ => &[Transport::Unix, Transport::Tcp, Transport::Tls],
        }
    }
}

/// How much work each measurement does.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) mode: &'static str,
    pub(crate) reps: usize,
    pub(crate) round_trips: usize,
    pub(crate) window: usize,
    pub(crate) one_way: usize,
    pub(crate) large: usize,
    pub(crate) fan_events: usize,
    pub(crate) fan_clients: usize,
    pub(crate) idle: usize,
    pub(crate) udp: usize,
    pub(crate) timeout: Duration,
    lanes: Option<Vec<Lane>>,
    workloads: Vec<Workload>,
    transports: Vec<Transport>,
    out: PathBuf,
}

impl Settings {
    fn full() -> Settings {
        Settings {
            mode: "full",
            reps: 5,
            round_trips: 1_000_000,
            window: 64,
            one_way: 1_000_000,
            large: 100,
            fan_events: 10_000,
            fan_clients: 100,
            idle: 10_000,
            udp: 1_000_000,
            timeout: Duration::from_secs(600),
            lanes: None,
            workloads: Workload::ALL.to_vec(),
            transports: Transport::ALL.to_vec(),
            out: PathBuf::from("target/ipc-bench"),
        }
    }

    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut s = Settings::full();
        let mut reps = None;
        let mut it = args.iter();
        let list = |v: Option<&String>, what: &str| -> Result<Vec<String>, String> {
            Ok(v.ok_or(format!("{what} needs a value"))?.split(',').map(str::to_owned).collect())
        };
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => {
                    s.mode = "quick";
                    s.reps = 3;
                    s.round_trips = 100_000;
                    s.one_way = 200_000;
                    s.fan_events = 2_000;
                    s.udp = 200_000;
                    s.timeout = Duration::from_secs(180);
                }
                "--smoke" => {
                    s.mode = "smoke";
                    s.reps = 1;
                    s.round_trips = 2_000;
                    s.one_way = 5_000;
                    s.large = 4;
                    s.fan_events = 100;
                    s.fan_clients = 10;
                    s.idle = 200;
                    s.udp = 2_000;
                    s.timeout = Duration::from_secs(60);
                }
                "--reps" => {
                    reps = Some(
                        it.next()
                            .and_then(|v| v.parse().ok())
                            .filter(|n| *n > 0)
                            .ok_or("--reps needs a number")?,
                    )
                }
                "--lanes" => {
                    let mut lanes = Vec::new();
                    for name in list(it.next(), "--lanes")? {
                        lanes.push(Lane::parse(&name).ok_or(format!("unknown lane {name}"))?);
                    }
                    s.lanes = Some(lanes);
                }
                "--workloads" => {
                    s.workloads.clear();
                    for name in list(it.next(), "--workloads")? {
                        s.workloads.push(Workload::parse(&name).ok_or(format!("unknown workload {name}"))?);
                    }
                }
                "--transports" => {
                    s.transports.clear();
                    for name in list(it.next(), "--transports")? {
                        s.transports
                            .push(Transport::parse(&name).ok_or(format!("unknown transport {name}"))?);
                    }
                }
                "--out" => s.out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if let Some(r) = reps {
            s.reps = r;
        }
        Ok(s)
    }

    fn job(&self, workload: Workload) -> Job {
        let (n, size) = match workload {
            Workload::RoundTrip => (self.round_trips, 64),
            Workload::OneWay64 => (self.one_way, 64),
            Workload::OneWay1K => (self.one_way, 1024),
            Workload::Large => (self.large, 1 << 20),
            Workload::FanOut => (self.fan_events, 64),
            Workload::Idle => (self.idle, 0),
            Workload::Udp => (self.udp, 64),
        };
        Job { n, size, window: self.window, clients: self.fan_clients }
    }

    /// The job of `lane`: the node-ipc lanes send a tenth of the events of the
    /// stream workloads and of the large messages (node-ipc 9's parser is
    /// quadratic in buffered bytes: 100 MiB of 1 MiB events take minutes); rates
    /// stay comparable.
    fn job_for(&self, lane: Lane, workload: Workload) -> Job {
        let mut job = self.job(workload);
        if matches!(lane, Lane::Node14 | Lane::Node9) {
            job.n = match workload {
                Workload::RoundTrip | Workload::OneWay64 | Workload::OneWay1K | Workload::Udp => {
                    (job.n / NODE_DIVISOR).max(job.n.min(2_000))
                }
                Workload::Large => (job.n / NODE_DIVISOR).max(job.n.min(4)),
                Workload::FanOut | Workload::Idle => job.n,
            };
        }
        job
    }
}

/// How many times fewer events the node-ipc lanes send (see [`Settings::job_for`]).
const NODE_DIVISOR: usize = 10;

/// `ipc-bench` and `ipc-bench serve ...`.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve::main(&args[1..]);
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
    match run(&settings) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ipc-bench: {e}");
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
        Lane::Ours => ours::client(workload, &target, None, job),
        Lane::Baseline => baseline::client(workload, &target, None, job),
        Lane::Compat => compat::client(workload, &target, None, job),
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
    servers: HashMap<(Lane, Transport), Server>,
    next_socket: usize,
}

fn run(settings: &Settings) -> Res<bool> {
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
        if lane.is_rust_server() {
            let bind = match transport {
                Transport::Unix => path.display().to_string(),
                _ => "127.0.0.1:0".to_owned(),
            };
            let args = serve::ServeArgs {
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
        let (tx, rx) = std::sync::mpsc::channel();
        let target2 = target.clone();
        let tls = self.tls.clone();
        let handle = std::thread::spawn(move || {
            let tls = tls.as_deref();
            let result = match lane {
                Lane::Floor => floor::client(workload, &target2, job),
                Lane::Ours => ours::client(workload, &target2, tls, job),
                Lane::Baseline => baseline::client(workload, &target2, tls, job),
                Lane::Compat => compat::client(workload, &target2, tls, job),
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
            held.push(floor::Sock::connect(&server.target)?);
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
