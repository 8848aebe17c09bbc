//! What every lane shares: transports, targets, the in-band control protocol
//! and the measurement a client returns.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Errors of the harness: any error, with its message.
pub(crate) type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Event types of the benchmark protocol. Data events carry [`crate::payload`];
/// control events carry small JSON objects.
pub(crate) mod ty {
    /// Round trip: the server sends the event back unchanged.
    pub(crate) const RT: &str = "rt";
    /// One-way: the server counts it.
    pub(crate) const OW: &str = "ow";
    /// End of a one-way run: the server answers [`ACK`] with `{count, us}`.
    pub(crate) const END: &str = "end";
    /// `{count, us}`: events counted since the last `end`, and the microseconds
    /// between the first and the last of them.
    pub(crate) const ACK: &str = "ack";
    /// A fan-out client registers for broadcasts.
    pub(crate) const HELLO: &str = "hello";
    /// Asks for `{connections, registered}`; answered with the same type.
    pub(crate) const STATS: &str = "stats";
    /// `{count, size}`: broadcast `count` [`FAN`] events of `size` bytes to every registered client.
    pub(crate) const FANOUT: &str = "fanout";
    /// A broadcast event.
    pub(crate) const FAN: &str = "fan";
}

/// The frame prefix of an event type in node-ipc's canonical layout.
pub(crate) fn frame_prefix(event_type: &str) -> Vec<u8> {
    format!("{{\"type\":\"{event_type}\"").into_bytes()
}

/// `{"type":<t>,"data":<payload>}` + `\f`, as every node-ipc encoder writes it.
pub(crate) fn frame(event_type: &str, data: &impl serde::Serialize) -> Vec<u8> {
    let mut out = frame_prefix(event_type);
    out.extend_from_slice(b",\"data\":");
    serde_json::to_writer(&mut out, data).expect("serializing to memory");
    out.extend_from_slice(b"}\x0c");
    out
}

/// `count` frames of `event_type` with payloads of `size` bytes, sequence numbers from 0.
pub(crate) fn frames(event_type: &str, size: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (size + 24));
    for seq in 0..count as u64 {
        out.extend_from_slice(&frame(event_type, &crate::payload(size, seq)));
    }
    out
}

/// A socket kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Transport {
    Unix,
    Tcp,
    Tls,
    Udp,
}

impl Transport {
    pub(crate) const ALL: [Transport; 4] = [Transport::Unix, Transport::Tcp, Transport::Tls, Transport::Udp];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Unix => "unix",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Udp => "udp4",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.name() == s || (s == "udp" && *t == Transport::Udp))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a server listens.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr),
    Tls(SocketAddr),
    Udp(SocketAddr),
}

impl Target {
    /// Parses the text after `READY` printed by a server of `transport`: a
    /// socket path, or a port on 127.0.0.1.
    pub(crate) fn from_ready(transport: Transport, text: &str) -> Res<Target> {
        let text = text.trim();
        let port = || -> Res<SocketAddr> {
            // node peers print a JSON object; ours print the bare port or path.
            let port = if text.starts_with('{') {
                let v: serde_json::Value = serde_json::from_str(text)?;
                v["port"].as_u64().ok_or("READY without a port")?
            } else {
                text.parse()?
            };
            Ok(SocketAddr::from(([127, 0, 0, 1], u16::try_from(port)?)))
        };
        Ok(match transport {
            Transport::Unix => {
                let path = if text.starts_with('{') {
                    let v: serde_json::Value = serde_json::from_str(text)?;
                    v["path"].as_str().ok_or("READY without a path")?.to_owned()
                } else {
                    text.to_owned()
                };
                Target::Unix(PathBuf::from(path))
            }
            Transport::Tcp => Target::Tcp(port()?),
            Transport::Tls => Target::Tls(port()?),
            Transport::Udp => Target::Udp(port()?),
        })
    }

    pub(crate) fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Target::Unix(_) => None,
            Target::Tcp(a) | Target::Tls(a) | Target::Udp(a) => Some(*a),
        }
    }
}

/// The PEM files of a throw-away PKI for the TLS lanes: a CA and a server
/// certificate it signed for `localhost`, `127.0.0.1` and `::1` (interop's test
/// PKI, which has client certificates too; the lanes do not use them).
#[derive(Debug)]
pub(crate) struct TlsFiles {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    _pki: interop::Pki,
}

impl TlsFiles {
    pub(crate) fn generate() -> Res<TlsFiles> {
        let pki = interop::Pki::generate()?;
        Ok(TlsFiles {
            ca: pki.ca.clone(),
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            _pki: pki,
        })
    }
}

/// What a client run returns: how long it took and how many events made it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) elapsed: Duration,
    /// Events (or round trips, or deliveries) completed.
    pub(crate) count: u64,
    /// Events sent (UDP: to compute loss).
    pub(crate) sent: u64,
    /// UDP: microseconds between the first and the last event the server received.
    pub(crate) span_us: Option<u64>,
    /// Latency: the percentiles of the round trips' times.
    pub(crate) latency: Option<Latency>,
}

/// Percentiles of round-trip times, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Latency {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
}

impl Latency {
    /// The percentiles of `nanos` (nearest rank); `None` when empty.
    pub(crate) fn of_nanos(mut nanos: Vec<u64>) -> Option<Latency> {
        if nanos.is_empty() {
            return None;
        }
        nanos.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len());
            nanos[rank - 1] as f64 / 1000.0
        };
        Some(Latency { p50: at(0.50), p99: at(0.99), p999: at(0.999) })
    }

    /// A latency run's sample: `nanos` holds each round trip's time.
    pub(crate) fn sample(nanos: Vec<u64>, elapsed: Duration) -> Sample {
        let count = nanos.len() as u64;
        Sample { elapsed, count, sent: count, span_us: None, latency: Latency::of_nanos(nanos) }
    }
}

/// Parameters of one client run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    /// Events (round trips, events per client for fan-out).
    pub(crate) n: usize,
    /// Payload size in bytes.
    pub(crate) size: usize,
    /// Round trips in flight.
    pub(crate) window: usize,
    /// Fan-out clients.
    pub(crate) clients: usize,
    /// UDP: the events per second offered, the same to every lane.
    pub(crate) rate: u64,
}

/// A paced sender's schedule: how many of `n` events are due `elapsed` after
/// the start at `rate` per second. Senders send what is due, then sleep
/// [`PACE_TICK`], so every lane offers the same rate in 1 ms bursts.
pub(crate) fn due(rate: u64, n: usize, elapsed: Duration) -> usize {
    ((elapsed.as_secs_f64() * rate as f64) as usize + 1).min(n)
}

/// The sleep between a paced sender's bursts.
pub(crate) const PACE_TICK: Duration = Duration::from_millis(1);

/// The ack `{count, us}` of a one-way run.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub(crate) struct Ack {
    pub(crate) count: u64,
    #[serde(default)]
    pub(crate) us: u64,
}

/// The answer to `stats`.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub(crate) struct Stats {
    pub(crate) connections: u64,
    pub(crate) registered: u64,
}

/// A fan-out request.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub(crate) struct FanoutReq {
    pub(crate) count: u64,
    pub(crate) size: u64,
}

/// Checks that an ack counted every event sent.
pub(crate) fn check_ack(ack: &Ack, sent: usize) -> Res<()> {
    if ack.count != sent as u64 {
        return Err(format!("the server counted {} events of {sent}", ack.count).into());
    }
    Ok(())
}
