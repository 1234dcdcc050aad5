//! The execute queue actor: four lanes with a fairness window, and the execute workers it owns.
//!
//! An execute worker is bound for life to the executor parameters of its handshake. A job
//! goes to an idle worker with matching parameters, one that holds its module if there is one
//! (artifact affinity); a worker that just finished first looks for a job with its own
//! parameters, among the next few one whose module it holds (unless the eldest job has waited
//! past [`MAX_KEEP_WAITING`]); at capacity an idle worker with other parameters is killed to make
//! room; a new worker is spawned *for* a job, never idle, so no other job can take it.

use crate::{
    artifacts::ArtifactId,
    execute::{
        exchange::{ArtifactVerdict, ExecResult, RunExecuteJob},
        lanes::{Lanes, PvfExecKind},
    },
    spawn::IdleWorker,
    worker_interface::{JobOutcome, Retire, SpawnAccounting, SpawnWorker, Worker, WorkerDied},
};
use actix::prelude::*;
use pvf_common::{
    LOG_TARGET,
    byte_lru::ByteLru,
    execute::{
        ExecuteHandshake, ExecuteRequest, PersistedValidationData, PoV, ValidationError,
        ValidationParamsExtension, ValidationResult,
    },
    executor_params::ExecutorParamsHash,
    prepare::ArtifactChecksum,
};
use slotmap::SlotMap;
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::oneshot;

/// After this long in the queue, the eldest job may force a respawn with its parameters
/// rather than wait for a matching worker.
pub const MAX_KEEP_WAITING: Duration = Duration::from_secs(4);

/// How many waiting jobs of its parameters a worker that just finished looks through for one
/// whose module it holds, before it takes the first. Small, so that a job whose module no
/// worker holds is not passed over for long.
const AFFINITY_LOOKAHEAD: usize = 8;

/// The answer a caller of `execute_pvf` gets.
pub type ExecuteResult = Result<ValidationResult, ValidationError>;

/// One candidate to execute.
pub struct ExecuteJob {
    /// The artifact.
    pub artifact_id: ArtifactId,
    /// Its file.
    pub artifact_path: PathBuf,
    /// Its checksum.
    pub artifact_checksum: ArtifactChecksum,
    /// The PVF (for its executor parameters, and to prepare it again if needed).
    pub pvf: pvf_common::PvfPrepData,
    /// The CPU-time limit.
    pub exec_timeout: Duration,
    /// The candidate's validation data.
    pub pvd: PersistedValidationData,
    /// The candidate's PoV.
    pub pov: PoV,
    /// Appended to the PVF's params: a V3 candidate descriptor's, `None` otherwise.
    pub params_extension: Option<ValidationParamsExtension>,
    /// Why it runs: the lane, and a backing job's relay parent.
    pub kind: PvfExecKind,
    /// Where the answer goes.
    pub result_tx: oneshot::Sender<ExecuteResult>,
    /// When the job entered the queue.
    pub waiting_since: Instant,
    /// Whether the artifact was already prepared again once for this job (its file had
    /// vanished).
    pub reprepared: bool,
}

impl ExecuteJob {
    fn params_hash(&self) -> ExecutorParamsHash {
        self.pvf.executor_params().hash()
    }
}

/// Queue a job. No reply: the job's `result_tx` gets the answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EnqueueExecution(pub ExecuteJob);

/// Drop queued backing jobs whose relay parent is not in `live`, answering
/// `ExecutionDeadline`. No reply.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PruneBacking {
    /// Active leaves and their ancestors.
    pub live: Arc<std::collections::HashSet<[u8; 32]>>,
}

/// Sent to the host when execution found a job's artifact bad or gone; the job is not yet
/// answered. What the host does depends on the [`ArtifactProblem`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct ArtifactNeedsPreparation {
    /// The job, not yet answered.
    pub job: ExecuteJob,
    /// What is wrong with its artifact.
    pub problem: ArtifactProblem,
}

/// What execution found wrong with an artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactProblem {
    /// It failed to instantiate or is corrupted. The host forgets it and deletes its file, so
    /// that the next request prepares it anew, and answers the job with this error, whatever
    /// its kind, as the reference does: the host never reruns the job. Retrying is the
    /// caller's decision (`pvf_validation::retry`: approvals and disputes once, after forcing a
    /// re-preparation, with the time left; backing never, polkadot-sdk #2182).
    Bad(ValidationError),
    /// Its file vanished before the job reached a worker. The host prepares it again and runs
    /// the job once more, for every kind (see [`ExecuteQueue`]'s `conclude`).
    Vanished,
}

/// Starts execute workers: real processes, or fakes in tests.
pub type ExecuteSpawner = dyn SpawnWorker<ExecuteHandshake, RunExecuteJob>;

