//! Pre-checking a PVF for the pvf-checker vote, as stable2609 does it: with the session's
//! pre-check preparation timeout (60 s by default) and `PrepareJobKind::Prechecking`. A
//! deterministic preparation error is `Invalid`; anything else that goes wrong is `Failed`.
//! The pvf-checker votes against on both; pre-check votes are not slashed.

use crate::{policy, retry::ValidationBackend};
use pvf_common::{ExecutorParams, PrepareError, PrepareJobKind, PvfPrepData, PvfPrepKind};

/// The outcome of a pre-check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreCheckOutcome {
    /// The PVF prepared and instantiated.
    Valid,
    /// The PVF failed in a way every validator sees alike.
    Invalid(PrepareError),
    /// The pre-check failed for a reason that may be local (a timeout, a dead job, I/O).
    Failed(PrepareError),
}

impl From<Result<(), PrepareError>> for PreCheckOutcome {
    fn from(result: Result<(), PrepareError>) -> Self {
        match result {
            Ok(()) => PreCheckOutcome::Valid,
            Err(e) if e.is_deterministic() => PreCheckOutcome::Invalid(e),
            Err(e) => PreCheckOutcome::Failed(e),
        }
    }
}

/// Pre-checks `code` under the session's `executor_params`.
pub async fn precheck<B: ValidationBackend>(
    backend: &B,
    code: Vec<u8>,
    executor_params: ExecutorParams,
    validation_code_bomb_limit: u32,
) -> PreCheckOutcome {
    let timeout = policy::prep_timeout(&executor_params, PvfPrepKind::Precheck);
    let pvf = PvfPrepData::from_code(
        code,
        executor_params,
        timeout,
        PrepareJobKind::Prechecking,
        validation_code_bomb_limit,
    );
    backend.precheck(pvf).await.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvf_common::execute::{PersistedValidationData, PoV, ValidationError, ValidationResult};
    use pvf_host::execute::lanes::PvfExecKind;
    use std::{cell::RefCell, time::Duration};

    /// Answers pre-checks with `answer` and records the PVF it was given.
    struct PrecheckHost {
        answer: Result<(), PrepareError>,
        seen: RefCell<Option<PvfPrepData>>,
    }

    impl ValidationBackend for PrecheckHost {
        async fn execute(
            &self,
            _: PvfPrepData,
            _: Duration,
            _: PersistedValidationData,
            _: PoV,
            _: PvfExecKind,
        ) -> Result<ValidationResult, ValidationError> {
            unreachable!("a pre-check never executes")
        }

        async fn precheck(&self, pvf: PvfPrepData) -> Result<(), PrepareError> {
            *self.seen.borrow_mut() = Some(pvf);
            self.answer.clone()
        }
    }

    async fn outcome_of(answer: Result<(), PrepareError>) -> (PreCheckOutcome, PvfPrepData) {
        let host = PrecheckHost {
            answer,
            seen: RefCell::new(None),
        };
        let outcome = precheck(&host, vec![0], ExecutorParams::new(), 1 << 20).await;
        (outcome, host.seen.into_inner().expect("the host was asked"))
    }

    #[tokio::test]
    async fn deterministic_errors_are_invalid_the_rest_failed() {
        assert_eq!(outcome_of(Ok(())).await.0, PreCheckOutcome::Valid);
        let bad = PrepareError::Prevalidation("x".into());
        assert_eq!(
            outcome_of(Err(bad.clone())).await.0,
            PreCheckOutcome::Invalid(bad)
        );
        for local in [
            PrepareError::TimedOut,
            PrepareError::IoErr("gone".into()),
            PrepareError::RuntimeConstruction("x".into()),
        ] {
            assert_eq!(
                outcome_of(Err(local.clone())).await.0,
                PreCheckOutcome::Failed(local)
            );
        }
    }

    #[tokio::test]
    async fn a_precheck_uses_the_precheck_timeout_and_kind() {
        let (_, pvf) = outcome_of(Ok(())).await;
        assert_eq!(pvf.prep_timeout(), Duration::from_secs(60));
        assert_eq!(pvf.prep_kind(), PrepareJobKind::Prechecking);
    }
}
