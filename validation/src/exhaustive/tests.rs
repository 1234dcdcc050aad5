//! The reference's policy, message by message: each case is a `ValidateFromExhaustive` sent to
//! the actor over a scripted host (`fake_host`) and a relay chain of fixed answers.

use super::*;
use crate::{
    candidate::CandidateValidationResult as Verdict,
    fake_host::{Call, ScriptedHost},
    fixed_chain::FixedChain,
    receipt::DescriptorLayout,
    test_candidate::{RELAY_PARENT, SCHEDULING_PARENT, V2, V3, request, result},
};
use parity_scale_codec::Encode;
use polkadot_primitives::{ClaimQueueOffset, CoreSelector, UMPSignal};
use pvf_common::{
    ExecutorParam, PrepareError, PvfExecTimeoutKind,
    execute::{
        InternalValidationError, InvalidCandidate as HostInvalid, PossiblyInvalidError,
        ValidationError, ValidationResult,
    },
};
use std::time::Duration;

const DELAY: Duration = Duration::from_millis(10);
const BACKING: PvfExecKind = PvfExecKind::Backing([0xaa; 32]);

/// Validates `request` as a node asks for it: a `ValidateFromExhaustive` message to a fresh
/// actor over `host` and `chain` (after a leaves update that shows the V3 node feature, if
/// `v3_ever_seen`; the fake host's record of it is dropped).
async fn validate_with(
    host: &ScriptedHost,
    chain: &FixedChain,
    request: ExhaustiveRequest,
    v3_ever_seen: bool,
) -> Result<Verdict, ValidationFailed> {
    use crate::actor::{ActiveLeavesUpdate, CandidateValidator, Config, ValidateFromExhaustive};
    use actix::Actor;
    let config = Config {
        retry_delay: DELAY,
        ..Config::default()
    };
    let actor = CandidateValidator::new(host.clone(), chain.clone(), config).start();
    if v3_ever_seen {
        let enabled = chain.answers().v3_enabled;
        chain.set(|a| a.v3_enabled = true);
        let update = ActiveLeavesUpdate {
            activated: Some(crate::candidate::Hash::repeat_byte(9)),
            deactivated: Vec::new(),
        };
        actor.send(update).await.expect("the actor is alive");
        chain.set(|a| a.v3_enabled = enabled);
        host.forget_calls();
    }
    actor
        .send(ValidateFromExhaustive(request))
        .await
        .expect("the actor is alive")
}

fn possibly(e: PossiblyInvalidError) -> ValidationError {
    ValidationError::PossiblyInvalid(e)
}

fn execution_error(verdict: &Result<Verdict, ValidationFailed>) -> bool {
    matches!(
        verdict,
        Ok(Verdict::Invalid(InvalidCandidate::ExecutionError(_)))
    )
}

/// Every error the host can answer, and the vote it must lead to (the reference's final
/// mapping), whichever the kind: backing answers it at once, approvals after retrying.
#[actix::test]
async fn every_row_of_the_final_mapping() {
    type Check = fn(&Result<Verdict, ValidationFailed>) -> bool;
    let abstains: Check = |v| v.is_err();
    let timeout: Check = |v| v == &Ok(Verdict::Invalid(InvalidCandidate::Timeout));
    let decompression: Check =
        |v| v == &Ok(Verdict::Invalid(InvalidCandidate::PoVDecompressionFailure));
    let rows: Vec<(ValidationError, Check)> = vec![
        (
            ValidationError::Internal(InternalValidationError::HostCommunication("x".into())),
            abstains,
        ),
        (
            ValidationError::Preparation(PrepareError::Prevalidation("x".into())),
            abstains,
        ),
        (ValidationError::ExecutionDeadline, abstains),
        (ValidationError::Invalid(HostInvalid::HardTimeout), timeout),
        (
            ValidationError::Invalid(HostInvalid::PoVDecompressionFailure),
            decompression,
        ),
        (
            ValidationError::Invalid(HostInvalid::WorkerReportedInvalid("trap".into())),
            execution_error,
        ),
        (
            possibly(PossiblyInvalidError::AmbiguousWorkerDeath),
            execution_error,
        ),
        (
            possibly(PossiblyInvalidError::AmbiguousJobDeath("SIGKILL".into())),
            execution_error,
        ),
        (
            possibly(PossiblyInvalidError::JobError("panic".into())),
            execution_error,
        ),
        (
            possibly(PossiblyInvalidError::RuntimeConstruction("bad".into())),
            execution_error,
        ),
        (
            possibly(PossiblyInvalidError::CorruptedArtifact),
            execution_error,
        ),
        (
            possibly(PossiblyInvalidError::WorkerStalled(Duration::from_secs(1))),
            execution_error,
        ),
    ];
    for (error, expected) in rows {
        for kind in [BACKING, PvfExecKind::Approval, PvfExecKind::Dispute] {
            // Enough answers for every retry an approval may make.
            let host = ScriptedHost::new(vec![Err(error.clone()); 4]);
            let verdict =
                validate_with(&host, &FixedChain::default(), request(V2, kind), false).await;
            assert!(expected(&verdict), "{error:?} in {kind:?} gave {verdict:?}");
        }
    }
    let host = ScriptedHost::new(vec![Ok(result())]);
    let verdict = validate_with(&host, &FixedChain::default(), request(V2, BACKING), false).await;
    assert!(matches!(verdict, Ok(Verdict::Valid(..))), "{verdict:?}");
}

