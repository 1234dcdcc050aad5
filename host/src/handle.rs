//! The [`ValidationHost`] handle: requests in, answers out, and the host's lifetime.

use crate::{
    CountersSnapshot, PrecheckResult, PrepareResult, Priority, PvfPrepData, SecurityStatus,
    execute,
    fatal::{FatalError, FatalState},
    host,
    metrics::HostCounters,
    worker_availability::{WorkerAvailability, WorkersUnavailable},
};
use actix::prelude::*;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::oneshot;

/// Why the host did not answer a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The host was shut down (its last handle dropped, or its thread ended).
    #[error("the validation host has shut down")]
    Gone,
    /// The host stopped for good; the error says why and what to do.
    #[error(transparent)]
    Fatal(#[from] FatalError),
    /// No worker of a kind the request needs could be started, several times in a row. The
    /// host keeps trying and takes requests again once one starts; a node should abstain.
    #[error(transparent)]
    WorkersUnavailable(#[from] WorkersUnavailable),
}

/// A handle to the running host. Clone it freely; the host stops when the last clone drops.
#[derive(Clone)]
pub struct ValidationHost {
    pub(crate) host: Addr<host::HostActor>,
    pub(crate) counters: Arc<HostCounters>,
    pub(crate) security_status: SecurityStatus,
    pub(crate) fatal: Arc<FatalState>,
    pub(crate) prepare_workers: Arc<WorkerAvailability>,
    pub(crate) execute_workers: Arc<WorkerAvailability>,
    pub(crate) _lifetime: Arc<HostLifetime>,
}

/// Stops the host thread when the last handle drops, and waits for it, within a bound.
pub(crate) struct HostLifetime {
    stop_tx: Mutex<Option<oneshot::Sender<()>>>,
    /// Disconnects when the host thread ends.
    finished: Mutex<std::sync::mpsc::Receiver<()>>,
    shutdown_timeout: Duration,
}

impl HostLifetime {
    /// The lifetime of a host thread that stops on `stop_tx` and drops the sender of
    /// `finished` as its last act.
    pub(crate) fn new(
        stop_tx: oneshot::Sender<()>,
        finished: std::sync::mpsc::Receiver<()>,
        shutdown_timeout: Duration,
    ) -> Self {
        Self {
            stop_tx: Mutex::new(Some(stop_tx)),
            finished: Mutex::new(finished),
            shutdown_timeout,
        }
    }
}

impl Drop for HostLifetime {
    fn drop(&mut self) {
        if let Some(tx) = self
            .stop_tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = tx.send(());
        }
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            finished.recv_timeout(self.shutdown_timeout)
        {
            // Killing and reaping a worker only blocks if the kernel cannot finish it (a
            // process stuck in uninterruptible sleep). The thread goes on without us and
            // still releases the cache dir when it is done.
            tracing::error!(target: pvf_common::LOG_TARGET, timeout = ?self.shutdown_timeout, "the validation host did not stop in time; leaving its thread to finish killing its workers");
        }
    }
}

impl ValidationHost {
    /// Pre-checks a PVF: `Ok(())` if it compiles and instantiates.
    pub async fn precheck_pvf(&self, pvf: PvfPrepData) -> Result<PrecheckResult, HostError> {
        let (result_tx, rx) = oneshot::channel();
        let msg = host::PrecheckPvf { pvf, result_tx };
        self.request(msg, rx, &self.prepare_workers).await
    }

    /// Sends `msg` to the host actor and waits for the answer on `rx`, or until the workers
    /// it `needs` are unavailable. A request the host cannot take or answer gets the fatal
    /// reason if there is one.
    async fn request<M, T>(
        &self,
        msg: M,
        rx: oneshot::Receiver<T>,
        needs: &WorkerAvailability,
    ) -> Result<T, HostError>
    where
        M: Message<Result = ()> + Send + 'static,
        host::HostActor: Handler<M>,
    {
        self.fatal_or_running()?;
        // Nothing is queued while the workers are known to be unavailable: a node that keeps
        // asking must not pile up PoVs. The spawn loops already running go on retrying.
        if let Some(why) = needs.get() {
            return Err(why.into());
        }
        self.host.send(msg).await.map_err(|_| self.gone())?;
        tokio::select! {
            biased;
            answer = rx => answer.map_err(|_| self.gone()),
            why = needs.unavailable() => Err(why.into()),
        }
    }

    /// `Err` with the reason once the host is in its fatal state.
    fn fatal_or_running(&self) -> Result<(), HostError> {
        match self.fatal.get() {
            Some(error) => Err(HostError::Fatal(error)),
            None => Ok(()),
        }
    }

    /// The error for a request the host dropped: the fatal reason, if it stopped for one, or
    /// the prepare workers' unavailability (the host drops executions waiting for a
    /// preparation that cannot start).
    fn gone(&self) -> HostError {
        if let Some(fatal) = self.fatal.get() {
            return HostError::Fatal(fatal);
        }
        match self.prepare_workers.get() {
            Some(why) => HostError::WorkersUnavailable(why),
            None => HostError::Gone,
        }
    }

