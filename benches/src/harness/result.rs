//! The `RESULT` line of a client process (the node-ipc lanes' scripts and the
//! baseline's program): `RESULT {"ms", "count", "sent", "us", "lat"}`, or
//! `ERROR <text>`.

use std::time::{Duration, Instant};

use interop::PeerProcess;

use super::common::{Latency, Res, Sample};

/// Reads lines of `process` until its `RESULT` (or `ERROR`), for at most `timeout`.
pub(crate) fn read_result(process: &mut PeerProcess, what: &str, timeout: Duration) -> Res<Sample> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = process.next_line(left)?;
        if let Some(json) = line.strip_prefix("RESULT ") {
            let v: serde_json::Value = serde_json::from_str(json)?;
            let ms = v["ms"].as_f64().ok_or("RESULT without ms")?;
            return Ok(Sample {
                elapsed: Duration::from_secs_f64(ms / 1000.0),
                count: v["count"].as_u64().unwrap_or(0),
                sent: v["sent"].as_u64().unwrap_or(0),
                span_us: v["us"].as_u64(),
                latency: latency(&v),
            });
        }
        if let Some(error) = line.strip_prefix("ERROR ") {
            return Err(format!("{what}: {error}").into());
        }
    }
}

/// The `lat` percentiles of a `RESULT`, if it has them.
fn latency(result: &serde_json::Value) -> Option<Latency> {
    let lat = result["lat"].as_array()?;
    let at = |i: usize| lat.get(i).and_then(serde_json::Value::as_f64);
    Some(Latency { p50: at(0)?, p99: at(1)?, p999: at(2)? })
}