#[actix::test]
async fn backing_never_retries_and_never_reprepares() {
    for error in [
        possibly(PossiblyInvalidError::AmbiguousWorkerDeath),
        possibly(PossiblyInvalidError::JobError("panic".into())),
        possibly(PossiblyInvalidError::RuntimeConstruction("bad".into())),
        possibly(PossiblyInvalidError::CorruptedArtifact),
        ValidationError::Internal(InternalValidationError::HostCommunication("x".into())),
    ] {
        let host = ScriptedHost::new(vec![Err(error.clone()), Ok(result())]);
        let verdict =
            validate_with(&host, &FixedChain::default(), request(V2, BACKING), false).await;
        assert_eq!(host.calls().len(), 1, "{error:?}: {:?}", host.calls());
        assert!(!matches!(verdict, Ok(Verdict::Valid(..))), "{error:?}");
    }
}

#[actix::test]
async fn an_approval_retries_with_the_time_left_and_reprepares_first_after_runtime_construction() {
    let host = ScriptedHost::new(vec![
        Err(possibly(PossiblyInvalidError::AmbiguousWorkerDeath)),
        Err(possibly(PossiblyInvalidError::RuntimeConstruction(
            "bad".into(),
        ))),
        Ok(result()),
    ]);
    let verdict = validate_with(
        &host,
        &FixedChain::default(),
        request(V2, PvfExecKind::Approval),
        false,
    )
    .await;
    assert!(matches!(verdict, Ok(Verdict::Valid(..))), "{verdict:?}");
    let calls = host.calls();
    let shape: Vec<&str> = calls
        .iter()
        .map(|c| match c {
            Call::Execute { .. } => "execute",
            Call::Precheck(_) => "precheck",
            _ => "other",
        })
        .collect();
    assert_eq!(shape, ["execute", "execute", "precheck", "execute"]);
    let attempts = host.attempts();
    assert_eq!(attempts[0], Duration::from_secs(12));
    assert!(attempts[1] <= attempts[0] - DELAY, "{attempts:?}");
    assert!(attempts[2] <= attempts[1], "{attempts:?}");
}

#[actix::test]
async fn the_retry_stops_when_the_time_runs_out() {
    let host = ScriptedHost::new(vec![Err(possibly(
        PossiblyInvalidError::AmbiguousWorkerDeath,
    ))]);
    host.executions_take(Duration::from_millis(100));
    let mut request = request(V2, PvfExecKind::Approval);
    // 100 ms spent + 10 ms delay > 105 ms.
    request.executor_params = vec![ExecutorParam::PvfExecTimeout(
        PvfExecTimeoutKind::Approval,
        105,
    )]
    .into();
    let verdict = validate_with(&host, &FixedChain::default(), request, false).await;
    assert!(execution_error(&verdict), "{verdict:?}");
    assert_eq!(host.attempts(), [Duration::from_millis(105)]);
}

/// The one execution call the host got.
fn the_execution(host: &ScriptedHost) -> (PvfPrepData, Duration, ExecutionInput, PvfExecKind) {
    match host.calls().as_slice() {
        [
            Call::Execute {
                pvf,
                timeout,
                input,
                kind,
            },
        ] => (pvf.clone(), *timeout, input.clone(), *kind),
        calls => panic!("one execution expected, got {calls:?}"),
    }
}

