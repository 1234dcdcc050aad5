//! One preparation on one prepare worker: the host side of the prepare state machine, and
//! the keep-or-kill decision for every way it can end.
//!
//! ```text
//! RunJob ─► create tmp-artifact ─► send PvfPrepData ─► recv (≤ timeout × 4)
//!        ─► check reported CPU time ─► stat tmp-artifact ─► rename to <cache>/<name>.pvf
//!        ─► clear worker dir ─► JobOutcome
//! ```
//!
//! | how it ended | worker | result |
//! |---|---|---|
//! | the worker answered (incl. job errors: Prevalidation, Preparation, RuntimeConstruction, JobError, decompression, Kernel, IoErr from inside the worker) | kept | its answer |
//! | `tmp-artifact` not creatable, artifact not renamable (host-side files) | kept | `CreateTmpFile`, `RenameTmpFile` |
//! | the worker dir could not be emptied (the next job could see this one's files) | killed | `ClearWorkerDir` |
//! | reading the answer failed, wall-clock limit, CPU time over the limit | killed | `IoErr`, `TimedOut` |
//! | the job ran out of memory or died from a signal | killed | `OutOfMemory`, `JobDied` |
//! | the request could not be sent | killed | unreached: the job is queued again |

use crate::{
    artifacts::ArtifactId,
    cache_dir::ArtifactFileName,
    spawn::{IdleWorker, WorkerFlavour},
    worker_interface::{
        JobOutcome, ProcessSpawner, SpawnWorker, SpawnedWorker, Worker, WorkerActor, WorkerDied,
    },
};
use actix::prelude::*;
use futures::future::LocalBoxFuture;
use pvf_common::{
    JOB_TIMEOUT_WALL_CLOCK_FACTOR, LOG_TARGET, PrepareError, PrepareResult, PrepareWorkerResult,
    PvfPrepData,
    framing::{self, FrameError},
    prepare::PrepareSuccess,
    wire_names::TMP_ARTIFACT_FILE_NAME,
};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Run one preparation on this worker. Replies with the [`JobOutcome`]. Send nothing else to
/// the actor until the reply arrives.
#[derive(Message)]
#[rtype(result = "JobOutcome<PrepareResult>")]
pub struct RunJob {
    /// The worker's token, moved into the job.
    pub idle: IdleWorker,
    /// What to compile.
    pub pvf: PvfPrepData,
    /// Where the finished artifact goes.
    pub cache_path: PathBuf,
}

impl Handler<RunJob> for WorkerActor {
    type Result = ResponseFuture<JobOutcome<PrepareResult>>;

    fn handle(&mut self, job: RunJob, _: &mut Self::Context) -> Self::Result {
        Box::pin(run_job(job.idle, job.pvf, job.cache_path))
    }
}

impl SpawnWorker<(), RunJob> for ProcessSpawner {
    fn spawn(
        &self,
        worker: Worker,
        _: (),
        on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker<RunJob>, String>> {
        self.spawn_actor(worker, WorkerFlavour::Prepare, None, on_death)
    }
}

/// The worker's reply to one job, as received.
type Received = Result<Result<PrepareWorkerResult, FrameError>, tokio::time::error::Elapsed>;

/// What a reply means before any file is touched: `Ok` = the worker is healthy and
/// `result` stands (a successful compilation still needs its artifact promoted), `Err` = the
/// worker must die with this error.
fn classify_reply(
    received: Received,
    cpu_time_limit: Duration,
) -> Result<PrepareWorkerResult, PrepareError> {
    match received {
        Err(_elapsed) => Err(PrepareError::TimedOut),
        Ok(Err(e)) => Err(PrepareError::IoErr(e.to_string())),
        // The job was killed: the worker may be broken too.
        Ok(Ok(Err(
            e @ (PrepareError::OutOfMemory | PrepareError::TimedOut | PrepareError::JobDied { .. }),
        ))) => Err(e),
        // The job says it finished, but over its limit: a timeout, as the worker would say.
        Ok(Ok(Ok(success))) if success.stats.cpu_time_elapsed > cpu_time_limit => {
            tracing::warn!(target: LOG_TARGET, cpu = ?success.stats.cpu_time_elapsed, "prepare job reported CPU time over its limit");
            Err(PrepareError::TimedOut)
        }
        Ok(Ok(answer)) => Ok(answer),
    }
}

/// The preparation state machine for one job on one worker.
pub async fn run_job(
    mut worker: IdleWorker,
    pvf: PvfPrepData,
    cache_path: PathBuf,
) -> JobOutcome<PrepareResult> {
    let tmp_file = worker.worker_dir.path().join(TMP_ARTIFACT_FILE_NAME);
    if let Err(e) = tokio::fs::File::create(&tmp_file).await {
        return JobOutcome::kept(worker, Err(PrepareError::CreateTmpFile(e.to_string())));
    }
    if let Err(e) = framing::send(&mut worker.stream, &pvf).await {
        tracing::warn!(target: LOG_TARGET, pid = worker.pid, "cannot send a job to the worker: {e}");
        return JobOutcome::Unreached;
    }
    let preparation_timeout = pvf.prep_timeout();
    let wall_clock_limit = preparation_timeout * JOB_TIMEOUT_WALL_CLOCK_FACTOR;
    let received = tokio::time::timeout(
        wall_clock_limit,
        framing::recv::<_, PrepareWorkerResult>(&mut worker.stream, framing::MAX_REPLY_FRAME_LEN),
    )
    .await;
    let outcome = match classify_reply(received, preparation_timeout) {
        Err(error) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, code_hash = ?pvf.code_hash(), %error, "prepare worker is killed after its job");
            JobOutcome::killed(Err(error))
        }
        Ok(Err(error)) => JobOutcome::kept(worker, Err(error)),
        Ok(Ok(success)) => {
            let name = ArtifactFileName {
                id: ArtifactId::from_pvf(&pvf),
                fingerprint: pvf_common::engine::EngineFingerprint::current(),
                checksum: success.checksum,
            };
            let promoted = promote_artifact(&tmp_file, &name.path_in(&cache_path), success).await;
            JobOutcome::kept(worker, promoted)
        }
    };
    clear_worker_dir_after(outcome, &tmp_file).await
}

