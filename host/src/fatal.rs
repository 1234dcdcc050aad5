//! The host's fatal state: a condition under which no worker can ever run again, so that the
//! host stops, answers every request with the reason, and lets the embedding node see it.
//!
//! Today the only such condition is a worker of another build than the host (the binaries
//! were replaced while the node ran). The reference's worker kills the node with SIGTERM in
//! that case; we stop the host instead and leave the decision to the node, which sees the
//! reason in every answer ([`crate::HostError::Fatal`]), in
//! [`ValidationHost::fatal_error`](crate::ValidationHost::fatal_error), and in the metric
//! `pvf_host_fatal{reason}`.

use std::path::PathBuf;
use tokio::sync::watch;

/// Why the host stopped for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FatalError {
    /// A worker reported another version than the host expects.
    #[error(
        "the validation host stopped: worker {program} is version {worker} but this host expects {expected}. The worker binary was replaced while the node ran (an upgrade in place?) or the workers path points at another build; restart the node so it runs matching binaries"
    )]
    WorkerVersionMismatch {
        /// The worker executable.
        program: PathBuf,
        /// The version the worker reported.
        worker: String,
        /// The version the host expects ([`pvf_common::BUILD_VERSION`] by default).
        expected: String,
    },
}

impl FatalError {
    /// The `reason` label of the `pvf_host_fatal` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            FatalError::WorkerVersionMismatch { .. } => "worker_version_mismatch",
        }
    }
}

/// The fatal state, shared by the spawners that detect it, the host thread that stops on
/// it, and the handles that report it. Set at most once: the first reason wins.
#[derive(Debug)]
pub struct FatalState {
    sender: watch::Sender<Option<FatalError>>,
}

impl Default for FatalState {
    fn default() -> Self {
        Self {
            sender: watch::channel(None).0,
        }
    }
}

impl FatalState {
    /// Enters the fatal state with `error`, unless already in it; raises the metric once.
    pub fn enter(&self, error: FatalError) {
        self.sender.send_if_modified(|state| {
            if state.is_some() {
                return false;
            }
            tracing::error!(target: pvf_common::LOG_TARGET, "{error}");
            metrics::gauge!("pvf_host_fatal", "reason" => error.reason()).set(1.0);
            *state = Some(error);
            true
        });
    }

    /// The reason, once in the fatal state.
    pub fn get(&self) -> Option<FatalError> {
        self.sender.borrow().clone()
    }

    /// Completes when the state is entered, with its reason.
    pub fn entered(&self) -> impl std::future::Future<Output = FatalError> + Send + 'static {
        when_set(self.sender.subscribe())
    }
}

/// The value of a `watch` state once it is (or becomes) `Some`; pending for ever if the
/// state is dropped unset.
pub(crate) async fn when_set<T: Clone>(mut receiver: watch::Receiver<Option<T>>) -> T {
    let value = receiver
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|value| value.clone());
    match value {
        Some(value) => value,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    };

    fn mismatch(worker: &str) -> FatalError {
        FatalError::WorkerVersionMismatch {
            program: "/bin/w".into(),
            worker: worker.into(),
            expected: "1.0.0+build.a".into(),
        }
    }

    #[tokio::test]
    async fn the_first_reason_wins_and_wakes_every_waiter() {
        let state = FatalState::default();
        assert_eq!(state.get(), None);
        let waiter = tokio::spawn(state.entered());
        state.enter(mismatch("1.0.0+build.b"));
        state.enter(mismatch("1.0.0+build.c"));
        assert_eq!(waiter.await.unwrap(), mismatch("1.0.0+build.b"));
        assert_eq!(state.get(), Some(mismatch("1.0.0+build.b")));
        // A waiter that arrives late is answered at once.
        assert_eq!(state.entered().await, mismatch("1.0.0+build.b"));
    }

    /// Records the `pvf_host_fatal` gauge's labels and value.
    #[derive(Default)]
    struct FatalGauge {
        value: Arc<AtomicU64>,
        labels: Mutex<Vec<String>>,
    }

    impl metrics::Recorder for FatalGauge {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            if key.name() != "pvf_host_fatal" {
                return Gauge::noop();
            }
            let mut labels = self.labels.lock().unwrap();
            labels.extend(key.labels().map(|l| format!("{}={}", l.key(), l.value())));
            Gauge::from_arc(self.value.clone())
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn entering_raises_the_fatal_gauge_with_its_reason() {
        let recorder = FatalGauge::default();
        let state = FatalState::default();
        metrics::with_local_recorder(&recorder, || state.enter(mismatch("1.0.0+build.b")));
        assert_eq!(f64::from_bits(recorder.value.load(Ordering::Relaxed)), 1.0);
        assert_eq!(
            *recorder.labels.lock().unwrap(),
            ["reason=worker_version_mismatch"]
        );
    }

    #[test]
    fn the_message_names_both_versions_and_the_fix() {
        let text = mismatch("1.0.0+build.b").to_string();
        for needle in [
            "1.0.0+build.b",
            "1.0.0+build.a",
            "/bin/w",
            "restart the node",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }
}