#[actix::test]
async fn timeouts_and_the_bomb_limit_come_from_the_session() {
    let host = ScriptedHost::new(vec![Ok(result())]);
    let chain = FixedChain::default();
    chain.set(|a| a.bomb_limit = Some(12345));
    let mut request = request(V2, BACKING);
    request.executor_params = vec![
        ExecutorParam::PvfExecTimeout(PvfExecTimeoutKind::Backing, 1500),
        ExecutorParam::PvfPrepTimeout(pvf_common::PvfPrepKind::Prepare, 100_000),
    ]
    .into();
    validate_with(&host, &chain, request, false).await.unwrap();
    let (pvf, timeout, _, _) = the_execution(&host);
    assert_eq!(timeout, Duration::from_millis(1500));
    assert_eq!(pvf.prep_timeout(), Duration::from_secs(100));
    assert_eq!(pvf.prep_kind(), PrepareJobKind::Compilation);
    assert_eq!(pvf.validation_code_bomb_limit(), 12345);
}

/// `result()` with a core-0 selector, so that a V3 candidate passes backing's UMP checks.
fn signalled() -> ValidationResult {
    let mut result = result();
    result.upward_messages.push(Vec::new());
    result
        .upward_messages
        .push(UMPSignal::SelectCore(CoreSelector(0), ClaimQueueOffset(0)).encode());
    result
}

#[actix::test]
async fn a_v3_candidate_runs_with_the_extension_in_the_lane_its_caller_names() {
    for (v3_ever_seen, extension) in [
        (false, None),
        (
            true,
            Some(pvf_common::execute::ValidationParamsExtension::V3 {
                relay_parent: RELAY_PARENT.0,
                scheduling_parent: SCHEDULING_PARENT.0,
            }),
        ),
    ] {
        let host = ScriptedHost::new(vec![Ok(signalled())]);
        // The host prunes backing jobs by the hash the backing subsystem gives, unchanged.
        let lane = PvfExecKind::BackingSystemParas([0xcc; 32]);
        let mut request = request(V3, lane);
        request.candidate_receipt = crate::test_candidate::receipt_for(V3, &signalled());
        let verdict = validate_with(&host, &FixedChain::default(), request, v3_ever_seen).await;
        assert!(matches!(verdict, Ok(Verdict::Valid(..))), "{verdict:?}");
        let (_, _, input, kind) = the_execution(&host);
        assert_eq!(kind, lane);
        assert_eq!(input.params_extension, extension);
    }
    // V1 and V2 never get it.
    for layout in [DescriptorLayout::V1, V2] {
        let host = ScriptedHost::new(vec![Ok(result())]);
        validate_with(
            &host,
            &FixedChain::default(),
            request(layout, PvfExecKind::Approval),
            true,
        )
        .await
        .unwrap();
        assert_eq!(the_execution(&host).2.params_extension, None);
    }
}

#[actix::test]
async fn a_failed_input_check_never_reaches_the_host() {
    let host = ScriptedHost::new(Vec::new());
    let mut request = request(V2, PvfExecKind::Approval);
    request.validation_code = b"other code".to_vec();
    let verdict = validate_with(&host, &FixedChain::default(), request, false).await;
    assert_eq!(
        verdict,
        Ok(Verdict::Invalid(InvalidCandidate::CodeHashMismatch))
    );
    assert!(host.calls().is_empty());
}

#[actix::test]
async fn backing_checks_the_sessions_approvals_do_not() {
    type ChainChange = fn(&mut crate::fixed_chain::Answers);
    let cases: [(ChainChange, InvalidCandidate); 2] = [
        (
            |a| a.session = Some(8),
            InvalidCandidate::InvalidSchedulingSession,
        ),
        (
            |a| a.relay_parent_session = Some(crate::chain::RelayParentSession::NotFound),
            InvalidCandidate::InvalidRelayParentSession,
        ),
    ];
    for (change, invalidity) in cases {
        let chain = FixedChain::default();
        chain.set(change);
        let host = ScriptedHost::new(vec![Ok(result())]);
        let verdict = validate_with(&host, &chain, request(V2, BACKING), false).await;
        assert_eq!(verdict, Ok(Verdict::Invalid(invalidity)));
        assert!(host.calls().is_empty());
        let verdict = validate_with(&host, &chain, request(V2, PvfExecKind::Approval), false).await;
        assert!(matches!(verdict, Ok(Verdict::Valid(..))), "{verdict:?}");
    }
    let chain = FixedChain::default();
    chain.set(|a| a.relay_parent_session = Some(crate::chain::RelayParentSession::NotSupported));
    let host = ScriptedHost::new(vec![Ok(result())]);
    let verdict = validate_with(&host, &chain, request(V2, BACKING), false).await;
    assert!(matches!(verdict, Ok(Verdict::Valid(..))), "{verdict:?}");
}

