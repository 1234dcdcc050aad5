//! Fakes and a harness for the execute queue's tests: a fake spawner
//! hands out workers whose runner actor answers `RunExecuteJob` from a per-job script, and a
//! recorder stands in for the host and records `ArtifactNeedsPreparation`.

use super::*;
use crate::{
    artifacts::ArtifactId,
    execute::exchange::JobStats,
    metrics::HostCounters,
    spawn::{WorkerDir, WorkerFlavour},
    worker_interface::SpawnedWorker,
};
use actix::dev::{MessageResponse, OneshotSender};
use futures::future::LocalBoxFuture;
use pvf_common::{
    ArtifactChecksum, ExecutorParam, ExecutorParams,
    execute::{HeadData, PossiblyInvalidError},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};
use tokio::{net::UnixStream, sync::mpsc};

pub(super) use crate::test_support::{DEADLINE, QUIET};

/// Executor parameters of the "A" session.
pub(super) fn params_a() -> ExecutorParams {
    ExecutorParams::new()
}

/// Executor parameters of the "B" session.
pub(super) fn params_b() -> ExecutorParams {
    ExecutorParams::from(vec![ExecutorParam::StackLogicalMax(2048)])
}

pub(super) fn valid(n: u8) -> ValidationResult {
    ValidationResult {
        head_data: HeadData(vec![n]),
        new_validation_code: None,
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    }
}

pub(super) fn runtime_construction() -> ValidationError {
    ValidationError::PossiblyInvalid(PossiblyInvalidError::RuntimeConstruction("bad".into()))
}

pub(super) fn artifact_path(n: u8) -> PathBuf {
    PathBuf::from(format!("/cache/job-{n}.pvf"))
}

/// Job `n`: its own code (so its own artifact), the given session and lane.
pub(super) fn job(
    n: u8,
    params: ExecutorParams,
    kind: PvfExecKind,
) -> (ExecuteJob, oneshot::Receiver<ExecuteResult>) {
    let pvf = crate::test_support::pvf_with(n, params);
    let (pvd, pov) = crate::test_support::candidate(n);
    let (result_tx, result_rx) = oneshot::channel();
    let job = ExecuteJob {
        artifact_id: ArtifactId::from_pvf(&pvf),
        artifact_path: artifact_path(n),
        artifact_checksum: ArtifactChecksum([n; 32]),
        pvf,
        exec_timeout: Duration::from_secs(2),
        pvd,
        pov,
        params_extension: None,
        kind,
        result_tx,
        waiting_since: Instant::now(),
        reprepared: false,
    };
    (job, result_rx)
}

/// What the fake runner answers to one `RunExecuteJob`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Script {
    /// `Ok(valid(n))`, worker kept.
    Valid(u8),
    /// The request never reached the worker: it is gone.
    Unreached,
    /// The artifact failed to instantiate: worker kept, artifact to prepare again.
    Reprepare,
    /// The artifact file was gone: worker kept.
    Missing,
    /// Drops the reply channel: the queue sees a `MailboxError`.
    NoReply,
}

impl Script {
    pub(super) fn outcome(self, idle: IdleWorker) -> Option<JobOutcome<ExecResult>> {
        let kept = |result, artifact| {
            JobOutcome::kept(
                idle,
                ExecResult {
                    result,
                    artifact,
                    job_stats: Some(JobStats {
                        cpu_time: Duration::from_millis(1),
                        pov_size: 0,
                        max_rss_kib: None,
                        module_was_cached: false,
                    }),
                },
            )
        };
        Some(match self {
            Script::Valid(n) => kept(Ok(valid(n)), ArtifactVerdict::Keep),
            Script::Reprepare => kept(Err(runtime_construction()), ArtifactVerdict::Reprepare),
            Script::Missing => kept(
                Err(ValidationError::Internal(
                    pvf_common::execute::InternalValidationError::CouldNotCreateLink("gone".into()),
                )),
                ArtifactVerdict::Missing,
            ),
            Script::Unreached => JobOutcome::Unreached,
            Script::NoReply => return None,
        })
    }
}

/// One scripted answer, optionally held back until `gate` fires (or is dropped).
pub(super) struct Step {
    pub(super) script: Script,
    pub(super) gate: Option<oneshot::Receiver<()>>,
}

/// Scripted answers per artifact path, in order.
type Steps = Arc<Mutex<HashMap<PathBuf, VecDeque<Step>>>>;

/// What the fake spawner and the fake workers saw.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    Spawn(Worker, ExecutorParams),
    /// A scripted spawn failure.
    SpawnFailed(Worker),
    Run(Worker, PathBuf),
    Retire(Worker),
}

