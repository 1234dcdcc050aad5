use super::*;
use pvf_common::execute::BlockData;

fn result() -> ValidationResult {
    ValidationResult {
        head_data: HeadData(vec![7, 7]),
        new_validation_code: Some(ValidationCode(vec![9])),
        upward_messages: vec![vec![1]],
        horizontal_messages: vec![OutboundHrmpMessage {
            recipient: 2000,
            data: vec![2],
        }],
        processed_downward_messages: 3,
        hrmp_watermark: 4,
    }
}

fn pov() -> PoV {
    PoV {
        block_data: BlockData(vec![5; 10]),
    }
}

const CODE: &[u8] = b"\0asm code";

/// The hashes an honest candidate with [`pov`], [`CODE`] and [`result`] commits to.
fn honest() -> CommittedHashes {
    CommittedHashes {
        pov_hash: blake2_256(&pov().encode()),
        validation_code_hash: blake2_256(CODE),
        para_head: blake2_256(&[7, 7]),
        commitments_hash: CandidateCommitments::of(result()).hash(),
    }
}

#[test]
fn an_honest_candidate_passes_both_checks() {
    assert_eq!(before_execution(&honest(), 1 << 20, &pov(), CODE), Ok(()));
    let commitments = after_execution(&honest(), result()).unwrap();
    assert_eq!(commitments.head_data, HeadData(vec![7, 7]));
}

#[test]
fn each_broken_commitment_is_named() {
    // The encoded PoV is 11 bytes (compact length, then 10).
    assert_eq!(
        before_execution(&honest(), 10, &pov(), CODE),
        Err(CheckFailure::ParamsTooLarge(11))
    );
    assert_eq!(before_execution(&honest(), 11, &pov(), CODE), Ok(()));
    let other_pov = PoV {
        block_data: BlockData(vec![6]),
    };
    assert_eq!(
        before_execution(&honest(), 1 << 20, &other_pov, CODE),
        Err(CheckFailure::PoVHashMismatch)
    );
    assert_eq!(
        before_execution(&honest(), 1 << 20, &pov(), b"other code"),
        Err(CheckFailure::CodeHashMismatch)
    );
    let mut other_head = result();
    other_head.head_data = HeadData(vec![8]);
    assert_eq!(
        after_execution(&honest(), other_head),
        Err(CheckFailure::ParaHeadHashMismatch)
    );
    let mut other_outputs = result();
    other_outputs.hrmp_watermark = 5;
    assert_eq!(
        after_execution(&honest(), other_outputs),
        Err(CheckFailure::CommitmentsHashMismatch)
    );
}

#[test]
fn the_first_failing_check_names_the_invalidity() {
    let nothing_matches = CommittedHashes {
        pov_hash: [0; 32],
        validation_code_hash: [0; 32],
        para_head: [0; 32],
        commitments_hash: [0; 32],
    };
    assert_eq!(
        before_execution(&nothing_matches, 1, &pov(), CODE),
        Err(CheckFailure::ParamsTooLarge(11))
    );
    assert_eq!(
        before_execution(&nothing_matches, 1 << 20, &pov(), CODE),
        Err(CheckFailure::PoVHashMismatch)
    );
    assert_eq!(
        after_execution(&nothing_matches, result()),
        Err(CheckFailure::ParaHeadHashMismatch)
    );
}

#[test]
fn commitments_encode_in_the_relay_chains_field_order() {
    // Upward, horizontal, new code, head, processed downward, watermark: the field order of
    // polkadot-primitives' `CandidateCommitments`.
    let expected: Vec<u8> = [
        &[4u8, 4, 1][..],
        &[4, 0xd0, 0x07, 0, 0, 4, 2][..],
        &[1, 4, 9][..],
        &[8, 7, 7][..],
        &[3, 0, 0, 0][..],
        &[4, 0, 0, 0][..],
    ]
    .concat();
    assert_eq!(CandidateCommitments::of(result()).encode(), expected);
}
