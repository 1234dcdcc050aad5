//! The per-worker actor: owns one worker process and runs one job at a time through the
//! preparation state machine.
//!
//! ```text
//! RunJob ─► create tmp-artifact ─► send PvfPrepData ─► recv (≤ timeout × 4)
//!        ─► check reported CPU time ─► stat tmp-artifact ─► rename to <cache>/<name>.pvf
//!        ─► clear worker dir ─► Outcome
//! ```
//!
//! Each [`Outcome`] says whether the worker survives: the variants that carry the
//! [`IdleWorker`] token keep it, the others mean the pool must kill it.

use crate::{
    artifacts::ArtifactId,
    cache_dir::ArtifactFileName,
    prepare::pool::Worker,
    spawn::{IdleWorker, WorkerHandle},
};
use actix::prelude::*;
use pvf_common::{
    JOB_TIMEOUT_WALL_CLOCK_FACTOR, LOG_TARGET, PrepareError, PrepareResult, PrepareWorkerResult,
    PvfPrepData, framing, prepare::PrepareSuccess,
};
use std::path::{Path, PathBuf};

/// Name of the file the host creates empty for the worker to fill.
pub const TMP_ARTIFACT_FILE_NAME: &str = "tmp-artifact";

/// Run one preparation on this worker. Replies with the [`Outcome`]. Send nothing else to
/// the actor until the reply arrives.
#[derive(Message)]
#[rtype(result = "Outcome")]
pub struct RunJob {
    /// The worker's token, moved into the job.
    pub idle: IdleWorker,
    /// What to compile.
    pub pvf: PvfPrepData,
    /// Where the finished artifact goes.
    pub cache_path: PathBuf,
}

/// Kill the worker process and stop the actor. No reply.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// Sent to the pool when the worker process exits on its own (or is killed from outside).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct WorkerDied {
    /// Which worker.
    pub worker: Worker,
}

/// How a job ended, from the host's side.
#[derive(Debug)]
pub enum Outcome {
    /// The worker answered; `result` may still be a (kept-worker) error. Worker kept.
    Concluded {
        /// The worker's token.
        worker: IdleWorker,
        /// The preparation result.
        result: PrepareResult,
    },
    /// The host could not create `tmp-artifact`. Worker kept.
    CreateTmpFileErr {
        /// The worker's token.
        worker: IdleWorker,
        /// The OS error.
        err: String,
    },
    /// The host could not move the artifact into the cache dir. Worker kept.
    RenameTmpFile {
        /// The worker's token.
        worker: IdleWorker,
        /// The OS error.
        err: String,
        /// The tmp file.
        src: Option<String>,
        /// The intended artifact path.
        dest: Option<String>,
    },
    /// The worker dir could not be emptied; the next job could see this one's files. Killed.
    ClearWorkerDir {
        /// The OS error.
        err: String,
    },
    /// The request could not even be sent: the worker is gone before the job began. Killed;
    /// the job goes back to the queue.
    Unreachable,
    /// Reading the answer failed. Killed.
    IoErr(String),
    /// The job exceeded its CPU time, or the worker its wall-clock allowance. Killed.
    TimedOut,
    /// The job exceeded its memory limit. Killed.
    OutOfMemory,
    /// The job process died from a signal. Killed.
    JobDied {
        /// The wait status, e.g. "received signal: SIGKILL".
        err: String,
        /// The job's pid.
        job_pid: i32,
    },
}

/// The actor that owns one worker process.
pub struct WorkerActor {
    worker: Worker,
    handle: Option<WorkerHandle>,
    on_death: Recipient<WorkerDied>,
}

impl WorkerActor {
    /// Wraps a spawned worker process.
    pub fn new(worker: Worker, handle: WorkerHandle, on_death: Recipient<WorkerDied>) -> Self {
        Self {
            worker,
            handle: Some(handle),
            on_death,
        }
    }
}

impl Actor for WorkerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(handle) = self.handle.as_mut() {
            let exited = handle.exited();
            let (worker, on_death) = (self.worker, self.on_death.clone());
            ctx.spawn(
                async move {
                    exited.await;
                    on_death.do_send(WorkerDied { worker });
                }
                .into_actor(self),
            );
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // Dropping the handle kills and reaps the process.
        self.handle.take();
    }
}

impl Handler<Retire> for WorkerActor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        self.handle.take();
        ctx.stop();
    }
}

impl Handler<RunJob> for WorkerActor {
    type Result = ResponseFuture<Outcome>;

    fn handle(&mut self, job: RunJob, _: &mut Self::Context) -> Self::Result {
        Box::pin(run_job(job.idle, job.pvf, job.cache_path))
    }
}