/// The per-worker actor's stand-in.
pub(super) struct FakeRunner {
    pub(super) worker: Worker,
    pub(super) steps: Steps,
    pub(super) events: mpsc::UnboundedSender<Event>,
}

impl Actor for FakeRunner {
    type Context = Context<Self>;
}

/// A reply that may never be sent.
pub(super) struct Reply(LocalBoxFuture<'static, Option<JobOutcome<ExecResult>>>);

impl MessageResponse<FakeRunner, RunExecuteJob> for Reply {
    fn handle(
        self,
        _: &mut Context<FakeRunner>,
        tx: Option<OneshotSender<JobOutcome<ExecResult>>>,
    ) {
        actix_rt::spawn(async move {
            // Otherwise `tx` is dropped unanswered: the sender gets a `MailboxError`.
            if let (Some(outcome), Some(tx)) = (self.0.await, tx) {
                let _ = tx.send(outcome);
            }
        });
    }
}

impl Handler<RunExecuteJob> for FakeRunner {
    type Result = Reply;

    fn handle(&mut self, job: RunExecuteJob, _: &mut Self::Context) -> Reply {
        let _ = self
            .events
            .send(Event::Run(self.worker, job.artifact_path.clone()));
        let step = self
            .steps
            .lock()
            .unwrap()
            .get_mut(&job.artifact_path)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("no scripted outcome for {:?}", job.artifact_path));
        Reply(Box::pin(async move {
            if let Some(gate) = step.gate {
                let _ = gate.await;
            }
            step.script.outcome(job.idle)
        }))
    }
}

impl Handler<Retire> for FakeRunner {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        let _ = self.events.send(Event::Retire(self.worker));
        ctx.stop();
    }
}

/// Hands out fake workers and records each spawn with its executor parameters.
pub(super) struct FakeSpawner {
    cache: PathBuf,
    steps: Steps,
    events: mpsc::UnboundedSender<Event>,
    /// Spawn attempts still to fail.
    failures: Arc<std::sync::atomic::AtomicU32>,
}

impl SpawnWorker<ExecuteHandshake, RunExecuteJob> for FakeSpawner {
    fn spawn(
        &self,
        worker: Worker,
        handshake: ExecuteHandshake,
        _on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker<RunExecuteJob>, String>> {
        let fail = self
            .failures
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok();
        let event = if fail {
            Event::SpawnFailed(worker)
        } else {
            Event::Spawn(worker, handshake.executor_params)
        };
        let _ = self.events.send(event);
        let (cache, steps, events) = (self.cache.clone(), self.steps.clone(), self.events.clone());
        Box::pin(async move {
            if fail {
                return Err("scripted spawn failure".to_string());
            }
            let (stream, _peer) = UnixStream::pair().map_err(|e| e.to_string())?;
            let worker_dir = WorkerDir::new(&cache).map_err(|e| e.to_string())?;
            let runner = FakeRunner {
                worker,
                steps,
                events,
            }
            .start();
            Ok(SpawnedWorker {
                idle: IdleWorker {
                    stream,
                    pid: 0,
                    worker_dir,
                },
                runner: runner.clone().recipient(),
                retire: runner.recipient(),
            })
        })
    }
}

pub(super) struct Harness {
    pub(super) queue: Addr<ExecuteQueue>,
    pub(super) counters: Arc<HostCounters>,
    events: mpsc::UnboundedReceiver<Event>,
    to_host: mpsc::UnboundedReceiver<ArtifactNeedsPreparation>,
    steps: Steps,
    _cache: tempfile::TempDir,
}

impl Harness {
    pub(super) fn new(capacity: usize) -> Self {
        Self::with_failing_spawns(capacity, 0)
    }

    /// A queue whose workers keep modules warm (a large budget).
    pub(super) fn with_module_cache(capacity: usize) -> Self {
        let options = ExecuteWorkerOptions {
            module_cache_bytes: Some(1 << 30),
            ..ExecuteWorkerOptions::default()
        };
        Self::with_options(capacity, 0, options)
    }

    /// A queue whose first `failures` spawn attempts fail.
    pub(super) fn with_failing_spawns(capacity: usize, failures: u32) -> Self {
        Self::with_options(capacity, failures, ExecuteWorkerOptions::default())
    }

    fn with_options(capacity: usize, failures: u32, options: ExecuteWorkerOptions) -> Self {
        let cache = tempfile::tempdir().expect("a temp dir");
        let (events_tx, events) = mpsc::unbounded_channel();
        let steps = Steps::default();
        let spawner = FakeSpawner {
            cache: cache.path().to_path_buf(),
            steps: steps.clone(),
            events: events_tx,
            failures: Arc::new(failures.into()),
        };
        let (host, to_host) = crate::test_support::recorder();
        let counters = Arc::new(HostCounters::default());
        let accounting = SpawnAccounting::new(WorkerFlavour::Execute, counters.clone());
        let queue = ExecuteQueue::new(
            capacity,
            Box::new(spawner),
            host.recipient(),
            options,
            accounting,
        )
        .start();
        Self {
            queue,
            counters,
            events,
            to_host,
            steps,
            _cache: cache,
        }
    }

