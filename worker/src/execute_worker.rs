//! The execute worker: bound for life to one set of executor parameters, it keeps deserialised
//! artifacts between jobs (a least-recently-used cache bounded by artifact bytes) and runs
//! each `validate_block` in a fresh, sandboxed job process.
//!
//! Per request: load the artifact only if its checksum is not cached (verifying the checksum
//! on load), decompress the PoV with the 40 MiB bomb limit (a failure is answered without a job),
//! then run a job that instantiates the cached module and calls `validate_block` on a thread
//! with `StackNativeMax` of stack, under the CPU-time limit. The job was cloned after the last
//! answer, while the worker waited (see [`crate::prespawned_job`]), when its module was already
//! cached; otherwise it is forked or cloned now.

use crate::{
    ExecuteJobFn, WorkerBodies, WorkerError, connect_and_sandbox,
    execute::{LoadError, LoadedArtifact, load_artifact},
    job,
    prespawned_job::{self, PrespawnedJob},
    threads::ThreadCheck,
};
use parity_scale_codec::Encode;
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
    let mut cache = ModuleCache::new(handshake.module_cache_bytes.unwrap_or(0));
    let mut ready_job: Option<ReadyJob> = None;
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
            // Without a cache the next job could serve nothing.
            prespawn_jobs: handshake.prespawn_jobs && handshake.module_cache_bytes.is_some(),
        };
        let (response, next_job) =
            worker.execute_one(&request, &mut cache, &mut thread_check, ready_job.take());
        if handshake.module_cache_bytes.is_none() {
            cache.clear();
        }
        framing::send_blocking(&mut stream, &response)?;
        // No job ran (the PoV or the artifact was refused): clone the next one now.
        ready_job = next_job.or_else(|| {
            (worker.prespawn_jobs && !cache.is_empty())
                .then(|| worker.prespawn(&cache, &mut thread_check, None))
                .flatten()
        });
    }
}

/// What a pre-spawned execute job receives: the checksum of a module it holds, and the
/// parameters for `validate_block`.
type PrespawnedInput = (ArtifactChecksum, ValidationParams);

/// An execute job cloned while the worker waited, with the module cache as it then was.
type ReadyJob = PrespawnedJob<PrespawnedInput, Result<JobResponse, String>>;

/// Parameters larger than this go to a job cloned on demand, which shares them copy-on-write:
/// copying them through the pipe would cost more than the early clone saves.
const PRESPAWNED_MAX_PARAMS_BYTES: usize = 1024 * 1024;

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
    /// Clone the next job ahead of its request.
    prespawn_jobs: bool,
}

