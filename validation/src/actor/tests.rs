use super::*;
use crate::{
    candidate::CandidateValidationResult as Verdict,
    checks::code_hash,
    exhaustive::ExhaustiveRequest,
    fake_host::{Call, ScriptedHost},
    fixed_chain::FixedChain,
    test_candidate::{CODE, V2, V3, receipt_for, request, result},
};
use pvf_common::{
    ExecutorParam, PrepareError, PrepareJobKind, PvfPrepKind,
    execute::{PossiblyInvalidError, ValidationError},
};
use pvf_host::execute::lanes::PvfExecKind;

const LEAF: Hash = Hash::repeat_byte(1);

fn start(
    host: &ScriptedHost,
    chain: &FixedChain,
) -> Addr<CandidateValidator<ScriptedHost, FixedChain>> {
    let config = Config {
        retry_delay: Duration::from_millis(10),
        ..Config::default()
    };
    CandidateValidator::new(host.clone(), chain.clone(), config).start()
}

fn validate(request: ExhaustiveRequest) -> ValidateFromExhaustive {
    ValidateFromExhaustive(request)
}

#[actix::test]
async fn a_node_gets_the_verdict_by_message() {
    let host = ScriptedHost::new(vec![
        Ok(result()),
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousWorkerDeath,
        )),
    ]);
    let chain = FixedChain::default();
    let actor = start(&host, &chain);
    let valid = actor
        .send(validate(request(V2, PvfExecKind::Approval)))
        .await
        .unwrap();
    let Ok(Verdict::Valid(commitments, pvd)) = valid else {
        panic!("{valid:?}")
    };
    assert_eq!(commitments.head_data.0, vec![7, 7]);
    assert_eq!(pvd, crate::test_candidate::pvd());
    let backing = PvfExecKind::Backing([0xaa; 32]);
    let invalid = actor.send(validate(request(V2, backing))).await.unwrap();
    assert!(
        matches!(
            invalid,
            Ok(Verdict::Invalid(
                crate::candidate::InvalidCandidate::ExecutionError(_)
            ))
        ),
        "{invalid:?}"
    );
    assert_eq!(host.attempts().len(), 2, "backing was not retried");
}

#[actix::test]
async fn pre_check_votes_follow_the_reference() {
    let host = ScriptedHost::new(Vec::new());
    let chain = FixedChain::default();
    let hash = code_hash(CODE);
    chain.set(|a| {
        a.code.insert(hash, CODE.to_vec());
    });
    let actor = start(&host, &chain);
    let precheck = || PreCheck {
        relay_parent: LEAF,
        validation_code_hash: hash,
    };
    assert_eq!(
        actor.send(precheck()).await.unwrap(),
        PreCheckOutcome::Valid
    );
    let Some(Call::Precheck(pvf)) = host.calls().last().cloned() else {
        panic!()
    };
    assert_eq!(pvf.prep_kind(), PrepareJobKind::Prechecking);
    assert_eq!(pvf.prep_timeout(), Duration::from_secs(60));

    host.precheck_answers(Err(PrepareError::Prevalidation("bad opcode".into())));
    assert!(matches!(
        actor.send(precheck()).await.unwrap(),
        PreCheckOutcome::Invalid(_)
    ));
    host.precheck_answers(Err(PrepareError::TimedOut));
    assert!(matches!(
        actor.send(precheck()).await.unwrap(),
        PreCheckOutcome::Failed(_)
    ));

    // No executor params: against (Invalid); no code or no session: Failed.
    host.precheck_answers(Ok(()));
    chain.set(|a| a.executor_params = None);
    assert!(matches!(
        actor.send(precheck()).await.unwrap(),
        PreCheckOutcome::Invalid(_)
    ));
    chain.set(|a| a.executor_params = Some(pvf_common::ExecutorParams::new()));
    let missing = PreCheck {
        relay_parent: LEAF,
        validation_code_hash: code_hash(b"not on chain"),
    };
    assert!(matches!(
        actor.send(missing).await.unwrap(),
        PreCheckOutcome::Failed(_)
    ));
    chain.set(|a| a.session = None);
    assert!(matches!(
        actor.send(precheck()).await.unwrap(),
        PreCheckOutcome::Failed(_)
    ));
}

