//! One execution on one execute worker: the host side of the execute state machine, and the
//! keep-or-kill decision for every way it can end.
//!
//! ```text
//! RunExecuteJob ─► hard-link the artifact as <worker dir>/artifact ─► send ExecuteRequest
//!               ─► recv (≤ timeout × 4) ─► check reported CPU time ─► remove the link ─► JobOutcome
//! ```
//!
//! | how it ended | worker | result |
//! |---|---|---|
//! | the job answered (valid, invalid, PoV decompression failure, runtime construction, corrupted artifact) | kept | its answer |
//! | the artifact could not be linked | kept | `Internal(CouldNotCreateLink)` (artifact missing: prepare again) |
//! | the link could not be removed | killed | `Internal(CouldNotClearWorkerDir)` unless the job already failed |
//! | job over its CPU time (monitor or reported) | killed | `Invalid(HardTimeout)` |
//! | job died, job error, worker internal error | killed | `PossiblyInvalid(AmbiguousJobDeath / JobError)`, `Internal` |
//! | connection failed mid-job | killed | `PossiblyInvalid(AmbiguousWorkerDeath)` |
//! | no answer within the wall-clock backstop | killed | `PossiblyInvalid(WorkerStalled)` |
//! | the request could not be sent | killed | unreached: the job is queued again |

use crate::{
    spawn::{IdleWorker, WorkerFlavour},
    worker_interface::{
        JobOutcome, ProcessSpawner, SpawnWorker, SpawnedWorker, Worker, WorkerActor, WorkerDied,
    },
};
use actix::prelude::*;
use futures::future::LocalBoxFuture;
use pvf_common::{
    JOB_TIMEOUT_WALL_CLOCK_FACTOR, LOG_TARGET,
    execute::{
        ExecuteHandshake, ExecuteRequest, InternalValidationError, InvalidCandidate, JobResponse,
        PossiblyInvalidError, ValidationError, ValidationResult, WorkerResponse,
    },
    framing,
    wire_names::ARTIFACT_FILE_NAME,
};
use std::path::PathBuf;

/// Run one execution on this worker. Replies with the [`JobOutcome`].
#[derive(Message)]
#[rtype(result = "JobOutcome<ExecResult>")]
pub struct RunExecuteJob {
    /// The worker's token, moved into the job.
    pub idle: IdleWorker,
    /// The artifact file in the cache dir.
    pub artifact_path: PathBuf,
    /// Link the artifact into the worker dir; `false` when the worker already holds this
    /// artifact deserialised and will not read the file.
    pub link_artifact: bool,
    /// What to run.
    pub request: ExecuteRequest,
    /// The most bytes the worker's reply may take: the session's linear memory and 1 MiB
    /// (`framing::max_execute_reply_frame_len`).
    pub reply_limit: u64,
}

impl Handler<RunExecuteJob> for WorkerActor {
    type Result = ResponseFuture<JobOutcome<ExecResult>>;

    fn handle(&mut self, job: RunExecuteJob, _: &mut Self::Context) -> Self::Result {
        Box::pin(run_execute_job(
            job.idle,
            job.artifact_path,
            job.link_artifact,
            job.request,
            job.reply_limit,
        ))
    }
}

impl SpawnWorker<ExecuteHandshake, RunExecuteJob> for ProcessSpawner {
    fn spawn(
        &self,
        worker: Worker,
        handshake: ExecuteHandshake,
        on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker<RunExecuteJob>, String>> {
        self.spawn_actor(worker, WorkerFlavour::Execute, Some(handshake), on_death)
    }
}

/// What the artifact needs after an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactVerdict {
    /// Fine (or not the artifact's fault).
    Keep,
    /// Could not be instantiated or is corrupted: remove it (the next request prepares it
    /// anew) and answer the job with its error.
    Reprepare,
    /// The file is gone: prepare again and rerun the job.
    Missing,
}

/// Figures a job reports with its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobStats {
    /// CPU time of the job process.
    pub cpu_time: std::time::Duration,
    /// Size of the decompressed PoV, in bytes.
    pub pov_size: u32,
    /// Peak resident set size of the job process, in KiB, if known.
    pub max_rss_kib: Option<u64>,
    /// The worker had the module cached.
    pub module_was_cached: bool,
}

/// What an execution delivered, besides the worker's fate.
#[derive(Debug)]
pub struct ExecResult {
    /// The result for the caller.
    pub result: Result<ValidationResult, ValidationError>,
    /// What to do with the artifact.
    pub artifact: ArtifactVerdict,
    /// What the job reported about itself, when it ran to an answer.
    pub job_stats: Option<JobStats>,
}

impl ExecResult {
    fn of(result: Result<ValidationResult, ValidationError>) -> Self {
        Self {
            result,
            artifact: ArtifactVerdict::Keep,
            job_stats: None,
        }
    }
}

