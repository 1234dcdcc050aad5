use super::*;
use crate::{
    candidate::{CandidateValidationResult as Verdict, CommittedCandidateReceiptError as UmpError},
    receipt::DescriptorLayout,
    test_candidate::{CODE, V2, V3, pov, pvd, receipt_for, result},
};
use polkadot_primitives::{
    ClaimQueueOffset, CoreIndex, CoreSelector, Id as ParaId, UMPSignal, transpose_claim_queue,
};
use pvf_common::execute::BlockData;
use std::collections::{BTreeMap, VecDeque};

/// The checks of a backing candidate (all of them).
fn before(
    receipt: &CandidateReceipt,
    pvd: &PersistedValidationData,
    pov: &PoV,
    code: &[u8],
) -> Result<(), InvalidCandidate> {
    before_execution(&receipt.descriptor, pvd, pov, &code_hash(code), true)
}

/// Para 2000 holds core 0 (and, with `two_cores`, core 1) at depth 0.
fn claim_queue(two_cores: bool) -> TransposedClaimQueue {
    let mut queue = BTreeMap::new();
    queue.insert(CoreIndex(0), VecDeque::from([ParaId::new(2000)]));
    if two_cores {
        queue.insert(CoreIndex(1), VecDeque::from([ParaId::new(2000)]));
    }
    transpose_claim_queue(queue)
}

fn invalid(e: InvalidCandidate) -> Verdict {
    Verdict::Invalid(e)
}

#[test]
fn an_honest_candidate_passes_every_check_in_every_layout() {
    for layout in [DescriptorLayout::V1, V2] {
        let receipt = receipt_for(layout, &result());
        assert_eq!(before(&receipt, &pvd(), &pov(), CODE), Ok(()));
        let verdict = after_execution(&receipt, &pvd(), &result(), Some(&claim_queue(false)));
        let Verdict::Valid(commitments, valid_pvd) = verdict else {
            panic!("{layout:?}: {verdict:?}")
        };
        assert_eq!(commitments.head_data.0, vec![7, 7]);
        assert_eq!(commitments.hash(), receipt.commitments_hash);
        assert_eq!(valid_pvd, pvd());
    }
}

#[test]
fn each_broken_input_is_named() {
    let receipt = receipt_for(V2, &result());
    // The encoded PoV is 11 bytes (compact length, then 10).
    let mut small = pvd();
    small.max_pov_size = 10;
    assert_eq!(
        before(&receipt, &small, &pov(), CODE),
        Err(InvalidCandidate::ParamsTooLarge(11))
    );
    let other_pov = PoV {
        block_data: BlockData(vec![6]),
    };
    assert_eq!(
        before(&receipt, &pvd(), &other_pov, CODE),
        Err(InvalidCandidate::PoVHashMismatch)
    );
    assert_eq!(
        before(&receipt, &pvd(), &pov(), b"other code"),
        Err(InvalidCandidate::CodeHashMismatch)
    );
    let mut other_pvd = pvd();
    other_pvd.relay_parent_number += 1;
    assert_eq!(
        before(&receipt, &other_pvd, &pov(), CODE),
        Err(InvalidCandidate::PersistedValidationDataMismatch)
    );
    // Approvals and disputes run with the recovered PVD, whatever its hash, as the reference.
    let approval = before_execution(
        &receipt.descriptor,
        &other_pvd,
        &pov(),
        &code_hash(CODE),
        false,
    );
    assert_eq!(approval, Ok(()));
    // A PoV of exactly `max_pov_size` bytes fits (an approval: this PVD is not the receipt's).
    let mut exact = pvd();
    exact.max_pov_size = 11;
    let fits = before_execution(&receipt.descriptor, &exact, &pov(), &code_hash(CODE), false);
    assert_eq!(fits, Ok(()));
}

#[test]
fn the_first_failing_input_check_names_the_invalidity() {
    let receipt = receipt_for(V2, &result());
    let mut nothing_matches = pvd();
    nothing_matches.relay_parent_number += 1;
    nothing_matches.max_pov_size = 1;
    let other_pov = PoV {
        block_data: BlockData(vec![6]),
    };
    assert_eq!(
        before(&receipt, &nothing_matches, &other_pov, b"x"),
        Err(InvalidCandidate::ParamsTooLarge(2))
    );
    nothing_matches.max_pov_size = 1 << 20;
    assert_eq!(
        before(&receipt, &nothing_matches, &other_pov, b"x"),
        Err(InvalidCandidate::PoVHashMismatch)
    );
    assert_eq!(
        before(&receipt, &nothing_matches, &pov(), b"x"),
        Err(InvalidCandidate::CodeHashMismatch)
    );
}

