//! `pvf`: the PVF validation host on the command line.
//!
//! - `pvf prepare [FILES…]`: prepare (or `--precheck`) PVFs through the full host with real,
//!   separate worker processes, and print a table of verdicts and costs.
//! - `pvf security`: which sandbox features work here, and why not.
//! - `pvf validate PVF --params …`: one candidate, prepared and executed, as JSON.
//! - `pvf cache list|verify|prune`: the artifact cache's contents, soundness and trimming.
//! - `pvf bench execute`: per-execution overhead, warm module cache on and off.
//! - `pvf worker …`: the binary serves as its own worker (the host starts it this way unless
//!   `--workers-path` names a standalone `pvf-worker`).

mod bench_cmd;
mod cache_cmd;
mod inputs;
mod interrupt;
mod prepare_cmd;
mod security_cmd;
mod table;
mod validate_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;

/// The subcommand under which this binary runs as a worker.
pub const WORKER_SUBCOMMAND: &str = "worker";

#[derive(Parser)]
#[command(
    name = "pvf",
    version,
    about = "PVF validation host: prepare and pre-check parachain validation functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prepare (compile) PVFs through the host with real worker processes.
    Prepare(prepare_cmd::PrepareArgs),
    /// Show which sandbox features work on this machine, and why not.
    Security(security_cmd::SecurityArgs),
    /// Validate one candidate (prepare, then execute) and print the result as JSON.
    Validate(validate_cmd::ValidateArgs),
    /// Inspect, verify or prune an artifact cache dir.
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench_cmd::BenchCommand),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // Worker mode must not touch clap, tracing set-up or threads before the sandbox.
    if args.get(1).map(String::as_str) == Some(WORKER_SUBCOMMAND) {
        return pvf_worker::entrypoint::run(&args[2..]);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match Cli::parse().command {
        Command::Prepare(args) => prepare_cmd::run(args),
        Command::Security(args) => security_cmd::run(args),
        Command::Validate(args) => validate_cmd::run(args),
        Command::Cache(command) => cache_cmd::run(command),
        Command::Bench(command) => bench_cmd::run(command),
    }
}
