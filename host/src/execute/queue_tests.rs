//! Message-driven tests of the ExecuteQueue actor with no worker processes: a fake spawner
//! hands out workers whose runner actor answers `RunExecuteJob` from a per-job script, and a
//! fake host records `ArtifactNeedsPreparation`.

use super::*;
use crate::{artifacts::ArtifactId, execute::worker::JobStats, spawn::WorkerDir};
use actix::dev::{MessageResponse, OneshotSender};
use pvf_common::{
    ArtifactChecksum, ExecutorParam, PrepareJobKind,
    execute::{BlockData, HeadData, PossiblyInvalidError},
};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Mutex,
};
use tokio::{net::UnixStream, sync::mpsc};

/// How long a test waits for a message that must come.
const DEADLINE: Duration = Duration::from_secs(2);
/// How long a test waits to be satisfied that no message comes.
const QUIET: Duration = Duration::from_millis(150);

/// Executor parameters of the "A" session.
fn params_a() -> ExecutorParams {
    ExecutorParams::new()
}

/// Executor parameters of the "B" session.
fn params_b() -> ExecutorParams {
    ExecutorParams::from(vec![ExecutorParam::StackLogicalMax(2048)])
}

fn valid(n: u8) -> ValidationResult {
    ValidationResult {
        head_data: HeadData(vec![n]),
        new_validation_code: None,
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    }
}

fn runtime_construction() -> ValidationError {
    ValidationError::PossiblyInvalid(PossiblyInvalidError::RuntimeConstruction("bad".into()))
}

fn artifact_path(n: u8) -> PathBuf {
    PathBuf::from(format!("/cache/job-{n}.pvf"))
}

/// Job `n`: its own code (so its own artifact), the given session and lane.
fn job(
    n: u8,
    params: ExecutorParams,
    kind: PvfExecKind,
) -> (ExecuteJob, oneshot::Receiver<ExecuteResult>) {
    let pvf = pvf_common::PvfPrepData::from_code(
        vec![n],
        params,
        Duration::from_secs(1),
        PrepareJobKind::Compilation,
        1024,
    );
    let (result_tx, result_rx) = oneshot::channel();
    let job = ExecuteJob {
        artifact_id: ArtifactId::from_pvf(&pvf),
        artifact_path: artifact_path(n),
        artifact_checksum: ArtifactChecksum([n; 32]),
        pvf,
        exec_timeout: Duration::from_secs(2),
        pvd: PersistedValidationData {
            parent_head: HeadData(vec![0]),
            relay_parent_number: 1,
            relay_parent_storage_root: [0; 32],
            max_pov_size: 1024,
        },
        pov: PoV {
            block_data: BlockData(vec![n]),
        },
        kind,
        result_tx,
        waiting_since: Instant::now(),
        reprepared: false,
    };
    (job, result_rx)
}

/// What the fake runner answers to one `RunExecuteJob`.
#[derive(Clone, Copy, Debug)]
enum Script {
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
    fn outcome(self, idle: IdleWorker) -> Option<ExecOutcome> {
        let kept = |result, artifact| ExecOutcome {
            worker: Some(idle),
            result,
            artifact,
            job_stats: Some(JobStats {
                cpu_time: Duration::from_millis(1),
                pov_size: 0,
            }),
            unreached: false,
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
            Script::Unreached => ExecOutcome {
                worker: None,
                result: Err(ValidationError::PossiblyInvalid(
                    PossiblyInvalidError::AmbiguousWorkerDeath,
                )),
                artifact: ArtifactVerdict::Keep,
                job_stats: None,
                unreached: true,
            },
            Script::NoReply => return None,
        })
    }
}

/// One scripted answer, optionally held back until `gate` fires (or is dropped).
struct Step {
    script: Script,
    gate: Option<oneshot::Receiver<()>>,
}

/// Scripted answers per artifact path, in order.
type Steps = Arc<Mutex<HashMap<PathBuf, VecDeque<Step>>>>;

/// What the fake spawner and the fake workers saw.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Spawn(Worker, ExecutorParams),
    Run(Worker, PathBuf),
    Retire(Worker),
}

/// The per-worker actor's stand-in.
struct FakeRunner {
    worker: Worker,
    steps: Steps,
    events: mpsc::UnboundedSender<Event>,
}

impl Actor for FakeRunner {
    type Context = Context<Self>;
}

