//! Message-driven tests of the Pool actor with no worker processes: a fake spawner hands out
//! workers whose runner actor answers `RunJob` from a script, and a fake queue records what
//! the pool reports.

use super::*;
use crate::{
    metrics::HostCounters,
    spawn::{WorkerDir, WorkerFlavour},
    test_support::{DEADLINE, QUIET, pvf},
    worker_interface::{INITIAL_SPAWN_RETRY_DELAY, SpawnedWorker},
};
use actix::dev::{MessageResponse, OneshotSender};
use futures::future::LocalBoxFuture;
use pvf_common::{
    ArtifactChecksum, PrepareError, PrepareStats, ValidationCodeHash, prepare::PrepareSuccess,
};
use std::time::Duration;
use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};
use tokio::{net::UnixStream, sync::mpsc, sync::oneshot};

/// What the fake runner answers to one `RunJob`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    Concluded,
    CreateTmpFileErr,
    RenameTmpFile,
    ClearWorkerDir,
    Unreachable,
    IoErr,
    TimedOut,
    OutOfMemory,
    JobDied,
    /// Drops the reply channel: the pool sees a `MailboxError`.
    NoReply,
}

impl Script {
    /// What the exchange delivers in this case (see the table in `prepare/exchange.rs`).
    fn outcome(self, idle: IdleWorker) -> Option<JobOutcome<PrepareResult>> {
        let report = self.report();
        Some(match self {
            Script::Concluded | Script::CreateTmpFileErr | Script::RenameTmpFile => {
                JobOutcome::kept(idle, report.expect("a kept job reports"))
            }
            Script::ClearWorkerDir
            | Script::IoErr
            | Script::TimedOut
            | Script::OutOfMemory
            | Script::JobDied => JobOutcome::killed(report.expect("a killed job reports")),
            Script::Unreachable => JobOutcome::Unreached,
            Script::NoReply => return None,
        })
    }

    /// What the queue must be told for this outcome; `None` means `Rip`.
    fn report(self) -> Option<PrepareResult> {
        Some(match self {
            Script::Concluded => success(),
            Script::CreateTmpFileErr => Err(PrepareError::CreateTmpFile("disk full".into())),
            Script::RenameTmpFile => Err(PrepareError::RenameTmpFile {
                err: "read-only".into(),
                src: Some("/w/tmp-artifact".into()),
                dest: Some("/cache/0x1.pvf".into()),
            }),
            Script::ClearWorkerDir => Err(PrepareError::ClearWorkerDir("busy".into())),
            Script::IoErr => Err(PrepareError::IoErr("eof".into())),
            Script::TimedOut => Err(PrepareError::TimedOut),
            Script::OutOfMemory => Err(PrepareError::OutOfMemory),
            Script::JobDied => Err(PrepareError::JobDied {
                err: "received signal: SIGKILL".into(),
                job_pid: 42,
            }),
            Script::Unreachable | Script::NoReply => return None,
        })
    }
}

fn success() -> PrepareResult {
    Ok(PrepareSuccess {
        path: PathBuf::from("/cache/0xabc.pvf"),
        size: 1,
        checksum: ArtifactChecksum([7; 32]),
        stats: PrepareStats::default(),
    })
}

/// One scripted answer, optionally held back until `gate` fires (or is dropped).
struct Step {
    script: Script,
    gate: Option<oneshot::Receiver<()>>,
}

type Steps = Arc<Mutex<VecDeque<Step>>>;

