//! Medians, the table, the goals, `results.json` and the ratio chart (a small
//! hand-written SVG: no plotting crate to compile).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::common::{Job, Sample, Transport};
use super::lane::Lane;
use super::workload::Workload;

/// One value of one run.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub(crate) workload: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) value: f64,
}

/// Every repetition of one lane on one workload and transport.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    lane: Lane,
    workload: &'static str,
    transport: Transport,
    unit: &'static str,
    values: Vec<f64>,
}

impl Record {
    fn median(&self) -> f64 {
        median(&self.values)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Whether smaller numbers are better for this unit.
fn lower_is_better(unit: &str) -> bool {
    matches!(unit, "KiB/conn" | "%" | "us")
}

/// The values a client sample gives for `workload`.
pub(crate) fn measurements(workload: Workload, job: Job, sample: &Sample) -> Vec<Measurement> {
    let secs = sample.elapsed.as_secs_f64().max(1e-9);
    let m = |value| Measurement { workload: workload.name(), unit: workload.unit(), value };
    match workload {
        Workload::RoundTrip | Workload::OneWay64 | Workload::OneWay1K | Workload::FanOut => {
            vec![m(sample.count as f64 / secs)]
        }
        Workload::Large => vec![m((job.n * job.size) as f64 / secs / 1e6)],
        Workload::Udp => {
            let span = sample.span_us.unwrap_or(0).max(1) as f64 / 1e6;
            let loss = 100.0 * (sample.sent.saturating_sub(sample.count)) as f64 / sample.sent.max(1) as f64;
            vec![
                m(sample.count as f64 / span),
                Measurement { workload: "udp-64B-loss", unit: "%", value: loss },
            ]
        }
        Workload::Latency => match sample.latency {
            Some(l) => vec![
                Measurement { workload: "latency-p50", unit: "us", value: l.p50 },
                Measurement { workload: "latency-p99", unit: "us", value: l.p99 },
                Measurement { workload: "latency-p999", unit: "us", value: l.p999 },
            ],
            None => vec![],
        },
        Workload::Idle => vec![],
    }
}

/// Adds a measurement to its record.
pub(crate) fn push(records: &mut Vec<Record>, lane: Lane, transport: Transport, m: &Measurement) {
    match records.iter_mut().find(|r| r.lane == lane && r.transport == transport && r.workload == m.workload)
    {
        Some(r) => r.values.push(m.value),
        None => records.push(Record {
            lane,
            workload: m.workload,
            transport,
            unit: m.unit,
            values: vec![m.value],
        }),
    }
}

/// A number for machines: no grouping, a few decimals when small.
pub(crate) fn plain(v: f64) -> String {
    if !v.is_finite() {
        "nan".to_owned()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// A number for people: 1.23M, 45.6k, 7.89.
fn human(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn ratio(v: f64) -> String {
    if !v.is_finite() {
        "-".to_owned()
    } else if v >= 10.0 {
        format!("{v:.1}x")
    } else {
        format!("{v:.2}x")
    }
}

/// Where and when the run happened.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) date: String,
    pub(crate) commit: String,
    pub(crate) cpu: String,
    pub(crate) load_start: String,
    pub(crate) load_end: String,
    pub(crate) nofile: u64,
    pub(crate) mode: String,
    pub(crate) reps: usize,
}

/// A goal of the performance issue, as the harness checks it: `lane`'s
/// median, alone or over another lane's.
struct Goal {
    text: &'static str,
    lane: Lane,
    workload: &'static str,
    transports: &'static [Transport],
    check: GoalCheck,
}

enum GoalCheck {
    /// lane / other at least this.
    RatioAtLeast(Lane, f64),
    /// lane / other at most this (lower is better).
    RatioAtMost(Lane, f64),
    /// lane at least this.
    AtLeast(f64),
    /// lane at most this.
    AtMost(f64),
}

const UNIX_TCP: &[Transport] = &[Transport::Unix, Transport::Tcp];

const GOALS: &[Goal] = &[
    Goal {
        text: "compat/ours rt-64B >= 0.8",
        lane: Lane::Compat,
        workload: "rt-64B",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Ours, 0.8),
    },
    Goal {
        text: "compat/ours oneway-64B >= 0.8",
        lane: Lane::Compat,
        workload: "oneway-64B",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Ours, 0.8),
    },
    Goal {
        text: "compat/ours oneway-1KiB >= 0.8",
        lane: Lane::Compat,
        workload: "oneway-1KiB",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Ours, 0.8),
    },
    Goal {
        text: "compat/ours large-1MiB >= 0.8",
        lane: Lane::Compat,
        workload: "large-1MiB",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Ours, 0.8),
    },
    Goal {
        text: "compat/ours fanout >= 0.8",
        lane: Lane::Compat,
        workload: "fanout",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Ours, 0.8),
    },
    Goal {
        text: "latency p50 ours <= 1.1 x tokio-floor",
        lane: Lane::Ours,
        workload: "latency-p50",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtMost(Lane::TokioFloor, 1.1),
    },
    Goal {
        text: "latency p50 compat <= 1.2 x tokio-floor",
        lane: Lane::Compat,
        workload: "latency-p50",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtMost(Lane::TokioFloor, 1.2),
    },
    Goal {
        text: "(stretch) latency p50 ours <= official",
        lane: Lane::Ours,
        workload: "latency-p50",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtMost(Lane::Official, 1.0),
    },
    Goal {
        text: "idle ours <= 2 KiB/conn",
        lane: Lane::Ours,
        workload: "idle",
        transports: UNIX_TCP,
        check: GoalCheck::AtMost(2.0),
    },
    Goal {
        text: "idle compat <= 2 KiB/conn",
        lane: Lane::Compat,
        workload: "idle",
        transports: UNIX_TCP,
        check: GoalCheck::AtMost(2.0),
    },
    Goal {
        text: "one-way 64 B ours >= 6M events/s",
        lane: Lane::Ours,
        workload: "oneway-64B",
        transports: &[Transport::Unix],
        check: GoalCheck::AtLeast(6_000_000.0),
    },
    Goal {
        text: "rt-64B ours/floor >= 0.5",
        lane: Lane::Ours,
        workload: "rt-64B",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Floor, 0.5),
    },
    Goal {
        text: "large-1MiB ours/floor >= 0.5",
        lane: Lane::Ours,
        workload: "large-1MiB",
        transports: UNIX_TCP,
        check: GoalCheck::RatioAtLeast(Lane::Floor, 0.5),
    },
    Goal {
        text: "udp loss compat <= 2 x ours",
        lane: Lane::Compat,
        workload: "udp-64B-loss",
        transports: &[Transport::Udp],
        check: GoalCheck::RatioAtMost(Lane::Ours, 2.0),
    },
];