/// What every execute worker is told in its handshake besides its executor parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecuteWorkerOptions {
    /// Whether PVF log lines reach the worker's log.
    pub pvf_logging: bool,
    /// How many artifact bytes each worker keeps deserialised between jobs (`None`: none, as
    /// in the reference). The queue routes a job to an idle worker that holds its module, and
    /// skips linking the file when the worker's last module is the job's.
    pub module_cache_bytes: Option<u64>,
}

struct ExecWorker {
    idle: Option<IdleWorker>,
    runner: Option<Recipient<RunExecuteJob>>,
    retire: Option<Recipient<Retire>>,
    params_hash: ExecutorParamsHash,
    /// The most bytes a reply may take: the linear memory its executor parameters allow a
    /// PVF, plus 1 MiB (`framing::max_execute_reply_frame_len`); fixed, as the parameters are.
    reply_limit: u64,
    /// The artifact the worker loaded last, which it always holds if it caches modules.
    warm_checksum: Option<ArtifactChecksum>,
    /// The modules the worker holds, as far as the queue can tell (it evicts alike); only
    /// for routing, so a wrong guess costs a reload, never a wrong answer.
    modules: ByteLru<ArtifactChecksum, ()>,
}

/// The execute queue actor.
pub struct ExecuteQueue {
    lanes: Lanes<ExecuteJob>,
    workers: SlotMap<Worker, ExecWorker>,
    capacity: usize,
    spawner: Box<ExecuteSpawner>,
    host: Recipient<ArtifactNeedsPreparation>,
    options: ExecuteWorkerOptions,
    accounting: SpawnAccounting,
}

impl ExecuteQueue {
    /// A queue with at most `capacity` execute workers, reporting artifacts to prepare again
    /// to `host`.
    pub fn new(
        capacity: usize,
        spawner: Box<ExecuteSpawner>,
        host: Recipient<ArtifactNeedsPreparation>,
        options: ExecuteWorkerOptions,
        accounting: SpawnAccounting,
    ) -> Self {
        Self {
            lanes: Lanes::default(),
            workers: SlotMap::with_key(),
            capacity,
            spawner,
            host,
            options,
            accounting,
        }
    }

    /// An idle worker bound to `hash`, one that holds `artifact`'s module if there is one.
    fn idle_with(&self, hash: ExecutorParamsHash, artifact: ArtifactChecksum) -> Option<Worker> {
        let idle = || {
            self.workers
                .iter()
                .filter(|(_, w)| w.idle.is_some() && w.params_hash == hash)
        };
        idle()
            .find(|(_, w)| w.modules.contains(&artifact))
            .or_else(|| idle().next())
            .map(|(k, _)| k)
    }

    fn retire(&mut self, worker: Worker) {
        if let Some(entry) = self.workers.remove(worker)
            && let Some(retire) = entry.retire
        {
            self.accounting.retired();
            let _ = retire.try_send(Retire);
        }
    }

    /// Assigns waiting jobs to workers until nothing more can start.
    fn schedule(&mut self, mut finished: Option<Worker>, ctx: &mut Context<Self>) {
        while let Some(lane) = self.lanes.select_lane() {
            let Some(eldest) = self.lanes.front(lane) else {
                return;
            };
            let (eldest_hash, eldest_artifact) = (eldest.params_hash(), eldest.artifact_checksum);
            let eldest_waited = eldest.waiting_since.elapsed();
            // A worker that just finished keeps its parameters busy if it can.
            if let Some(worker) = finished
                .take()
                .filter(|w| self.workers.get(*w).is_some_and(|e| e.idle.is_some()))
                && eldest_waited < MAX_KEEP_WAITING
            {
                let (hash, modules) = (
                    self.workers[worker].params_hash,
                    &self.workers[worker].modules,
                );
                // Among the next few jobs of its parameters, one whose module it holds first.
                let looked_at = std::cell::Cell::new(0);
                let warm = self.lanes.take_from(lane, |j| {
                    if j.params_hash() != hash || looked_at.get() >= AFFINITY_LOOKAHEAD {
                        return false;
                    }
                    looked_at.set(looked_at.get() + 1);
                    modules.contains(&j.artifact_checksum)
                });
                if let Some(job) =
                    warm.or_else(|| self.lanes.take_from(lane, |j| j.params_hash() == hash))
                {
                    self.start(worker, job, ctx);
                    continue;
                }
            }
            if let Some(worker) = self.idle_with(eldest_hash, eldest_artifact) {
                let job = self
                    .lanes
                    .take_from(lane, |_| true)
                    .expect("the lane has its eldest job; qed");
                self.start(worker, job, ctx);
                continue;
            }
            if self.workers.len() >= self.capacity {
                let Some(other) = self
                    .workers
                    .iter()
                    .find(|(_, w)| w.idle.is_some())
                    .map(|(k, _)| k)
                else {
                    return;
                };
                self.retire(other);
            }
            let job = self
                .lanes
                .take_from(lane, |_| true)
                .expect("the lane has its eldest job; qed");
            self.spawn_for(job, ctx);
        }
    }

