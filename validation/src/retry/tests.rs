use super::*;
use pvf_common::{
    ExecutorParams, PrepareJobKind,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{BlockData, HeadData, InvalidCandidate, PossiblyInvalidError},
};
use std::{cell::RefCell, collections::VecDeque};

const DELAY: Duration = Duration::from_millis(20);

/// What the fake host saw, in order.
#[derive(Debug, PartialEq)]
enum Call {
    Execute(Duration),
    Precheck,
}

/// A host answering each execution with the next scripted result, after `takes`.
struct ScriptedHost {
    answers: RefCell<VecDeque<Result<ValidationResult, ValidationError>>>,
    precheck: Result<(), PrepareError>,
    takes: Duration,
    calls: RefCell<Vec<Call>>,
}

impl ScriptedHost {
    fn new(answers: Vec<Result<ValidationResult, ValidationError>>) -> Self {
        Self {
            answers: RefCell::new(answers.into()),
            precheck: Ok(()),
            takes: Duration::ZERO,
            calls: RefCell::default(),
        }
    }
}

impl ValidationBackend for ScriptedHost {
    async fn execute(
        &self,
        _: PvfPrepData,
        exec_timeout: Duration,
        _: PersistedValidationData,
        _: PoV,
        _: PvfExecKind,
    ) -> Result<ValidationResult, ValidationError> {
        self.calls.borrow_mut().push(Call::Execute(exec_timeout));
        tokio::time::sleep(self.takes).await;
        let next = self.answers.borrow_mut().pop_front();
        next.expect("an execution beyond the script")
    }

    async fn precheck(&self, _: PvfPrepData) -> Result<(), PrepareError> {
        self.calls.borrow_mut().push(Call::Precheck);
        self.precheck.clone()
    }
}

fn valid() -> Result<ValidationResult, ValidationError> {
    Ok(ValidationResult {
        head_data: HeadData(vec![1]),
        new_validation_code: None,
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    })
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
    execute_with_retry(host, pvf, timeout, pvd, pov, kind, DELAY).await
}

/// The timeouts of the execution attempts the host saw.
fn attempts(host: &ScriptedHost) -> Vec<Duration> {
    host.calls
        .borrow()
        .iter()
        .filter_map(|c| match c {
            Call::Execute(t) => Some(*t),
            Call::Precheck => None,
        })
        .collect()
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
    let calls = host.calls.borrow();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1], Call::Precheck, "{calls:?}");
}

#[tokio::test]
async fn a_failed_repreparation_is_the_answer() {
    let mut host = ScriptedHost::new(vec![possibly(PossiblyInvalidError::CorruptedArtifact)]);
    host.precheck = Err(PrepareError::Prevalidation("garbage".into()));
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
    let mut host = ScriptedHost::new(vec![possibly(PossiblyInvalidError::AmbiguousWorkerDeath)]);
    // 150 ms spent + 20 ms delay > 160 ms.
    host.takes = Duration::from_millis(150);
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
