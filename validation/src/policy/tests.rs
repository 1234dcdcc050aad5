use super::*;
use pvf_common::{
    ExecutorParam, PrepareError, execute::InternalValidationError, executor_params::ExecutorParams,
};

const SECOND: Duration = Duration::from_secs(1);
const DELAY: Duration = Duration::from_millis(200);

fn death() -> ValidationError {
    ValidationError::PossiblyInvalid(PossiblyInvalidError::AmbiguousWorkerDeath)
}

fn runtime_construction() -> ValidationError {
    ValidationError::PossiblyInvalid(PossiblyInvalidError::RuntimeConstruction("x".into()))
}

fn internal() -> ValidationError {
    ValidationError::Internal(InternalValidationError::HostCommunication("gone".into()))
}

fn approval(timeout: Duration) -> RetryBudget {
    RetryBudget::new(PvfExecTimeoutKind::Approval, timeout, DELAY)
}

#[test]
fn timeouts_come_from_the_session_else_the_reference_defaults() {
    let none = ExecutorParams::new();
    assert_eq!(prep_timeout(&none, PvfPrepKind::Precheck), 60 * SECOND);
    assert_eq!(prep_timeout(&none, PvfPrepKind::Prepare), 360 * SECOND);
    assert_eq!(exec_timeout(&none, PvfExecTimeoutKind::Backing), 2 * SECOND);
    assert_eq!(
        exec_timeout(&none, PvfExecTimeoutKind::Approval),
        12 * SECOND
    );
    let session = ExecutorParams::from(vec![
        ExecutorParam::PvfPrepTimeout(PvfPrepKind::Precheck, 90_000),
        ExecutorParam::PvfExecTimeout(PvfExecTimeoutKind::Backing, 2_500),
    ]);
    assert_eq!(prep_timeout(&session, PvfPrepKind::Precheck), 90 * SECOND);
    assert_eq!(prep_timeout(&session, PvfPrepKind::Prepare), 360 * SECOND);
    assert_eq!(
        exec_timeout(&session, PvfExecTimeoutKind::Backing),
        Duration::from_millis(2_500)
    );
    assert_eq!(
        exec_timeout(&session, PvfExecTimeoutKind::Approval),
        12 * SECOND
    );
}

#[test]
fn backing_never_retries() {
    let mut budget = RetryBudget::new(PvfExecTimeoutKind::Backing, 2 * SECOND, DELAY);
    for error in [death(), runtime_construction(), internal()] {
        assert_eq!(
            budget.after_failure(&error, Duration::ZERO),
            RetryDecision::GiveUp
        );
    }
}

#[test]
fn approval_retries_once_per_class() {
    let mut budget = approval(12 * SECOND);
    let retry_after_delay = RetryDecision::Retry {
        delay: DELAY,
        reprepare: false,
    };
    assert_eq!(budget.after_failure(&death(), SECOND), retry_after_delay);
    // Another class still has its retry; the spent one does not.
    assert_eq!(budget.after_failure(&internal(), SECOND), retry_after_delay);
    let job_death =
        ValidationError::PossiblyInvalid(PossiblyInvalidError::AmbiguousJobDeath("SIGKILL".into()));
    assert_eq!(
        budget.after_failure(&job_death, SECOND),
        RetryDecision::GiveUp
    );
    let stalled = ValidationError::PossiblyInvalid(PossiblyInvalidError::WorkerStalled(SECOND));
    assert_eq!(
        budget.after_failure(&stalled, SECOND),
        RetryDecision::GiveUp
    );
    let job_error = ValidationError::PossiblyInvalid(PossiblyInvalidError::JobError("p".into()));
    assert_eq!(budget.after_failure(&job_error, SECOND), retry_after_delay);
    assert_eq!(
        budget.after_failure(&job_error, SECOND),
        RetryDecision::GiveUp
    );
}

