//! The PVF worker process, in two flavours that start alike: check the version, connect to
//! the host, read the handshake, clear the environment, apply the sandbox, then serve one
//! request at a time until the host hangs up.
//!
//! - Prepare ([`run_prepare_worker`], here; the job body in [`prepare`]): compiles a PVF per
//!   request and writes the artifact to the file the host created for it.
//! - Execute ([`execute_worker`]; the job body in [`execute`]): bound for life to one set of
//!   executor parameters, keeps the loaded artifact between requests and runs
//!   `validate_block` per request.
//!
//! Either way the work itself runs in a job process, forked or cloned afresh per request
//! ([`job`]), under a CPU-time limit, answering through a pipe; the worker never parses a PVF
//! itself. [`entrypoint`] turns command-line arguments into one of the two.
//!
//! The worker must stay single-threaded: `fork` keeps only the calling thread, and unsharing a
//! user namespace requires a single-threaded process. [`threads`] checks it before every job.

pub mod cpu_monitor;
pub mod entrypoint;
pub mod execute;
pub mod execute_worker;
pub mod host_functions;
pub mod job;
pub mod memory;
pub mod prepare;
pub mod threads;

use pvf_common::{
    JobFailure, LOG_TARGET, PrepareError, PrepareJobKind, PrepareStats, PrepareWorkerResult,
    PrepareWorkerSuccess, PvfPrepData, WORKER_ENV_KEEP, WorkerHandshake,
    engine::CompilationThreads, framing, prepare::ArtifactChecksum,
    wire_names::TMP_ARTIFACT_FILE_NAME,
};
use std::{
    io,
    os::{fd::AsRawFd, unix::net::UnixStream},
    path::{Path, PathBuf},
};
use threads::ThreadCheck;

/// This worker's version, with the build id ([`pvf_common::BUILD_VERSION`]); the host passes
/// the version it expects and they must match.
pub const WORKER_VERSION: &str = pvf_common::BUILD_VERSION;

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The host expects another version: the binaries were replaced (an upgrade in place)
    /// while the node ran, or the workers path points at another build.
    #[error(
        "worker version {worker} does not match the version the node expects, {node}; restart the node so it runs matching workers"
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
    &execute::LoadedArtifact,
    &pvf_common::engine::Semantics,
    &pvf_common::execute::ValidationParams,
    bool,
) -> Result<pvf_common::execute::JobResponse, String>;

/// What a worker runs besides its fixed machinery: the job bodies and a start-up hook. Only
/// the test worker passes anything but [`WorkerBodies::PRODUCTION`], so release binaries never
/// contain its test-only code.
#[derive(Clone, Copy, Debug)]
pub struct WorkerBodies {
    /// The body of every prepare job.
    pub prepare_job: PrepareJobFn,
    /// The body of every execute job.
    pub execute_job: ExecuteJobFn,
    /// Runs once in the worker, sandboxed, before its first job. The test worker starts a
    /// thread here to exercise the single-thread check.
    pub before_first_job: fn(),
    /// The version this worker reports and checks: [`WORKER_VERSION`], except in the test
    /// worker that poses as another build.
    pub version: &'static str,
}

impl WorkerBodies {
    /// Compilation, `validate_block`, and no start-up hook.
    pub const PRODUCTION: Self = Self {
        prepare_job: prepare::compile_job,
        execute_job: execute::validate_block_on_big_stack,
        before_first_job: || {},
        version: WORKER_VERSION,
    };
}

/// Runs a prepare worker until the host hangs up (`Ok`) or something breaks (`Err`).
pub fn run_prepare_worker(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
) -> Result<(), WorkerError> {
    run_prepare_worker_with(
        socket_path,
        worker_dir,
        node_version,
        WorkerBodies::PRODUCTION,
    )
}

