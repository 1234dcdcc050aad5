//! The execute worker: bound for life to one set of executor parameters, it keeps deserialised
//! artifacts between jobs (a least-recently-used cache bounded by artifact bytes) and runs
//! each `validate_block` in a fresh, sandboxed job process.
//!
//! Per request: load the artifact only if its checksum is not cached (verifying the checksum
//! on load), decompress the PoV with the 40 MiB bomb limit (a failure is answered without a job),
//! then fork or clone a job that instantiates the cached module and calls `validate_block` on
//! a thread with `StackNativeMax` of stack, under the CPU-time limit.

use crate::{
    ExecuteJobFn, WorkerBodies, WorkerError, connect_and_sandbox,
    execute::{LoadError, LoadedArtifact, execute_stack_size, load_artifact},
    job,
    threads::ThreadCheck,
};
use pvf_common::{
    JobFailure, PrepareError,
    byte_lru::ByteLru,
    engine::{self, Semantics},
    execute::{
        BlockData, ExecuteHandshake, ExecuteRequest, InternalValidationError, JobError,
        JobResponse, POV_BOMB_LIMIT, ValidationParams, WorkerResponse,
    },
    framing,
    prepare::ArtifactChecksum,
    wire_names::ARTIFACT_FILE_NAME,
};
use std::{io, os::fd::AsRawFd, path::Path};

/// Runs an execute worker until the host hangs up (`Ok`) or something breaks (`Err`).
pub fn run_execute_worker(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
) -> Result<(), WorkerError> {
    run_execute_worker_with(
        socket_path,
        worker_dir,
        node_version,
        WorkerBodies::PRODUCTION,
    )
}

/// [`run_execute_worker`] with other bodies. Only the test worker uses this, to add
/// test-only job kinds without compiling them into release binaries; everything around the
/// body (artifact loading, PoV decompression, the sandboxed job process) stays the production
/// code.
pub fn run_execute_worker_with(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
    bodies: WorkerBodies,
) -> Result<(), WorkerError> {
    let started = connect_and_sandbox(
        socket_path,
        worker_dir,
        node_version,
        pvf_security::WorkerKind::Execute,
        &bodies,
    )?;
    let (mut stream, sandbox, mut thread_check) =
        (started.stream, started.sandbox, started.thread_check);
    let handshake: ExecuteHandshake =
        framing::recv_blocking(&mut stream, framing::MAX_REPLY_FRAME_LEN)?;
    let semantics = Semantics::from_executor_params(&handshake.executor_params);
    let engine = engine::new_engine(&semantics).map_err(io::Error::other)?;
    let artifact_path = sandbox.worker_dir.join(ARTIFACT_FILE_NAME);
    // Cloned jobs then run `validate_block` on their main thread: starting a thread with that
    // stack cost each job about 0.1 ms.
    if let Err(e) = pvf_security::clone::reserve_job_stack(execute_stack_size(&semantics)) {
        tracing::warn!(target: pvf_common::LOG_TARGET, %e, "cannot reserve the jobs' stack; each job starts a thread for it");
    }
    let mut cache = ModuleCache::new(handshake.module_cache_bytes.unwrap_or(0));
    loop {
        let request: ExecuteRequest =
            match framing::recv_blocking(&mut stream, framing::MAX_REQUEST_FRAME_LEN) {
                Ok(request) => request,
                Err(framing::FrameError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
        let worker = ExecuteWorker {
            engine: &engine,
            semantics: &semantics,
            artifact_path: &artifact_path,
            sandbox: &sandbox,
            host_socket: stream.as_raw_fd(),
            pvf_logging: handshake.pvf_logging,
            job_fn: bodies.execute_job,
        };
        let response = worker.execute_one(&request, &mut cache, &mut thread_check);
        if handshake.module_cache_bytes.is_none() {
            cache.clear();
        }
        framing::send_blocking(&mut stream, &response)?;
    }
}

fn job_response(job_response: JobResponse) -> WorkerResponse {
    WorkerResponse::Job {
        job_response,
        duration: std::time::Duration::ZERO,
        pov_size: 0,
        max_rss_kib: None,
        module_was_cached: false,
    }
}

/// Deserialised artifacts by checksum, least recently used out first past the byte budget;
/// the one used last is always kept.
type ModuleCache = ByteLru<ArtifactChecksum, LoadedArtifact>;

/// What every execution of this worker shares.
struct ExecuteWorker<'a> {
    engine: &'a wasmtime::Engine,
    semantics: &'a Semantics,
    artifact_path: &'a Path,
    sandbox: &'a pvf_security::AppliedSandbox,
    host_socket: i32,
    pvf_logging: bool,
    job_fn: ExecuteJobFn,
}

impl ExecuteWorker<'_> {
    fn execute_one(
        &self,
        request: &ExecuteRequest,
        cache: &mut ModuleCache,
        thread_check: &mut ThreadCheck,
    ) -> WorkerResponse {
        let (engine, semantics, artifact_path, sandbox) = (
            self.engine,
            self.semantics,
            self.artifact_path,
            self.sandbox,
        );
        let (host_socket, pvf_logging) = (self.host_socket, self.pvf_logging);
        let module_was_cached = cache.get(&request.artifact_checksum).is_some();
        if !module_was_cached {
            let bytes = match std::fs::read(artifact_path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    return WorkerResponse::InternalError(
                        InternalValidationError::CouldNotOpenFile(format!(
                            "{}: {e}",
                            artifact_path.display()
                        )),
                    );
                }
            };
            match load_artifact(
                engine,
                &bytes,
                request.artifact_checksum,
                semantics.host_functions,
            ) {
                Ok(loaded) => {
                    cache.insert(request.artifact_checksum, bytes.len() as u64, loaded);
                }
                Err(LoadError::Corrupted) => return job_response(JobResponse::CorruptedArtifact),
                Err(LoadError::Deserialize(e)) => {
                    return job_response(JobResponse::RuntimeConstruction(e));
                }
            }
        }
        let Some(artifact) = cache.get(&request.artifact_checksum) else {
            return WorkerResponse::InternalError(InternalValidationError::CouldNotOpenFile(
                "artifact not loaded".into(),
            ));
        };
        let block_data =
            match pvf_common::blob::decompress(&request.pov.block_data.0, POV_BOMB_LIMIT) {
                Ok(data) => data.into_owned(),
                Err(_) => return job_response(JobResponse::PoVDecompressionFailure),
            };
        let pov_size = block_data.len() as u32;
        let params = ValidationParams {
            parent_head: request.pvd.parent_head.clone(),
            block_data: BlockData(block_data),
            relay_parent_number: request.pvd.relay_parent_number,
            relay_parent_storage_root: request.pvd.relay_parent_storage_root,
            // Encoded after the four fields (a V3 candidate's), as the reference appends it.
            extension: request.params_extension,
        };
        let report = job::run_in_child(
            thread_check,
            sandbox.job_spawn,
            request.execution_timeout,
            framing::max_execute_reply_frame_len(semantics.max_memory_pages),
            Some(host_socket),
            |_| (self.job_fn)(engine, artifact, semantics, &params, pvf_logging),
        );
        match report.result {
            Ok(Ok(job_response)) => WorkerResponse::Job {
                job_response,
                duration: report.cpu_time,
                pov_size,
                max_rss_kib: report.max_rss_kib,
                module_was_cached,
            },
            Ok(Err(e)) => WorkerResponse::JobError(JobError::Panic(e)),
            Err(failure) => worker_response(failure),
        }
    }
}