/// The execute state machine for one job on one worker.
pub async fn run_execute_job(
    worker: IdleWorker,
    artifact_path: PathBuf,
    link_artifact: bool,
    request: ExecuteRequest,
    reply_limit: u64,
) -> JobOutcome<ExecResult> {
    let link = worker.worker_dir.path().join(ARTIFACT_FILE_NAME);
    if link_artifact && let Err(e) = tokio::fs::hard_link(&artifact_path, &link).await {
        let mut out = ExecResult::of(Err(ValidationError::Internal(
            InternalValidationError::CouldNotCreateLink(e.to_string()),
        )));
        if e.kind() == std::io::ErrorKind::NotFound {
            out.artifact = ArtifactVerdict::Missing;
        }
        return JobOutcome::kept(worker, out);
    }
    let outcome = exchange(worker, &request, reply_limit).await;
    let JobOutcome::Ran {
        worker: Some(worker),
        mut result,
    } = outcome
    else {
        // A killed worker's directory is removed with it.
        return outcome;
    };
    if link_artifact && let Err(e) = tokio::fs::remove_file(&link).await {
        tracing::error!(target: LOG_TARGET, ?link, "cannot clear the execute worker dir: {e}");
        if result.result.is_ok() {
            result.result = Err(ValidationError::Internal(
                InternalValidationError::CouldNotClearWorkerDir {
                    err: e.to_string(),
                    path: link.to_str().map(String::from),
                },
            ));
        }
        return JobOutcome::killed(result);
    }
    JobOutcome::kept(worker, result)
}

/// Sends the request and maps the reply, with the keep-or-kill decision per case.
async fn exchange(
    mut worker: IdleWorker,
    request: &ExecuteRequest,
    reply_limit: u64,
) -> JobOutcome<ExecResult> {
    let kill = |result| JobOutcome::killed(ExecResult::of(Err(result)));
    if let Err(e) = framing::send(&mut worker.stream, request).await {
        tracing::warn!(target: LOG_TARGET, pid = worker.pid, "cannot send an execution: {e}");
        return JobOutcome::Unreached;
    }
    let limit = request.execution_timeout * JOB_TIMEOUT_WALL_CLOCK_FACTOR;
    let received = tokio::time::timeout(
        limit,
        framing::recv::<_, WorkerResponse>(&mut worker.stream, reply_limit),
    )
    .await;
    let response = match received {
        // A PVF that spins is stopped by the job's CPU-time monitor, which answers `JobTimedOut`
        // well before this; silence this long is the worker's or the machine's fault.
        Err(_) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, ?limit, "execute worker stalled past its wall-clock limit");
            return kill(ValidationError::PossiblyInvalid(
                PossiblyInvalidError::WorkerStalled(limit),
            ));
        }
        Ok(Err(e)) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, "execute worker connection failed: {e}");
            return kill(ValidationError::PossiblyInvalid(
                PossiblyInvalidError::AmbiguousWorkerDeath,
            ));
        }
        Ok(Ok(response)) => response,
    };
    match classify_response(response, request.execution_timeout) {
        (true, result) => JobOutcome::kept(worker, result),
        (false, result) => JobOutcome::killed(result),
    }
}

/// Maps a worker's answer to (keep the worker?, result).
fn classify_response(
    response: WorkerResponse,
    execution_timeout: std::time::Duration,
) -> (bool, ExecResult) {
    let kill = |error| (false, ExecResult::of(Err(error)));
    match response {
        // The job says it finished, but over its limit: a timeout, as the worker would say.
        WorkerResponse::Job { duration, .. } if duration > execution_timeout => {
            kill(ValidationError::Invalid(InvalidCandidate::HardTimeout))
        }
        WorkerResponse::Job {
            job_response,
            duration,
            pov_size,
            max_rss_kib,
            module_was_cached,
        } => {
            let (result, artifact) = match job_response {
                JobResponse::Ok { result_descriptor } => {
                    (Ok(result_descriptor), ArtifactVerdict::Keep)
                }
                JobResponse::InvalidCandidate(msg) => (
                    Err(ValidationError::Invalid(
                        InvalidCandidate::WorkerReportedInvalid(msg),
                    )),
                    ArtifactVerdict::Keep,
                ),
                JobResponse::PoVDecompressionFailure => (
                    Err(ValidationError::Invalid(
                        InvalidCandidate::PoVDecompressionFailure,
                    )),
                    ArtifactVerdict::Keep,
                ),
                JobResponse::RuntimeConstruction(msg) => (
                    Err(ValidationError::PossiblyInvalid(
                        PossiblyInvalidError::RuntimeConstruction(msg),
                    )),
                    ArtifactVerdict::Reprepare,
                ),
                JobResponse::CorruptedArtifact => (
                    Err(ValidationError::PossiblyInvalid(
                        PossiblyInvalidError::CorruptedArtifact,
                    )),
                    ArtifactVerdict::Reprepare,
                ),
            };
            let job_stats = Some(JobStats {
                cpu_time: duration,
                pov_size,
                max_rss_kib,
                module_was_cached,
            });
            (
                true,
                ExecResult {
                    result,
                    artifact,
                    job_stats,
                },
            )
        }
        WorkerResponse::JobTimedOut => {
            kill(ValidationError::Invalid(InvalidCandidate::HardTimeout))
        }
        WorkerResponse::JobDied { err, .. } => kill(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousJobDeath(err),
        )),
        WorkerResponse::JobError(e) => kill(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::JobError(e.to_string()),
        )),
        WorkerResponse::InternalError(e) => kill(ValidationError::Internal(e)),
    }
}
