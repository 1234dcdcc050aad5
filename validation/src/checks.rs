//! The checks of a candidate against what its descriptor commits to, as stable2609 makes
//! them, in the same order (the first failing check names the invalidity):
//!
//! | when | check | invalid as |
//! |---|---|---|
//! | before | the encoded PoV fits `max_pov_size` of the PVD | `ParamsTooLarge(size)` |
//! | before | BLAKE2-256 of the encoded PoV is the descriptor's `pov_hash` | `PoVHashMismatch` |
//! | before | BLAKE2-256 of the code is the descriptor's `validation_code_hash` | `CodeHashMismatch` |
//! | after | BLAKE2-256 of the new head's bytes is the descriptor's `para_head` | `ParaHeadHashMismatch` |
//! | after | BLAKE2-256 of the encoded `CandidateCommitments` is the receipt's commitments hash | `CommitmentsHashMismatch` |

use parity_scale_codec::Encode;
use pvf_common::execute::{HeadData, OutboundHrmpMessage, PoV, ValidationCode, ValidationResult};
use sp_crypto_hashing::blake2_256;

/// What a candidate's descriptor and receipt commit to, as far as the checks need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedHashes {
    /// BLAKE2-256 of the SCALE-encoded PoV.
    pub pov_hash: [u8; 32],
    /// BLAKE2-256 of the validation code.
    pub validation_code_hash: [u8; 32],
    /// BLAKE2-256 of the new head data's bytes.
    pub para_head: [u8; 32],
    /// BLAKE2-256 of the SCALE-encoded [`CandidateCommitments`].
    pub commitments_hash: [u8; 32],
}

/// Why a candidate fails a check (the reference's `InvalidCandidate` variants of these checks).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    /// The encoded PoV is larger than the PVD allows.
    #[error("the encoded PoV is {0} bytes, more than the PVD's max_pov_size")]
    ParamsTooLarge(u64),
    /// The PoV is not the one the descriptor names.
    #[error("the PoV hash does not match the descriptor")]
    PoVHashMismatch,
    /// The code is not the one the descriptor names.
    #[error("the validation code hash does not match the descriptor")]
    CodeHashMismatch,
    /// The new head is not the one the descriptor names.
    #[error("the new head data hash does not match the descriptor's para_head")]
    ParaHeadHashMismatch,
    /// The outputs are not the ones the receipt commits to.
    #[error("the commitments hash does not match the receipt")]
    CommitmentsHashMismatch,
}

/// A candidate's outputs, encoded as the relay chain's `CandidateCommitments` (field order
/// decides the commitments hash).
#[derive(Clone, Debug, PartialEq, Eq, Encode)]
pub struct CandidateCommitments {
    /// Messages to the relay chain.
    pub upward_messages: Vec<Vec<u8>>,
    /// Messages to other parachains.
    pub horizontal_messages: Vec<OutboundHrmpMessage>,
    /// A code upgrade, if any.
    pub new_validation_code: Option<ValidationCode>,
    /// The new head.
    pub head_data: HeadData,
    /// Downward messages processed.
    pub processed_downward_messages: u32,
    /// The HRMP watermark.
    pub hrmp_watermark: u32,
}

impl CandidateCommitments {
    /// The commitments of an execution's result.
    pub fn of(result: ValidationResult) -> Self {
        Self {
            upward_messages: result.upward_messages,
            horizontal_messages: result.horizontal_messages,
            new_validation_code: result.new_validation_code,
            head_data: result.head_data,
            processed_downward_messages: result.processed_downward_messages,
            hrmp_watermark: result.hrmp_watermark,
        }
    }

    /// BLAKE2-256 of the encoding, as the receipt commits to it.
    pub fn hash(&self) -> [u8; 32] {
        blake2_256(&self.encode())
    }
}

/// The checks before execution.
pub fn before_execution(
    committed: &CommittedHashes,
    max_pov_size: u32,
    pov: &PoV,
    code: &[u8],
) -> Result<(), CheckFailure> {
    let encoded_pov = pov.encode();
    if encoded_pov.len() > max_pov_size as usize {
        return Err(CheckFailure::ParamsTooLarge(encoded_pov.len() as u64));
    }
    if blake2_256(&encoded_pov) != committed.pov_hash {
        return Err(CheckFailure::PoVHashMismatch);
    }
    if blake2_256(code) != committed.validation_code_hash {
        return Err(CheckFailure::CodeHashMismatch);
    }
    Ok(())
}

/// The checks after a successful execution; the commitments on success.
pub fn after_execution(
    committed: &CommittedHashes,
    result: ValidationResult,
) -> Result<CandidateCommitments, CheckFailure> {
    if blake2_256(&result.head_data.0) != committed.para_head {
        return Err(CheckFailure::ParaHeadHashMismatch);
    }
    let commitments = CandidateCommitments::of(result);
    if commitments.hash() != committed.commitments_hash {
        return Err(CheckFailure::CommitmentsHashMismatch);
    }
    Ok(commitments)
}

#[cfg(test)]
mod tests;