    /// Spawns a worker dedicated to `job`.
    fn spawn_for(&mut self, job: ExecuteJob, ctx: &mut Context<Self>) {
        let worker = self.workers.insert(ExecWorker {
            idle: None,
            runner: None,
            retire: None,
            params_hash: job.params_hash(),
            reply_limit: pvf_common::framing::max_execute_reply_frame_len(
                pvf_common::engine::Semantics::from_executor_params(job.pvf.executor_params())
                    .max_memory_pages,
            ),
            warm_checksum: None,
            modules: ByteLru::new(self.options.module_cache_bytes.unwrap_or(0)),
        });
        self.spawn_attempt(worker, job, 0, ctx);
    }

    /// One attempt to start `worker` for `job`; a failure is retried with back-off, the job
    /// staying bound to the worker being started.
    fn spawn_attempt(
        &mut self,
        worker: Worker,
        job: ExecuteJob,
        attempt: u32,
        ctx: &mut Context<Self>,
    ) {
        self.accounting.spawning();
        let handshake = ExecuteHandshake {
            executor_params: (**job.pvf.executor_params()).clone(),
            pvf_logging: self.options.pvf_logging,
            module_cache_bytes: self.options.module_cache_bytes,
        };
        let fut = self
            .spawner
            .spawn(worker, handshake, ctx.address().recipient());
        ctx.spawn(
            fut.into_actor(self)
                .map(move |spawned, queue, ctx| match spawned {
                    Ok(spawned) => {
                        queue.accounting.spawned();
                        let Some(entry) = queue.workers.get_mut(worker) else {
                            let _ = spawned.retire.try_send(Retire);
                            return;
                        };
                        entry.idle = Some(spawned.idle);
                        entry.runner = Some(spawned.runner);
                        entry.retire = Some(spawned.retire);
                        queue.start(worker, job, ctx);
                    }
                    Err(err) => {
                        let delay = queue.accounting.spawn_failed(attempt, &err);
                        ctx.run_later(delay, move |queue, ctx| {
                            queue.spawn_attempt(worker, job, attempt + 1, ctx);
                        });
                    }
                }),
        );
    }

    fn start(&mut self, worker: Worker, job: ExecuteJob, ctx: &mut Context<Self>) {
        let entry = &mut self.workers[worker];
        let warm_checksum = entry.warm_checksum;
        let (Some(idle), Some(runner)) = (entry.idle.take(), entry.runner.clone()) else {
            tracing::error!(target: LOG_TARGET, "host bug: starting an execution on a busy worker");
            self.lanes.push(job.kind.priority(), job);
            return;
        };
        let request = ExecuteRequest {
            pvd: job.pvd.clone(),
            pov: job.pov.clone(),
            execution_timeout: job.exec_timeout,
            artifact_checksum: job.artifact_checksum,
            params_extension: job.params_extension,
        };
        crate::metrics::execute_started(job.waiting_since.elapsed(), job.kind.priority().as_str());
        let started = Instant::now();
        // The module a worker used last is the one it is sure to hold: only then is the file
        // not needed. Others it may hold are found by checksum, but the file goes along.
        let link_artifact = !(self.options.module_cache_bytes.is_some()
            && warm_checksum == Some(job.artifact_checksum));
        self.accounting.job_started();
        let run = runner.send(RunExecuteJob {
            idle,
            artifact_path: job.artifact_path.clone(),
            link_artifact,
            request,
            reply_limit: entry.reply_limit,
        });
        ctx.spawn(run.into_actor(self).map(move |outcome, queue, ctx| {
            crate::metrics::execute_finished(started.elapsed());
            queue.conclude(worker, job, outcome);
            queue.schedule(Some(worker), ctx);
        }));
    }

