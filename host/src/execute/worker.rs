//! One execution on one execute worker: the host side of the execute state machine.
//!
//! ```text
//! RunExecuteJob ─► hard-link the artifact as <worker dir>/artifact ─► send ExecuteRequest
//!               ─► recv (≤ timeout × 4) ─► check reported CPU time ─► remove the link ─► ExecOutcome
//! ```
//!
//! The per-worker actor is the same [`WorkerActor`] that owns a prepare worker's process; this
//! file adds the execute message it handles.

use crate::{prepare::worker::WorkerActor, spawn::IdleWorker};
use actix::prelude::*;
use pvf_common::{
    JOB_TIMEOUT_WALL_CLOCK_FACTOR, LOG_TARGET,
    execute::{
        ARTIFACT_FILE_NAME, ExecuteRequest, InternalValidationError, InvalidCandidate, JobResponse,
        PossiblyInvalidError, ValidationError, ValidationResult, WorkerResponse,
    },
    framing,
};
use std::path::PathBuf;

/// Run one execution on this worker. Replies with the [`ExecOutcome`].
#[derive(Message)]
#[rtype(result = "ExecOutcome")]
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
}

/// What the artifact needs after an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactVerdict {
    /// Fine (or not the artifact's fault).
    Keep,
    /// Could not be instantiated or is corrupted: remove it and prepare again.
    Reprepare,
    /// The file is gone: prepare again.
    Missing,
}

/// Figures a job reports with its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobStats {
    /// CPU time of the job process.
    pub cpu_time: std::time::Duration,
    /// Size of the decompressed PoV, in bytes.
    pub pov_size: u32,
}

/// How an execution ended.
#[derive(Debug)]
pub struct ExecOutcome {
    /// The worker's token if the worker is healthy; `None` means kill it.
    pub worker: Option<IdleWorker>,
    /// The result for the caller.
    pub result: Result<ValidationResult, ValidationError>,
    /// What to do with the artifact.
    pub artifact: ArtifactVerdict,
    /// What the job reported about itself, when it ran to an answer.
    pub job_stats: Option<JobStats>,
    /// The request never reached the worker (it was already gone): the job did not start
    /// and goes back to the queue; `result` is not for the caller.
    pub unreached: bool,
}

impl Handler<RunExecuteJob> for WorkerActor {
    type Result = ResponseFuture<ExecOutcome>;

    fn handle(&mut self, job: RunExecuteJob, _: &mut Self::Context) -> Self::Result {
        Box::pin(run_execute_job(
            job.idle,
            job.artifact_path,
            job.link_artifact,
            job.request,
        ))
    }
}

fn outcome(
    worker: Option<IdleWorker>,
    result: Result<ValidationResult, ValidationError>,
) -> ExecOutcome {
    ExecOutcome {
        worker,
        result,
        artifact: ArtifactVerdict::Keep,
        job_stats: None,
        unreached: false,
    }
}

/// The execute state machine for one job on one worker.
pub async fn run_execute_job(
    mut worker: IdleWorker,
    artifact_path: PathBuf,
    link_artifact: bool,
    request: ExecuteRequest,
) -> ExecOutcome {
    let link = worker.worker_dir.path().join(ARTIFACT_FILE_NAME);
    if link_artifact && let Err(e) = tokio::fs::hard_link(&artifact_path, &link).await {
        let mut out = outcome(
            Some(worker),
            Err(ValidationError::Internal(
                InternalValidationError::CouldNotCreateLink(e.to_string()),
            )),
        );
        if e.kind() == std::io::ErrorKind::NotFound {
            out.artifact = ArtifactVerdict::Missing;
        }
        return out;
    }
    let reply = exchange(&mut worker, &request).await;
    let mut out = ExecOutcome {
        worker: None,
        unreached: reply.unreached,
        result: reply.result,
        artifact: reply.artifact,
        job_stats: reply.job_stats,
    };
    if !reply.keep {
        // The worker goes; its directory is removed with it.
        return out;
    }
    out.worker = Some(worker);
    if link_artifact && let Err(e) = tokio::fs::remove_file(&link).await {
        tracing::error!(target: LOG_TARGET, ?link, "cannot clear the execute worker dir: {e}");
        out.worker = None;
        if out.result.is_ok() {
            out.result = Err(ValidationError::Internal(
                InternalValidationError::CouldNotClearWorkerDir {
                    err: e.to_string(),
                    path: link.to_str().map(String::from),
                },
            ));
        }
    }
    out
}

