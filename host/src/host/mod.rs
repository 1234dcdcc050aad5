//! The host actor: the artifact table, coalescing of requests, retries and pruning.
//!
//! Every request starts from one lookup of its artifact (`Lookup`): Ready (answered at once),
//! Unverified (adopted from an earlier run: checked first, except for executions, whose
//! worker checks it), InFlight (the caller joins the waiters, so one compilation serves
//! everyone; a Critical caller bumps the job), Failed (pre-checks get the stored error;
//! preparation for execution retries a non-deterministic failure after the cooldown, a few
//! times) or Absent (a preparation starts). Executions wait for their artifact in
//! `awaiting_prepare` and then go to the execute queue.
//!
//! Artifacts adopted from an earlier run start unverified; [`integrity`] checks one before a
//! pre-check or prepare request is answered from it. [`active_leaves`] tracks the relay-chain
//! view and drops backing jobs that fell out of it. [`unavailable`] drops the executions
//! waiting for a preparation while no prepare worker can start.

mod active_leaves;
mod integrity;
mod unavailable;

pub use active_leaves::UpdateActiveLeaves;

use crate::{
    artifacts::{
        ArtifactId, ArtifactState, Artifacts, ArtifactsCleanupConfig, RetryPolicy, Waiters,
    },
    cache_dir::{self, AdoptedArtifact},
    execute::{
        lanes::{ExecPriority, PvfExecKind},
        queue::{
            ArtifactNeedsPreparation, ArtifactProblem, EnqueueExecution, ExecuteJob, ExecuteResult,
            PruneBacking,
        },
    },
    metrics,
    prepare::queue::{Enqueue, PrepareConcluded, Priority},
    spawn::WorkerFlavour,
    worker_availability::WorkerAvailability,
};
use actix::prelude::*;
use integrity::DeferredRequest;
use pvf_common::execute::{
    PersistedValidationData, PoV, ValidationError, ValidationParamsExtension,
};
use pvf_common::{
    LOG_TARGET, PrecheckResult, PrepareError, PrepareResult, PvfPrepData, prepare::PrepareSuccess,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

/// Pre-check `pvf`: answer whether it compiles and instantiates. Never retries a failure.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PrecheckPvf {
    /// The PVF, normally with `PrepareJobKind::Prechecking` and the precheck timeout.
    pub pvf: PvfPrepData,
    /// Where the answer goes.
    pub result_tx: oneshot::Sender<PrecheckResult>,
}

/// Prepare `pvf` for execution and answer with the artifact.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PreparePvf {
    /// The PVF, normally with `PrepareJobKind::Compilation` and the lenient timeout.
    pub pvf: PvfPrepData,
    /// The queue lane.
    pub priority: Priority,
    /// Where the answer goes.
    pub result_tx: oneshot::Sender<PrepareResult>,
}

/// Prepare these PVFs ahead of need, at Normal priority. No answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HeadsUp {
    /// PVFs that will soon be needed.
    pub active_pvfs: Vec<PvfPrepData>,
}

/// Execute a candidate: prepare the PVF first if needed (Critical for approvals and disputes,
/// Normal for backing), then run it in the execute queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ExecutePvf {
    /// The PVF, normally with `PrepareJobKind::Compilation` and the lenient timeout.
    pub pvf: PvfPrepData,
    /// The execution's CPU-time limit.
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
}

/// An execution waiting for its artifact to be prepared.
struct PendingExecution {
    request: ExecutePvf,
    reprepared: bool,
}

/// Where the host actor sends work.
pub struct HostQueues {
    /// The prepare queue.
    pub prepare: Recipient<Enqueue>,
    /// The execute queue, for jobs whose artifact is ready.
    pub execute: Recipient<EnqueueExecution>,
    /// The execute queue, told when the relay-chain view changes.
    pub prune_backing: Recipient<PruneBacking>,
}

