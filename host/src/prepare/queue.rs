//! The Queue actor: decides which PVF compiles next and on which worker.
//!
//! Jobs wait in two lanes, Critical (approvals, disputes) before Normal (pre-checks, backing,
//! heads-ups). A request for a PVF that is already queued joins that job; if it is Critical
//! and the job waits as Normal, the job moves to the Critical lane (the reference lost this
//! bump in 2021). Workers are capped: Normal work may use `soft_capacity` workers, Critical
//! work up to `hard_capacity`; a worker that finishes while above the soft cap is culled.

use crate::{
    artifacts::ArtifactId,
    metrics,
    prepare::pool::{FromPool, ToPool},
    worker_interface::Worker,
};
use actix::prelude::*;
use pvf_common::{LOG_TARGET, PrepareResult, PvfPrepData};
use slotmap::SlotMap;
use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
};

/// How urgently a PVF must be prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Pre-checks, backing and heads-ups.
    Normal,
    /// Approvals and disputes: finality waits on them.
    Critical,
}

/// Queue `pvf` for preparation. A duplicate joins (and may bump) the queued job.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Enqueue {
    /// The lane.
    pub priority: Priority,
    /// What to compile.
    pub pvf: PvfPrepData,
}

/// Sent to the host when a preparation ends.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct PrepareConcluded {
    /// Which artifact.
    pub artifact_id: ArtifactId,
    /// How it went.
    pub result: PrepareResult,
}

/// Worker caps: Normal work may use `soft_capacity` workers, Critical up to `hard_capacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Workers for Normal work, and the number kept once work is done.
    pub soft_capacity: usize,
    /// Workers Critical work may grow the pool to.
    pub hard_capacity: usize,
}

impl Limits {
    fn can_afford_one_more(&self, workers: usize, critical: bool) -> bool {
        workers
            < if critical {
                self.hard_capacity
            } else {
                self.soft_capacity
            }
    }

    fn should_cull(&self, workers: usize) -> bool {
        workers > self.soft_capacity
    }
}

slotmap::new_key_type! { struct Job; }

struct JobData {
    priority: Priority,
    pvf: PvfPrepData,
    worker: Option<Worker>,
}

/// Jobs not yet assigned, per lane, oldest first.
#[derive(Default)]
struct Unscheduled {
    critical: VecDeque<Job>,
    normal: VecDeque<Job>,
}

impl Unscheduled {
    fn lane(&mut self, priority: Priority) -> &mut VecDeque<Job> {
        match priority {
            Priority::Critical => &mut self.critical,
            Priority::Normal => &mut self.normal,
        }
    }

    fn is_empty(&self) -> bool {
        self.critical.is_empty() && self.normal.is_empty()
    }

    fn has_critical(&self) -> bool {
        !self.critical.is_empty()
    }

    fn next(&mut self) -> Option<Job> {
        self.critical
            .pop_front()
            .or_else(|| self.normal.pop_front())
    }
}

/// The Queue actor.
pub struct Queue {
    pool: Recipient<ToPool>,
    host: Recipient<PrepareConcluded>,
    cache_path: PathBuf,
    limits: Limits,
    jobs: SlotMap<Job, JobData>,
    artifact_id_to_job: HashMap<ArtifactId, Job>,
    /// Registered workers and their current job.
    workers: HashMap<Worker, Option<Job>>,
    spawn_inflight: usize,
    unscheduled: Unscheduled,
}

impl Queue {
    /// A queue that runs jobs through `pool` and reports to `host`.
    pub fn new(
        pool: Recipient<ToPool>,
        host: Recipient<PrepareConcluded>,
        cache_path: PathBuf,
        limits: Limits,
    ) -> Self {
        Self {
            pool,
            host,
            cache_path,
            limits,
            jobs: SlotMap::with_key(),
            artifact_id_to_job: HashMap::new(),
            workers: HashMap::new(),
            spawn_inflight: 0,
            unscheduled: Unscheduled::default(),
        }
    }

    fn worker_count(&self) -> usize {
        self.workers.len() + self.spawn_inflight
    }

    fn spawn_if_affordable(&mut self, critical: bool) {
        if self
            .limits
            .can_afford_one_more(self.worker_count(), critical)
        {
            self.spawn_inflight += 1;
            self.pool.do_send(ToPool::Spawn);
        }
    }

