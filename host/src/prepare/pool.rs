//! The Pool actor: owns the prepare workers and their idle-worker tokens.
//!
//! The queue decides *what* runs; the pool only spawns, hands a token to a per-worker actor
//! for exactly one job, gets it back or kills the worker, and reports. Every worker
//! [`Outcome`] maps to keep-or-kill in one place, [`Pool::conclude`], with the reason on
//! each arm.

use crate::{
    metrics::{self, HostCounters},
    prepare::worker::{Outcome, Retire, RunJob, WorkerActor, WorkerDied},
    spawn::{IdleWorker, WorkerSpawnConfig, spawn_prepare_worker},
};
use actix::prelude::*;
use futures::future::LocalBoxFuture;
use pvf_common::{LOG_TARGET, PrepareError, PrepareResult, PvfPrepData};
use slotmap::SlotMap;
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

slotmap::new_key_type! {
    /// Identifies a prepare worker for the queue and the pool.
    pub struct Worker;
}

/// Requests from the queue.
///
/// After `StartWork` the queue sends nothing more about that worker until it receives
/// `Concluded` or `Rip`. After `Kill` no message about that worker follows, but a `Rip` sent
/// before the kill arrived may still come and must be tolerated.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum ToPool {
    /// Start one more worker; answered by `Spawned` (retried until it succeeds).
    Spawn,
    /// Kill an idle worker; no answer.
    Kill(Worker),
    /// Run `pvf` on an idle `worker`; answered by `Concluded` or `Rip`.
    StartWork {
        /// The idle worker.
        worker: Worker,
        /// What to compile.
        pvf: PvfPrepData,
        /// Where artifacts go.
        cache_path: PathBuf,
    },
}

/// Reports to the queue.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum FromPool {
    /// A new worker is idle and ready.
    Spawned(Worker),
    /// A job ended. If `rip`, the worker is gone too.
    Concluded {
        /// The worker that ran it.
        worker: Worker,
        /// Whether the worker was killed.
        rip: bool,
        /// The preparation result.
        result: PrepareResult,
    },
    /// The worker is gone without concluding its job (if it had one): re-queue the job.
    Rip(Worker),
}

/// What a spawner delivers: the token and the per-worker actor's addresses.
pub struct SpawnedWorker {
    /// The idle token.
    pub idle: IdleWorker,
    /// Runs jobs on this worker.
    pub runner: Recipient<RunJob>,
    /// Kills this worker.
    pub retire: Recipient<Retire>,
}

/// Starts workers; the real one spawns processes, tests plug in fakes.
pub trait SpawnWorker: 'static {
    /// Starts a worker known as `worker`; its actor reports death to `on_death`.
    fn spawn(
        &self,
        worker: Worker,
        on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker, String>>;
}

/// Spawns real worker processes.
pub struct ProcessSpawner {
    /// How to start them.
    pub config: Arc<WorkerSpawnConfig>,
}

impl SpawnWorker for ProcessSpawner {
    fn spawn(
        &self,
        worker: Worker,
        on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker, String>> {
        let config = self.config.clone();
        Box::pin(async move {
            let (idle, handle) = spawn_prepare_worker(&config)
                .await
                .map_err(|e| e.to_string())?;
            let addr = WorkerActor::new(worker, handle, on_death).start();
            Ok(SpawnedWorker {
                idle,
                runner: addr.clone().recipient(),
                retire: addr.recipient(),
            })
        })
    }
}

/// First retry delay after a failed spawn; doubles up to [`MAX_SPAWN_RETRY_DELAY`].
pub const INITIAL_SPAWN_RETRY_DELAY: Duration = Duration::from_millis(250);
/// Longest delay between spawn attempts.
pub const MAX_SPAWN_RETRY_DELAY: Duration = Duration::from_secs(3);

struct WorkerSlot {
    idle: Option<IdleWorker>,
    runner: Recipient<RunJob>,
    retire: Recipient<Retire>,
    /// The process exited while busy; the job's outcome decides nothing: it goes.
    dead: bool,
}

/// The Pool actor.
pub struct Pool {
    spawner: Box<dyn SpawnWorker>,
    queue: Recipient<FromPool>,
    /// `None` while the worker is being spawned.
    workers: SlotMap<Worker, Option<WorkerSlot>>,
    counters: Arc<HostCounters>,
}

impl Pool {
    /// A pool reporting to `queue`.
    pub fn new(
        spawner: Box<dyn SpawnWorker>,
        queue: Recipient<FromPool>,
        counters: Arc<HostCounters>,
    ) -> Self {
        Self {
            spawner,
            queue,
            workers: SlotMap::with_key(),
            counters,
        }
    }

