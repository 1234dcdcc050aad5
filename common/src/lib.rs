//! Types and mechanisms shared by the PVF host and its worker processes.
//!
//! Layout:
//! - [`executor_params`]: the on-chain `ExecutorParams`, their hash and prep-hash;
//! - [`pvf`]: `PvfPrepData`, what the host asks a prepare worker to compile;
//! - [`error`]: `PrepareError`, the verdict vocabulary of preparation;
//! - [`prepare`]: what a prepare worker reports back (stats, checksum);
//! - [`execute`]: validation params/results and the execute request/response;
//! - [`job`]: `JobFailure`, how a job process failed, whatever its kind;
//! - [`handshake`]: the first frame a worker receives, and `SecurityStatus`;
//! - [`framing`]: bounded, length-prefixed SCALE frames (blocking and async);
//! - [`blob`]: decompression of maybe-compressed code with a bomb limit;
//! - [`engine`]: the one wasmtime configuration that prepare and execute share;
//! - [`host_function_signatures`]: the PVF host-function set, as names and signatures;
//! - [`wire_names`]: worker subcommands, flags and worker-dir file names, spelt once.

pub mod blob;
pub mod byte_lru;
pub mod engine;
pub mod error;
pub mod execute;
pub mod executor_params;
pub mod framing;
pub mod handshake;
pub mod host_function_signatures;
pub mod job;
pub mod prepare;
pub mod pvf;
pub mod wire_names;

pub use error::{PrecheckResult, PrepareError, PrepareResult, PrepareWorkerResult};
pub use executor_params::{ExecutorParam, ExecutorParams, PvfExecTimeoutKind, PvfPrepKind};
pub use handshake::{SecurityStatus, WorkerHandshake};
pub use job::JobFailure;
pub use prepare::{ArtifactChecksum, MemoryStats, PrepareStats, PrepareWorkerSuccess};
pub use pvf::{PrepareJobKind, PvfPrepData, ValidationCodeHash};

/// Tracing target used by every crate of the PVF host, as in the reference.
pub const LOG_TARGET: &str = "parachain::pvf";

/// The version host and workers compare: the package version and a build id, a digest of
/// the sources of `common`, `security` and `worker` and of `Cargo.lock` (see `build.rs`).
/// Two builds of one package version from different sources never pass for each other; two
/// builds from the same sources (debug and release) do, as their verdicts are the same.
pub const BUILD_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+build.",
    env!("PVF_WORKER_SOURCES_DIGEST")
);

/// The wall-clock allowance for a job is its CPU-time limit times this factor. CPU time is
/// insensitive to load, wall-clock time is not: the reference measured up to 4× slow-down with
/// 32 busy threads on 8 cores.
pub const JOB_TIMEOUT_WALL_CLOCK_FACTOR: u32 = 4;

/// Name of the only environment variable a worker keeps; everything else is cleared.
pub const WORKER_ENV_KEEP: &str = "RUST_LOG";
