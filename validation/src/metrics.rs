//! The reference's candidate-validation metrics, through the `metrics` facade (the PoV and
//! code size histograms, `polkadot_parachain_candidate_validation_{pov,code}_size`, are the
//! host's: it sees the decompressed sizes).

use crate::candidate::{CandidateValidationResult, ValidationFailed};
use std::time::Instant;

/// Counts a validation's outcome in `polkadot_parachain_validation_requests_total{validity}`:
/// `valid`, `invalid` or `validation failure`, as the reference labels them.
pub fn on_validation_event(result: &Result<CandidateValidationResult, ValidationFailed>) {
    let validity = match result {
        Ok(result) => result.label(),
        Err(_) => "validation failure",
    };
    metrics::counter!("polkadot_parachain_validation_requests_total", "validity" => validity)
        .increment(1);
}

/// Observes the seconds from its start to its drop in a histogram.
pub struct Timer {
    name: &'static str,
    started: Instant,
}

impl Timer {
    /// `polkadot_parachain_candidate_validation_validate_from_exhaustive`: a whole request.
    pub fn validate_from_exhaustive() -> Self {
        Self::start("polkadot_parachain_candidate_validation_validate_from_exhaustive")
    }

    /// `polkadot_parachain_candidate_validation_validate_candidate_exhaustive`: execution and
    /// the checks after it.
    pub fn validate_candidate_exhaustive() -> Self {
        Self::start("polkadot_parachain_candidate_validation_validate_candidate_exhaustive")
    }

    fn start(name: &'static str) -> Self {
        Self {
            name,
            started: Instant::now(),
        }
    }
}

/// Histogram buckets of this layer's timers, for recorders that need them up front (the host's
/// are `pvf_host::metrics::histogram_buckets`): Prometheus's defaults, as the reference uses.
pub fn histogram_buckets() -> Vec<(&'static str, Vec<f64>)> {
    let defaults = vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    vec![
        (
            "polkadot_parachain_candidate_validation_validate_from_exhaustive",
            defaults.clone(),
        ),
        (
            "polkadot_parachain_candidate_validation_validate_candidate_exhaustive",
            defaults,
        ),
    ]
}

impl Drop for Timer {
    fn drop(&mut self) {
        metrics::histogram!(self.name).record(self.started.elapsed().as_secs_f64());
    }
}

/// A recorder that writes down what was counted and observed, as `name{labels}` lines.
#[cfg(test)]
pub(crate) mod seen {
    use metrics::{
        Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
        SharedString, Unit,
    };
    use std::sync::{Arc, Mutex};

    /// The lines recorded so far.
    #[derive(Clone, Default)]
    pub(crate) struct Seen(Arc<Mutex<Vec<String>>>);

    impl Seen {
        pub(crate) fn lines(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    struct Line(Seen, String);

    impl CounterFn for Line {
        fn increment(&self, value: u64) {
            self.0
                .0
                .lock()
                .unwrap()
                .push(format!("{} +{value}", self.1));
        }
        fn absolute(&self, _: u64) {}
    }

    impl HistogramFn for Line {
        fn record(&self, _: f64) {
            self.0
                .0
                .lock()
                .unwrap()
                .push(format!("{} observed", self.1));
        }
    }

    fn line(key: &Key) -> String {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        format!("{}{{{}}}", key.name(), labels.join(","))
    }

    impl Recorder for Seen {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(Line(self.clone(), line(key))))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(Line(self.clone(), line(key))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{seen::Seen, *};
    use crate::candidate::InvalidCandidate;

    #[test]
    fn outcomes_and_timings_carry_the_references_names_and_labels() {
        let seen = Seen::default();
        metrics::with_local_recorder(&seen, || {
            on_validation_event(&Ok(CandidateValidationResult::Invalid(
                InvalidCandidate::Timeout,
            )));
            on_validation_event(&Err(ValidationFailed("local".into())));
            drop(Timer::validate_from_exhaustive());
            drop(Timer::validate_candidate_exhaustive());
        });
        assert_eq!(
            seen.lines(),
            [
                "polkadot_parachain_validation_requests_total{validity=invalid} +1",
                "polkadot_parachain_validation_requests_total{validity=validation failure} +1",
                "polkadot_parachain_candidate_validation_validate_from_exhaustive{} observed",
                "polkadot_parachain_candidate_validation_validate_candidate_exhaustive{} observed",
            ]
        );
    }
}
