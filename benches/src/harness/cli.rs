//! The command line of `ipc-bench`: the usage text, and [`Settings`] (how
//! much work each measurement does, which lanes, workloads and transports run).

use std::path::PathBuf;
use std::time::Duration;

use super::common::{Job, Transport};
use super::lane::Lane;
use super::workload::Workload;

/// What `ipc-bench --help` prints.
pub(crate) const USAGE: &str = "\
ipc-bench: our node-ipc lanes side by side with node-ipc, the official crate and the raw floor

usage: ipc-bench [--quick | --smoke] [--reps N] [--lanes a,b] [--workloads a,b]
                 [--transports a,b] [--out DIR]

  --quick        100,000 round trips, 200,000 one-way events, 2,000 fan-out events,
                 20,000 timed round trips (latency), 3 repetitions
                 (node-ipc lanes: a tenth of the round trips, one-way, large and udp events, always)
  --smoke        a few thousand events per lane, 1 repetition (CI)
  --reps N       repetitions (default 5, --quick 3, --smoke 1)
  --lanes        floor,tokio-floor,ours,compat,acked,official,baseline,node14,node9 (default: every installed lane)
  --workloads    rt,oneway-64B,oneway-1KiB,large,fanout,idle,udp,latency (default: all)
  --transports   unix,tcp,tls,udp4 (default: all)
  --udp-rate N   events per second every lane offers in udp-64B (default 100000)
  --out DIR      where results.json and ratios.svg go (default: target/ipc-bench)

Environment: IPC_INTEROP_SKIP=1 leaves out the node-ipc lanes.";

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
    /// UDP: events per second offered to every lane.
    pub(crate) udp_rate: u64,
    /// Timed round trips of the latency workload.
    pub(crate) latency: usize,
    pub(crate) timeout: Duration,
    pub(crate) lanes: Option<Vec<Lane>>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) transports: Vec<Transport>,
    pub(crate) out: PathBuf,
}

impl Settings {
    pub(crate) fn full() -> Settings {
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
            latency: 100_000,
            udp_rate: 100_000,
            timeout: Duration::from_secs(600),
            lanes: None,
            workloads: Workload::ALL.to_vec(),
            transports: Transport::ALL.to_vec(),
            out: PathBuf::from("target/ipc-bench"),
        }
    }

    pub(crate) fn parse(args: &[String]) -> Result<Settings, String> {
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
                    s.latency = 20_000;
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
                    s.latency = 2_000;
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
                "--udp-rate" => {
                    s.udp_rate = it
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or("--udp-rate needs a number")?
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

    pub(crate) fn job(&self, workload: Workload) -> Job {
        let (n, size) = match workload {
            Workload::RoundTrip => (self.round_trips, 64),
            Workload::OneWay64 => (self.one_way, 64),
            Workload::OneWay1K => (self.one_way, 1024),
            Workload::Large => (self.large, 1 << 20),
            Workload::FanOut => (self.fan_events, 64),
            Workload::Idle => (self.idle, 0),
            Workload::Udp => (self.udp, 64),
            Workload::Latency => (self.latency, 64),
        };
        Job { n, size, window: self.window, clients: self.fan_clients, rate: self.udp_rate }
    }

    /// The job of `lane`: the node-ipc lanes send a tenth of the events of the
    /// stream workloads and of the large messages (node-ipc 9's parser is
    /// quadratic in buffered bytes: 100 MiB of 1 MiB events take minutes); rates
    /// stay comparable.
    pub(crate) fn job_for(&self, lane: Lane, workload: Workload) -> Job {
        let mut job = self.job(workload);
        if matches!(lane, Lane::Node14 | Lane::Node9) {
            job.n = match workload {
                Workload::RoundTrip | Workload::OneWay64 | Workload::OneWay1K | Workload::Udp => {
                    (job.n / NODE_DIVISOR).max(job.n.min(2_000))
                }
                Workload::Large => (job.n / NODE_DIVISOR).max(job.n.min(4)),
                // At least 20,000 timed round trips for every lane.
                Workload::FanOut | Workload::Idle | Workload::Latency => job.n,
            };
        }
        job
    }
}

/// How many times fewer events the node-ipc lanes send (see [`Settings::job_for`]).
pub(crate) const NODE_DIVISOR: usize = 10;