/// The worker's answer, classified.
struct Reply {
    /// Whether the worker is healthy and may run the next job.
    keep: bool,
    /// The request was never delivered.
    unreached: bool,
    result: Result<ValidationResult, ValidationError>,
    artifact: ArtifactVerdict,
    job_stats: Option<JobStats>,
}

/// Sends the request and maps the reply, with the keep-or-kill decision per case.
async fn exchange(worker: &mut IdleWorker, request: &ExecuteRequest) -> Reply {
    let kill = |result| Reply {
        keep: false,
        unreached: false,
        result,
        artifact: ArtifactVerdict::Keep,
        job_stats: None,
    };
    if let Err(e) = framing::send(&mut worker.stream, request).await {
        tracing::warn!(target: LOG_TARGET, pid = worker.pid, "cannot send an execution: {e}");
        let mut reply = kill(Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousWorkerDeath,
        )));
        reply.unreached = true;
        return reply;
    }
    let limit = request.execution_timeout * JOB_TIMEOUT_WALL_CLOCK_FACTOR;
    let received = tokio::time::timeout(
        limit,
        framing::recv::<_, WorkerResponse>(&mut worker.stream, framing::MAX_REPLY_FRAME_LEN),
    )
    .await;
    let response = match received {
        // A PVF that spins is stopped by the job's CPU-time monitor, which answers `JobTimedOut`
        // well before this; silence this long is the worker's or the machine's fault.
        Err(_) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, ?limit, "execute worker stalled past its wall-clock limit");
            return kill(Err(ValidationError::PossiblyInvalid(
                PossiblyInvalidError::WorkerStalled(limit),
            )));
        }
        Ok(Err(e)) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, "execute worker connection failed: {e}");
            return kill(Err(ValidationError::PossiblyInvalid(
                PossiblyInvalidError::AmbiguousWorkerDeath,
            )));
        }
        Ok(Ok(response)) => response,
    };
    let keep = |result, artifact, job_stats| Reply {
        keep: true,
        unreached: false,
        result,
        artifact,
        job_stats,
    };
    match response {
        // The job says it finished, but over its limit: a timeout, as the worker would say.
        WorkerResponse::Job { duration, .. } if duration > request.execution_timeout => {
            kill(Err(ValidationError::Invalid(InvalidCandidate::HardTimeout)))
        }
        WorkerResponse::Job {
            job_response,
            duration,
            pov_size,
        } => {
            let cpu = Some(JobStats {
                cpu_time: duration,
                pov_size,
            });
            match job_response {
                JobResponse::Ok { result_descriptor } => {
                    keep(Ok(result_descriptor), ArtifactVerdict::Keep, cpu)
                }
                JobResponse::InvalidCandidate(msg) => keep(
                    Err(ValidationError::Invalid(
                        InvalidCandidate::WorkerReportedInvalid(msg),
                    )),
                    ArtifactVerdict::Keep,
                    cpu,
                ),
                JobResponse::PoVDecompressionFailure => keep(
                    Err(ValidationError::Invalid(
                        InvalidCandidate::PoVDecompressionFailure,
                    )),
                    ArtifactVerdict::Keep,
                    cpu,
                ),
                JobResponse::RuntimeConstruction(msg) => keep(
                    Err(ValidationError::PossiblyInvalid(
                        PossiblyInvalidError::RuntimeConstruction(msg),
                    )),
                    ArtifactVerdict::Reprepare,
                    cpu,
                ),
                JobResponse::CorruptedArtifact => keep(
                    Err(ValidationError::PossiblyInvalid(
                        PossiblyInvalidError::CorruptedArtifact,
                    )),
                    ArtifactVerdict::Reprepare,
                    cpu,
                ),
            }
        }
        WorkerResponse::JobTimedOut => {
            kill(Err(ValidationError::Invalid(InvalidCandidate::HardTimeout)))
        }
        WorkerResponse::JobDied { err, .. } => kill(Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousJobDeath(err),
        ))),
        WorkerResponse::JobError(e) => kill(Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::JobError(e.to_string()),
        ))),
        WorkerResponse::InternalError(e) => kill(Err(ValidationError::Internal(e))),
    }
}
