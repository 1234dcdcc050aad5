//! The host actor: the artifact table, coalescing of requests, retries and pruning.
//!
//! Every request for a PVF finds its artifact in one of three states. Preparing: the caller
//! joins the waiters, so one compilation serves everyone. Prepared: answered at once.
//! FailedToProcess: pre-checks get the stored error; preparation for execution retries a
//! non-deterministic failure after the cooldown, a few times. Executions wait for their
//! artifact in `awaiting_prepare` and then go to the execute queue.
//!
//! Artifacts adopted from an earlier run start unverified; [`integrity`] checks one before a
//! pre-check or prepare request is answered from it. [`active_leaves`] tracks the relay-chain
//! view and drops backing jobs that fell out of it.

mod active_leaves;
mod integrity;

pub use active_leaves::UpdateActiveLeaves;

use crate::execute::queue::PruneBacking;
use crate::{
    artifacts::{
        ArtifactId, ArtifactState, Artifacts, ArtifactsCleanupConfig, RetryPolicy, Waiters,
    },
    cache_dir,
    execute::{
        lanes::{ExecPriority, PvfExecKind},
        queue::{ArtifactNeedsPreparation, EnqueueExecution, ExecuteJob, ExecuteResult},
    },
    metrics,
    prepare::queue::{Enqueue, PrepareConcluded, Priority},
};
use actix::prelude::*;
use integrity::DeferredRequest;
use pvf_common::execute::{PersistedValidationData, PoV, ValidationError};
use pvf_common::{
    LOG_TARGET, PrecheckResult, PrepareError, PrepareResult, PvfPrepData, prepare::PrepareSuccess,
};
use std::collections::HashMap;
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

/// The host actor.
pub struct HostActor {
    artifacts: Artifacts,
    queue: Recipient<Enqueue>,
    execute_queue: Option<Recipient<EnqueueExecution>>,
    prune_backing: Option<Recipient<PruneBacking>>,
    awaiting_prepare: HashMap<ArtifactId, Vec<PendingExecution>>,
    /// Active leaves and their ancestors: the relay parents backing may still use.
    active_leaves: HashMap<[u8; 32], Vec<[u8; 32]>>,
    retry: RetryPolicy,
    cleanup: ArtifactsCleanupConfig,
    cleanup_pulse_interval: Duration,
    /// Requests waiting for an adopted artifact's checksum to be verified.
    verifying: HashMap<ArtifactId, Vec<integrity::DeferredRequest>>,
}

impl HostActor {
    /// A host that sends work to `queue` and starts with the `adopted` artifacts.
    pub fn new(
        queue: Recipient<Enqueue>,
        retry: RetryPolicy,
        cleanup: ArtifactsCleanupConfig,
        cleanup_pulse_interval: Duration,
        adopted: Vec<crate::cache_dir::AdoptedArtifact>,
    ) -> Self {
        let mut artifacts = Artifacts::default();
        artifacts.adopt(adopted);
        Self {
            artifacts,
            queue,
            execute_queue: None,
            prune_backing: None,
            awaiting_prepare: HashMap::new(),
            active_leaves: HashMap::new(),
            retry,
            cleanup,
            cleanup_pulse_interval,
            verifying: HashMap::new(),
        }
    }

    /// Connects the execute queue (created after the host, which it reports back to).
    pub fn with_execute_queue(
        mut self,
        execute_queue: Recipient<EnqueueExecution>,
        prune_backing: Recipient<PruneBacking>,
    ) -> Self {
        self.execute_queue = Some(execute_queue);
        self.prune_backing = Some(prune_backing);
        self
    }

