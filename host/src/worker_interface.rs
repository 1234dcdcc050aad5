//! What both worker flavours share on the host side: the worker key, the per-worker actor
//! that owns a worker process, the messages around its life (`Retire`, `WorkerDied`), the
//! spawner trait the owners (prepare Pool, execute queue) start workers through, spawn retry
//! with back-off, and the shape of a job's outcome.
//!
//! Each flavour adds its own job message and state machine in its `exchange.rs`
//! (`prepare/exchange.rs`, `execute/exchange.rs`), which is also where the keep-or-kill
//! decision for every way a job can end is made. The owners only apply it.

use crate::{
    fatal::{FatalError, FatalState},
    metrics::{self, HostCounters},
    spawn::{IdleWorker, SpawnErr, WorkerFlavour, WorkerHandle, WorkerSpawnConfig, spawn_worker},
    worker_availability::{DEFAULT_SPAWN_FAILURES_BEFORE_UNAVAILABLE, WorkerAvailability},
};
use actix::prelude::*;
use futures::future::LocalBoxFuture;
use pvf_common::execute::ExecuteHandshake;
use std::{sync::Arc, time::Duration};

slotmap::new_key_type! {
    /// Identifies one worker within its owner (the prepare Pool and Queue, or the execute queue).
    pub struct Worker;
}

/// Kill the worker process and stop its actor. No reply.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// Sent to the owner when the worker process exits on its own (or is killed from outside).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct WorkerDied {
    /// Which worker.
    pub worker: Worker,
}

/// How one job on one worker ended, from the owner's point of view.
#[derive(Debug)]
pub enum JobOutcome<R> {
    /// The job was delivered and ended with `result`.
    Ran {
        /// The worker's token if the worker is healthy and may run the next job; `None` means
        /// kill it.
        worker: Option<IdleWorker>,
        /// The flavour's result.
        result: R,
    },
    /// The request never reached the worker (it was already gone): the job did not start and
    /// goes back to its queue. The worker is killed.
    Unreached,
}

impl<R> JobOutcome<R> {
    /// A job after which the worker is healthy.
    pub fn kept(worker: IdleWorker, result: R) -> Self {
        JobOutcome::Ran {
            worker: Some(worker),
            result,
        }
    }

    /// A job after which the worker must die.
    pub fn killed(result: R) -> Self {
        JobOutcome::Ran {
            worker: None,
            result,
        }
    }
}

/// The actor that owns one worker process, of either flavour. Its job handlers live in the
/// flavours' exchange files; this file owns its life: it reports the process's exit and kills
/// the process when retired or dropped.
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

/// What a spawner delivers: the idle token and the per-worker actor's addresses for the
/// flavour's job message `J`.
pub struct SpawnedWorker<J>
where
    J: Message + Send,
    J::Result: Send,
{
    /// The idle token.
    pub idle: IdleWorker,
    /// Runs jobs on this worker.
    pub runner: Recipient<J>,
    /// Kills this worker.
    pub retire: Recipient<Retire>,
}

