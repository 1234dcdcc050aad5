//! The PVF worker process.
//!
//! `run_prepare_worker` is the whole life of a prepare worker: connect to the host, read the
//! handshake, check the version, clear the environment, apply the sandbox, then serve jobs
//! until the host hangs up. Each job runs in a forked child (see [`job`]); the worker itself
//! never parses a PVF.
//!
//! The worker must stay single-threaded until it forks: `fork` keeps only the calling thread,
//! and unsharing a user namespace requires a single-threaded process.

pub mod cpu_monitor;
pub mod entrypoint;
pub mod execute;
pub mod execute_worker;
pub mod host_functions;
pub mod job;
pub mod memory;
pub mod prepare;

use pvf_common::{
    LOG_TARGET, PrepareError, PrepareJobKind, PrepareStats, PrepareWorkerResult,
    PrepareWorkerSuccess, PvfPrepData, WORKER_ENV_KEEP, WorkerHandshake,
    engine::CompilationThreads, framing, prepare::ArtifactChecksum,
};
use std::{
    io,
    os::{fd::AsRawFd, unix::net::UnixStream},
    path::{Path, PathBuf},
};

/// Name of the file in the worker dir that the host creates empty and the worker fills with
/// the artifact. The worker never creates files.
pub const TMP_ARTIFACT_FILE_NAME: &str = "tmp-artifact";

/// This worker's version; the host passes its own and they must match.
pub const WORKER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The host runs another version: an in-place upgrade left old workers behind.
    #[error(
        "worker version {worker} does not match the node's {node}; restart the node so it uses matching workers"
    )]
    VersionMismatch {
        /// The node's version.
        node: String,
        /// This worker's version.
        worker: String,
    },
    /// The socket to the host failed.
    #[error("connection to the host failed: {0}")]
    Io(#[from] io::Error),
    /// A frame could not be exchanged with the host.
    #[error("talking to the host failed: {0}")]
    Frame(#[from] framing::FrameError),
    /// The sandbox could not be applied.
    #[error(transparent)]
    Security(#[from] pvf_security::SecurityError),
}

/// The body of a prepare job, run inside the job process: compile (or, in the test worker, a
/// test-only job) on the given threads. Receives the job's reply descriptor for the
/// out-of-memory hook.
pub type PrepareJobFn = fn(
    &PvfPrepData,
    pvf_common::engine::CompilationThreads,
    i32,
) -> Result<prepare::CompiledArtifact, PrepareError>;

/// The body of an execute job, run inside the sandboxed job process: `validate_block` on the
/// worker's cached module with the decompressed parameters and the PVF-logging switch,
/// [`execute::validate_block_on_big_stack`] in production. The test worker passes another body
/// (test-only job kinds) through [`execute_worker::run_execute_worker_with`], so release
/// binaries never contain it. `Err` is a job failure that is not the candidate's fault.
pub type ExecuteJobFn = fn(
    &wasmtime::Engine,
    &wasmtime::Module,
    &pvf_common::engine::Semantics,
    &pvf_common::execute::ValidationParams,
    bool,
) -> Result<pvf_common::execute::JobResponse, String>;

/// Runs a prepare worker until the host hangs up (`Ok`) or something breaks (`Err`).
pub fn run_prepare_worker(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
) -> Result<(), WorkerError> {
    run_prepare_worker_with(socket_path, worker_dir, node_version, prepare::compile_job)
}

/// [`run_prepare_worker`] with another job body. Only the test worker uses this, to add
/// test-only job kinds without compiling them into release binaries.
pub fn run_prepare_worker_with(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
    job_fn: PrepareJobFn,
) -> Result<(), WorkerError> {
    let (mut stream, sandbox, handshake) = connect_and_sandbox(
        socket_path,
        worker_dir,
        node_version,
        pvf_security::WorkerKind::Prepare,
    )?;
    loop {
        let pvf: PvfPrepData =
            match framing::recv_blocking(&mut stream, framing::MAX_REQUEST_FRAME_LEN) {
                Ok(pvf) => pvf,
                Err(framing::FrameError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
        let threads = match pvf.prep_kind() {
            PrepareJobKind::Compilation if handshake.parallel_compilation => {
                CompilationThreads::AllCores
            }
            _ => CompilationThreads::One,
        };
        let result = prepare_one(&pvf, threads, &sandbox, stream.as_raw_fd(), job_fn);
        framing::send_blocking(&mut stream, &result)?;
    }
}

/// The common start of every worker: version check, connect, handshake, clean environment,
/// sandbox. Returns the connection, the sandbox as applied and the handshake.
pub(crate) fn connect_and_sandbox(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
    kind: pvf_security::WorkerKind,
) -> Result<(UnixStream, pvf_security::AppliedSandbox, WorkerHandshake), WorkerError> {
    if let Some(node) = node_version
        && node != WORKER_VERSION
    {
        return Err(WorkerError::VersionMismatch {
            node: node.into(),
            worker: WORKER_VERSION.into(),
        });
    }
    let mut stream = UnixStream::connect(socket_path)?;
    let _ = std::fs::remove_file(socket_path);
    let handshake: WorkerHandshake =
        framing::recv_blocking(&mut stream, framing::MAX_REPLY_FRAME_LEN)?;
    clear_environment();
    let sandbox =
        pvf_security::apply_before_first_job(&handshake.security_status, kind, worker_dir)?;
    tracing::debug!(target: LOG_TARGET, ?worker_dir, ?sandbox, ?kind, "worker ready");
    Ok((stream, sandbox, handshake))
}

/// Removes every environment variable but `RUST_LOG`: the host already spawns us with a clean
/// environment, and a job must not see secrets or entropy from it.
fn clear_environment() {
    let names: Vec<_> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k != WORKER_ENV_KEEP)
        .collect();
    for name in names {
        // SAFETY: the worker is single-threaded here (no thread has been spawned yet).
        unsafe { std::env::remove_var(name) };
    }
}

fn prepare_one(
    pvf: &PvfPrepData,
    threads: CompilationThreads,
    sandbox: &pvf_security::AppliedSandbox,
    host_socket: i32,
    job_fn: PrepareJobFn,
) -> PrepareWorkerResult {
    let report = job::run_in_child(
        sandbox.job_spawn,
        pvf.prep_timeout(),
        &[host_socket],
        |reply_fd| job_fn(pvf, threads, reply_fd),
    );
    let compiled = report.result?;
    let tmp: PathBuf = sandbox.worker_dir.join(TMP_ARTIFACT_FILE_NAME);
    // The host created the file; opening without `create` keeps the worker's rights minimal.
    let write = || -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&tmp)?;
        // No fsync: a torn file is caught by the checksum, which every load verifies.
        io::Write::write_all(&mut file, &compiled.bytes)
    };
    write().map_err(|e| PrepareError::IoErr(format!("cannot write {}: {e}", tmp.display())))?;
    Ok(PrepareWorkerSuccess {
        checksum: ArtifactChecksum::of(&compiled.bytes),
        stats: PrepareStats {
            cpu_time_elapsed: report.cpu_time,
            memory_stats: compiled.memory_stats,
            observed_wasm_code_len: compiled.observed_wasm_code_len,
        },
    })
}