/// A reply that may never be sent.
struct Reply(LocalBoxFuture<'static, Option<ExecOutcome>>);

impl MessageResponse<FakeRunner, RunExecuteJob> for Reply {
    fn handle(self, _: &mut Context<FakeRunner>, tx: Option<OneshotSender<ExecOutcome>>) {
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
struct FakeSpawner {
    cache: PathBuf,
    steps: Steps,
    events: mpsc::UnboundedSender<Event>,
}

impl SpawnExecuteWorker for FakeSpawner {
    fn spawn(
        &self,
        worker: Worker,
        params: Arc<ExecutorParams>,
        _on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedExecuteWorker, String>> {
        let _ = self.events.send(Event::Spawn(worker, (*params).clone()));
        let (cache, steps, events) = (self.cache.clone(), self.steps.clone(), self.events.clone());
        Box::pin(async move {
            let (stream, _peer) = UnixStream::pair().map_err(|e| e.to_string())?;
            let worker_dir = WorkerDir::new(&cache).map_err(|e| e.to_string())?;
            let runner = FakeRunner {
                worker,
                steps,
                events,
            }
            .start();
            Ok(SpawnedExecuteWorker {
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

/// The fake host: forwards every `ArtifactNeedsPreparation` into a channel.
struct HostRecorder(mpsc::UnboundedSender<ArtifactNeedsPreparation>);

impl Actor for HostRecorder {
    type Context = Context<Self>;
}

impl Handler<ArtifactNeedsPreparation> for HostRecorder {
    type Result = ();

    fn handle(&mut self, msg: ArtifactNeedsPreparation, _: &mut Self::Context) {
        let _ = self.0.send(msg);
    }
}

struct Harness {
    queue: Addr<ExecuteQueue>,
    events: mpsc::UnboundedReceiver<Event>,
    to_host: mpsc::UnboundedReceiver<ArtifactNeedsPreparation>,
    steps: Steps,
    _cache: tempfile::TempDir,
}

impl Harness {
    fn new(capacity: usize) -> Self {
        let cache = tempfile::tempdir().expect("a temp dir");
        let (events_tx, events) = mpsc::unbounded_channel();
        let (host_tx, to_host) = mpsc::unbounded_channel();
        let steps = Steps::default();
        let spawner = FakeSpawner {
            cache: cache.path().to_path_buf(),
            steps: steps.clone(),
            events: events_tx,
        };
        let host = HostRecorder(host_tx).start();
        let queue = ExecuteQueue::new(capacity, Box::new(spawner), host.recipient()).start();
        Self {
            queue,
            events,
            to_host,
            steps,
            _cache: cache,
        }
    }

    fn push_step(&self, n: u8, step: Step) {
        self.steps
            .lock()
            .unwrap()
            .entry(artifact_path(n))
            .or_default()
            .push_back(step);
    }

    /// Scripts the next answer for job `n`.
    fn script(&self, n: u8, script: Script) {
        self.push_step(n, Step { script, gate: None });
    }

    /// Scripts the next answer for job `n`, held back until the returned sender fires.
    fn script_gated(&self, n: u8, script: Script) -> oneshot::Sender<()> {
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

    fn enqueue(&self, job: ExecuteJob) {
        self.queue.do_send(EnqueueExecution(job));
    }

    async fn next_event(&mut self) -> Event {
        tokio::time::timeout(DEADLINE, self.events.recv())
            .await
            .expect("expected a worker event, got nothing")
            .expect("the spawner is alive")
    }

    async fn expect_event(&mut self, expected: Event) {
        assert_eq!(self.next_event().await, expected);
    }

    /// Expects exactly these events, in any order (they come from different actors).
    async fn expect_events(&mut self, mut expected: Vec<Event>) {
        while !expected.is_empty() {
            let event = self.next_event().await;
            let Some(i) = expected.iter().position(|e| *e == event) else {
                panic!("unexpected {event:?}, still expecting {expected:?}");
            };
            expected.swap_remove(i);
        }
    }

    /// Expects a spawn with `params` and returns the new worker.
    async fn expect_spawn(&mut self, params: ExecutorParams) -> Worker {
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
    async fn expect_replaced(&mut self, retired: Worker, params: ExecutorParams, n: u8) -> Worker {
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

    async fn expect_no_event(&mut self) {
        if let Ok(event) = tokio::time::timeout(QUIET, self.events.recv()).await {
            panic!("expected no worker event, got {event:?}");
        }
    }

    async fn expect_no_host_message(&mut self) {
        if let Ok(Some(msg)) = tokio::time::timeout(QUIET, self.to_host.recv()).await {
            panic!(
                "expected nothing for the host, got ArtifactNeedsPreparation for {:?}",
                msg.job.artifact_path
            );
        }
    }

    async fn next_host_message(&mut self) -> ArtifactNeedsPreparation {
        tokio::time::timeout(DEADLINE, self.to_host.recv())
            .await
            .expect("expected ArtifactNeedsPreparation, got nothing")
            .expect("the host recorder is alive")
    }
}

async fn result_of(rx: oneshot::Receiver<ExecuteResult>) -> ExecuteResult {
    tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("expected a result, got nothing")
        .expect("the queue dropped the job unanswered")
}

/// Checks the job has no answer yet (its sender is still held somewhere).
fn assert_unanswered(rx: &mut oneshot::Receiver<ExecuteResult>) {
    assert_eq!(
        rx.try_recv(),
        Err(oneshot::error::TryRecvError::Empty),
        "the job should not have been answered"
    );
}

const RELAY_PARENT_LIVE: [u8; 32] = [1; 32];
const RELAY_PARENT_GONE: [u8; 32] = [2; 32];

#[actix_rt::test]
async fn a_job_spawns_a_dedicated_worker_and_the_next_job_with_its_params_reuses_it() {
    let mut h = Harness::new(2);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));

    h.script(2, Script::Valid(2));
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Backing(RELAY_PARENT_LIVE));
    h.enqueue(j2);
    h.expect_event(Event::Run(w, artifact_path(2))).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn at_capacity_an_idle_worker_with_other_params_is_retired_for_a_new_one() {
    let mut h = Harness::new(1);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let wa = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(wa, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));

    h.script(2, Script::Valid(2));
    let (j2, rx2) = job(2, params_b(), PvfExecKind::Approval);
    h.enqueue(j2);
    h.expect_replaced(wa, params_b(), 2).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn jobs_wait_while_every_worker_is_busy_at_capacity_then_run() {
    let mut h = Harness::new(2);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let gate2 = h.script_gated(2, Script::Valid(2));
    h.script(3, Script::Valid(3));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Approval);
    let (j3, mut rx3) = job(3, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    h.enqueue(j2);
    let w2 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w2, artifact_path(2))).await;

    // Both workers are busy and the queue is at capacity: job 3 waits.
    h.enqueue(j3);
    h.expect_no_event().await;
    assert_unanswered(&mut rx3);

    // Worker 2 finishes first: it takes job 3.
    gate2.send(()).unwrap();
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_event(Event::Run(w2, artifact_path(3))).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));

    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_finished_worker_prefers_a_waiting_job_with_its_own_params() {
    let mut h = Harness::new(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    h.script(2, Script::Valid(2));
    h.script(3, Script::Valid(3));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let wa = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(wa, artifact_path(1))).await;

    // The eldest waiting job has other params; a younger one has the busy worker's.
    let (j2, rx2) = job(2, params_b(), PvfExecKind::Approval);
    let (j3, rx3) = job(3, params_a(), PvfExecKind::Approval);
    h.enqueue(j2);
    h.enqueue(j3);
    h.expect_no_event().await;

    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    // Job 3 jumps job 2 on the same worker, no respawn.
    h.expect_event(Event::Run(wa, artifact_path(3))).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));
    // Then nothing with params A waits: the worker makes room for job 2.
    h.expect_replaced(wa, params_b(), 2).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn an_eldest_job_that_waited_too_long_beats_the_finished_workers_preference() {
    let mut h = Harness::new(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let gate2 = h.script_gated(2, Script::Valid(2));
    h.script(3, Script::Valid(3));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let wa = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(wa, artifact_path(1))).await;

    let (mut j2, rx2) = job(2, params_b(), PvfExecKind::Approval);
    j2.waiting_since = Instant::now()
        .checked_sub(MAX_KEEP_WAITING + Duration::from_secs(1))
        .expect("the clock is past MAX_KEEP_WAITING");
    let (j3, mut rx3) = job(3, params_a(), PvfExecKind::Approval);
    h.enqueue(j2);
    h.enqueue(j3);
    h.expect_no_event().await;

    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    // Job 2 goes first: the worker with params A is retired for it.
    let wb = h.expect_replaced(wa, params_b(), 2).await;
    // Job 3 waits for the only slot, held by job 2.
    h.expect_no_event().await;
    assert_unanswered(&mut rx3);
    gate2.send(()).unwrap();
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_replaced(wb, params_a(), 3).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));
}

#[actix_rt::test]
async fn prune_backing_answers_stale_backing_jobs_and_keeps_the_rest() {
    let mut h = Harness::new(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Dispute);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;

    // Queued behind the busy worker.
    let (stale_backing, rx_stale_backing) =
        job(2, params_a(), PvfExecKind::Backing(RELAY_PARENT_GONE));
    let (stale_system, rx_stale_system) = job(
        3,
        params_a(),
        PvfExecKind::BackingSystemParas(RELAY_PARENT_GONE),
    );
    let (live_backing, mut rx_live_backing) =
        job(4, params_a(), PvfExecKind::Backing(RELAY_PARENT_LIVE));
    let (approval, mut rx_approval) = job(5, params_a(), PvfExecKind::Approval);
    for j in [stale_backing, stale_system, live_backing, approval] {
        h.enqueue(j);
    }
    h.expect_no_event().await;

    h.queue.do_send(PruneBacking {
        live: Arc::new(HashSet::from([RELAY_PARENT_LIVE])),
    });
    assert_eq!(
        result_of(rx_stale_backing).await,
        Err(ValidationError::ExecutionDeadline)
    );
    assert_eq!(
        result_of(rx_stale_system).await,
        Err(ValidationError::ExecutionDeadline)
    );
    assert_unanswered(&mut rx_live_backing);
    assert_unanswered(&mut rx_approval);

    // The rest still run once the worker is free; the pruned jobs never do.
    h.script(4, Script::Valid(4));
    h.script(5, Script::Valid(5));
    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    h.expect_events(vec![
        Event::Run(w, artifact_path(4)),
        Event::Run(w, artifact_path(5)),
    ])
    .await;
    assert_eq!(result_of(rx_live_backing).await, Ok(valid(4)));
    assert_eq!(result_of(rx_approval).await, Ok(valid(5)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn an_unreached_worker_is_retired_and_the_job_runs_again_on_a_new_one() {
    let mut h = Harness::new(1);
    h.script(1, Script::Unreached);
    h.script(1, Script::Valid(7));
    let (j1, rx1) = job(1, params_b(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_b()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    // The job is put back first in line; a fresh worker runs it.
    h.expect_replaced(w1, params_b(), 1).await;
    assert_eq!(result_of(rx1).await, Ok(valid(7)));
    h.expect_no_event().await;
    h.expect_no_host_message().await;
}

#[actix_rt::test]
async fn a_lost_reply_answers_ambiguous_worker_death_and_retires_the_worker() {
    let mut h = Harness::new(1);
    h.script(1, Script::NoReply);
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(
        result_of(rx1).await,
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousWorkerDeath
        ))
    );
    h.expect_event(Event::Retire(w)).await;
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_reprepare_verdict_goes_to_the_host_unless_the_job_was_already_reprepared() {
    let mut h = Harness::new(1);
    h.script(1, Script::Reprepare);
    let (j1, mut rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;

    let msg = h.next_host_message().await;
    assert!(msg.remove_file, "a bad artifact file should be removed");
    assert_eq!(msg.job.artifact_path, artifact_path(1));
    assert!(!msg.job.reprepared);
    assert_unanswered(&mut rx1);

    // The host prepared it again and enqueues the same job: the worker was kept.
    let mut again = msg.job;
    again.reprepared = true;
    h.script(1, Script::Reprepare);
    h.enqueue(again);
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Err(runtime_construction()));
    h.expect_no_host_message().await;
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_missing_artifact_goes_to_the_host_without_removing_a_file() {
    let mut h = Harness::new(1);
    h.script(1, Script::Missing);
    let (j1, mut rx1) = job(1, params_a(), PvfExecKind::Dispute);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    let msg = h.next_host_message().await;
    assert!(!msg.remove_file, "there is no file to remove");
    assert_eq!(msg.job.artifact_path, artifact_path(1));
    assert_unanswered(&mut rx1);
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn an_idle_worker_that_dies_is_retired_and_replaced_on_demand() {
    let mut h = Harness::new(1);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));

    h.queue.do_send(WorkerDied { worker: w1 });
    h.expect_event(Event::Retire(w1)).await;

    h.script(2, Script::Valid(2));
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Approval);
    h.enqueue(j2);
    let w2 = h.expect_spawn(params_a()).await;
    assert_ne!(w1, w2);
    h.expect_event(Event::Run(w2, artifact_path(2))).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
}