/// The host actor's policies.
#[derive(Clone, Copy, Debug)]
pub struct HostPolicy {
    /// When failed preparations for execution are retried.
    pub retry: RetryPolicy,
    /// Cache size bounds.
    pub cleanup: ArtifactsCleanupConfig,
    /// How often the cache is pruned.
    pub cleanup_pulse_interval: Duration,
}

/// What a request finds for its artifact: every handler starts from this one lookup.
enum Lookup {
    /// On disk and verified (or prepared by this host); its "last needed" time was refreshed.
    Ready(PrepareSuccess),
    /// On disk, adopted from an earlier run and not yet checked against its checksum; its
    /// "last needed" time was refreshed.
    Unverified(PrepareSuccess),
    /// A preparation is queued or running.
    InFlight,
    /// The last preparation failed; `retry` holds the failures so far if it may run again now.
    Failed {
        error: PrepareError,
        retry: Option<u32>,
    },
    /// Never prepared, pruned, found damaged, or its file vanished.
    Absent,
}

/// The host actor.
pub struct HostActor {
    artifacts: Artifacts,
    queues: HostQueues,
    policy: HostPolicy,
    awaiting_prepare: HashMap<ArtifactId, Vec<PendingExecution>>,
    /// Active leaves and their ancestors: the relay parents backing may still use.
    active_leaves: HashMap<[u8; 32], Vec<[u8; 32]>>,
    /// Requests waiting for an adopted artifact's checksum to be verified.
    verifying: HashMap<ArtifactId, Vec<integrity::DeferredRequest>>,
    /// Whether preparations can start; executions do not wait for one that cannot.
    prepare_workers: Arc<WorkerAvailability>,
}

impl HostActor {
    /// A host that sends work to `queues` and starts with the `adopted` artifacts.
    pub fn new(queues: HostQueues, policy: HostPolicy, adopted: Vec<AdoptedArtifact>) -> Self {
        let mut artifacts = Artifacts::default();
        for a in adopted {
            artifacts.insert_adopted(a.name.id, a.path, a.size, a.name.checksum, a.last_used);
        }
        Self {
            artifacts,
            queues,
            policy,
            awaiting_prepare: HashMap::new(),
            active_leaves: HashMap::new(),
            verifying: HashMap::new(),
            prepare_workers: Arc::new(WorkerAvailability::new(WorkerFlavour::Prepare, 0)),
        }
    }

    /// The same host, dropping executions that wait for a preparation while `prepare_workers`
    /// are unavailable.
    pub fn with_prepare_workers(mut self, prepare_workers: Arc<WorkerAvailability>) -> Self {
        self.prepare_workers = prepare_workers;
        self
    }

    /// The one lookup every request starts from. A prepared artifact whose file vanished is
    /// forgotten and reported `Absent`; a found one has its "last needed" time refreshed.
    fn lookup(&mut self, id: &ArtifactId) -> Lookup {
        let (success, verified) = match self.artifacts.artifact_state_mut(id) {
            None => return Lookup::Absent,
            Some(ArtifactState::Preparing { .. }) => return Lookup::InFlight,
            Some(ArtifactState::FailedToProcess {
                last_time_failed,
                num_failures,
                error,
            }) => {
                let retry = self
                    .policy
                    .retry
                    .can_retry(*last_time_failed, *num_failures, error)
                    .then_some(*num_failures);
                return Lookup::Failed {
                    error: error.clone(),
                    retry,
                };
            }
            Some(ArtifactState::Prepared {
                path,
                size,
                checksum,
                stats,
                last_time_needed,
                verified,
            }) if path.exists() => {
                *last_time_needed = cache_dir::touch(path, *last_time_needed);
                let success = PrepareSuccess {
                    path: path.clone(),
                    size: *size,
                    checksum: *checksum,
                    stats: *stats,
                };
                (success, *verified)
            }
            Some(ArtifactState::Prepared { path, .. }) => {
                tracing::warn!(target: LOG_TARGET, ?path, "prepared artifact vanished; preparing again");
                self.artifacts.remove(id);
                self.report_cache_usage();
                return Lookup::Absent;
            }
        };
        if verified {
            Lookup::Ready(success)
        } else {
            Lookup::Unverified(success)
        }
    }