/// The answer to the host for an execute job that produced no result of its own.
fn worker_response(failure: JobFailure) -> WorkerResponse {
    match failure {
        JobFailure::TimedOut => WorkerResponse::JobTimedOut,
        JobFailure::Died { err, job_pid } => WorkerResponse::JobDied { err, job_pid },
        JobFailure::Kernel(e) => WorkerResponse::InternalError(InternalValidationError::Kernel(e)),
        JobFailure::NoValidAnswer(e) => WorkerResponse::JobError(JobError::Panic(e)),
        // The execute job tracks no memory; should it ever report this, the host sees the
        // words it saw before `JobFailure` existed.
        JobFailure::OutOfMemory => {
            WorkerResponse::JobError(JobError::Panic(PrepareError::OutOfMemory.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_failures_become_the_worker_responses_they_always_were() {
        let s = || "x".to_string();
        let cases = [
            (JobFailure::TimedOut, WorkerResponse::JobTimedOut),
            (
                JobFailure::Died {
                    err: s(),
                    job_pid: 3,
                },
                WorkerResponse::JobDied {
                    err: s(),
                    job_pid: 3,
                },
            ),
            (
                JobFailure::Kernel(s()),
                WorkerResponse::InternalError(InternalValidationError::Kernel(s())),
            ),
            (
                JobFailure::NoValidAnswer(s()),
                WorkerResponse::JobError(JobError::Panic(s())),
            ),
            (
                JobFailure::OutOfMemory,
                WorkerResponse::JobError(JobError::Panic("prepare: out of memory".into())),
            ),
        ];
        for (failure, response) in cases {
            assert_eq!(worker_response(failure), response);
        }
    }
}