    fn spawn_worker(&mut self, worker: Worker, attempt: u32, ctx: &mut Context<Self>) {
        metrics::worker_spawning();
        let fut = self.spawner.spawn(worker, ctx.address().recipient());
        ctx.spawn(fut.into_actor(self).map(move |result, pool, ctx| match result {
            Ok(spawned) => {
                metrics::worker_spawned(&pool.counters);
                if let Some(slot) = pool.workers.get_mut(worker) {
                    *slot = Some(WorkerSlot { idle: Some(spawned.idle), runner: spawned.runner, retire: spawned.retire, dead: false });
                    pool.queue.do_send(FromPool::Spawned(worker));
                } else {
                    let _ = spawned.retire.try_send(Retire);
                }
            }
            Err(err) => {
                metrics::worker_spawn_failed(&pool.counters);
                let delay = (INITIAL_SPAWN_RETRY_DELAY * 2u32.saturating_pow(attempt)).min(MAX_SPAWN_RETRY_DELAY);
                tracing::error!(target: LOG_TARGET, attempt, ?delay, "cannot spawn a prepare worker, retrying: {err}");
                ctx.run_later(delay, move |pool, ctx| {
                    if pool.workers.contains_key(worker) {
                        pool.spawn_worker(worker, attempt + 1, ctx);
                    }
                });
            }
        }));
    }

    fn retire(&mut self, worker: Worker) {
        if let Some(Some(slot)) = self.workers.remove(worker) {
            metrics::worker_retired();
            let _ = slot.retire.try_send(Retire);
        }
    }

    /// Keep-or-kill for every outcome, and the report to the queue.
    fn conclude(&mut self, worker: Worker, outcome: Result<Outcome, MailboxError>) {
        let dead = matches!(self.workers.get(worker), Some(Some(slot)) if slot.dead);
        let (keep, report) = match outcome {
            // The worker answered: it is healthy, unless its process has since exited.
            Ok(Outcome::Concluded {
                worker: idle,
                result,
            }) => (Some(idle), Some(result)),
            // Host-side file problems are not the worker's fault.
            Ok(Outcome::CreateTmpFileErr { worker: idle, err }) => {
                (Some(idle), Some(Err(PrepareError::CreateTmpFile(err))))
            }
            Ok(Outcome::RenameTmpFile {
                worker: idle,
                err,
                src,
                dest,
            }) => (
                Some(idle),
                Some(Err(PrepareError::RenameTmpFile { err, src, dest })),
            ),
            // A dirty worker dir could leak data into the next job.
            Ok(Outcome::ClearWorkerDir { err }) => {
                (None, Some(Err(PrepareError::ClearWorkerDir(err))))
            }
            // The job never started: the queue re-queues it.
            Ok(Outcome::Unreachable) | Err(_) => (None, None),
            // The worker may be stuck, broken or still busy: kill it.
            Ok(Outcome::IoErr(err)) => (None, Some(Err(PrepareError::IoErr(err)))),
            Ok(Outcome::TimedOut) => (None, Some(Err(PrepareError::TimedOut))),
            Ok(Outcome::OutOfMemory) => (None, Some(Err(PrepareError::OutOfMemory))),
            // Killed by a signal: kill the worker too, just in case.
            Ok(Outcome::JobDied { err, job_pid }) => {
                (None, Some(Err(PrepareError::JobDied { err, job_pid })))
            }
        };
        let kept = match (keep, self.workers.get_mut(worker)) {
            (Some(idle), Some(Some(slot))) if !dead => {
                slot.idle = Some(idle);
                true
            }
            _ => false,
        };
        if !kept {
            self.retire(worker);
        }
        let message = match report {
            Some(result) => FromPool::Concluded {
                worker,
                rip: !kept,
                result,
            },
            None => FromPool::Rip(worker),
        };
        self.queue.do_send(message);
    }
}

impl Actor for Pool {
    type Context = Context<Self>;
}

impl Handler<ToPool> for Pool {
    type Result = ();

    fn handle(&mut self, msg: ToPool, ctx: &mut Self::Context) {
        match msg {
            ToPool::Spawn => {
                let worker = self.workers.insert(None);
                self.spawn_worker(worker, 0, ctx);
            }
            ToPool::Kill(worker) => self.retire(worker),
            ToPool::StartWork {
                worker,
                pvf,
                cache_path,
            } => {
                let Some(Some(slot)) = self.workers.get_mut(worker) else {
                    // Died before the queue heard of it; the queue re-queues on Rip.
                    self.queue.do_send(FromPool::Rip(worker));
                    return;
                };
                let Some(idle) = slot.idle.take() else {
                    tracing::error!(target: LOG_TARGET, "host bug: StartWork for a busy worker");
                    debug_assert!(false, "StartWork for a busy worker");
                    self.retire(worker);
                    self.queue.do_send(FromPool::Rip(worker));
                    return;
                };
                let started = Instant::now();
                self.counters.job_started();
                let job = slot.runner.send(RunJob {
                    idle,
                    pvf,
                    cache_path,
                });
                ctx.spawn(job.into_actor(self).map(move |outcome, pool, _| {
                    metrics::preparation_finished(started.elapsed(), &outcome);
                    pool.conclude(worker, outcome);
                }));
            }
        }
    }
}

impl Handler<WorkerDied> for Pool {
    type Result = ();

    fn handle(&mut self, msg: WorkerDied, _: &mut Self::Context) {
        let Some(Some(slot)) = self.workers.get_mut(msg.worker) else {
            return;
        };
        if slot.idle.is_some() {
            tracing::warn!(target: LOG_TARGET, "an idle prepare worker exited");
            self.retire(msg.worker);
            self.queue.do_send(FromPool::Rip(msg.worker));
        } else {
            slot.dead = true;
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