    fn enqueue(&mut self, priority: Priority, pvf: PvfPrepData) {
        let artifact_id = ArtifactId::from_pvf(&pvf);
        if let Some(&job) = self.artifact_id_to_job.get(&artifact_id) {
            self.bump(job, priority);
            return;
        }
        metrics::prepare_enqueued();
        let job = self.jobs.insert(JobData {
            priority,
            pvf,
            worker: None,
        });
        self.artifact_id_to_job.insert(artifact_id, job);
        self.unscheduled.lane(priority).push_back(job);
        self.schedule();
        if !self.unscheduled.is_empty() {
            self.spawn_if_affordable(priority == Priority::Critical);
        }
    }

    /// A Critical request for a job still waiting as Normal moves it to the Critical lane.
    fn bump(&mut self, job: Job, priority: Priority) {
        let data = &mut self.jobs[job];
        if priority <= data.priority {
            return;
        }
        data.priority = priority;
        if data.worker.is_some() {
            return;
        }
        self.unscheduled.normal.retain(|j| *j != job);
        self.unscheduled.critical.push_back(job);
        tracing::debug!(target: LOG_TARGET, "queued preparation bumped to critical");
        self.spawn_if_affordable(true);
    }

    /// Gives waiting jobs to idle workers, highest lane first.
    fn schedule(&mut self) {
        let mut idle: Vec<Worker> = self
            .workers
            .iter()
            .filter(|(_, job)| job.is_none())
            .map(|(w, _)| *w)
            .collect();
        while let Some(worker) = idle.pop() {
            let Some(job) = self.unscheduled.next() else {
                return;
            };
            self.assign(worker, job);
        }
    }

    fn assign(&mut self, worker: Worker, job: Job) {
        let data = &mut self.jobs[job];
        data.worker = Some(worker);
        self.workers.insert(worker, Some(job));
        self.pool.do_send(ToPool::StartWork {
            worker,
            pvf: data.pvf.clone(),
            cache_path: self.cache_path.clone(),
        });
    }

    /// After a worker is lost: replace it if work is waiting, but only up to the soft cap,
    /// so a crash storm cannot inflate the pool to the hard cap.
    fn replace_lost_worker(&mut self) {
        if !self.unscheduled.is_empty() {
            self.spawn_if_affordable(false);
        }
    }

    fn handle_concluded(&mut self, worker: Worker, rip: bool, result: PrepareResult) {
        metrics::prepare_concluded();
        if let Some(Some(job)) = self.workers.get(&worker).copied() {
            let data = self
                .jobs
                .remove(job)
                .expect("a worker's job is in the job table; qed");
            let artifact_id = ArtifactId::from_pvf(&data.pvf);
            self.artifact_id_to_job.remove(&artifact_id);
            self.host.do_send(PrepareConcluded {
                artifact_id,
                result,
            });
        } else {
            tracing::error!(target: LOG_TARGET, "host bug: Concluded from a worker without a job");
        }
        if rip {
            self.workers.remove(&worker);
            self.replace_lost_worker();
        } else if self.limits.should_cull(self.worker_count()) && !self.unscheduled.has_critical() {
            self.workers.remove(&worker);
            self.pool.do_send(ToPool::Kill(worker));
        } else {
            self.workers.insert(worker, None);
            self.schedule();
        }
    }

    fn handle_rip(&mut self, worker: Worker) {
        if let Some(Some(job)) = self.workers.remove(&worker) {
            // The job never concluded: it goes back to the front of its lane.
            let data = &mut self.jobs[job];
            data.worker = None;
            let priority = data.priority;
            self.unscheduled.lane(priority).push_front(job);
        }
        self.replace_lost_worker();
        self.schedule();
    }

    fn handle_spawned(&mut self, worker: Worker) {
        self.spawn_inflight = self.spawn_inflight.saturating_sub(1);
        self.workers.insert(worker, None);
        self.schedule();
    }
}

impl Actor for Queue {
    type Context = Context<Self>;
}

impl Handler<Enqueue> for Queue {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, _: &mut Self::Context) {
        self.enqueue(msg.priority, msg.pvf);
    }
}

impl Handler<FromPool> for Queue {
    type Result = ();

    fn handle(&mut self, msg: FromPool, _: &mut Self::Context) {
        match msg {
            FromPool::Spawned(worker) => self.handle_spawned(worker),
            FromPool::Concluded {
                worker,
                rip,
                result,
            } => self.handle_concluded(worker, rip, result),
            FromPool::Rip(worker) => self.handle_rip(worker),
        }
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
