//! What a node hands the layer and what it gets back: the relay chain's own candidate types
//! (`polkadot-primitives` at the version stable2609 uses, so every descriptor version decodes
//! and hashes exactly as on chain), and the reference's verdict types.

use pvf_common::execute::{PersistedValidationData as HostPvd, ValidationParamsExtension};

pub use polkadot_primitives::{
    CandidateCommitments, CandidateDescriptorV2 as CandidateDescriptor, CandidateDescriptorVersion,
    CandidateReceiptV2 as CandidateReceipt, CommittedCandidateReceiptError, CoreIndex, Hash,
    Id as ParaId, PersistedValidationData, SessionIndex, TransposedClaimQueue, ValidationCodeHash,
};

/// Why a candidate is invalid: the reference's `InvalidCandidate`, variant for variant (some
/// are no longer produced by stable2609's candidate validation and are kept so that a node's
/// match arms carry over).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCandidate {
    /// `validate_block` failed: a trap, a panic, an undecodable result, or an error that may
    /// not be deterministic and kept happening.
    #[error("execution error: {0}")]
    ExecutionError(String),
    /// The outputs failed the relay chain's checks (not produced by stable2609).
    #[error("invalid outputs")]
    InvalidOutputs,
    /// The execution ran out of time.
    #[error("execution timed out")]
    Timeout,
    /// The encoded PoV is larger than the PVD's `max_pov_size` (the size is given).
    #[error("the encoded PoV is {0} bytes, more than max_pov_size")]
    ParamsTooLarge(u64),
    /// The code is larger than allowed (not produced by stable2609: a code bomb is a
    /// preparation error, on which the reference abstains).
    #[error("the code is {0} bytes, more than allowed")]
    CodeTooLarge(u64),
    /// The PoV did not decompress within its bomb limit.
    #[error("the PoV did not decompress within its bomb limit")]
    PoVDecompressionFailure,
    /// The PVF returned something unusable (not produced by stable2609).
    #[error("bad return")]
    BadReturn,
    /// The relay parent is wrong (not produced by stable2609).
    #[error("bad relay parent")]
    BadParent,
    /// The PoV is not the one the descriptor names.
    #[error("the PoV hash does not match the descriptor")]
    PoVHashMismatch,
    /// A V1 descriptor's collator signature is bad (not produced by stable2609).
    #[error("bad collator signature")]
    BadSignature,
    /// The new head is not the one the descriptor names.
    #[error("the new head data hash does not match the descriptor's para_head")]
    ParaHeadHashMismatch,
    /// The code is not the one the descriptor names.
    #[error("the validation code hash does not match the descriptor")]
    CodeHashMismatch,
    /// The PVD is not the one the descriptor names.
    #[error("the persisted validation data hash does not match the descriptor")]
    PersistedValidationDataMismatch,
    /// The outputs are not the ones the receipt commits to.
    #[error("the commitments hash does not match the receipt")]
    CommitmentsHashMismatch,
    /// Backing: the descriptor's scheduling session is not the runtime's.
    #[error("the descriptor's scheduling session does not match the runtime")]
    InvalidSchedulingSession,
    /// Backing: the relay parent is not known in the descriptor's session.
    #[error("the relay parent is not in the descriptor's session")]
    InvalidRelayParentSession,
    /// Backing: the UMP signals break the rules of the descriptor's version.
    #[error("invalid UMP signals: {0}")]
    InvalidUMPSignals(CommittedCandidateReceiptError),
}

/// The verdict on a candidate: the reference's `ValidationResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateValidationResult {
    /// Vote for it: the commitments it produced and the PVD it ran with.
    Valid(CandidateCommitments, PersistedValidationData),
    /// Vote against it.
    Invalid(InvalidCandidate),
}

impl CandidateValidationResult {
    /// `valid` or `invalid`, the reference's metric label.
    pub fn label(&self) -> &'static str {
        match self {
            CandidateValidationResult::Valid(..) => "valid",
            CandidateValidationResult::Invalid(_) => "invalid",
        }
    }
}

/// A validation that could not decide: the caller abstains (the reference's
/// `ValidationFailed`). The text says what went wrong locally.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("candidate validation failed without a verdict (abstain): {0}")]
pub struct ValidationFailed(pub String);

/// The PVD in the host's wire type (the same SCALE encoding).
pub fn host_pvd(pvd: &PersistedValidationData) -> HostPvd {
    HostPvd {
        parent_head: pvf_common::execute::HeadData(pvd.parent_head.0.clone()),
        relay_parent_number: pvd.relay_parent_number,
        relay_parent_storage_root: pvd.relay_parent_storage_root.0,
        max_pov_size: pvd.max_pov_size,
    }
}

/// The descriptor version candidate validation goes by: until the `CandidateReceiptV3` node
/// feature has been seen, the pre-V3 rules, so that an old backer and a new checker agree.
pub fn version_for_validation(
    descriptor: &CandidateDescriptor,
    v3_ever_seen: bool,
) -> CandidateDescriptorVersion {
    descriptor.version_for_candidate_validation(v3_ever_seen)
}

/// The relay block that schedules the candidate (the relay parent before V3).
pub fn scheduling_parent(descriptor: &CandidateDescriptor, v3_ever_seen: bool) -> Hash {
    descriptor.scheduling_parent_for_candidate_validation(v3_ever_seen)
}

/// What follows the `ValidationParams` the PVF receives: for a V3 descriptor, both parents;
/// nothing for V1, V2 and unknown versions, as the reference's execute worker does.
pub fn params_extension(
    descriptor: &CandidateDescriptor,
    v3_ever_seen: bool,
) -> Option<ValidationParamsExtension> {
    match version_for_validation(descriptor, v3_ever_seen) {
        CandidateDescriptorVersion::V3 => Some(ValidationParamsExtension::V3 {
            relay_parent: descriptor.relay_parent().0,
            scheduling_parent: scheduling_parent(descriptor, v3_ever_seen).0,
        }),
        CandidateDescriptorVersion::V1
        | CandidateDescriptorVersion::V2
        | CandidateDescriptorVersion::Unknown(_) => None,
    }
}

#[cfg(test)]
mod tests;
