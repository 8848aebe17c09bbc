//! [`Lane`]: the contenders, with their names and what each can run.

use super::common::Transport;

/// A contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Lane {
    /// Raw bytes, blocking std sockets, no JSON work.
    Floor,
    /// Raw bytes on tokio, no JSON work: the reactor's floor.
    TokioFloor,
    /// Ours through `Framed` + `JsonCodec`.
    Ours,
    /// Ours through `ipc-compat` (node-ipc's API).
    Compat,
    /// Ours through `ipc-compat` with acknowledged delivery on at both ends.
    Acked,
    /// The official `node-ipc` crate 14.0.0.
    Official,
    /// tokio + `AnyDelimiterCodec` + `serde_json::Value`, a program of its
    /// own (`benches/baseline/`) with serde_json's default features.
    Baseline,
    /// node-ipc 14.0.0 on Node 22.
    Node14,
    /// node-ipc 9.2.1 on Node 20.
    Node9,
}

impl Lane {
    pub(crate) const ALL: [Lane; 9] = [
        Lane::Floor,
        Lane::TokioFloor,
        Lane::Ours,
        Lane::Compat,
        Lane::Acked,
        Lane::Official,
        Lane::Baseline,
        Lane::Node14,
        Lane::Node9,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Lane::Floor => "floor",
            Lane::TokioFloor => "tokio-floor",
            Lane::Ours => "ours",
            Lane::Compat => "compat",
            Lane::Acked => "acked",
            Lane::Official => "official",
            Lane::Baseline => "baseline",
            Lane::Node14 => "node14",
            Lane::Node9 => "node9",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Lane::Floor => "raw floor: same bytes, no JSON, blocking std sockets, batched reads/writes",
            Lane::TokioFloor => {
                "the reactor's floor: the raw floor's design on tokio (a task per connection)"
            }
            Lane::Ours => "ours: ipc-transport + Framed + JsonCodec (feed, then one flush)",
            Lane::Compat => "ours through ipc-compat (node-ipc's API)",
            Lane::Acked => "ipc-compat with acknowledged delivery on (numbered events, batched acks, replay buffer)",
            Lane::Official => "official node-ipc crate 14.0.0 (blocking, thread per connection)",
            Lane::Baseline => {
                "tokio + AnyDelimiterCodec + serde_json::Value, built apart with serde_json's defaults (feed, then one flush)"
            }
            Lane::Node14 => "node-ipc 14.0.0 on Node 22 (server and client)",
            Lane::Node9 => "node-ipc 9.2.1 on Node 20 (server and client)",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|l| l.name() == s)
    }

    pub(crate) fn supports(self, transport: Transport) -> bool {
        match self {
            Lane::Ours | Lane::Compat | Lane::Node14 | Lane::Node9 => true,
            // acks need a connection
            Lane::Acked => transport != Transport::Udp,
            Lane::Floor | Lane::TokioFloor | Lane::Official | Lane::Baseline => transport != Transport::Tls,
        }
    }

    pub(crate) fn is_rust_server(self) -> bool {
        matches!(
            self,
            Lane::Floor | Lane::TokioFloor | Lane::Ours | Lane::Official | Lane::Compat | Lane::Acked
        )
    }
}