    /// Records the preparation of `id` as in flight, with `waiters`, and queues it.
    fn start_preparation(
        &mut self,
        id: ArtifactId,
        priority: Priority,
        pvf: PvfPrepData,
        waiters: Waiters,
        num_failures: u32,
    ) {
        self.artifacts.insert_preparing(id, waiters, num_failures);
        self.queues.prepare.do_send(Enqueue { priority, pvf });
    }

    /// The callers waiting for the in-flight preparation of `id`.
    fn waiters(&mut self, id: &ArtifactId) -> Option<&mut Waiters> {
        match self.artifacts.artifact_state_mut(id) {
            Some(ArtifactState::Preparing { waiters, .. }) => Some(waiters),
            _ => None,
        }
    }

    /// A Critical request joins an in-flight preparation: the queue bumps a job still
    /// waiting as Normal.
    fn bump(&self, priority: Priority, pvf: PvfPrepData) {
        if priority == Priority::Critical {
            self.queues.prepare.do_send(Enqueue { priority, pvf });
        }
    }

    fn handle_precheck(
        &mut self,
        pvf: PvfPrepData,
        result_tx: oneshot::Sender<PrecheckResult>,
        ctx: &mut Context<Self>,
    ) {
        let id = ArtifactId::from_pvf(&pvf);
        match self.lookup(&id) {
            Lookup::Ready(_) => {
                let _ = result_tx.send(Ok(()));
            }
            Lookup::Unverified(_) => {
                self.verify_then(id, DeferredRequest::Precheck { pvf, result_tx }, ctx)
            }
            Lookup::InFlight => {
                if let Some(waiters) = self.waiters(&id) {
                    waiters.precheck.push(result_tx);
                }
            }
            // Pre-checks never retry: the vote is on the first verdict.
            Lookup::Failed { error, .. } => {
                let _ = result_tx.send(Err(error));
            }
            Lookup::Absent => {
                let waiters = Waiters {
                    precheck: vec![result_tx],
                    prepare: Vec::new(),
                };
                self.start_preparation(id, Priority::Normal, pvf, waiters, 0);
            }
        }
    }

    fn handle_prepare(
        &mut self,
        pvf: PvfPrepData,
        priority: Priority,
        result_tx: oneshot::Sender<PrepareResult>,
        ctx: &mut Context<Self>,
    ) {
        let id = ArtifactId::from_pvf(&pvf);
        let waiting = |result_tx| Waiters {
            precheck: Vec::new(),
            prepare: vec![result_tx],
        };
        match self.lookup(&id) {
            Lookup::Ready(success) => {
                let _ = result_tx.send(Ok(success));
            }
            Lookup::Unverified(_) => {
                let request = DeferredRequest::Prepare {
                    pvf,
                    priority,
                    result_tx,
                };
                self.verify_then(id, request, ctx);
            }
            Lookup::InFlight => {
                if let Some(waiters) = self.waiters(&id) {
                    waiters.prepare.push(result_tx);
                }
                self.bump(priority, pvf);
            }
            Lookup::Failed {
                retry: Some(num_failures),
                ..
            } => self.start_preparation(id, priority, pvf, waiting(result_tx), num_failures),
            Lookup::Failed { error, retry: None } => {
                let _ = result_tx.send(Err(error));
            }
            Lookup::Absent => self.start_preparation(id, priority, pvf, waiting(result_tx), 0),
        }
    }

    fn handle_heads_up(&mut self, active_pvfs: Vec<PvfPrepData>) {
        for pvf in active_pvfs {
            let id = ArtifactId::from_pvf(&pvf);
            match self.lookup(&id) {
                Lookup::Ready(_)
                | Lookup::Unverified(_)
                | Lookup::InFlight
                | Lookup::Failed { retry: None, .. } => {}
                Lookup::Failed {
                    retry: Some(num_failures),
                    ..
                } => self.start_preparation(
                    id,
                    Priority::Normal,
                    pvf,
                    Waiters::default(),
                    num_failures,
                ),
                Lookup::Absent => {
                    self.start_preparation(id, Priority::Normal, pvf, Waiters::default(), 0)
                }
            }
        }
    }