/// Everything a run produced.
#[derive(Debug)]
pub(crate) struct Summary {
    machine: Machine,
    lanes: Vec<Lane>,
    gaps: Vec<(Lane, String)>,
    records: Vec<Record>,
    elapsed: Duration,
}

impl Summary {
    pub(crate) fn new(
        machine: Machine,
        lanes: &[Lane],
        gaps: Vec<(Lane, String)>,
        records: Vec<Record>,
        elapsed: Duration,
    ) -> Summary {
        Summary { machine, lanes: lanes.to_vec(), gaps, records, elapsed }
    }

    fn get(&self, lane: Lane, workload: &str, transport: Transport) -> f64 {
        self.records
            .iter()
            .find(|r| r.lane == lane && r.workload == workload && r.transport == transport)
            .map_or(f64::NAN, Record::median)
    }

    /// (workload, transport, unit) in the order measured.
    fn rows(&self) -> Vec<(&'static str, Transport, &'static str)> {
        let mut rows = Vec::new();
        for r in &self.records {
            let key = (r.workload, r.transport, r.unit);
            if !rows.contains(&key) {
                rows.push(key);
            }
        }
        rows
    }

    /// ours / other, or NaN where the quotient says nothing: a
    /// lower-is-better figure near zero (the floor's idle memory, no loss).
    fn ratio(&self, ours: f64, other: f64, unit: &str) -> f64 {
        if lower_is_better(unit) && (other < 0.1 || ours < 0.1) {
            f64::NAN
        } else {
            ours / other
        }
    }