    fn send_to_execute_queue(
        &self,
        pending: PendingExecution,
        path: std::path::PathBuf,
        checksum: pvf_common::prepare::ArtifactChecksum,
    ) {
        let request = pending.request;
        let job = ExecuteJob {
            artifact_id: ArtifactId::from_pvf(&request.pvf),
            artifact_path: path,
            artifact_checksum: checksum,
            pvf: request.pvf,
            exec_timeout: request.exec_timeout,
            pvd: request.pvd,
            pov: request.pov,
            kind: request.kind,
            result_tx: request.result_tx,
            waiting_since: std::time::Instant::now(),
            reprepared: pending.reprepared,
        };
        match &self.execute_queue {
            Some(queue) => queue.do_send(EnqueueExecution(job)),
            None => {
                let _ = job.result_tx.send(Err(ValidationError::Internal(
                    pvf_common::execute::InternalValidationError::HostCommunication(
                        "no execute queue".into(),
                    ),
                )));
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
        match self.artifacts.artifact_state_mut(&id) {
            // Unverified (adopted) artifacts go too: the execute worker verifies every artifact
            // it loads, and a mismatch comes back as `ArtifactNeedsPreparation`.
            Some(ArtifactState::Prepared {
                path,
                checksum,
                last_time_needed,
                ..
            }) if path.exists() => {
                *last_time_needed = cache_dir::touch(path, *last_time_needed);
                let (path, checksum) = (path.clone(), *checksum);
                self.send_to_execute_queue(pending, path, checksum);
                return;
            }
            Some(ArtifactState::Prepared { path, .. }) => {
                tracing::warn!(target: LOG_TARGET, ?path, "prepared artifact vanished; preparing again");
                self.enqueue(id, priority, pvf, Waiters::default(), 0);
            }
            Some(ArtifactState::Preparing { .. }) => {
                if priority == Priority::Critical {
                    self.queue.do_send(Enqueue { priority, pvf });
                }
            }
            Some(ArtifactState::FailedToProcess { .. }) => match self.retry_allowed(&id) {
                Some(Ok(num_failures)) => {
                    self.enqueue(id, priority, pvf, Waiters::default(), num_failures)
                }
                Some(Err(error)) => {
                    let _ = pending
                        .request
                        .result_tx
                        .send(Err(ValidationError::from(error)));
                    return;
                }
                None => {}
            },
            None => self.enqueue(id, priority, pvf, Waiters::default(), 0),
        }
        self.awaiting_prepare.entry(id).or_default().push(pending);
    }

    /// The execute queue found the artifact bad or gone: forget it, delete the file if asked,
    /// prepare it again and run the job once more.
    fn handle_needs_preparation(&mut self, msg: ArtifactNeedsPreparation) {
        let job = msg.job;
        if let Some(ArtifactState::Prepared { path, .. }) =
            self.artifacts.artifact_state_mut(&job.artifact_id)
            && *path == job.artifact_path
        {
            self.artifacts.remove(&job.artifact_id);
            if msg.remove_file {
                // Now, not later: the re-preparation renames its artifact to this same name.
                remove_artifact_file(&job.artifact_path);
            }
            self.report_cache_usage();
        }
        let request = ExecutePvf {
            pvf: job.pvf,
            exec_timeout: job.exec_timeout,
            pvd: job.pvd,
            pov: job.pov,
            kind: job.kind,
            result_tx: job.result_tx,
        };
        self.handle_execute(PendingExecution {
            request,
            reprepared: true,
        });
    }

    fn enqueue(
        &mut self,
        id: ArtifactId,
        priority: Priority,
        pvf: PvfPrepData,
        waiters: Waiters,
        num_failures: u32,
    ) {
        self.artifacts.insert_preparing(id, waiters, num_failures);
        self.queue.do_send(Enqueue { priority, pvf });
    }

    /// For a failed artifact: `Ok(failures so far)` if it may be prepared again now, else the
    /// stored error. Pre-checks never call this: they never retry.
    fn retry_allowed(&self, id: &ArtifactId) -> Option<Result<u32, PrepareError>> {
        match self.artifacts.artifact_state(id)? {
            ArtifactState::FailedToProcess {
                last_time_failed,
                num_failures,
                error,
            } => Some(
                if self
                    .retry
                    .can_retry(*last_time_failed, *num_failures, error)
                {
                    Ok(*num_failures)
                } else {
                    Err(error.clone())
                },
            ),
            _ => None,
        }
    }

    fn handle_precheck(
        &mut self,
        pvf: PvfPrepData,
        result_tx: oneshot::Sender<PrecheckResult>,
        ctx: &mut Context<Self>,
    ) {
        let id = ArtifactId::from_pvf(&pvf);
        match self.artifacts.artifact_state_mut(&id) {
            Some(ArtifactState::Prepared {
                verified: false, ..
            }) => self.verify_then(id, DeferredRequest::Precheck { pvf, result_tx }, ctx),
            Some(ArtifactState::Prepared {
                path,
                last_time_needed,
                ..
            }) => {
                *last_time_needed = cache_dir::touch(path, *last_time_needed);
                let _ = result_tx.send(Ok(()));
            }
            Some(ArtifactState::Preparing { waiters, .. }) => waiters.precheck.push(result_tx),
            Some(ArtifactState::FailedToProcess { error, .. }) => {
                let _ = result_tx.send(Err(error.clone()));
            }
            None => {
                let waiters = Waiters {
                    precheck: vec![result_tx],
                    prepare: Vec::new(),
                };
                self.enqueue(id, Priority::Normal, pvf, waiters, 0);
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
        match self.artifacts.artifact_state_mut(&id) {
            Some(ArtifactState::Prepared {
                verified: false, ..
            }) => {
                let request = DeferredRequest::Prepare {
                    pvf,
                    priority,
                    result_tx,
                };
                self.verify_then(id, request, ctx);
            }
            Some(ArtifactState::Prepared {
                path,
                size,
                checksum,
                stats,
                last_time_needed,
                verified: true,
            }) => {
                // One stat: a deleted artifact must be re-prepared, not reported as internal error.
                if path.exists() {
                    *last_time_needed = cache_dir::touch(path, *last_time_needed);
                    let success = PrepareSuccess {
                        path: path.clone(),
                        size: *size,
                        checksum: *checksum,
                        stats: *stats,
                    };
                    let _ = result_tx.send(Ok(success));
                } else {
                    tracing::warn!(target: LOG_TARGET, ?path, "prepared artifact vanished; preparing again");
                    let waiters = Waiters {
                        precheck: Vec::new(),
                        prepare: vec![result_tx],
                    };
                    self.enqueue(id, priority, pvf, waiters, 0);
                }
            }
            Some(ArtifactState::Preparing { waiters, .. }) => {
                waiters.prepare.push(result_tx);
                if priority == Priority::Critical {
                    // The queue bumps a job still waiting as Normal.
                    self.queue.do_send(Enqueue { priority, pvf });
                }
            }
            Some(ArtifactState::FailedToProcess { .. }) => match self.retry_allowed(&id) {
                Some(Ok(num_failures)) => {
                    let waiters = Waiters {
                        precheck: Vec::new(),
                        prepare: vec![result_tx],
                    };
                    self.enqueue(id, priority, pvf, waiters, num_failures);
                }
                Some(Err(error)) => {
                    let _ = result_tx.send(Err(error));
                }
                None => {}
            },
            None => {
                let waiters = Waiters {
                    precheck: Vec::new(),
                    prepare: vec![result_tx],
                };
                self.enqueue(id, priority, pvf, waiters, 0);
            }
        }
    }

    fn handle_heads_up(&mut self, active_pvfs: Vec<PvfPrepData>) {
        for pvf in active_pvfs {
            let id = ArtifactId::from_pvf(&pvf);
            match self.artifacts.artifact_state_mut(&id) {
                Some(ArtifactState::Prepared {
                    path,
                    last_time_needed,
                    ..
                }) => *last_time_needed = cache_dir::touch(path, *last_time_needed),
                Some(ArtifactState::Preparing { .. }) => {}
                Some(ArtifactState::FailedToProcess { .. }) => {
                    if let Some(Ok(num_failures)) = self.retry_allowed(&id) {
                        self.enqueue(id, Priority::Normal, pvf, Waiters::default(), num_failures);
                    }
                }
                None => self.enqueue(id, Priority::Normal, pvf, Waiters::default(), 0),
            }
        }
    }

    fn handle_concluded(&mut self, artifact_id: ArtifactId, result: PrepareResult) {
        let Some(state) = self.artifacts.artifact_state_mut(&artifact_id) else {
            tracing::error!(target: LOG_TARGET, ?artifact_id, "host bug: a preparation concluded for an unknown artifact");
            return;
        };
        let ArtifactState::Preparing {
            waiters,
            num_failures,
        } = state
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
        let Some(state) = self.artifacts.artifact_state_mut(&artifact_id) else {
            return;
        };
        *state = match result {
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
        self.report_cache_usage();
    }

    fn prune(&mut self) {
        let pruned = self.artifacts.prune(&self.cleanup);
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
        ctx.run_interval(self.cleanup_pulse_interval, |host, _| host.prune());
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