#[actix::test]
async fn a_runtime_call_that_fails_means_abstain() {
    let failures: [fn(&mut crate::fixed_chain::Answers); 3] = [
        |a| a.bomb_limit = None,
        |a| a.claim_queue = None,
        |a| a.relay_parent_session = None,
    ];
    for fail in failures {
        let chain = FixedChain::default();
        chain.set(fail);
        let host = ScriptedHost::new(vec![Ok(result())]);
        let verdict = validate_with(&host, &chain, request(V2, BACKING), false).await;
        assert!(verdict.is_err(), "{verdict:?}");
        assert!(host.calls().is_empty());
    }
    // Approvals need neither the claim queue nor the session checks.
    let chain = FixedChain::default();
    chain.set(|a| a.claim_queue = None);
    let host = ScriptedHost::new(vec![Ok(result())]);
    let verdict = validate_with(&host, &chain, request(V2, PvfExecKind::Approval), false).await;
    assert!(matches!(verdict, Ok(Verdict::Valid(..))), "{verdict:?}");
}

/// One retry per error class, through the actor: a second error of a class that already had
/// its retry is the answer, each other class still gets its own, and any class may come first
/// (the worker's stall, ours, counts as a death).
#[actix::test]
async fn an_approval_retries_each_class_once() {
    use PossiblyInvalidError::*;
    let death = || Err(possibly(AmbiguousWorkerDeath));
    let job_death = || Err(possibly(AmbiguousJobDeath("SIGKILL".into())));
    let stalled = || Err(possibly(WorkerStalled(Duration::from_secs(1))));
    let job_error = || Err(possibly(JobError("panic".into())));
    let internal = || {
        Err(ValidationError::Internal(
            InternalValidationError::HostCommunication("x".into()),
        ))
    };
    let valid = |v: &Result<Verdict, ValidationFailed>| matches!(v, Ok(Verdict::Valid(..)));
    type Check = fn(&Result<Verdict, ValidationFailed>) -> bool;
    let abstains: Check = |v| v.is_err();
    type Script = Vec<Result<ValidationResult, ValidationError>>;
    let cases: Vec<(Script, usize, Check)> = vec![
        (vec![death(), job_death(), Ok(result())], 2, execution_error),
        (vec![stalled(), death(), Ok(result())], 2, execution_error),
        (
            vec![job_error(), job_error(), Ok(result())],
            2,
            execution_error,
        ),
        (vec![internal(), internal(), Ok(result())], 2, abstains),
        (vec![stalled(), Ok(result())], 2, valid),
        (vec![job_death(), Ok(result())], 2, valid),
        (
            vec![death(), job_error(), internal(), Ok(result())],
            4,
            valid,
        ),
    ];
    for (script, attempts, expected) in cases {
        let what = format!("{script:?}");
        for kind in [PvfExecKind::Approval, PvfExecKind::Dispute] {
            let host = ScriptedHost::new(script.clone());
            let verdict =
                validate_with(&host, &FixedChain::default(), request(V2, kind), false).await;
            assert!(expected(&verdict), "{what} in {kind:?} gave {verdict:?}");
            assert_eq!(host.attempts().len(), attempts, "{what} in {kind:?}");
        }
    }
}

/// The UMP-signal rules apply in backing only, through the actor: two core selectors are
/// invalid there, and the same candidate is valid in approvals and disputes.
#[actix::test]
async fn ump_signals_are_checked_in_backing_only_by_message() {
    let mut doubled = signalled();
    doubled
        .upward_messages
        .push(UMPSignal::SelectCore(CoreSelector(0), ClaimQueueOffset(0)).encode());
    let receipt = crate::test_candidate::receipt_for(V2, &doubled);
    for kind in [BACKING, PvfExecKind::Approval, PvfExecKind::Dispute] {
        let host = ScriptedHost::new(vec![Ok(doubled.clone())]);
        let mut request = request(V2, kind);
        request.candidate_receipt = receipt.clone();
        let verdict = validate_with(&host, &FixedChain::default(), request, false).await;
        match kind {
            BACKING => assert!(
                matches!(
                    verdict,
                    Ok(Verdict::Invalid(InvalidCandidate::InvalidUMPSignals(_)))
                ),
                "{verdict:?}"
            ),
            _ => assert!(
                matches!(verdict, Ok(Verdict::Valid(..))),
                "{kind:?}: {verdict:?}"
            ),
        }
    }
}