#[test]
fn runtime_construction_and_corrupted_artifacts_reprepare_and_retry_at_once() {
    let mut budget = approval(12 * SECOND);
    let reprepare = RetryDecision::Retry {
        delay: Duration::ZERO,
        reprepare: true,
    };
    assert_eq!(
        budget.after_failure(&runtime_construction(), SECOND),
        reprepare
    );
    let corrupted = ValidationError::PossiblyInvalid(PossiblyInvalidError::CorruptedArtifact);
    assert_eq!(
        budget.after_failure(&corrupted, SECOND),
        RetryDecision::GiveUp
    );
}

#[test]
fn final_errors_are_never_retried() {
    let mut budget = approval(12 * SECOND);
    for error in [
        ValidationError::Invalid(InvalidCandidate::HardTimeout),
        ValidationError::Invalid(InvalidCandidate::WorkerReportedInvalid("trap".into())),
        ValidationError::Preparation(PrepareError::Prevalidation("bad".into())),
        ValidationError::ExecutionDeadline,
    ] {
        assert_eq!(budget.after_failure(&error, SECOND), RetryDecision::GiveUp);
    }
}

#[test]
fn no_retry_once_the_delay_would_pass_the_timeout_and_a_retry_gets_the_time_left() {
    let mut budget = approval(2 * SECOND);
    // 1.9 s spent + 0.2 s delay > 2 s: give up, even for an immediate re-preparation retry.
    let late = Duration::from_millis(1_900);
    assert_eq!(budget.after_failure(&death(), late), RetryDecision::GiveUp);
    assert_eq!(
        budget.after_failure(&runtime_construction(), late),
        RetryDecision::GiveUp
    );
    // The budget was not spent by the refusals.
    let early = Duration::from_millis(500);
    assert!(matches!(
        budget.after_failure(&death(), early),
        RetryDecision::Retry { .. }
    ));
    assert_eq!(
        budget.remaining(early + DELAY),
        Duration::from_millis(1_300)
    );
    assert_eq!(budget.remaining(3 * SECOND), Duration::ZERO);
}

#[test]
fn the_final_mapping_is_the_references() {
    use ExecutionInvalidity::*;
    let invalid = |e| match final_outcome(e) {
        FinalOutcome::Invalid(reason) => reason,
        other => panic!("expected invalid, got {other:?}"),
    };
    let abstains = |e| matches!(final_outcome(e), FinalOutcome::Abstain(_));
    assert!(abstains(internal()));
    assert!(abstains(ValidationError::Preparation(
        PrepareError::Preparation("x".into())
    )));
    assert!(abstains(ValidationError::ExecutionDeadline));
    assert_eq!(
        invalid(ValidationError::Invalid(InvalidCandidate::HardTimeout)),
        Timeout
    );
    assert_eq!(
        invalid(ValidationError::Invalid(
            InvalidCandidate::PoVDecompressionFailure
        )),
        PoVDecompressionFailure
    );
    // Every other error is an execution error, with the reference's wording of the reason.
    use PossiblyInvalidError::*;
    let possibly = ValidationError::PossiblyInvalid;
    for (error, reason) in [
        (
            ValidationError::Invalid(InvalidCandidate::WorkerReportedInvalid("trap".into())),
            "trap",
        ),
        (possibly(AmbiguousWorkerDeath), "ambiguous worker death"),
        (
            possibly(AmbiguousJobDeath("killed".into())),
            "ambiguous job death: killed",
        ),
        (
            possibly(RuntimeConstruction("no memory".into())),
            "no memory",
        ),
        (possibly(JobError("panicked".into())), "panicked"),
        (
            possibly(CorruptedArtifact),
            "possibly invalid: artifact is corrupted",
        ),
        (
            possibly(WorkerStalled(SECOND)),
            "possibly invalid: the execute worker stalled past the wall-clock limit of 1s",
        ),
    ] {
        assert_eq!(
            invalid(error.clone()),
            ExecutionError(reason.into()),
            "{error:?}"
        );
    }
}
