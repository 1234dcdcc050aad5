use super::*;
use crate::fake_host::{Call, ScriptedHost, valid_result};
use pvf_common::{
    ExecutorParams, PrepareJobKind,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{BlockData, HeadData, InvalidCandidate, PossiblyInvalidError},
};

const DELAY: Duration = Duration::from_millis(20);

fn valid() -> Result<ValidationResult, ValidationError> {
    Ok(valid_result(vec![1]))
}

fn possibly(error: PossiblyInvalidError) -> Result<ValidationResult, ValidationError> {
    Err(ValidationError::PossiblyInvalid(error))
}

async fn run(
    host: &ScriptedHost,
    kind: PvfExecKind,
    timeout: Duration,
) -> Result<ValidationResult, ValidationError> {
    let pvf = PvfPrepData::from_code(
        vec![0],
        ExecutorParams::new(),
        Duration::from_secs(360),
        PrepareJobKind::Compilation,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    );
    let pvd = PersistedValidationData {
        parent_head: HeadData(Vec::new()),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        max_pov_size: 1 << 20,
    };
    let pov = PoV {
        block_data: BlockData(Vec::new()),
    };
    let input = ExecutionInput {
        pvd,
        pov,
        params_extension: None,
    };
    execute_with_retry(host, pvf, timeout, input, kind, DELAY).await
}

fn attempts(host: &ScriptedHost) -> Vec<Duration> {
    host.attempts()
}

#[tokio::test]
async fn backing_gets_one_attempt() {
    let host = ScriptedHost::new(vec![possibly(PossiblyInvalidError::AmbiguousWorkerDeath)]);
    let result = run(&host, PvfExecKind::Backing([1; 32]), Duration::from_secs(2)).await;
    assert_eq!(result, possibly(PossiblyInvalidError::AmbiguousWorkerDeath));
    assert_eq!(attempts(&host).len(), 1);
}

#[tokio::test]
async fn an_approval_retries_each_class_once_with_the_time_left() {
    let host = ScriptedHost::new(vec![
        possibly(PossiblyInvalidError::AmbiguousWorkerDeath),
        possibly(PossiblyInvalidError::JobError("panic".into())),
        possibly(PossiblyInvalidError::AmbiguousJobDeath("SIGKILL".into())),
    ]);
    let timeout = Duration::from_secs(12);
    let result = run(&host, PvfExecKind::Approval, timeout).await;
    // The second death is not retried: the death class spent its retry.
    assert_eq!(
        result,
        possibly(PossiblyInvalidError::AmbiguousJobDeath("SIGKILL".into()))
    );
    let attempts = attempts(&host);
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0], timeout);
    assert!(attempts[1] <= timeout - DELAY, "{attempts:?}");
    assert!(attempts[2] <= attempts[1] - DELAY, "{attempts:?}");
}

#[tokio::test]
async fn a_runtime_construction_error_reprepares_then_retries() {
    let host = ScriptedHost::new(vec![
        possibly(PossiblyInvalidError::RuntimeConstruction("bad".into())),
        valid(),
    ]);
    let result = run(&host, PvfExecKind::Dispute, Duration::from_secs(12)).await;
    assert_eq!(result, valid());
    let calls = host.calls();
    assert_eq!(calls.len(), 3);
    assert!(matches!(calls[1], Call::Precheck(_)), "{calls:?}");
}

#[tokio::test]
async fn a_failed_repreparation_is_the_answer() {
    let host = ScriptedHost::new(vec![possibly(PossiblyInvalidError::CorruptedArtifact)]);
    host.precheck_answers(Err(PrepareError::Prevalidation("garbage".into())));
    let result = run(&host, PvfExecKind::Approval, Duration::from_secs(12)).await;
    assert_eq!(
        result,
        Err(ValidationError::Preparation(PrepareError::Prevalidation(
            "garbage".into()
        )))
    );
    assert_eq!(attempts(&host).len(), 1);
}

#[tokio::test]
async fn no_retry_once_the_delay_would_pass_the_timeout() {
    let host = ScriptedHost::new(vec![possibly(PossiblyInvalidError::AmbiguousWorkerDeath)]);
    // 150 ms spent + 20 ms delay > 160 ms.
    host.executions_take(Duration::from_millis(150));
    let result = run(&host, PvfExecKind::Approval, Duration::from_millis(160)).await;
    assert_eq!(result, possibly(PossiblyInvalidError::AmbiguousWorkerDeath));
    assert_eq!(attempts(&host).len(), 1);
}

#[tokio::test]
async fn invalid_and_success_are_final() {
    let host = ScriptedHost::new(vec![Err(ValidationError::Invalid(
        InvalidCandidate::HardTimeout,
    ))]);
    let result = run(&host, PvfExecKind::Approval, Duration::from_secs(12)).await;
    assert_eq!(
        result,
        Err(ValidationError::Invalid(InvalidCandidate::HardTimeout))
    );
    let host = ScriptedHost::new(vec![valid()]);
    assert_eq!(
        run(&host, PvfExecKind::Approval, Duration::from_secs(12)).await,
        valid()
    );
    assert_eq!(attempts(&host).len(), 1);
}