fn leaf(n: u8) -> Hash {
    Hash::repeat_byte(n)
}

fn heads_ups(host: &ScriptedHost) -> Vec<Vec<ValidationCodeHash>> {
    host.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::HeadsUp(pvfs) => Some(
                pvfs.iter()
                    .map(|p| ValidationCodeHash::from(p.code_hash().0))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[actix::test]
async fn leaves_reach_the_host_with_their_ancestors() {
    let host = ScriptedHost::new(Vec::new());
    let chain = FixedChain::default();
    chain.set(|a| a.ancestors = vec![leaf(2), leaf(3)]);
    let actor = start(&host, &chain);
    actor
        .send(ActiveLeavesUpdate {
            activated: Some(leaf(4)),
            deactivated: vec![leaf(1)],
        })
        .await
        .unwrap();
    let calls = host.calls();
    let [
        Call::Leaves {
            activated,
            deactivated,
            ancestors,
        },
    ] = calls.as_slice()
    else {
        panic!("{calls:?}")
    };
    assert_eq!(*activated, Some(leaf(4).0));
    assert_eq!(*deactivated, vec![leaf(1).0]);
    assert_eq!(*ancestors, vec![leaf(2).0, leaf(3).0]);
    assert!(
        heads_ups(&host).is_empty(),
        "not an authority of the next session"
    );
}

#[actix::test]
async fn a_next_session_authority_prepares_one_backed_pvf_per_block_once_per_session() {
    let host = ScriptedHost::new(Vec::new());
    let chain = FixedChain::default();
    let codes: Vec<Vec<u8>> = (0..3u8).map(|i| vec![0, b'a', b's', b'm', i]).collect();
    let hashes: Vec<_> = codes.iter().map(|c| code_hash(c)).collect();
    chain.set(|a| {
        a.next_session_authority = true;
        for (code, hash) in codes.iter().zip(&hashes) {
            a.code.insert(*hash, code.clone());
        }
        a.backed.insert(leaf(1), hashes.clone());
        a.backed.insert(leaf(2), hashes.clone());
        a.backed.insert(leaf(3), hashes.clone());
        // The session's own parameters, not the defaults, decide the artifact and timeout.
        a.executor_params = Some(
            vec![
                ExecutorParam::MaxMemoryPages(100),
                ExecutorParam::PvfPrepTimeout(PvfPrepKind::Prepare, 200_000),
            ]
            .into(),
        );
    });
    let actor = start(&host, &chain);
    for n in 1..=2 {
        let update = ActiveLeavesUpdate {
            activated: Some(leaf(n)),
            deactivated: Vec::new(),
        };
        actor.send(update).await.unwrap();
    }
    assert_eq!(heads_ups(&host), vec![vec![hashes[0]], vec![hashes[1]]]);
    let Some(Call::HeadsUp(pvfs)) = host
        .calls()
        .into_iter()
        .rfind(|c| matches!(c, Call::HeadsUp(_)))
    else {
        panic!()
    };
    assert_eq!(pvfs[0].prep_kind(), PrepareJobKind::Prechecking);
    assert_eq!(pvfs[0].prep_timeout(), Duration::from_secs(200));
    assert_eq!(
        **pvfs[0].executor_params(),
        chain.answers().executor_params.unwrap()
    );
    // A new session starts over.
    chain.set(|a| a.session = Some(8));
    actor
        .send(ActiveLeavesUpdate {
            activated: Some(leaf(3)),
            deactivated: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(heads_ups(&host).last(), Some(&vec![hashes[0]]));
}

#[actix::test]
async fn the_v3_feature_once_seen_makes_v3_descriptors_run_as_v3() {
    let mut signalled = result();
    signalled.upward_messages.push(Vec::new());
    signalled
        .upward_messages
        .push(parity_scale_codec::Encode::encode(
            &polkadot_primitives::UMPSignal::SelectCore(
                polkadot_primitives::CoreSelector(0),
                polkadot_primitives::ClaimQueueOffset(0),
            ),
        ));
    let host = ScriptedHost::new(vec![
        Ok(signalled.clone()),
        Ok(signalled.clone()),
        Ok(signalled.clone()),
    ]);
    let chain = FixedChain::default();
    let actor = start(&host, &chain);
    let v3_request = || {
        let mut request = request(V3, PvfExecKind::Approval);
        request.candidate_receipt = receipt_for(V3, &signalled);
        request
    };
    let extension_of_last = |host: &ScriptedHost| match host
        .calls()
        .into_iter()
        .rfind(|c| matches!(c, Call::Execute { .. }))
    {
        Some(Call::Execute { input, .. }) => input.params_extension,
        _ => panic!("no execution"),
    };
    actor.send(validate(v3_request())).await.unwrap().unwrap();
    assert_eq!(extension_of_last(&host), None);
    chain.set(|a| a.v3_enabled = true);
    actor
        .send(ActiveLeavesUpdate {
            activated: Some(leaf(1)),
            deactivated: Vec::new(),
        })
        .await
        .unwrap();
    actor.send(validate(v3_request())).await.unwrap().unwrap();
    assert!(extension_of_last(&host).is_some());
    // Once seen, for good.
    chain.set(|a| {
        a.v3_enabled = false;
        a.session = Some(9);
    });
    actor
        .send(ActiveLeavesUpdate {
            activated: Some(leaf(2)),
            deactivated: Vec::new(),
        })
        .await
        .unwrap();
    actor.send(validate(v3_request())).await.unwrap().unwrap();
    assert!(extension_of_last(&host).is_some());
}

#[actix::test]
async fn no_more_validations_run_at_once_than_the_task_limit() {
    let host = ScriptedHost::new(vec![Ok(result()); 6]);
    host.executions_take(Duration::from_millis(50));
    let config = Config {
        task_limit: 2,
        ..Config::default()
    };
    let actor = CandidateValidator::new(host.clone(), FixedChain::default(), config).start();
    let started = std::time::Instant::now();
    let sends: Vec<_> = (0..6)
        .map(|_| actor.send(validate(request(V2, PvfExecKind::Approval))))
        .collect();
    for verdict in futures::future::join_all(sends).await {
        assert!(matches!(verdict.unwrap(), Ok(Verdict::Valid(..))));
    }
    // Six executions of 50 ms, two at a time: at least three rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

/// What the actor records, as the reference does: every request is timed whole; a candidate
/// that reached execution is timed there and counted by its outcome; one rejected before
/// execution is not counted.
#[actix::test]
async fn the_actor_times_every_request_and_counts_those_that_ran() {
    use crate::metrics::seen::Seen;
    let seen = Seen::default();
    let _recorder = ::metrics::set_default_local_recorder(&seen);
    let host = ScriptedHost::new(vec![
        Ok(result()),
        Err(ValidationError::Internal(
            pvf_common::execute::InternalValidationError::HostCommunication("gone".into()),
        )),
    ]);
    let actor = start(&host, &FixedChain::default());
    let valid = actor
        .send(validate(request(V2, PvfExecKind::Approval)))
        .await
        .unwrap();
    assert!(matches!(valid, Ok(Verdict::Valid(..))), "{valid:?}");
    let abstain = actor
        .send(validate(request(V2, PvfExecKind::Backing([0xaa; 32]))))
        .await
        .unwrap();
    assert!(abstain.is_err(), "{abstain:?}");
    let mut other_code = request(V2, PvfExecKind::Approval);
    other_code.validation_code = b"other code".to_vec();
    let invalid = actor.send(validate(other_code)).await.unwrap();
    assert!(matches!(invalid, Ok(Verdict::Invalid(_))), "{invalid:?}");
    let exhaustive =
        "polkadot_parachain_candidate_validation_validate_candidate_exhaustive{} observed";
    let whole = "polkadot_parachain_candidate_validation_validate_from_exhaustive{} observed";
    assert_eq!(
        seen.lines(),
        [
            exhaustive,
            "polkadot_parachain_validation_requests_total{validity=valid} +1",
            whole,
            exhaustive,
            "polkadot_parachain_validation_requests_total{validity=validation failure} +1",
            whole,
            whole,
        ]
    );
}

#[test]
fn the_retry_delay_is_the_references_three_seconds() {
    assert_eq!(Config::default().retry_delay, Duration::from_secs(3));
}