    fn handle_execute(&mut self, pending: PendingExecution) {
        let pvf = pending.request.pvf.clone();
        let id = ArtifactId::from_pvf(&pvf);
        let priority = match pending.request.kind.priority() {
            ExecPriority::Dispute | ExecPriority::Approval => Priority::Critical,
            ExecPriority::BackingSystemParas | ExecPriority::Backing => Priority::Normal,
        };
        match self.lookup(&id) {
            // Unverified (adopted) artifacts go too: the execute worker verifies every artifact
            // it loads, and a mismatch comes back as `ArtifactProblem::Bad`: the artifact is
            // dropped and the job answered `CorruptedArtifact`.
            Lookup::Ready(success) | Lookup::Unverified(success) => {
                return self.send_to_execute_queue(pending, success.path, success.checksum);
            }
            Lookup::InFlight => self.bump(priority, pvf),
            Lookup::Failed {
                retry: Some(num_failures),
                ..
            } => self.start_preparation(id, priority, pvf, Waiters::default(), num_failures),
            Lookup::Failed { error, retry: None } => {
                let _ = pending
                    .request
                    .result_tx
                    .send(Err(ValidationError::from(error)));
                return;
            }
            Lookup::Absent => self.start_preparation(id, priority, pvf, Waiters::default(), 0),
        }
        if self.prepare_workers.get().is_some() {
            // Dropped: the caller's handle answers with the reason.
            return;
        }
        self.awaiting_prepare.entry(id).or_default().push(pending);
    }

    fn send_to_execute_queue(
        &self,
        pending: PendingExecution,
        path: std::path::PathBuf,
        checksum: pvf_common::prepare::ArtifactChecksum,
    ) {
        let request = pending.request;
        if request.result_tx.is_closed() {
            // The caller gave up while the artifact was prepared: nobody wants this execution.
            return;
        }
        let job = ExecuteJob {
            artifact_id: ArtifactId::from_pvf(&request.pvf),
            artifact_path: path,
            artifact_checksum: checksum,
            pvf: request.pvf,
            exec_timeout: request.exec_timeout,
            pvd: request.pvd,
            pov: request.pov,
            params_extension: request.params_extension,
            kind: request.kind,
            result_tx: request.result_tx,
            waiting_since: std::time::Instant::now(),
            reprepared: pending.reprepared,
        };
        self.queues.execute.do_send(EnqueueExecution(job));
    }

    /// The execute queue found the artifact bad or gone: forget it (if it is still the one the
    /// job ran with). A bad one's file is deleted and the job answered with its error: the
    /// next request prepares it anew, and a retry is the caller's. A vanished one is prepared
    /// again and the job runs once more.
    fn handle_needs_preparation(&mut self, msg: ArtifactNeedsPreparation) {
        let job = msg.job;
        if let Some(ArtifactState::Prepared { path, .. }) =
            self.artifacts.artifact_state(&job.artifact_id)
            && *path == job.artifact_path
        {
            self.artifacts.remove(&job.artifact_id);
            if matches!(msg.problem, ArtifactProblem::Bad(_)) {
                // Now, not later: the next preparation renames its artifact to this same name.
                remove_artifact_file(&job.artifact_path);
            }
            self.report_cache_usage();
        }
        if let ArtifactProblem::Bad(error) = msg.problem {
            let _ = job.result_tx.send(Err(error));
            return;
        }
        let request = ExecutePvf {
            pvf: job.pvf,
            exec_timeout: job.exec_timeout,
            pvd: job.pvd,
            pov: job.pov,
            params_extension: job.params_extension,
            kind: job.kind,
            result_tx: job.result_tx,
        };
        self.handle_execute(PendingExecution {
            request,
            reprepared: true,
        });
    }