    /// Why workers of a kind cannot be started now, if they cannot: prepare workers first.
    /// Requests that need them are answered with this until one starts.
    pub fn workers_unavailable(&self) -> Option<WorkersUnavailable> {
        self.prepare_workers
            .get()
            .or_else(|| self.execute_workers.get())
    }

    /// The reason the host stopped for good, if it did. A node should stop validating (and
    /// tell its operator) when this is `Some`: every request fails from then on.
    pub fn fatal_error(&self) -> Option<FatalError> {
        self.fatal.get()
    }

    /// Completes when the host enters its fatal state, with the reason; a node can select on
    /// it next to its other work.
    pub fn fatal_error_entered(&self) -> impl std::future::Future<Output = FatalError> + 'static {
        self.fatal.entered()
    }

    /// Prepares a PVF for execution and returns where its artifact is.
    pub async fn prepare(
        &self,
        pvf: PvfPrepData,
        priority: Priority,
    ) -> Result<PrepareResult, HostError> {
        let (result_tx, rx) = oneshot::channel();
        let msg = host::PreparePvf {
            pvf,
            priority,
            result_tx,
        };
        self.request(msg, rx, &self.prepare_workers).await
    }

    /// Validates a candidate: prepares the PVF if needed (coalesced with every other request
    /// for it; Critical for disputes and approvals), then runs `validate_block` in an execute
    /// worker of the lane `kind` names. The PVF receives the params with no extension, as for
    /// a V1 or V2 candidate descriptor; [`Self::execute_candidate`] takes one.
    pub async fn execute_pvf(
        &self,
        pvf: PvfPrepData,
        exec_timeout: Duration,
        pvd: pvf_common::execute::PersistedValidationData,
        pov: pvf_common::execute::PoV,
        kind: execute::lanes::PvfExecKind,
    ) -> Result<execute::queue::ExecuteResult, HostError> {
        self.execute_candidate(pvf, exec_timeout, pvd, pov, None, kind)
            .await
    }

    /// [`Self::execute_pvf`] with the candidate's `params_extension`, which the PVF receives
    /// after its `ValidationParams`, byte for byte as the reference appends it:
    /// `Some(ValidationParamsExtension::V3 { .. })` for a V3 candidate descriptor, `None` (no
    /// byte at all) for V1, V2 and unknown versions.
    pub async fn execute_candidate(
        &self,
        pvf: PvfPrepData,
        exec_timeout: Duration,
        pvd: pvf_common::execute::PersistedValidationData,
        pov: pvf_common::execute::PoV,
        params_extension: Option<pvf_common::execute::ValidationParamsExtension>,
        kind: execute::lanes::PvfExecKind,
    ) -> Result<execute::queue::ExecuteResult, HostError> {
        let (result_tx, rx) = oneshot::channel();
        let msg = host::ExecutePvf {
            pvf,
            exec_timeout,
            pvd,
            pov,
            params_extension,
            kind,
            result_tx,
        };
        self.request(msg, rx, &self.execute_workers).await
    }

    /// Tells the host which relay-chain leaves are active: `activated` (with the `ancestors`
    /// within the scheduling lookahead) and `deactivated`. Backing jobs whose relay parent is
    /// no longer a live leaf or ancestor are dropped with `ExecutionDeadline`, whether they
    /// wait in the execute queue or still for their preparation.
    pub async fn update_active_leaves(
        &self,
        activated: Option<[u8; 32]>,
        deactivated: Vec<[u8; 32]>,
        ancestors: Vec<[u8; 32]>,
    ) -> Result<(), HostError> {
        self.fatal_or_running()?;
        let msg = host::UpdateActiveLeaves {
            activated,
            deactivated,
            ancestors,
        };
        self.host.send(msg).await.map_err(|_| self.gone())
    }

    /// Asks the host to prepare these PVFs soon, at Normal priority.
    pub async fn heads_up(&self, active_pvfs: Vec<PvfPrepData>) -> Result<(), HostError> {
        self.fatal_or_running()?;
        self.host
            .send(host::HeadsUp { active_pvfs })
            .await
            .map_err(|_| self.gone())
    }

    /// Counters of jobs and workers since start.
    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }

    /// The sandbox features workers apply.
    pub fn security_status(&self) -> SecurityStatus {
        self.security_status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn dropping_the_lifetime_waits_for_the_host_thread_within_the_bound_only() {
        // A host thread that stops promptly is waited for.
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (finished_tx, finished_rx) = std::sync::mpsc::channel::<()>();
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = stopped.clone();
        std::thread::spawn(move || {
            let _ = stop_rx.blocking_recv();
            std::thread::sleep(Duration::from_millis(100));
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(finished_tx);
        });
        drop(HostLifetime::new(
            stop_tx,
            finished_rx,
            Duration::from_secs(10),
        ));
        assert!(stopped.load(std::sync::atomic::Ordering::SeqCst));

        // One stuck killing a worker is not waited for past the bound.
        let (stop_tx, _stop_rx) = oneshot::channel::<()>();
        let (finished_tx, finished_rx) = std::sync::mpsc::channel::<()>();
        let stuck = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            drop(finished_tx);
        });
        let dropped = Instant::now();
        drop(HostLifetime::new(
            stop_tx,
            finished_rx,
            Duration::from_millis(200),
        ));
        let took = dropped.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        stuck.join().unwrap();
    }
}
