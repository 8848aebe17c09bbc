//! Benchmarks of the node-ipc wire format: criterion micro-benchmarks live in
//! `benches/`; shared workload builders live here.