    fn others(&self) -> Vec<Lane> {
        self.lanes.iter().copied().filter(|l| *l != Lane::Ours).collect()
    }

    /// The table, the goals and the gaps, for people.
    pub(crate) fn print(&self) {
        print!("{}", self.table());
        println!();
        print!("{}", self.goals());
        for (lane, why) in &self.gaps {
            println!("gap: lane {} {why}", lane.name());
        }
        println!(
            "\n{} | commit {} | {} | load {} -> {} | {} mode, {} repetitions, medians | {:.0} s",
            self.machine.date,
            self.machine.commit,
            self.machine.cpu,
            self.machine.load_start,
            self.machine.load_end,
            self.machine.mode,
            self.machine.reps,
            self.elapsed.as_secs_f64()
        );
    }

    /// A Markdown table: medians, then ours / each other lane.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let mut header = vec!["workload".to_owned(), "transport".to_owned(), "unit".to_owned()];
        header.extend(self.lanes.iter().map(|l| l.name().to_owned()));
        header.extend(self.others().iter().map(|l| format!("ours/{}", l.name())));
        let mut rows = vec![header];
        for (workload, transport, unit) in self.rows() {
            let unit_label =
                if lower_is_better(unit) { format!("{unit} (lower is better)") } else { unit.to_owned() };
            let mut row = vec![workload.to_owned(), transport.name().to_owned(), unit_label];
            let ours = self.get(Lane::Ours, workload, transport);
            for lane in &self.lanes {
                row.push(human(self.get(*lane, workload, transport)));
            }
            for lane in self.others() {
                row.push(ratio(self.ratio(ours, self.get(lane, workload, transport), unit)));
            }
            rows.push(row);
        }
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c < 3 {
                        format!("{cell:<w$}", w = widths[c])
                    } else {
                        format!("{cell:>w$}", w = widths[c])
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
            if i == 0 {
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(c, w)| if c < 3 { "-".repeat(*w) } else { format!("{}:", "-".repeat(w - 1)) })
                    .collect();
                let _ = writeln!(out, "| {} |", rule.join(" | "));
            }
        }
        out
    }

    /// The goals of the issue: met, missed (by how much), or not measured.
    pub(crate) fn goals(&self) -> String {
        let mut out = String::from("goals (medians of this run):\n");
        for goal in GOALS {
            for &t in goal.transports {
                let value = self.get(goal.lane, goal.workload, t);
                let (figure, met, shown, target) = match goal.check {
                    GoalCheck::RatioAtLeast(other, min) | GoalCheck::RatioAtMost(other, min) => {
                        let r = value / self.get(other, goal.workload, t);
                        let at_most = matches!(goal.check, GoalCheck::RatioAtMost(..));
                        // A loss of zero against zero is met.
                        let r = if at_most && value == 0.0 { 0.0 } else { r };
                        let met = if at_most { r <= min } else { r >= min };
                        let shown = format!("{}/{} = {}", goal.lane.name(), other.name(), ratio(r));
                        (r, met, shown, min)
                    }
                    GoalCheck::AtLeast(min) => (value, value >= min, human(value), min),
                    GoalCheck::AtMost(max) => (value, value <= max, human(value), max),
                };
                let lower = matches!(goal.check, GoalCheck::AtMost(_) | GoalCheck::RatioAtMost(..));
                let verdict = if !figure.is_finite() {
                    "not measured".to_owned()
                } else if met {
                    "met".to_owned()
                } else {
                    let share = if lower { target / figure } else { figure / target };
                    format!("MISSED ({:.0}% of the goal)", 100.0 * share)
                };
                let _ = writeln!(out, "  {:<40} {:<5} {:<30} {verdict}", goal.text, t.name(), shown);
            }
        }
        out
    }

    /// `results.json`: the machine, every repetition, medians and ratios.
    pub(crate) fn json(&self) -> String {
        let results: Vec<_> = self
            .records
            .iter()
            .map(|r| {
                json!({
                    "lane": r.lane.name(),
                    "workload": r.workload,
                    "transport": r.transport.name(),
                    "unit": r.unit,
                    "values": r.values,
                    "median": finite(r.median()),
                })
            })
            .collect();
        let mut ratios = Vec::new();
        for (workload, transport, unit) in self.rows() {
            let ours = self.get(Lane::Ours, workload, transport);
            for lane in self.others() {
                let r = self.ratio(ours, self.get(lane, workload, transport), unit);
                if r.is_finite() {
                    ratios.push(json!({
                        "workload": workload, "transport": transport.name(), "unit": unit,
                        "ours_over": lane.name(), "ratio": r,
                    }));
                }
            }
        }
        let m = &self.machine;
        let doc = json!({
            "date": m.date, "commit": m.commit, "cpu": m.cpu,
            "load_start": m.load_start, "load_end": m.load_end, "open_file_limit": m.nofile,
            "mode": m.mode, "repetitions": m.reps, "seconds": self.elapsed.as_secs_f64(),
            "lanes": self.lanes.iter().map(|l| json!({"name": l.name(), "what": l.describe()})).collect::<Vec<_>>(),
            "gaps": self.gaps.iter().map(|(l, why)| json!({"lane": l.name(), "why": why})).collect::<Vec<_>>(),
            "results": results,
            "ratios": ratios,
        });
        serde_json::to_string_pretty(&doc).expect("a Value serializes")
    }

    /// Ours relative to every other lane, per workload and transport, on a log
    /// scale where right of 1 means ours is better.
    pub(crate) fn svg(&self) -> String {
        let others = self.others();
        let colors = ["#555555", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"];
        let rows = self.rows();
        let (label_w, plot_w, bar_h, gap) = (190.0, 560.0, 9.0, 8.0);
        let group_h = bar_h * others.len() as f64 + gap;
        let top = 56.0;
        let height = top + group_h * rows.len() as f64 + 40.0;
        let width = label_w + plot_w + 40.0;
        let decades = 4.0; // 0.01x .. 100x
        let x_of = |r: f64| label_w + plot_w / 2.0 + r.clamp(0.01, 100.0).log10() * plot_w / decades;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="10" y="18" font-size="13" font-weight="bold">ipc-bench: ours relative to each lane (log scale, right of 1x = ours better)</text>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="10" y="34">{} | {} | {} | {} mode, medians of {}</text>"#,
            esc(&self.machine.date),
            esc(&self.machine.commit),
            esc(&self.machine.cpu),
            esc(&self.machine.mode),
            self.machine.reps
        );
        for (i, lane) in others.iter().enumerate() {
            let x = label_w + i as f64 * 95.0;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="41" width="10" height="10" fill="{}"/><text x="{}" y="50">vs {}</text>"#,
                colors[i % colors.len()],
                x + 14.0,
                lane.name()
            );
        }
        for tick in [0.01, 0.1, 1.0, 10.0, 100.0] {
            let x = x_of(tick);
            let stroke = if tick == 1.0 { "#000" } else { "#ccc" };
            let _ = writeln!(
                s,
                r#"<line x1="{x}" y1="{top}" x2="{x}" y2="{}" stroke="{stroke}"/><text x="{x}" y="{}" text-anchor="middle">{tick}x</text>"#,
                height - 30.0,
                height - 16.0
            );
        }
        for (row, (workload, transport, unit)) in rows.iter().enumerate() {
            let y0 = top + row as f64 * group_h;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{workload} {} ({})</text>"#,
                label_w - 6.0,
                y0 + group_h / 2.0,
                transport.name(),
                esc(unit)
            );
            let ours = self.get(Lane::Ours, workload, *transport);
            for (i, lane) in others.iter().enumerate() {
                let other = self.get(*lane, workload, *transport);
                // Oriented so that right of 1x is better for ours; none where the quotient says nothing.
                let q = self.ratio(ours, other, unit);
                let r = if lower_is_better(unit) { 1.0 / q } else { q };
                if !r.is_finite() || r <= 0.0 {
                    continue;
                }
                let (a, b) = (x_of(1.0), x_of(r));
                let y = y0 + i as f64 * bar_h;
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>ours vs {}: {}</title></rect>"#,
                    a.min(b),
                    (b - a).abs().max(1.0),
                    bar_h - 1.0,
                    colors[i % colors.len()],
                    lane.name(),
                    ratio(r)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
