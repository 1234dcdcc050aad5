//! The execute worker: bound for life to one set of executor parameters, it keeps the
//! deserialised artifact between jobs and runs each `validate_block` in a fresh, sandboxed job
//! process.
//!
//! Per request: (re)load the artifact only if its checksum changed (verifying the checksum on
//! load), decompress the PoV with the 40 MiB bomb limit (a failure is answered without a job),
//! then fork or clone a job that instantiates the cached module and calls `validate_block` on
//! a thread with `StackNativeMax` of stack, under the CPU-time limit.

use crate::{
    ExecuteJobFn, WorkerError, connect_and_sandbox,
    execute::{LoadError, LoadedArtifact, load_artifact, validate_block_on_big_stack},
    job,
};
use pvf_common::{
    PrepareError,
    engine::{self, Semantics},
    execute::{
        ARTIFACT_FILE_NAME, BlockData, ExecuteHandshake, ExecuteRequest, InternalValidationError,
        JobError, JobResponse, POV_BOMB_LIMIT, ValidationParams, WorkerResponse,
    },
    framing,
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
        validate_block_on_big_stack,
    )
}

/// [`run_execute_worker`] with another job body. Only the test worker uses this, to add
/// test-only job kinds without compiling them into release binaries; everything around the
/// body (artifact loading, PoV decompression, the sandboxed job process) stays the production
/// code.
pub fn run_execute_worker_with(
    socket_path: &Path,
    worker_dir: &Path,
    node_version: Option<&str>,
    job_fn: ExecuteJobFn,
) -> Result<(), WorkerError> {
    let (mut stream, sandbox, _) = connect_and_sandbox(
        socket_path,
        worker_dir,
        node_version,
        pvf_security::WorkerKind::Execute,
    )?;
    let handshake: ExecuteHandshake =
        framing::recv_blocking(&mut stream, framing::MAX_REPLY_FRAME_LEN)?;
    let semantics = Semantics::from_executor_params(&handshake.executor_params);
    let engine = engine::new_engine(&semantics).map_err(io::Error::other)?;
    let artifact_path = sandbox.worker_dir.join(ARTIFACT_FILE_NAME);
    let mut cached: Option<LoadedArtifact> = None;
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
            job_fn,
        };
        let response = worker.execute_one(&request, &mut cached);
        if !handshake.keep_module_warm {
            cached = None;
        }
        framing::send_blocking(&mut stream, &response)?;
    }
}

fn job_response(job_response: JobResponse) -> WorkerResponse {
    WorkerResponse::Job {
        job_response,
        duration: std::time::Duration::ZERO,
        pov_size: 0,
    }
}

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
        cached: &mut Option<LoadedArtifact>,
    ) -> WorkerResponse {
        let (engine, semantics, artifact_path, sandbox) = (
            self.engine,
            self.semantics,
            self.artifact_path,
            self.sandbox,
        );
        let (host_socket, pvf_logging) = (self.host_socket, self.pvf_logging);
        if cached.as_ref().map(|a| a.checksum) != Some(request.artifact_checksum) {
            *cached = None;
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
            match load_artifact(engine, &bytes, request.artifact_checksum) {
                Ok(loaded) => *cached = Some(loaded),
                Err(LoadError::Corrupted) => return job_response(JobResponse::CorruptedArtifact),
                Err(LoadError::Deserialize(e)) => {
                    return job_response(JobResponse::RuntimeConstruction(e));
                }
            }
        }
        let Some(artifact) = cached.as_ref() else {
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
        };
        let report = job::run_in_child(
            sandbox.job_spawn,
            request.execution_timeout,
            &[host_socket],
            |_| {
                (self.job_fn)(engine, &artifact.module, semantics, &params, pvf_logging)
                    .map_err(PrepareError::JobError)
            },
        );
        match report.result {
            Ok(job_response) => WorkerResponse::Job {
                job_response,
                duration: report.cpu_time,
                pov_size,
            },
            Err(PrepareError::TimedOut) => WorkerResponse::JobTimedOut,
            Err(PrepareError::JobDied { err, job_pid }) => WorkerResponse::JobDied { err, job_pid },
            Err(PrepareError::Kernel(e)) => {
                WorkerResponse::InternalError(InternalValidationError::Kernel(e))
            }
            Err(PrepareError::JobError(e)) => WorkerResponse::JobError(JobError::Panic(e)),
            Err(other) => WorkerResponse::JobError(JobError::Panic(other.to_string())),
        }
    }
}
