//! Building candidate receipts that commit to given inputs and outputs, for each descriptor
//! version: what a collator does, for tests and for operators who hold a PoV but no receipt.

use crate::candidate::{
    CandidateCommitments, CandidateDescriptor, CandidateReceipt, CoreIndex, Hash, ParaId,
    PersistedValidationData, SessionIndex,
};
use crate::checks::code_hash;
use parity_scale_codec::{Decode, Encode};
use pvf_common::execute::{PoV, ValidationResult as PvfResult};
use sp_crypto_hashing::blake2_256;

/// Which descriptor layout to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorLayout {
    /// The original layout: collator id and signature in the fields V2 reuses.
    V1,
    /// Version 0 with core and session index.
    V2 {
        /// The core the candidate is backed on.
        core_index: u32,
        /// The relay parent's session.
        session_index: SessionIndex,
    },
    /// Version 1: V2 plus a scheduling parent and session.
    V3 {
        /// The core the candidate is backed on.
        core_index: u32,
        /// The relay parent's session.
        session_index: SessionIndex,
        /// The scheduling parent's session (at most 255 after `session_index`).
        scheduling_session: SessionIndex,
        /// The relay block that schedules the candidate.
        scheduling_parent: Hash,
    },
}

/// What a descriptor commits to.
pub struct CommittedInputs<'a> {
    /// The para.
    pub para_id: ParaId,
    /// The relay parent.
    pub relay_parent: Hash,
    /// The PVD the candidate runs with.
    pub pvd: &'a PersistedValidationData,
    /// The PoV as sent (maybe compressed).
    pub pov: &'a PoV,
    /// The validation code (maybe compressed).
    pub code: &'a [u8],
    /// The new head's bytes.
    pub para_head: &'a [u8],
}

/// A descriptor of `layout` committing to `inputs`.
pub fn descriptor(layout: DescriptorLayout, inputs: &CommittedInputs<'_>) -> CandidateDescriptor {
    let pvd_hash = inputs.pvd.hash();
    let pov_hash = Hash::from(blake2_256(&inputs.pov.encode()));
    let para_head = Hash::from(blake2_256(inputs.para_head));
    let code_hash = code_hash(inputs.code);
    let erasure_root = Hash::zero();
    match layout {
        DescriptorLayout::V1 => CandidateDescriptor::new_v1(
            inputs.para_id,
            inputs.relay_parent,
            pvd_hash,
            pov_hash,
            erasure_root,
            para_head,
            code_hash,
        ),
        DescriptorLayout::V2 {
            core_index,
            session_index,
        } => CandidateDescriptor::new(
            inputs.para_id,
            inputs.relay_parent,
            CoreIndex(core_index),
            session_index,
            pvd_hash,
            pov_hash,
            erasure_root,
            para_head,
            code_hash,
        ),
        DescriptorLayout::V3 {
            core_index,
            session_index,
            scheduling_session,
            scheduling_parent,
        } => CandidateDescriptor::new_v3(
            inputs.para_id,
            inputs.relay_parent,
            CoreIndex(core_index),
            session_index,
            scheduling_session,
            pvd_hash,
            pov_hash,
            erasure_root,
            para_head,
            code_hash,
            scheduling_parent,
        ),
    }
}

/// The commitments of an execution's result, or why the relay chain cannot hold them (more
/// messages than its bounds allow).
pub fn commitments(result: &PvfResult) -> Result<CandidateCommitments, parity_scale_codec::Error> {
    let result = polkadot_parachain_primitives::primitives::ValidationResult::decode(
        &mut &result.encode()[..],
    )?;
    Ok(CandidateCommitments {
        head_data: result.head_data,
        upward_messages: result.upward_messages,
        horizontal_messages: result.horizontal_messages,
        new_validation_code: result.new_validation_code,
        processed_downward_messages: result.processed_downward_messages,
        hrmp_watermark: result.hrmp_watermark,
    })
}

/// A receipt of `descriptor` committing to `commitments`.
pub fn receipt(
    descriptor: CandidateDescriptor,
    commitments: &CandidateCommitments,
) -> CandidateReceipt {
    CandidateReceipt {
        descriptor,
        commitments_hash: commitments.hash(),
    }
}