/// The preparation state machine for one job on one worker.
pub async fn run_job(mut worker: IdleWorker, pvf: PvfPrepData, cache_path: PathBuf) -> Outcome {
    let tmp_file = worker.worker_dir.path().join(TMP_ARTIFACT_FILE_NAME);
    if let Err(e) = tokio::fs::File::create(&tmp_file).await {
        return Outcome::CreateTmpFileErr {
            worker,
            err: e.to_string(),
        };
    }
    if let Err(e) = framing::send(&mut worker.stream, &pvf).await {
        tracing::warn!(target: LOG_TARGET, pid = worker.pid, "cannot send a job to the worker: {e}");
        return Outcome::Unreachable;
    }
    let preparation_timeout = pvf.prep_timeout();
    let wall_clock_limit = preparation_timeout * JOB_TIMEOUT_WALL_CLOCK_FACTOR;
    let received = tokio::time::timeout(
        wall_clock_limit,
        framing::recv::<_, PrepareWorkerResult>(&mut worker.stream, framing::MAX_REPLY_FRAME_LEN),
    )
    .await;
    let outcome = match received {
        Err(_elapsed) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, code_hash = ?pvf.code_hash(), "prepare worker exceeded the wall-clock limit {wall_clock_limit:?}");
            Outcome::TimedOut
        }
        Ok(Err(e)) => {
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, "cannot receive the prepare result: {e}");
            Outcome::IoErr(e.to_string())
        }
        Ok(Ok(Err(PrepareError::OutOfMemory))) => Outcome::OutOfMemory,
        Ok(Ok(Err(PrepareError::TimedOut))) => Outcome::TimedOut,
        Ok(Ok(Err(PrepareError::JobDied { err, job_pid }))) => Outcome::JobDied { err, job_pid },
        Ok(Ok(Err(err))) => Outcome::Concluded {
            worker,
            result: Err(err),
        },
        Ok(Ok(Ok(success))) if success.stats.cpu_time_elapsed > preparation_timeout => {
            // The job says it finished, but over its limit: treat as a timeout, like the worker would.
            tracing::warn!(target: LOG_TARGET, pid = worker.pid, cpu = ?success.stats.cpu_time_elapsed, "prepare job reported CPU time over its limit");
            Outcome::TimedOut
        }
        Ok(Ok(Ok(success))) => {
            let name = ArtifactFileName {
                id: ArtifactId::from_pvf(&pvf),
                fingerprint: pvf_common::engine::EngineFingerprint::current(),
                checksum: success.checksum,
            };
            promote_artifact(worker, &tmp_file, &name.path_in(&cache_path), success).await
        }
    };
    clear_worker_dir_after(outcome, &tmp_file).await
}

/// Moves the finished `tmp-artifact` to its name in the cache dir. The rename is atomic; a
/// file already there (a damaged copy being replaced) is replaced.
async fn promote_artifact(
    worker: IdleWorker,
    tmp_file: &Path,
    dest: &Path,
    success: pvf_common::PrepareWorkerSuccess,
) -> Outcome {
    // Size of the artifact file itself (the reference measured the cache directory).
    let size = match tokio::fs::metadata(tmp_file).await {
        Ok(meta) => meta.len(),
        Err(e) => {
            return Outcome::RenameTmpFile {
                worker,
                err: format!("cannot stat the artifact: {e}"),
                src: tmp_file.to_str().map(String::from),
                dest: dest.to_str().map(String::from),
            };
        }
    };
    match tokio::fs::rename(tmp_file, dest).await {
        Ok(()) => Outcome::Concluded {
            worker,
            result: Ok(PrepareSuccess {
                path: dest.to_path_buf(),
                size,
                checksum: success.checksum,
                stats: success.stats,
            }),
        },
        Err(e) => Outcome::RenameTmpFile {
            worker,
            err: e.to_string(),
            src: tmp_file.to_str().map(String::from),
            dest: dest.to_str().map(String::from),
        },
    }
}

/// Empties the worker dir so the next job starts clean. If that fails, the worker must die,
/// and a freshly promoted artifact is removed because nobody will learn its name.
async fn clear_worker_dir_after(outcome: Outcome, tmp_file: &Path) -> Outcome {
    let Some(worker_dir) = tmp_file.parent() else {
        return outcome;
    };
    match clear_dir(worker_dir).await {
        Ok(()) => outcome,
        Err(e) => {
            tracing::error!(target: LOG_TARGET, ?worker_dir, "cannot clear the worker dir: {e}");
            if let Outcome::Concluded {
                result: Ok(success),
                ..
            } = &outcome
            {
                let _ = tokio::fs::remove_file(&success.path).await;
            }
            Outcome::ClearWorkerDir { err: e.to_string() }
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
