//! [`Workload`]: what is measured, its unit, and the transports it runs on.

use super::common::Transport;

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
    /// 64 B round trips one at a time, each timed: p50, p99 and p99.9.
    Latency,
}

impl Workload {
    pub(crate) const ALL: [Workload; 8] = [
        Workload::RoundTrip,
        Workload::OneWay64,
        Workload::OneWay1K,
        Workload::Large,
        Workload::FanOut,
        Workload::Idle,
        Workload::Udp,
        Workload::Latency,
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
            Workload::Latency => "latency",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Workload> {
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
            Workload::Latency => "us",
        }
    }

    pub(crate) fn transports(self) -> &'static [Transport] {
        match self {
            Workload::Idle | Workload::Latency => &[Transport::Unix, Transport::Tcp],
            Workload::Udp => &[Transport::Udp],
            _ => &[Transport::Unix, Transport::Tcp, Transport::Tls],
        }
    }
}