/// Starts workers of one flavour: `H` is the flavour's handshake beyond the common one
/// (`()` for prepare, the executor parameters for execute), `J` its job message. The real
/// spawner starts processes; tests plug in fakes.
pub trait SpawnWorker<H, J>: 'static
where
    J: Message + Send,
    J::Result: Send,
{
    /// Starts a worker known as `worker`; its actor reports death to `on_death`.
    fn spawn(
        &self,
        worker: Worker,
        handshake: H,
        on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker<J>, String>>;
}

/// Spawns real worker processes of either flavour.
pub struct ProcessSpawner {
    /// How to start them.
    pub config: Arc<WorkerSpawnConfig>,
    /// Entered when a worker turns out to be of another build; from then on nothing spawns.
    pub fatal: Arc<FatalState>,
}

impl ProcessSpawner {
    /// Starts a worker process of `flavour`, sends its handshakes and wraps it in a
    /// [`WorkerActor`] that runs the flavour's job message `J`.
    pub fn spawn_actor<J>(
        &self,
        worker: Worker,
        flavour: WorkerFlavour,
        execute_handshake: Option<ExecuteHandshake>,
        on_death: Recipient<WorkerDied>,
    ) -> LocalBoxFuture<'static, Result<SpawnedWorker<J>, String>>
    where
        J: Message + Send + 'static,
        J::Result: Send,
        WorkerActor: Handler<J>,
    {
        let (config, fatal) = (self.config.clone(), self.fatal.clone());
        Box::pin(async move {
            if let Some(error) = fatal.get() {
                return Err(error.to_string());
            }
            let (idle, handle) = spawn_worker(&config, flavour, execute_handshake.as_ref())
                .await
                .map_err(|e: SpawnErr| {
                    if let SpawnErr::VersionMismatch {
                        program,
                        worker,
                        expected,
                    } = &e
                    {
                        fatal.enter(FatalError::WorkerVersionMismatch {
                            program: program.clone(),
                            worker: worker.clone(),
                            expected: expected.clone(),
                        });
                    }
                    e.to_string()
                })?;
            let addr = WorkerActor::new(worker, handle, on_death).start();
            Ok(SpawnedWorker {
                idle,
                runner: addr.clone().recipient::<J>(),
                retire: addr.recipient::<Retire>(),
            })
        })
    }
}

/// First retry delay after a failed spawn; doubles up to [`MAX_SPAWN_RETRY_DELAY`].
pub const INITIAL_SPAWN_RETRY_DELAY: Duration = Duration::from_millis(250);
/// Longest delay between spawn attempts.
pub const MAX_SPAWN_RETRY_DELAY: Duration = Duration::from_secs(3);

/// The delay before spawn attempt `attempt + 1`, after `attempt + 1` failures in a row.
pub fn spawn_retry_delay(attempt: u32) -> Duration {
    (INITIAL_SPAWN_RETRY_DELAY * 2u32.saturating_pow(attempt)).min(MAX_SPAWN_RETRY_DELAY)
}

/// The spawn bookkeeping both owners share: metrics and counters labelled by flavour, and the
/// back-off after a failure.
#[derive(Clone)]
pub struct SpawnAccounting {
    flavour: WorkerFlavour,
    counters: Arc<HostCounters>,
    availability: Arc<WorkerAvailability>,
}

impl SpawnAccounting {
    /// Accounting for workers of `flavour`, unavailable after the default number of failed
    /// spawns in a row.
    pub fn new(flavour: WorkerFlavour, counters: Arc<HostCounters>) -> Self {
        let availability = Arc::new(WorkerAvailability::new(
            flavour,
            DEFAULT_SPAWN_FAILURES_BEFORE_UNAVAILABLE,
        ));
        Self {
            flavour,
            counters,
            availability,
        }
    }

    /// The same accounting, reporting failed and successful spawns to `availability`.
    pub fn with_availability(mut self, availability: Arc<WorkerAvailability>) -> Self {
        self.availability = availability;
        self
    }

    /// A spawn attempt begins.
    pub fn spawning(&self) {
        metrics::worker_spawning(self.flavour);
    }

    /// A worker is up.
    pub fn spawned(&self) {
        metrics::worker_spawned(self.flavour, &self.counters);
        self.availability.spawned();
    }

    /// Attempt `attempt` (0-based) failed; returns how long to wait before the next one.
    pub fn spawn_failed(&self, attempt: u32, err: &str) -> Duration {
        metrics::worker_spawn_failed(self.flavour, &self.counters);
        self.availability.spawn_failed(err);
        let delay = spawn_retry_delay(attempt);
        tracing::error!(target: pvf_common::LOG_TARGET, flavour = self.flavour.as_str(), attempt, ?delay, "cannot spawn a worker, retrying: {err}");
        delay
    }

    /// A worker was killed by its owner.
    pub fn retired(&self) {
        metrics::worker_retired(self.flavour);
    }

    /// A job was handed to a worker.
    pub fn job_started(&self) {
        self.counters.job_started(self.flavour);
    }

    /// An execute job found its module in its worker's cache, or not.
    pub fn execute_module_cached(&self, hit: bool) {
        metrics::execute_module_cached(hit, &self.counters);
    }

    /// An execute job peaked at `kib` of resident memory.
    pub fn execute_job_max_rss(&self, kib: u64) {
        metrics::execute_job_max_rss(kib, &self.counters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{DEADLINE, next, nothing, recorder};
    use std::process::{Command, Stdio};

    /// A `WorkerActor` around a stand-in process running `script`, reporting to a recorder.
    fn actor_for(
        script: &str,
    ) -> (
        Addr<WorkerActor>,
        u32,
        tokio::sync::mpsc::UnboundedReceiver<WorkerDied>,
        Worker,
    ) {
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh starts");
        let handle = WorkerHandle::from_child(child);
        let pid = handle.pid();
        let worker = slotmap::SlotMap::<Worker, ()>::with_key().insert(());
        let (owner, deaths) = recorder::<WorkerDied>();
        let addr = WorkerActor::new(worker, handle, owner.recipient()).start();
        (addr, pid, deaths, worker)
    }

    /// Whether `pid` is gone, zombies included (a reaped process has no `/proc` entry).
    fn gone(pid: u32) -> bool {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[actix_rt::test]
    async fn a_worker_process_that_exits_is_reported_to_its_owner() {
        let (_addr, _, mut deaths, worker) = actor_for("exit 0");
        assert_eq!(next(&mut deaths, "WorkerDied").await.worker, worker);
    }

    #[actix_rt::test]
    async fn a_worker_process_that_exits_is_reported_even_if_a_leftover_holds_its_stdout() {
        let started = std::time::Instant::now();
        let (_addr, _, mut deaths, worker) = actor_for("sleep 10 & exit 0");
        assert_eq!(next(&mut deaths, "WorkerDied").await.worker, worker);
        // Before: the death was seen only when the sleep ended and closed the pipe.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[actix_rt::test]
    async fn retire_kills_and_reaps_the_process_and_stops_the_actor() {
        let (addr, pid, mut deaths, _) = actor_for("sleep 60");
        nothing(&mut deaths, "WorkerDied").await;
        assert!(!gone(pid));
        addr.do_send(Retire);
        let deadline = std::time::Instant::now() + DEADLINE;
        while !gone(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "the process outlived Retire"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!addr.connected(), "the actor stops");
    }

    #[test]
    fn spawn_back_off_doubles_up_to_its_cap() {
        let delays: Vec<_> = (0..6).map(spawn_retry_delay).collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 3000, 3000].map(Duration::from_millis)
        );
        assert_eq!(spawn_retry_delay(u32::MAX), MAX_SPAWN_RETRY_DELAY);
    }
}