    /// Applies the exchange's keep-or-kill verdict, then answers the job or sends it back: to
    /// its lane when it never reached the worker, to the host when its artifact is bad (the
    /// host answers it) or vanished (the host prepares it again, once per job).
    fn conclude(
        &mut self,
        worker: Worker,
        job: ExecuteJob,
        outcome: Result<JobOutcome<ExecResult>, MailboxError>,
    ) {
        let (keep, exec) = match outcome {
            Ok(JobOutcome::Ran { worker, result }) => (worker, result),
            Ok(JobOutcome::Unreached) if job.kind.backing_relay_parent().is_some() => {
                // Backing gets one attempt, as in the reference, where a worker that cannot
                // be reached is an ambiguous death.
                self.retire(worker);
                let _ = job.result_tx.send(Err(ValidationError::PossiblyInvalid(
                    pvf_common::execute::PossiblyInvalidError::AmbiguousWorkerDeath,
                )));
                return;
            }
            Ok(JobOutcome::Unreached) => {
                // The worker was gone before the job began: not the candidate's fault, run it again.
                self.retire(worker);
                self.lanes.push_front(job.kind.priority(), job);
                return;
            }
            // The worker's actor is gone mid-job.
            Err(_) => (
                None,
                ExecResult {
                    result: Err(ValidationError::PossiblyInvalid(
                        pvf_common::execute::PossiblyInvalidError::AmbiguousWorkerDeath,
                    )),
                    artifact: ArtifactVerdict::Keep,
                    job_stats: None,
                },
            ),
        };
        if let Some(stats) = exec.job_stats {
            crate::metrics::execute_pov_decompressed(stats.pov_size);
            if let Some(kib) = stats.max_rss_kib {
                self.accounting.execute_job_max_rss(kib);
            }
            self.accounting
                .execute_module_cached(stats.module_was_cached);
        }
        let loaded = exec.job_stats.is_some() && exec.artifact == ArtifactVerdict::Keep;
        match (keep, self.workers.get_mut(worker)) {
            (Some(idle), Some(entry)) => {
                entry.idle = Some(idle);
                entry.warm_checksum = loaded.then_some(job.artifact_checksum);
                // Only a module new to the worker costs a look at its file's size.
                if loaded && entry.modules.get(&job.artifact_checksum).is_none() {
                    let size = std::fs::metadata(&job.artifact_path).map_or(0, |m| m.len());
                    entry.modules.insert(job.artifact_checksum, size, ());
                } else if !loaded {
                    entry.modules.remove(&job.artifact_checksum);
                }
            }
            _ => self.retire(worker),
        }
        match (exec.artifact, exec.result) {
            // The candidate's possibly-invalid verdict, for every kind, as in the reference:
            // the host drops the artifact and answers; the caller decides on a retry.
            (ArtifactVerdict::Reprepare, Err(error)) => {
                self.host.do_send(ArtifactNeedsPreparation {
                    job,
                    problem: ArtifactProblem::Bad(error),
                });
            }
            // A file that vanished is ours to fix, not the candidate's: the host prepares it
            // again and reruns the job once, for every kind. The reference checks the file
            // only when the request arrives (and prepares it again then); one that vanishes
            // after that check is an internal error there, which backing abstains on and
            // approvals retry. Here the same check happens when the file is linked for the
            // worker, before any code of the PVF ran, so a rerun cannot give a backing job the
            // second chance polkadot-sdk #2182 forbids.
            (ArtifactVerdict::Missing, _) if !job.reprepared => {
                self.host.do_send(ArtifactNeedsPreparation {
                    job,
                    problem: ArtifactProblem::Vanished,
                });
            }
            (_, result) => {
                let _ = job.result_tx.send(result);
            }
        }
    }
}

impl Actor for ExecuteQueue {
    type Context = Context<Self>;
}

impl Handler<EnqueueExecution> for ExecuteQueue {
    type Result = ();

    fn handle(&mut self, msg: EnqueueExecution, ctx: &mut Self::Context) {
        let job = msg.0;
        crate::metrics::execute_enqueued(job.pov.block_data.0.len());
        self.lanes.push(job.kind.priority(), job);
        self.schedule(None, ctx);
    }
}

impl Handler<WorkerDied> for ExecuteQueue {
    type Result = ();

    fn handle(&mut self, msg: WorkerDied, ctx: &mut Self::Context) {
        // Only an idle worker is removed here; a busy one is handled by its job's outcome.
        if self
            .workers
            .get(msg.worker)
            .is_some_and(|w| w.idle.is_some())
        {
            tracing::warn!(target: LOG_TARGET, "an idle execute worker exited");
            self.retire(msg.worker);
            self.schedule(None, ctx);
        }
    }
}

impl Handler<PruneBacking> for ExecuteQueue {
    type Result = ();

    fn handle(&mut self, msg: PruneBacking, _: &mut Self::Context) {
        let stale = self.lanes.drain_where(|_, job| {
            job.kind
                .backing_relay_parent()
                .is_some_and(|relay_parent| !msg.live.contains(&relay_parent))
        });
        for job in stale {
            let _ = job.result_tx.send(Err(ValidationError::ExecutionDeadline));
        }
    }
}

#[cfg(test)]
#[path = "queue_test_harness.rs"]
mod test_harness;
#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