impl ExecuteWorker<'_> {
    /// Clones the job for the next request. It holds the cache as it is now, so it must be
    /// handed a request, or dropped, before the cache changes. `running_job_reply`: the reply
    /// pipe of a job running meanwhile.
    fn prespawn(
        &self,
        cache: &ModuleCache,
        threads: &mut ThreadCheck,
        running_job_reply: Option<i32>,
    ) -> Option<ReadyJob> {
        let (engine, semantics, pvf_logging, job_fn) =
            (self.engine, self.semantics, self.pvf_logging, self.job_fn);
        let job = move |(checksum, params): PrespawnedInput, _| match cache.peek(&checksum) {
            Some(artifact) => job_fn(engine, &artifact.module, semantics, &params, pvf_logging),
            None => Err("the pre-spawned job does not hold the module".into()),
        };
        prespawned_job::prespawn(
            threads,
            self.sandbox.job_spawn,
            Some(self.host_socket),
            running_job_reply,
            job,
        )
            .inspect_err(|e| {
                tracing::debug!(target: pvf_common::LOG_TARGET, ?e, "cannot clone the next job ahead of its request")
            })
            .ok()
    }

    /// Answers one request, and clones the job for the next one while this one runs.
    /// `ready_job`, cloned before this request, runs it if its module was cached; otherwise it
    /// is dropped before the cache changes.
    fn execute_one(
        &self,
        request: &ExecuteRequest,
        cache: &mut ModuleCache,
        thread_check: &mut ThreadCheck,
        ready_job: Option<ReadyJob>,
    ) -> (WorkerResponse, Option<ReadyJob>) {
        let module_was_cached = cache.get(&request.artifact_checksum).is_some();
        let ready_job = ready_job.filter(|_| module_was_cached);
        let (input, pov_size) = match self.job_input(request, cache, module_was_cached) {
            Ok(input) => input,
            Err(refused) => return (refused, None),
        };
        let cache: &ModuleCache = cache;
        let Some(artifact) = cache.peek(&request.artifact_checksum) else {
            let lost = InternalValidationError::CouldNotOpenFile("artifact not loaded".into());
            return (WorkerResponse::InternalError(lost), None);
        };
        let (engine, semantics, pvf_logging) = (self.engine, self.semantics, self.pvf_logging);
        let (timeout, host_socket) = (request.execution_timeout, Some(self.host_socket));
        let mut next_job = None;
        let mut while_running = |threads: &mut ThreadCheck, running_job_reply| {
            if self.prespawn_jobs {
                next_job = self.prespawn(cache, threads, Some(running_job_reply));
            }
        };
        let prespawned = ready_job
            .filter(|_| input.1.encoded_size() <= PRESPAWNED_MAX_PARAMS_BYTES)
            .and_then(|job| {
                job.run(
                    &input,
                    timeout,
                    host_socket,
                    thread_check,
                    &mut while_running,
                )
            });
        let report = prespawned.unwrap_or_else(|| {
            job::run_in_child_and(
                thread_check,
                self.sandbox.job_spawn,
                timeout,
                host_socket,
                |_| (self.job_fn)(engine, &artifact.module, semantics, &input.1, pvf_logging),
                &mut while_running,
            )
        });
        let response = match report.result {
            Ok(Ok(job_response)) => WorkerResponse::Job {
                job_response,
                duration: report.cpu_time,
                pov_size,
                max_rss_kib: report.max_rss_kib,
                module_was_cached,
            },
            Ok(Err(e)) => WorkerResponse::JobError(JobError::Panic(e)),
            Err(failure) => worker_response(failure),
        };
        (response, next_job)
    }

    /// Loads the artifact unless its module is cached, and decompresses the PoV: the job's
    /// input and the decompressed PoV size, or the answer that refuses the request without a
    /// job.
    fn job_input(
        &self,
        request: &ExecuteRequest,
        cache: &mut ModuleCache,
        module_was_cached: bool,
    ) -> Result<(PrespawnedInput, u32), WorkerResponse> {
        if !module_was_cached {
            let bytes = std::fs::read(self.artifact_path).map_err(|e| {
                WorkerResponse::InternalError(InternalValidationError::CouldNotOpenFile(format!(
                    "{}: {e}",
                    self.artifact_path.display()
                )))
            })?;
            match load_artifact(self.engine, &bytes, request.artifact_checksum) {
                Ok(loaded) => {
                    cache.insert(request.artifact_checksum, bytes.len() as u64, loaded);
                }
                Err(LoadError::Corrupted) => {
                    return Err(job_response(JobResponse::CorruptedArtifact));
                }
                Err(LoadError::Deserialize(e)) => {
                    return Err(job_response(JobResponse::RuntimeConstruction(e)));
                }
            }
        }
        let block_data = pvf_common::blob::decompress(&request.pov.block_data.0, POV_BOMB_LIMIT)
            .map_err(|_| job_response(JobResponse::PoVDecompressionFailure))?
            .into_owned();
        let pov_size = block_data.len() as u32;
        let params = ValidationParams {
            parent_head: request.pvd.parent_head.clone(),
            block_data: BlockData(block_data),
            relay_parent_number: request.pvd.relay_parent_number,
            relay_parent_storage_root: request.pvd.relay_parent_storage_root,
            // Encoded after the four fields (a V3 candidate's), as the reference appends it.
            extension: request.params_extension,
        };
        Ok(((request.artifact_checksum, params), pov_size))
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
