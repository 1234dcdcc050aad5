//! One candidate execution under the reference's retry policy ([`crate::policy`]): backing
//! gets one attempt; approvals and disputes get one more per error class while time allows,
//! re-preparing first after a runtime-construction or corrupted-artifact error, and each retry
//! gets only the time left of the execution timeout.

use crate::policy::{RetryBudget, RetryDecision};
use pvf_common::{
    PrepareError, PvfExecTimeoutKind, PvfPrepData,
    execute::{
        InternalValidationError, PersistedValidationData, PoV, ValidationError, ValidationResult,
    },
};
use pvf_host::{ValidationHost, execute::lanes::PvfExecKind};
use std::{future::Future, time::Duration};
use tokio::time::Instant;

/// What an execution needs from a PVF host: [`ValidationHost`], or a fake in tests.
pub trait ValidationBackend {
    /// One execution attempt, with no retry of its own.
    fn execute(
        &self,
        pvf: PvfPrepData,
        exec_timeout: Duration,
        pvd: PersistedValidationData,
        pov: PoV,
        kind: PvfExecKind,
    ) -> impl Future<Output = Result<ValidationResult, ValidationError>>;

    /// A pre-check, which also prepares the PVF again when its artifact was found bad.
    fn precheck(&self, pvf: PvfPrepData) -> impl Future<Output = Result<(), PrepareError>>;
}

impl ValidationBackend for ValidationHost {
    async fn execute(
        &self,
        pvf: PvfPrepData,
        exec_timeout: Duration,
        pvd: PersistedValidationData,
        pov: PoV,
        kind: PvfExecKind,
    ) -> Result<ValidationResult, ValidationError> {
        self.execute_pvf(pvf, exec_timeout, pvd, pov, kind)
            .await
            .unwrap_or_else(|e| {
                Err(ValidationError::Internal(
                    InternalValidationError::HostCommunication(e.to_string()),
                ))
            })
    }

    async fn precheck(&self, pvf: PvfPrepData) -> Result<(), PrepareError> {
        self.precheck_pvf(pvf)
            .await
            .unwrap_or_else(|e| Err(PrepareError::IoErr(e.to_string())))
    }
}

/// The timeout kind of an execution lane: disputes use the approval timeout.
pub fn timeout_kind(kind: PvfExecKind) -> PvfExecTimeoutKind {
    match kind.backing_relay_parent() {
        Some(_) => PvfExecTimeoutKind::Backing,
        None => PvfExecTimeoutKind::Approval,
    }
}

/// Executes a candidate under the retry policy of its kind and returns the last attempt's
/// result. `retry_delay` is the wait before a retry ([`crate::policy::DEFAULT_RETRY_DELAY`]).
pub async fn execute_with_retry<B: ValidationBackend>(
    backend: &B,
    pvf: PvfPrepData,
    exec_timeout: Duration,
    pvd: PersistedValidationData,
    pov: PoV,
    kind: PvfExecKind,
    retry_delay: Duration,
) -> Result<ValidationResult, ValidationError> {
    let started = Instant::now();
    let mut budget = RetryBudget::new(timeout_kind(kind), exec_timeout, retry_delay);
    let mut result = backend
        .execute(pvf.clone(), exec_timeout, pvd.clone(), pov.clone(), kind)
        .await;
    loop {
        let error = match &result {
            Ok(_) => return result,
            Err(error) => error,
        };
        let RetryDecision::Retry { delay, reprepare } =
            budget.after_failure(error, started.elapsed())
        else {
            return result;
        };
        if reprepare {
            // A pre-check prepares the artifact anew; its failure is the answer.
            backend.precheck(pvf.clone()).await?;
        }
        tokio::time::sleep(delay).await;
        let remaining = budget.remaining(started.elapsed());
        tracing::warn!(target: pvf_common::LOG_TARGET, ?remaining, "retrying a candidate execution after a possibly transient error: {error}");
        result = backend
            .execute(pvf.clone(), remaining, pvd.clone(), pov.clone(), kind)
            .await;
    }
}

#[cfg(test)]
mod tests;
