//! Whether workers of a kind can be started: after a number of failed spawns in a row the
//! kind is *unavailable*, and requests that need it are answered with the reason instead of
//! waiting for a worker that may never come. The spawn loops keep retrying with back-off in
//! the background; the first worker that starts makes the kind available again.
//!
//! The reference retries forever, so a broken worker install (wrong binary, a missing
//! library, a worker that hangs at start) leaves every request pending with nothing but a
//! log line per attempt. An answer lets the node abstain with a reason and the operator see it.

use crate::spawn::WorkerFlavour;
use std::sync::Mutex;
use tokio::sync::watch;

/// Failed spawns in a row after which a kind of worker is unavailable, by default. With the
/// 3 s spawn timeout and the back-off, a worker that never connects makes its kind
/// unavailable after about 10 s; one that exits at start after about 1 s.
pub const DEFAULT_SPAWN_FAILURES_BEFORE_UNAVAILABLE: u32 = 3;

/// Why no worker of a kind can run a request now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no {flavour} worker could be started: {attempts} attempts in a row failed; the last: {last_error}. Check that the workers path points at the worker of this build and that it runs on this machine (start it by hand with --version); the host keeps trying in the background and takes requests again once a worker starts"
)]
pub struct WorkersUnavailable {
    /// `prepare` or `execute`.
    pub flavour: &'static str,
    /// Failed spawns in a row so far.
    pub attempts: u32,
    /// The last spawn error, with what the worker last wrote to stderr.
    pub last_error: String,
}

/// The availability of one kind of worker, shared by its spawn loops (which report), the host
/// handle (which answers requests) and the host actor.
#[derive(Debug)]
pub struct WorkerAvailability {
    flavour: WorkerFlavour,
    /// `0` never makes the kind unavailable (the reference's behaviour).
    limit: u32,
    failures_in_a_row: Mutex<u32>,
    state: watch::Sender<Option<WorkersUnavailable>>,
}

impl WorkerAvailability {
    /// Workers of `flavour`, unavailable after `limit` failed spawns in a row (`0`: never).
    pub fn new(flavour: WorkerFlavour, limit: u32) -> Self {
        Self {
            flavour,
            limit,
            failures_in_a_row: Mutex::new(0),
            state: watch::channel(None).0,
        }
    }

    /// A spawn failed with `error`.
    pub fn spawn_failed(&self, error: &str) {
        let mut failures = self
            .failures_in_a_row
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *failures = failures.saturating_add(1);
        if self.limit == 0 || *failures < self.limit {
            return;
        }
        let why = WorkersUnavailable {
            flavour: self.flavour.as_str(),
            attempts: *failures,
            last_error: error.to_string(),
        };
        let entering = self.state.borrow().is_none();
        if entering {
            tracing::error!(target: pvf_common::LOG_TARGET, "{why}");
            metrics::gauge!("pvf_workers_unavailable", "flavour" => self.flavour.as_str()).set(1.0);
        }
        self.state.send_replace(Some(why));
    }

    /// A worker started: the kind is available (again).
    pub fn spawned(&self) {
        *self
            .failures_in_a_row
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = 0;
        if self.state.borrow().is_some() {
            tracing::info!(target: pvf_common::LOG_TARGET, flavour = self.flavour.as_str(), "a worker started again; taking requests");
            metrics::gauge!("pvf_workers_unavailable", "flavour" => self.flavour.as_str()).set(0.0);
            self.state.send_replace(None);
        }
    }

    /// Why the kind is unavailable, if it is.
    pub fn get(&self) -> Option<WorkersUnavailable> {
        self.state.borrow().clone()
    }

    /// Completes when the kind is (or becomes) unavailable, with the reason.
    pub fn unavailable(&self) -> impl std::future::Future<Output = WorkersUnavailable> + 'static {
        crate::fatal::when_set(self.state.subscribe())
    }

    /// Completes when the kind is (or becomes) available.
    pub fn available(&self) -> impl std::future::Future<Output = ()> + 'static {
        let mut state = self.state.subscribe();
        async move {
            if state.wait_for(Option::is_none).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn unavailable_after_the_limit_in_a_row_and_available_after_one_start() {
        let prepare = WorkerAvailability::new(WorkerFlavour::Prepare, 3);
        let waiter = tokio::spawn(prepare.unavailable());
        prepare.spawn_failed("first");
        prepare.spawn_failed("second");
        assert_eq!(prepare.get(), None);
        prepare.spawned();
        prepare.spawn_failed("a");
        prepare.spawn_failed("b");
        assert_eq!(prepare.get(), None, "a start resets the count");
        prepare.spawn_failed("worker did not connect; it wrote nothing to stderr");
        let why = waiter.await.unwrap();
        assert_eq!(why.attempts, 3);
        assert_eq!(why.flavour, "prepare");
        let text = why.to_string();
        for needle in [
            "no prepare worker",
            "3 attempts",
            "did not connect",
            "--version",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
        prepare.spawn_failed("fourth");
        assert_eq!(prepare.get().unwrap().last_error, "fourth");
        let back = tokio::spawn(prepare.available());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!back.is_finished());
        prepare.spawned();
        back.await.unwrap();
        assert_eq!(prepare.get(), None);
    }

    #[test]
    fn a_limit_of_zero_retries_forever_like_the_reference() {
        let execute = WorkerAvailability::new(WorkerFlavour::Execute, 0);
        for _ in 0..100 {
            execute.spawn_failed("no");
        }
        assert_eq!(execute.get(), None);
    }
}
