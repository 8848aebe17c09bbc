//! `ipc-bench`: our lanes side by side with node-ipc, the official Rust crate
//! and the raw floor. See `BENCHMARKS.md` at the workspace root, or run
//! `ipc-bench --help`.

fn main() -> std::process::ExitCode {
    benches::harness::main()
}
