//! The checks of a candidate against what its receipt commits to, as stable2609 makes them,
//! in the same order (the first failing check names the invalidity):
//!
//! | when | check | invalid as |
//! |---|---|---|
//! | before | the encoded PoV fits `max_pov_size` of the PVD | `ParamsTooLarge(size)` |
//! | before | BLAKE2-256 of the encoded PoV is the descriptor's `pov_hash` | `PoVHashMismatch` |
//! | before | BLAKE2-256 of the code is the descriptor's `validation_code_hash` | `CodeHashMismatch` |
//! | before, backing only | BLAKE2-256 of the encoded PVD is the descriptor's `persisted_validation_data_hash` (ours, see below) | `PersistedValidationDataMismatch` |
//! | after | the result decodes as the relay chain's `ValidationResult` (bounded message counts) | `ExecutionError` |
//! | after | BLAKE2-256 of the new head's bytes is the descriptor's `para_head` | `ParaHeadHashMismatch` |
//! | after | BLAKE2-256 of the encoded `CandidateCommitments` is the receipt's commitments hash | `CommitmentsHashMismatch` |
//! | after, backing only | the UMP signals fit the descriptor version and the claim queue | `InvalidUMPSignals` |
//!
//! The PVD check is not in stable2609's candidate validation. In backing, its callers (the
//! collator protocol, prospective parachains) reject such a PVD before asking, so checking it
//! here changes no backing decision. Approvals and disputes get the PVD from the recovered
//! available data, which nothing checks against the descriptor: there the reference validates
//! with whatever PVD it got, and so must we, or we would vote against a candidate that
//! reference validators find valid (and be slashed for it in the dispute).

use crate::candidate::{
    CandidateDescriptor, CandidateReceipt, CandidateValidationResult, InvalidCandidate,
    PersistedValidationData, TransposedClaimQueue, ValidationCodeHash,
};
use parity_scale_codec::Encode;
use polkadot_primitives::CommittedCandidateReceiptV2;
use pvf_common::execute::{PoV, ValidationResult as PvfResult};
use sp_crypto_hashing::blake2_256;

/// The checks before execution, the reference's `perform_basic_checks`, and then for backing
/// (`backing`) the PVD's.
pub fn before_execution(
    descriptor: &CandidateDescriptor,
    pvd: &PersistedValidationData,
    pov: &PoV,
    code_hash: &ValidationCodeHash,
    backing: bool,
) -> Result<(), InvalidCandidate> {
    let encoded_pov = pov.encode();
    if encoded_pov.len() > pvd.max_pov_size as usize {
        return Err(InvalidCandidate::ParamsTooLarge(encoded_pov.len() as u64));
    }
    if blake2_256(&encoded_pov) != descriptor.pov_hash().0 {
        return Err(InvalidCandidate::PoVHashMismatch);
    }
    if *code_hash != descriptor.validation_code_hash() {
        return Err(InvalidCandidate::CodeHashMismatch);
    }
    if backing && pvd.hash() != descriptor.persisted_validation_data_hash() {
        return Err(InvalidCandidate::PersistedValidationDataMismatch);
    }
    Ok(())
}

/// The hash of `code` as descriptors name it.
pub fn code_hash(code: &[u8]) -> ValidationCodeHash {
    ValidationCodeHash::from(blake2_256(code))
}

/// The checks after a successful execution. `claim_queue` is given for backing only: the
/// UMP-signal rules must never be applied in approvals or disputes (an old backer could not
/// have known them; the runtime checked them at backing).
pub fn after_execution(
    receipt: &CandidateReceipt,
    pvd: &PersistedValidationData,
    result: &PvfResult,
    claim_queue: Option<&TransposedClaimQueue>,
) -> CandidateValidationResult {
    let invalid = CandidateValidationResult::Invalid;
    // The reference decodes the PVF's output with the relay chain's bounded message lists; a
    // result over the bounds is an execution error there, whatever the host made of it.
    let commitments = match crate::receipt::commitments(result) {
        Ok(commitments) => commitments,
        Err(e) => {
            return invalid(InvalidCandidate::ExecutionError(format!(
                "validation result decoding failed: {e}"
            )));
        }
    };
    if commitments.head_data.hash() != receipt.descriptor.para_head() {
        return invalid(InvalidCandidate::ParaHeadHashMismatch);
    }
    let committed = CommittedCandidateReceiptV2 {
        descriptor: receipt.descriptor.clone(),
        commitments,
    };
    if committed.commitments.hash() != receipt.commitments_hash {
        return invalid(InvalidCandidate::CommitmentsHashMismatch);
    }
    if let Some(claim_queue) = claim_queue
        && let Err(e) = committed.parse_ump_signals(claim_queue)
    {
        return invalid(InvalidCandidate::InvalidUMPSignals(e));
    }
    CandidateValidationResult::Valid(committed.commitments, pvd.clone())
}

#[cfg(test)]
mod tests;