#[test]
fn each_broken_output_is_named() {
    let receipt = receipt_for(V2, &result());
    let mut other_head = result();
    other_head.head_data.0 = vec![8];
    assert_eq!(
        after_execution(&receipt, &pvd(), &other_head, None),
        invalid(InvalidCandidate::ParaHeadHashMismatch)
    );
    // Every commitment field counts, in the relay chain's order.
    let changes: [fn(&mut PvfResult); 5] = [
        |r| r.upward_messages.push(vec![2]),
        |r| {
            r.horizontal_messages
                .push(pvf_common::execute::OutboundHrmpMessage {
                    recipient: 1,
                    data: vec![],
                })
        },
        |r| r.new_validation_code = Some(pvf_common::execute::ValidationCode(vec![1])),
        |r| r.processed_downward_messages += 1,
        |r| r.hrmp_watermark += 1,
    ];
    for change in changes {
        let mut other = result();
        change(&mut other);
        assert_eq!(
            after_execution(&receipt, &pvd(), &other, None),
            invalid(InvalidCandidate::CommitmentsHashMismatch),
            "{other:?}"
        );
    }
}

#[test]
fn a_result_over_the_relay_chains_bounds_is_an_execution_error() {
    let mut flood = result();
    flood.upward_messages = vec![Vec::new(); 16 * 1024 + 1];
    let receipt = receipt_for(V2, &result());
    let verdict = after_execution(&receipt, &pvd(), &flood, None);
    assert!(
        matches!(&verdict, Verdict::Invalid(InvalidCandidate::ExecutionError(e)) if e.contains("decoding")),
        "{verdict:?}"
    );
    // At the bound it is fine (and then only the commitments hash decides).
    flood.upward_messages.pop();
    let receipt = CandidateReceipt {
        descriptor: receipt.descriptor,
        commitments_hash: crate::receipt::commitments(&flood).unwrap().hash(),
    };
    assert!(matches!(
        after_execution(&receipt, &pvd(), &flood, None),
        Verdict::Valid(..)
    ));
}

/// `result` with the UMP separator and `signals` after its messages.
fn with_signals(signals: &[UMPSignal]) -> PvfResult {
    let mut result = result();
    result.upward_messages.push(Vec::new());
    result
        .upward_messages
        .extend(signals.iter().map(|s| s.encode()));
    result
}

/// The verdict on an honest candidate of `layout` whose outputs hold `signals`.
fn ump_verdict(
    layout: DescriptorLayout,
    signals: &[UMPSignal],
    queue: Option<&TransposedClaimQueue>,
) -> Verdict {
    let result = with_signals(signals);
    after_execution(&receipt_for(layout, &result), &pvd(), &result, queue)
}

fn select_core(selector: u8) -> UMPSignal {
    UMPSignal::SelectCore(CoreSelector(selector), ClaimQueueOffset(0))
}

#[test]
fn ump_signals_are_checked_in_backing_only() {
    let one_core = claim_queue(false);
    // A V1 descriptor may not carry signals: invalid in backing...
    assert_eq!(
        ump_verdict(DescriptorLayout::V1, &[select_core(0)], Some(&one_core)),
        invalid(InvalidCandidate::InvalidUMPSignals(
            UmpError::UMPSignalWithV1Descriptor
        ))
    );
    // ...but approvals and disputes never apply these rules.
    assert!(matches!(
        ump_verdict(DescriptorLayout::V1, &[select_core(0)], None),
        Verdict::Valid(..)
    ));
    // V2 with a matching core selector, or none and a single core, is fine.
    assert!(matches!(
        ump_verdict(V2, &[select_core(0)], Some(&one_core)),
        Verdict::Valid(..)
    ));
    assert!(matches!(
        ump_verdict(V2, &[], Some(&one_core)),
        Verdict::Valid(..)
    ));
    // A selector that picks another core than the descriptor's.
    assert_eq!(
        ump_verdict(V2, &[select_core(1)], Some(&claim_queue(true))),
        invalid(InvalidCandidate::InvalidUMPSignals(
            UmpError::CoreIndexMismatch {
                descriptor: CoreIndex(0),
                commitments: CoreIndex(1),
            }
        ))
    );
    // The para holds no core.
    assert_eq!(
        ump_verdict(V2, &[], Some(&TransposedClaimQueue::new())),
        invalid(InvalidCandidate::InvalidUMPSignals(UmpError::NoAssignment))
    );
    // V3 requires signals.
    assert_eq!(
        ump_verdict(V3, &[], Some(&one_core)),
        invalid(InvalidCandidate::InvalidUMPSignals(
            UmpError::NoUMPSignalWithV3Descriptor
        ))
    );
    assert!(matches!(
        ump_verdict(V3, &[select_core(0)], Some(&one_core)),
        Verdict::Valid(..)
    ));
    // Two of a kind.
    assert_eq!(
        ump_verdict(V2, &[select_core(0), select_core(0)], Some(&one_core)),
        invalid(InvalidCandidate::InvalidUMPSignals(
            UmpError::DuplicateUMPSignal
        ))
    );
}