    fn handle_concluded(&mut self, artifact_id: ArtifactId, result: PrepareResult) {
        let Some(ArtifactState::Preparing {
            waiters,
            num_failures,
        }) = self.artifacts.artifact_state_mut(&artifact_id)
        else {
            tracing::error!(target: LOG_TARGET, ?artifact_id, "host bug: a preparation concluded for an artifact not being prepared");
            return;
        };
        let (waiters, num_failures) = (std::mem::take(waiters), *num_failures);
        waiters.answer(&result);
        for pending in self
            .awaiting_prepare
            .remove(&artifact_id)
            .unwrap_or_default()
        {
            match &result {
                Ok(success) => {
                    self.send_to_execute_queue(pending, success.path.clone(), success.checksum)
                }
                Err(error) => {
                    let _ = pending
                        .request
                        .result_tx
                        .send(Err(ValidationError::from(error.clone())));
                }
            }
        }
        let state = match result {
            Ok(success) => ArtifactState::Prepared {
                path: success.path,
                size: success.size,
                checksum: success.checksum,
                stats: success.stats,
                last_time_needed: SystemTime::now(),
                verified: true,
            },
            Err(error) => {
                tracing::warn!(target: LOG_TARGET, code_hash = ?artifact_id.code_hash, %error, "preparation failed");
                ArtifactState::FailedToProcess {
                    last_time_failed: SystemTime::now(),
                    num_failures: num_failures + 1,
                    error,
                }
            }
        };
        self.artifacts.set(artifact_id, state);
        self.report_cache_usage();
    }

    fn prune(&mut self) {
        let pruned = self.artifacts.prune(&self.policy.cleanup);
        if pruned.is_empty() {
            return;
        }
        tracing::info!(target: LOG_TARGET, count = pruned.len(), "pruning least recently needed artifacts");
        self.report_cache_usage();
        // Synchronously: a preparation of the same artifact may rename a new file to this name.
        for (_, path) in pruned {
            remove_artifact_file(&path);
        }
    }

    fn report_cache_usage(&self) {
        let (bytes, count) = self.artifacts.disk_usage();
        metrics::artifact_cache_usage(bytes, count);
    }
}

/// Deletes an artifact file the table no longer names. One unlink; a failure is logged.
fn remove_artifact_file(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(target: LOG_TARGET, ?path, "cannot remove an artifact: {e}");
    }
}

impl Actor for HostActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // A host dropped right after `start` may be started by the drop of its context, after
        // the runtime is gone; a timer cannot exist then, and nothing needs pruning.
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        ctx.run_interval(self.policy.cleanup_pulse_interval, |host, _| host.prune());
        self.watch_prepare_workers(ctx);
    }
}

impl Handler<PrecheckPvf> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: PrecheckPvf, ctx: &mut Self::Context) {
        self.handle_precheck(msg.pvf, msg.result_tx, ctx);
    }
}

impl Handler<PreparePvf> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: PreparePvf, ctx: &mut Self::Context) {
        self.handle_prepare(msg.pvf, msg.priority, msg.result_tx, ctx);
    }
}

impl Handler<HeadsUp> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: HeadsUp, _: &mut Self::Context) {
        self.handle_heads_up(msg.active_pvfs);
    }
}

impl Handler<PrepareConcluded> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: PrepareConcluded, _: &mut Self::Context) {
        self.handle_concluded(msg.artifact_id, msg.result);
    }
}

impl Handler<ExecutePvf> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: ExecutePvf, _: &mut Self::Context) {
        self.handle_execute(PendingExecution {
            request: msg,
            reprepared: false,
        });
    }
}

impl Handler<ArtifactNeedsPreparation> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: ArtifactNeedsPreparation, _: &mut Self::Context) {
        self.handle_needs_preparation(msg);
    }
}

#[cfg(test)]
mod tests;
