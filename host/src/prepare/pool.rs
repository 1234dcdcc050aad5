//! The Pool actor: owns the prepare workers and their idle-worker tokens.
//!
//! The queue decides *what* runs; the pool only spawns, hands a token to a per-worker actor
//! for exactly one job, gets it back or kills the worker, and reports. Whether a worker
//! survives its job is decided by the job's exchange (`prepare/exchange.rs`); the pool applies
//! it, and also kills a worker whose process exited while it was busy.

use crate::{
    prepare::exchange::RunJob,
    spawn::IdleWorker,
    worker_interface::{JobOutcome, Retire, SpawnAccounting, SpawnWorker, Worker, WorkerDied},
};
use actix::prelude::*;
use pvf_common::{LOG_TARGET, PrepareResult, PvfPrepData};
use slotmap::SlotMap;
use std::{path::PathBuf, time::Instant};

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

/// Starts prepare workers: real processes, or fakes in tests.
pub type PrepareSpawner = dyn SpawnWorker<(), RunJob>;

struct WorkerSlot {
    idle: Option<IdleWorker>,
    runner: Recipient<RunJob>,
    retire: Recipient<Retire>,
    /// The process exited while busy; the job's outcome decides nothing: it goes.
    dead: bool,
}

/// The Pool actor.
pub struct Pool {
    spawner: Box<PrepareSpawner>,
    queue: Recipient<FromPool>,
    /// `None` while the worker is being spawned.
    workers: SlotMap<Worker, Option<WorkerSlot>>,
    accounting: SpawnAccounting,
}

impl Pool {
    /// A pool reporting to `queue`, counting its spawns and jobs in `accounting`.
    pub fn new(
        spawner: Box<PrepareSpawner>,
        queue: Recipient<FromPool>,
        accounting: SpawnAccounting,
    ) -> Self {
        Self {
            spawner,
            queue,
            workers: SlotMap::with_key(),
            accounting,
        }
    }

    fn spawn_worker(&mut self, worker: Worker, attempt: u32, ctx: &mut Context<Self>) {
        self.accounting.spawning();
        let fut = self.spawner.spawn(worker, (), ctx.address().recipient());
        ctx.spawn(
            fut.into_actor(self)
                .map(move |result, pool, ctx| match result {
                    Ok(spawned) => {
                        pool.accounting.spawned();
                        if let Some(slot) = pool.workers.get_mut(worker) {
                            *slot = Some(WorkerSlot {
                                idle: Some(spawned.idle),
                                runner: spawned.runner,
                                retire: spawned.retire,
                                dead: false,
                            });
                            pool.queue.do_send(FromPool::Spawned(worker));
                        } else {
                            let _ = spawned.retire.try_send(Retire);
                        }
                    }
                    Err(err) => {
                        let delay = pool.accounting.spawn_failed(attempt, &err);
                        ctx.run_later(delay, move |pool, ctx| {
                            if pool.workers.contains_key(worker) {
                                pool.spawn_worker(worker, attempt + 1, ctx);
                            }
                        });
                    }
                }),
        );
    }

    fn retire(&mut self, worker: Worker) {
        if let Some(Some(slot)) = self.workers.remove(worker) {
            self.accounting.retired();
            let _ = slot.retire.try_send(Retire);
        }
    }

    /// Applies the exchange's keep-or-kill verdict and reports to the queue. A lost reply
    /// (the worker's actor is gone) is treated as a job that never started.
    fn conclude(
        &mut self,
        worker: Worker,
        outcome: Result<JobOutcome<PrepareResult>, MailboxError>,
    ) {
        let (keep, report) = match outcome {
            Ok(JobOutcome::Ran { worker, result }) => (worker, Some(result)),
            Ok(JobOutcome::Unreached) | Err(_) => (None, None),
        };
        let kept = match (keep, self.workers.get_mut(worker)) {
            // A worker whose process exited while busy is not reused, whatever it answered.
            (Some(idle), Some(Some(slot))) if !slot.dead => {
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
                self.accounting.job_started();
                let job = slot.runner.send(RunJob {
                    idle,
                    pvf,
                    cache_path,
                });
                ctx.spawn(job.into_actor(self).map(move |outcome, pool, _| {
                    let stats = match &outcome {
                        Ok(JobOutcome::Ran {
                            result: Ok(success),
                            ..
                        }) => Some(&success.stats),
                        _ => None,
                    };
                    crate::metrics::preparation_finished(started.elapsed(), stats);
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