/// What the fake workers saw.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    RunJob(Worker, ValidationCodeHash),
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
struct Reply(LocalBoxFuture<'static, Option<JobOutcome<PrepareResult>>>);

impl MessageResponse<FakeRunner, RunJob> for Reply {
    fn handle(
        self,
        _: &mut Context<FakeRunner>,
        tx: Option<OneshotSender<JobOutcome<PrepareResult>>>,
    ) {
        actix_rt::spawn(async move {
            // Otherwise `tx` is dropped unanswered: the sender gets a `MailboxError`.
            if let (Some(outcome), Some(tx)) = (self.0.await, tx) {
                let _ = tx.send(outcome);
            }
        });
    }
}

impl Handler<RunJob> for FakeRunner {
    type Result = Reply;

    fn handle(&mut self, job: RunJob, _: &mut Self::Context) -> Reply {
        let _ = self
            .events
            .send(Event::RunJob(self.worker, job.pvf.code_hash()));
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted outcome for every RunJob");
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

/// Hands out fake workers; fails the first `failures` attempts.
struct FakeSpawner {
    cache: PathBuf,
    steps: Steps,
    events: mpsc::UnboundedSender<Event>,
    failures: Arc<AtomicU32>,
    attempts: Arc<AtomicU32>,
}

impl SpawnWorker<(), RunJob> for FakeSpawner {
    fn spawn(
        &self,
        worker: Worker,
        _: (),
        _on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker<RunJob>, String>> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
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

/// The fake queue: forwards every `FromPool` into a channel.
struct QueueRecorder(mpsc::UnboundedSender<FromPool>);

impl Actor for QueueRecorder {
    type Context = Context<Self>;
}

impl Handler<FromPool> for QueueRecorder {
    type Result = ();

    fn handle(&mut self, msg: FromPool, _: &mut Self::Context) {
        let _ = self.0.send(msg);
    }
}

struct Harness {
    pool: Addr<Pool>,
    from_pool: mpsc::UnboundedReceiver<FromPool>,
    events: mpsc::UnboundedReceiver<Event>,
    steps: Steps,
    counters: Arc<HostCounters>,
    attempts: Arc<AtomicU32>,
    _cache: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        Self::failing_spawns(0)
    }

    /// A pool whose first `failures` spawn attempts fail.
    fn failing_spawns(failures: u32) -> Self {
        let cache = tempfile::tempdir().expect("a temp dir");
        let (events_tx, events) = mpsc::unbounded_channel();
        let (queue_tx, from_pool) = mpsc::unbounded_channel();
        let steps = Steps::default();
        let attempts = Arc::new(AtomicU32::new(0));
        let counters = Arc::new(HostCounters::default());
        let spawner = FakeSpawner {
            cache: cache.path().to_path_buf(),
            steps: steps.clone(),
            events: events_tx,
            failures: Arc::new(AtomicU32::new(failures)),
            attempts: attempts.clone(),
        };
        let queue = QueueRecorder(queue_tx).start();
        let accounting = SpawnAccounting::new(WorkerFlavour::Prepare, counters.clone());
        let pool = Pool::new(Box::new(spawner), queue.recipient(), accounting).start();
        Self {
            pool,
            from_pool,
            events,
            steps,
            counters,
            attempts,
            _cache: cache,
        }
    }

    fn script(&self, script: Script) {
        self.steps
            .lock()
            .unwrap()
            .push_back(Step { script, gate: None });
    }

    /// Scripts an answer held back until the returned sender fires.
    fn script_gated(&self, script: Script) -> oneshot::Sender<()> {
        let (tx, gate) = oneshot::channel();
        self.steps.lock().unwrap().push_back(Step {
            script,
            gate: Some(gate),
        });
        tx
    }

    fn start_work(&self, worker: Worker, pvf: PvfPrepData) {
        self.pool.do_send(ToPool::StartWork {
            worker,
            pvf,
            cache_path: PathBuf::from("/cache"),
        });
    }

    async fn next_from_pool(&mut self, deadline: Duration) -> FromPool {
        tokio::time::timeout(deadline, self.from_pool.recv())
            .await
            .expect("the pool should have reported to the queue")
            .expect("the queue recorder is alive")
    }

    /// Asks for a worker and waits until the pool reports it spawned.
    async fn spawn(&mut self) -> Worker {
        self.pool.do_send(ToPool::Spawn);
        self.expect_spawned(DEADLINE).await
    }

    async fn expect_spawned(&mut self, deadline: Duration) -> Worker {
        match self.next_from_pool(deadline).await {
            FromPool::Spawned(worker) => worker,
            other => panic!("expected Spawned, got {other:?}"),
        }
    }

    async fn expect_concluded(&mut self, worker: Worker, rip: bool, result: PrepareResult) {
        match self.next_from_pool(DEADLINE).await {
            FromPool::Concluded {
                worker: w,
                rip: r,
                result: res,
            } => {
                assert_eq!(w, worker, "Concluded for the wrong worker");
                assert_eq!(r, rip, "rip flag of {result:?}");
                assert_eq!(res, result);
            }
            other => panic!("expected Concluded, got {other:?}"),
        }
    }

    async fn expect_rip(&mut self, worker: Worker) {
        match self.next_from_pool(DEADLINE).await {
            FromPool::Rip(w) => assert_eq!(w, worker, "Rip of the wrong worker"),
            other => panic!("expected Rip, got {other:?}"),
        }
    }

    async fn expect_no_report(&mut self) {
        if let Ok(msg) = tokio::time::timeout(QUIET, self.from_pool.recv()).await {
            panic!("expected no report to the queue, got {msg:?}");
        }
    }

    async fn expect_event(&mut self, expected: Event) {
        let event = tokio::time::timeout(DEADLINE, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("expected {expected:?}, got nothing"))
            .expect("the spawner is alive");
        assert_eq!(event, expected);
    }

    async fn expect_no_event(&mut self) {
        if let Ok(event) = tokio::time::timeout(QUIET, self.events.recv()).await {
            panic!("expected no worker event, got {event:?}");
        }
    }

    /// Runs `pvf(n)` on `worker` with the scripted answer `script` and checks the report.
    async fn run(&mut self, worker: Worker, n: u8, script: Script) {
        self.script(script);
        self.start_work(worker, pvf(n));
        self.expect_event(Event::RunJob(worker, pvf(n).code_hash()))
            .await;
        match script.report() {
            Some(result) => {
                let kept = matches!(
                    script,
                    Script::Concluded | Script::CreateTmpFileErr | Script::RenameTmpFile
                );
                self.expect_concluded(worker, !kept, result).await;
            }
            None => self.expect_rip(worker).await,
        }
    }
}

#[actix_rt::test]
async fn spawn_reports_spawned() {
    let mut h = Harness::new();
    let w1 = h.spawn().await;
    let w2 = h.spawn().await;
    assert_ne!(w1, w2);
    h.expect_no_report().await;
    h.expect_no_event().await;
    let counters = h.counters.snapshot().prepare;
    assert_eq!(counters.workers_spawned, 2);
    assert_eq!(counters.spawn_failures, 0);
    assert_eq!(h.attempts.load(Ordering::SeqCst), 2);
}

#[actix_rt::test]
async fn kept_outcomes_conclude_without_rip() {
    let mut h = Harness::new();
    let w = h.spawn().await;
    // Each run needs the idle token back: the next StartWork on the same worker reaching the
    // runner proves the worker was kept.
    let kept = [
        Script::Concluded,
        Script::CreateTmpFileErr,
        Script::RenameTmpFile,
        Script::Concluded,
    ];
    for (n, script) in (1..).zip(kept) {
        h.run(w, n, script).await;
    }
    h.expect_no_event().await;
    h.expect_no_report().await;
    assert_eq!(
        h.counters.snapshot().prepare.jobs_started,
        kept.len() as u64
    );
}

#[actix_rt::test]
async fn fatal_outcomes_conclude_with_rip_and_retire() {
    let mut h = Harness::new();
    for script in [
        Script::TimedOut,
        Script::IoErr,
        Script::OutOfMemory,
        Script::JobDied,
        Script::ClearWorkerDir,
    ] {
        let w = h.spawn().await;
        h.run(w, 1, script).await;
        h.expect_event(Event::Retire(w)).await;
        // The worker is gone: work for it is refused.
        h.start_work(w, pvf(2));
        h.expect_rip(w).await;
        h.expect_no_event().await;
    }
}

#[actix_rt::test]
async fn unreachable_rips_and_retires() {
    let mut h = Harness::new();
    let w = h.spawn().await;
    h.run(w, 1, Script::Unreachable).await;
    h.expect_event(Event::Retire(w)).await;
    h.expect_no_report().await;
}

#[actix_rt::test]
async fn lost_reply_rips_and_retires() {
    let mut h = Harness::new();
    let w = h.spawn().await;
    h.run(w, 1, Script::NoReply).await;
    h.expect_event(Event::Retire(w)).await;
    h.expect_no_report().await;
}

#[actix_rt::test]
async fn start_work_for_unknown_worker_rips() {
    let mut h = Harness::new();
    let mut keys = SlotMap::<Worker, ()>::with_key();
    keys.insert(());
    let never_spawned = keys.insert(());
    h.start_work(never_spawned, pvf(1));
    h.expect_rip(never_spawned).await;
    h.expect_no_event().await;
    assert_eq!(h.counters.snapshot().prepare.jobs_started, 0);
}

#[actix_rt::test]
async fn kill_retires_idle_worker() {
    let mut h = Harness::new();
    let w = h.spawn().await;
    h.pool.do_send(ToPool::Kill(w));
    h.expect_event(Event::Retire(w)).await;
    h.expect_no_report().await;
    // A killed worker is unknown from then on.
    h.start_work(w, pvf(1));
    h.expect_rip(w).await;
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn worker_died_of_idle_worker_rips() {
    let mut h = Harness::new();
    let w = h.spawn().await;
    h.pool.do_send(WorkerDied { worker: w });
    h.expect_rip(w).await;
    h.expect_event(Event::Retire(w)).await;
    // A second death notice for the same worker is ignored.
    h.pool.do_send(WorkerDied { worker: w });
    h.expect_no_report().await;
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn worker_died_while_busy_concludes_then_retires() {
    let mut h = Harness::new();
    let w = h.spawn().await;
    let gate = h.script_gated(Script::Concluded);
    h.start_work(w, pvf(1));
    h.expect_event(Event::RunJob(w, pvf(1).code_hash())).await;
    h.pool.do_send(WorkerDied { worker: w });
    // The job is still running: the death is only noted.
    h.expect_no_report().await;
    h.expect_no_event().await;
    gate.send(()).unwrap();
    // The answer counts, but the worker does not come back.
    h.expect_concluded(w, true, success()).await;
    h.expect_event(Event::Retire(w)).await;
}

#[actix_rt::test]
async fn spawn_failures_are_retried_and_counted() {
    let mut h = Harness::failing_spawns(2);
    h.pool.do_send(ToPool::Spawn);
    // Back-off: 250 ms, then 500 ms.
    let w = h
        .expect_spawned(DEADLINE + INITIAL_SPAWN_RETRY_DELAY * 3)
        .await;
    let counters = h.counters.snapshot().prepare;
    assert_eq!(counters.spawn_failures, 2);
    assert_eq!(counters.workers_spawned, 1);
    assert_eq!(h.attempts.load(Ordering::SeqCst), 3);
    h.expect_no_report().await;
    // The worker that finally came up works.
    h.run(w, 1, Script::Concluded).await;
}

#[actix_rt::test]
async fn independent_workers_run_concurrently() {
    let mut h = Harness::new();
    let w1 = h.spawn().await;
    let w2 = h.spawn().await;
    let gate = h.script_gated(Script::Concluded);
    h.start_work(w1, pvf(1));
    h.expect_event(Event::RunJob(w1, pvf(1).code_hash())).await;
    // w1 is held; w2 still runs and reports.
    h.run(w2, 2, Script::TimedOut).await;
    h.expect_event(Event::Retire(w2)).await;
    gate.send(()).unwrap();
    h.expect_concluded(w1, false, success()).await;
    h.expect_no_event().await;
}
