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

impl Drop for Timer {
    fn drop(&mut self) {
        metrics::histogram!(self.name).record(self.started.elapsed().as_secs_f64());
    }
}