/// Moves the finished `tmp-artifact` to its name in the cache dir. The rename is atomic; a
/// file already there (a damaged copy being replaced) is replaced.
async fn promote_artifact(
    tmp_file: &Path,
    dest: &Path,
    success: pvf_common::PrepareWorkerSuccess,
) -> PrepareResult {
    let rename_err = |err: String| PrepareError::RenameTmpFile {
        err,
        src: tmp_file.to_str().map(String::from),
        dest: dest.to_str().map(String::from),
    };
    // Size of the artifact file itself (the reference measured the cache directory).
    let size = tokio::fs::metadata(tmp_file)
        .await
        .map_err(|e| rename_err(format!("cannot stat the artifact: {e}")))?
        .len();
    tokio::fs::rename(tmp_file, dest)
        .await
        .map_err(|e| rename_err(e.to_string()))?;
    Ok(PrepareSuccess {
        path: dest.to_path_buf(),
        size,
        checksum: success.checksum,
        stats: success.stats,
    })
}

/// Empties the worker dir so the next job starts clean. If that fails, the worker must die,
/// and a freshly promoted artifact is removed because nobody will learn its name.
async fn clear_worker_dir_after(
    outcome: JobOutcome<PrepareResult>,
    tmp_file: &Path,
) -> JobOutcome<PrepareResult> {
    let JobOutcome::Ran {
        worker: Some(_),
        result,
    } = &outcome
    else {
        // A killed worker's dir goes with it.
        return outcome;
    };
    let Some(worker_dir) = tmp_file.parent() else {
        return outcome;
    };
    match clear_dir(worker_dir).await {
        Ok(()) => outcome,
        Err(e) => {
            tracing::error!(target: LOG_TARGET, ?worker_dir, "cannot clear the worker dir: {e}");
            if let Ok(success) = result {
                let _ = tokio::fs::remove_file(&success.path).await;
            }
            JobOutcome::killed(Err(PrepareError::ClearWorkerDir(e.to_string())))
        }
    }
}

async fn clear_dir(dir: &Path) -> std::io::Result<()> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if entry.file_type().await?.is_dir() {
            tokio::fs::remove_dir_all(entry.path()).await?;
        } else {
            tokio::fs::remove_file(entry.path()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvf_common::{ArtifactChecksum, PrepareStats, PrepareWorkerSuccess};

    const LIMIT: Duration = Duration::from_secs(10);

    fn answered(result: PrepareWorkerResult) -> Received {
        Ok(Ok(result))
    }

    fn success(cpu: Duration) -> PrepareWorkerResult {
        Ok(PrepareWorkerSuccess {
            checksum: ArtifactChecksum([1; 32]),
            stats: PrepareStats {
                cpu_time_elapsed: cpu,
                ..PrepareStats::default()
            },
        })
    }

    #[test]
    fn job_errors_keep_the_worker() {
        for error in [
            PrepareError::Prevalidation("x".into()),
            PrepareError::Preparation("x".into()),
            PrepareError::RuntimeConstruction("x".into()),
            PrepareError::JobError("x".into()),
            PrepareError::Kernel("x".into()),
            PrepareError::IoErr("x".into()),
            PrepareError::CouldNotDecompressCodeBlob("x".into()),
        ] {
            assert_eq!(
                classify_reply(answered(Err(error.clone())), LIMIT),
                Ok(Err(error))
            );
        }
        assert!(matches!(
            classify_reply(answered(success(LIMIT)), LIMIT),
            Ok(Ok(_))
        ));
    }

    #[test]
    fn killed_jobs_and_broken_connections_kill_the_worker() {
        for error in [
            PrepareError::OutOfMemory,
            PrepareError::TimedOut,
            PrepareError::JobDied {
                err: "received signal: SIGKILL".into(),
                job_pid: 7,
            },
        ] {
            assert_eq!(
                classify_reply(answered(Err(error.clone())), LIMIT),
                Err(error)
            );
        }
        let over_limit = success(LIMIT + Duration::from_millis(1));
        assert_eq!(
            classify_reply(answered(over_limit), LIMIT),
            Err(PrepareError::TimedOut)
        );
        let cut = Ok(Err(FrameError::Truncated {
            expected: 8,
            got: 0,
        }));
        assert!(matches!(
            classify_reply(cut, LIMIT),
            Err(PrepareError::IoErr(_))
        ));
    }
}