/// [`run_prepare_worker`] with other bodies. Only the test worker uses this, to add
/// test-only job kinds without compiling them into release binaries.
pub fn run_prepare_worker_with(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
    bodies: WorkerBodies,
) -> Result<(), WorkerError> {
    let mut worker = connect_and_sandbox(
        socket_path,
        worker_dir,
        node_version,
        pvf_security::WorkerKind::Prepare,
        &bodies,
    )?;
    let stream = &mut worker.stream;
    loop {
        let pvf: PvfPrepData = match framing::recv_blocking(stream, framing::MAX_REQUEST_FRAME_LEN)
        {
            Ok(pvf) => pvf,
            Err(framing::FrameError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let threads = match pvf.prep_kind() {
            PrepareJobKind::Compilation if worker.handshake.parallel_compilation => {
                CompilationThreads::AllCores
            }
            _ => CompilationThreads::One,
        };
        let host_socket = stream.as_raw_fd();
        let result = prepare_one(
            &pvf,
            threads,
            &worker.sandbox,
            &mut worker.thread_check,
            host_socket,
            bodies.prepare_job,
        );
        framing::send_blocking(stream, &result)?;
    }
}

/// A worker after [`connect_and_sandbox`], ready for its first job.
pub(crate) struct Started {
    /// The connection to the host.
    pub stream: UnixStream,
    /// The sandbox as applied.
    pub sandbox: pvf_security::AppliedSandbox,
    /// The host's handshake.
    pub handshake: WorkerHandshake,
    /// Opened before the sandbox, checked before every job.
    pub thread_check: ThreadCheck,
}

/// The common start of every worker: version check, connect, handshake, clean environment,
/// sandbox, then the `before_first_job` hook.
pub(crate) fn connect_and_sandbox(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
    kind: pvf_security::WorkerKind,
    bodies: &WorkerBodies,
) -> Result<Started, WorkerError> {
    if let Some(node) = node_version
        && node != bodies.version
    {
        return Err(WorkerError::VersionMismatch {
            node: node.into(),
            worker: bodies.version.into(),
        });
    }
    let mut stream = UnixStream::connect(socket_path)?;
    let _ = std::fs::remove_file(socket_path);
    let handshake: WorkerHandshake =
        framing::recv_blocking(&mut stream, framing::MAX_REPLY_FRAME_LEN)?;
    clear_environment();
    // Before the sandbox, which hides `/proc`.
    let thread_check = ThreadCheck::open();
    let sandbox =
        pvf_security::apply_before_first_job(&handshake.security_status, kind, worker_dir)?;
    (bodies.before_first_job)();
    tracing::debug!(target: LOG_TARGET, ?worker_dir, ?sandbox, ?kind, "worker ready");
    Ok(Started {
        stream,
        sandbox,
        handshake,
        thread_check,
    })
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
    thread_check: &mut ThreadCheck,
    host_socket: i32,
    job_fn: PrepareJobFn,
) -> PrepareWorkerResult {
    let report = job::run_in_child(
        thread_check,
        sandbox.job_spawn,
        pvf.prep_timeout(),
        framing::MAX_JOB_REPLY_FRAME_LEN,
        Some(host_socket),
        |reply_fd| job_fn(pvf, threads, reply_fd),
    );
    let compiled = report.result.map_err(prepare_error)??;
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

/// The prepare verdict for a job that produced no result of its own.
fn prepare_error(failure: JobFailure) -> PrepareError {
    match failure {
        JobFailure::TimedOut => PrepareError::TimedOut,
        JobFailure::OutOfMemory => PrepareError::OutOfMemory,
        JobFailure::NoValidAnswer(msg) => PrepareError::JobError(msg),
        JobFailure::Died { err, job_pid } => PrepareError::JobDied { err, job_pid },
        JobFailure::Kernel(msg) => PrepareError::Kernel(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_failures_become_the_prepare_verdicts_they_always_were() {
        let s = || "x".to_string();
        let cases = [
            (JobFailure::TimedOut, PrepareError::TimedOut),
            (JobFailure::OutOfMemory, PrepareError::OutOfMemory),
            (JobFailure::NoValidAnswer(s()), PrepareError::JobError(s())),
            (
                JobFailure::Died {
                    err: s(),
                    job_pid: 3,
                },
                PrepareError::JobDied {
                    err: s(),
                    job_pid: 3,
                },
            ),
            (JobFailure::Kernel(s()), PrepareError::Kernel(s())),
        ];
        for (failure, verdict) in cases {
            assert_eq!(prepare_error(failure), verdict);
        }
    }
}