    pub(super) fn push_step(&self, n: u8, step: Step) {
        self.steps
            .lock()
            .unwrap()
            .entry(artifact_path(n))
            .or_default()
            .push_back(step);
    }

    /// Scripts the next answer for job `n`.
    pub(super) fn script(&self, n: u8, script: Script) {
        self.push_step(n, Step { script, gate: None });
    }

    /// Scripts the next answer for job `n`, held back until the returned sender fires.
    pub(super) fn script_gated(&self, n: u8, script: Script) -> oneshot::Sender<()> {
        let (tx, gate) = oneshot::channel();
        self.push_step(
            n,
            Step {
                script,
                gate: Some(gate),
            },
        );
        tx
    }

    pub(super) fn enqueue(&self, job: ExecuteJob) {
        self.queue.do_send(EnqueueExecution(job));
    }

    pub(super) async fn next_event(&mut self) -> Event {
        tokio::time::timeout(DEADLINE, self.events.recv())
            .await
            .expect("expected a worker event, got nothing")
            .expect("the spawner is alive")
    }

    pub(super) async fn expect_event(&mut self, expected: Event) {
        assert_eq!(self.next_event().await, expected);
    }

    /// Expects exactly these events, in any order (they come from different actors).
    pub(super) async fn expect_events(&mut self, mut expected: Vec<Event>) {
        while !expected.is_empty() {
            let event = self.next_event().await;
            let Some(i) = expected.iter().position(|e| *e == event) else {
                panic!("unexpected {event:?}, still expecting {expected:?}");
            };
            expected.swap_remove(i);
        }
    }

    /// Expects a spawn with `params` and returns the new worker.
    pub(super) async fn expect_spawn(&mut self, params: ExecutorParams) -> Worker {
        match self.next_event().await {
            Event::Spawn(worker, p) => {
                assert_eq!(p, params, "spawned with the wrong executor parameters");
                worker
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
    }

    /// Expects `retired` to be retired and a new worker with `params` spawned to run job `n`;
    /// returns the new worker. The retirement is recorded by the old worker's actor, so it
    /// may come in any position.
    pub(super) async fn expect_replaced(
        &mut self,
        retired: Worker,
        params: ExecutorParams,
        n: u8,
    ) -> Worker {
        let mut early = Vec::new();
        let worker = loop {
            match self.next_event().await {
                Event::Spawn(worker, p) => {
                    assert_eq!(p, params, "spawned with the wrong executor parameters");
                    break worker;
                }
                other => early.push(other),
            }
        };
        assert_ne!(worker, retired);
        assert!(
            early.iter().all(|e| *e == Event::Retire(retired)),
            "unexpected {early:?}"
        );
        let mut rest = vec![Event::Run(worker, artifact_path(n))];
        if early.is_empty() {
            rest.push(Event::Retire(retired));
        }
        self.expect_events(rest).await;
        worker
    }

    pub(super) async fn expect_no_event(&mut self) {
        if let Ok(event) = tokio::time::timeout(QUIET, self.events.recv()).await {
            panic!("expected no worker event, got {event:?}");
        }
    }

    pub(super) async fn expect_no_host_message(&mut self) {
        if let Ok(Some(msg)) = tokio::time::timeout(QUIET, self.to_host.recv()).await {
            panic!(
                "expected nothing for the host, got ArtifactNeedsPreparation for {:?}",
                msg.job.artifact_path
            );
        }
    }

    pub(super) async fn next_host_message(&mut self) -> ArtifactNeedsPreparation {
        tokio::time::timeout(DEADLINE, self.to_host.recv())
            .await
            .expect("expected ArtifactNeedsPreparation, got nothing")
            .expect("the host recorder is alive")
    }
}

pub(super) async fn result_of(rx: oneshot::Receiver<ExecuteResult>) -> ExecuteResult {
    tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("expected a result, got nothing")
        .expect("the queue dropped the job unanswered")
}

/// Checks the job has no answer yet (its sender is still held somewhere).
pub(super) fn assert_unanswered(rx: &mut oneshot::Receiver<ExecuteResult>) {
    assert_eq!(
        rx.try_recv(),
        Err(oneshot::error::TryRecvError::Empty),
        "the job should not have been answered"
    );
}
