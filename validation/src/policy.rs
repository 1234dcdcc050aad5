//! The node-side policy of stable2609's candidate validation, as pure functions: they decide
//! votes, so they are tested row by row without a host.
//!
//! | decision | rule |
//! |---|---|
//! | timeouts | the session's `PvfPrepTimeout` / `PvfExecTimeout` for the kind, else 60 s pre-check, 360 s lenient preparation, 2 s backing, 12 s approval and dispute |
//! | backing | one attempt, never retried (polkadot-sdk #2182: a retry could back a candidate others would not) |
//! | approval, dispute | at most one extra attempt per error class; none once the time spent plus the retry delay would pass the execution timeout; a retry gets the time left |
//! | runtime construction, corrupted artifact | re-prepare first (a pre-check), then retry at once, without the delay |
//! | final mapping | `Internal`, `Preparation`, `ExecutionDeadline` abstain; `HardTimeout` is invalid `Timeout`; `PoVDecompressionFailure` is invalid `PoVDecompressionFailure`; every other invalid or possibly-invalid error is invalid `ExecutionError` |
//!
//! `WorkerStalled` is ours (the execute worker stopped answering although its job is bounded);
//! it is retried as a worker death is, the one deliberate difference from the reference,
//! because like a death it says nothing about the candidate.

use pvf_common::{
    ExecutorParams, PvfExecTimeoutKind, PvfPrepKind,
    execute::{InvalidCandidate, PossiblyInvalidError, ValidationError},
    executor_params::{
        DEFAULT_APPROVAL_EXECUTION_TIMEOUT, DEFAULT_BACKING_EXECUTION_TIMEOUT,
        DEFAULT_LENIENT_PREPARATION_TIMEOUT, DEFAULT_PRECHECK_PREPARATION_TIMEOUT,
    },
};
use std::time::Duration;

/// The delay before retrying an approval or dispute execution, as in the reference.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(3);

/// The preparation timeout of `kind`: the session's, else the reference's default.
pub fn prep_timeout(params: &ExecutorParams, kind: PvfPrepKind) -> Duration {
    params.pvf_prep_timeout(kind).unwrap_or(match kind {
        PvfPrepKind::Precheck => DEFAULT_PRECHECK_PREPARATION_TIMEOUT,
        PvfPrepKind::Prepare => DEFAULT_LENIENT_PREPARATION_TIMEOUT,
    })
}

/// The execution timeout of `kind`: the session's, else the reference's default. Disputes use
/// the approval timeout.
pub fn exec_timeout(params: &ExecutorParams, kind: PvfExecTimeoutKind) -> Duration {
    params.pvf_exec_timeout(kind).unwrap_or(match kind {
        PvfExecTimeoutKind::Backing => DEFAULT_BACKING_EXECUTION_TIMEOUT,
        PvfExecTimeoutKind::Approval => DEFAULT_APPROVAL_EXECUTION_TIMEOUT,
    })
}

/// The error classes that each get one retry in approvals and disputes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// The worker or the job died, or (ours) the worker stalled.
    Death,
    /// The job reported an error of its own (a panic, an unexpected exit).
    JobError,
    /// A local failure of the host.
    Internal,
    /// The artifact could not be instantiated or was corrupted: re-prepare, then retry.
    ExecutionError,
}

