//! One candidate execution under the reference's retry policy ([`crate::policy`]): backing
//! gets one attempt; approvals and disputes get one more per error class while time allows,
//! re-preparing first after a runtime-construction or corrupted-artifact error, and each retry
//! gets only the time left of the execution timeout.

use crate::policy::{RetryBudget, RetryDecision};
use pvf_common::{
    PrepareError, PvfExecTimeoutKind, PvfPrepData,
    execute::{
        InternalValidationError, PersistedValidationData, PoV, ValidationError,
        ValidationParamsExtension, ValidationResult,
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
        input: ExecutionInput,
        kind: PvfExecKind,
    ) -> impl Future<Output = Result<ValidationResult, ValidationError>>;

    /// A pre-check, which also prepares the PVF again when its artifact was found bad.
    fn precheck(&self, pvf: PvfPrepData) -> impl Future<Output = Result<(), PrepareError>>;

    /// Prepares `pvfs` ahead of need, at background priority.
    fn heads_up(&self, pvfs: Vec<PvfPrepData>) -> impl Future<Output = Result<(), String>>;

    /// The relay chain's new view: backing jobs whose scheduling parent left it are dropped.
    fn update_active_leaves(
        &self,
        activated: Option<[u8; 32]>,
        deactivated: Vec<[u8; 32]>,
        ancestors: Vec<[u8; 32]>,
    ) -> impl Future<Output = Result<(), String>>;
}

/// What one execution runs on: the candidate's PVD and PoV, and the bytes that follow the
/// `ValidationParams` for its descriptor version.
#[derive(Clone, Debug)]
pub struct ExecutionInput {
    /// The persisted validation data.
    pub pvd: PersistedValidationData,
    /// The proof of validity.
    pub pov: PoV,
    /// The V3 extension, for V3 descriptors only.
    pub params_extension: Option<ValidationParamsExtension>,
}

impl ValidationBackend for ValidationHost {
    async fn execute(
        &self,
        pvf: PvfPrepData,
        exec_timeout: Duration,
        input: ExecutionInput,
        kind: PvfExecKind,
    ) -> Result<ValidationResult, ValidationError> {
        let ExecutionInput {
            pvd,
            pov,
            params_extension,
        } = input;
        self.execute_candidate(pvf, exec_timeout, pvd, pov, params_extension, kind)
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

    async fn heads_up(&self, pvfs: Vec<PvfPrepData>) -> Result<(), String> {
        ValidationHost::heads_up(self, pvfs)
            .await
            .map_err(|e| e.to_string())
    }

    async fn update_active_leaves(
        &self,
        activated: Option<[u8; 32]>,
        deactivated: Vec<[u8; 32]>,
        ancestors: Vec<[u8; 32]>,
    ) -> Result<(), String> {
        ValidationHost::update_active_leaves(self, activated, deactivated, ancestors)
            .await
            .map_err(|e| e.to_string())
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
    input: ExecutionInput,
    kind: PvfExecKind,
    retry_delay: Duration,
) -> Result<ValidationResult, ValidationError> {
    let started = Instant::now();
    let mut budget = RetryBudget::new(timeout_kind(kind), exec_timeout, retry_delay);
    let mut result = backend
        .execute(pvf.clone(), exec_timeout, input.clone(), kind)
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
            .execute(pvf.clone(), remaining, input.clone(), kind)
            .await;
    }
}

#[cfg(test)]
mod tests;