impl RetryClass {
    /// The class of `error`, if it may be transient.
    pub fn of(error: &ValidationError) -> Option<Self> {
        use PossiblyInvalidError::*;
        match error {
            ValidationError::PossiblyInvalid(
                AmbiguousWorkerDeath | AmbiguousJobDeath(_) | WorkerStalled(_),
            ) => Some(RetryClass::Death),
            ValidationError::PossiblyInvalid(JobError(_)) => Some(RetryClass::JobError),
            ValidationError::Internal(_) => Some(RetryClass::Internal),
            ValidationError::PossiblyInvalid(RuntimeConstruction(_) | CorruptedArtifact) => {
                Some(RetryClass::ExecutionError)
            }
            ValidationError::Invalid(_)
            | ValidationError::Preparation(_)
            | ValidationError::ExecutionDeadline => None,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// The error stands: map it to a vote ([`final_outcome`]).
    GiveUp,
    /// Try again after `delay`, re-preparing first if `reprepare`. The attempt's timeout is
    /// [`RetryBudget::remaining`] at the time it starts.
    Retry {
        /// How long to wait before the attempt (zero after a re-preparation).
        delay: Duration,
        /// Force a new preparation (a pre-check) before the attempt.
        reprepare: bool,
    },
}

/// The retries one validation has left, per [`RetryClass`].
#[derive(Clone, Debug)]
pub struct RetryBudget {
    exec_timeout: Duration,
    retry_delay: Duration,
    /// Per class, in [`RetryClass`] order: whether its one retry is still available.
    left: [bool; 4],
}

impl RetryBudget {
    /// The budget of an execution of `kind` with `exec_timeout`: one retry per class for
    /// approvals and disputes, none for backing.
    pub fn new(kind: PvfExecTimeoutKind, exec_timeout: Duration, retry_delay: Duration) -> Self {
        let retries = kind == PvfExecTimeoutKind::Approval;
        Self {
            exec_timeout,
            retry_delay,
            left: [retries; 4],
        }
    }

    /// Decides after an attempt failed with `error`, `elapsed` after the first attempt began.
    /// The time check comes first, as in the reference: even an immediate retry after a
    /// re-preparation needs room for the delay.
    pub fn after_failure(&mut self, error: &ValidationError, elapsed: Duration) -> RetryDecision {
        if elapsed + self.retry_delay > self.exec_timeout {
            return RetryDecision::GiveUp;
        }
        let Some(class) = RetryClass::of(error) else {
            return RetryDecision::GiveUp;
        };
        let left = &mut self.left[class as usize];
        if !*left {
            return RetryDecision::GiveUp;
        }
        *left = false;
        let reprepare = class == RetryClass::ExecutionError;
        RetryDecision::Retry {
            delay: if reprepare {
                Duration::ZERO
            } else {
                self.retry_delay
            },
            reprepare,
        }
    }

    /// The timeout of a retry that starts `elapsed` after the first attempt began.
    pub fn remaining(&self, elapsed: Duration) -> Duration {
        self.exec_timeout.saturating_sub(elapsed)
    }
}

/// Why a candidate is invalid, for the reasons an execution error gives (the checks before
/// and after execution add the others).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutionInvalidity {
    /// The PVF failed, or failed in a way that may not be deterministic and kept failing.
    ExecutionError(String),
    /// The execution ran out of time.
    Timeout,
    /// The PoV did not decompress within its bomb limit.
    PoVDecompressionFailure,
}

impl From<ExecutionInvalidity> for crate::candidate::InvalidCandidate {
    fn from(invalidity: ExecutionInvalidity) -> Self {
        match invalidity {
            ExecutionInvalidity::ExecutionError(e) => Self::ExecutionError(e),
            ExecutionInvalidity::Timeout => Self::Timeout,
            ExecutionInvalidity::PoVDecompressionFailure => Self::PoVDecompressionFailure,
        }
    }
}

/// The vote an execution error leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinalOutcome {
    /// Vote against the candidate.
    Invalid(ExecutionInvalidity),
    /// Do not vote: the failure is ours (or the job was dropped), not the candidate's.
    Abstain(String),
}

/// Maps the error that ended the last attempt to a vote, as the reference does.
pub fn final_outcome(error: ValidationError) -> FinalOutcome {
    match error {
        ValidationError::Internal(e) => FinalOutcome::Abstain(format!("internal error: {e}")),
        ValidationError::Preparation(e) => {
            FinalOutcome::Abstain(format!("the PVF failed to prepare: {e}"))
        }
        ValidationError::ExecutionDeadline => {
            FinalOutcome::Abstain("the relay parent left the view before execution".into())
        }
        ValidationError::Invalid(InvalidCandidate::HardTimeout) => {
            FinalOutcome::Invalid(ExecutionInvalidity::Timeout)
        }
        ValidationError::Invalid(InvalidCandidate::PoVDecompressionFailure) => {
            FinalOutcome::Invalid(ExecutionInvalidity::PoVDecompressionFailure)
        }
        ValidationError::Invalid(InvalidCandidate::WorkerReportedInvalid(e)) => {
            FinalOutcome::Invalid(ExecutionInvalidity::ExecutionError(e))
        }
        ValidationError::PossiblyInvalid(e) => FinalOutcome::Invalid(
            ExecutionInvalidity::ExecutionError(execution_error_reason(e)),
        ),
    }
}

/// The reason an `ExecutionError` carries, worded as the reference words it (operators grep
/// logs of both).
fn execution_error_reason(error: PossiblyInvalidError) -> String {
    use PossiblyInvalidError::*;
    match error {
        AmbiguousWorkerDeath => "ambiguous worker death".into(),
        AmbiguousJobDeath(e) => format!("ambiguous job death: {e}"),
        JobError(e) | RuntimeConstruction(e) => e,
        e @ (CorruptedArtifact | WorkerStalled(_)) => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
