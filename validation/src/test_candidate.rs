//! An honest candidate for the layer's tests: a receipt of any descriptor layout that commits
//! to its PVD, PoV, code and the result the fake host answers with.

use crate::{
    candidate::{CandidateReceipt, Hash, ParaId, PersistedValidationData},
    exhaustive::ExhaustiveRequest,
    receipt::{self, CommittedInputs, DescriptorLayout},
};
use polkadot_primitives::HeadData as RelayHeadData;
use pvf_common::{
    ExecutorParams,
    execute::{BlockData, PoV, ValidationResult},
};
use pvf_host::execute::lanes::PvfExecKind;

pub const CODE: &[u8] = b"\0asm test code";
pub const RELAY_PARENT: Hash = Hash::repeat_byte(0xaa);
pub const SCHEDULING_PARENT: Hash = Hash::repeat_byte(0xbb);
pub const PARA: ParaId = ParaId::new(2000);

pub fn pvd() -> PersistedValidationData {
    PersistedValidationData {
        parent_head: RelayHeadData(vec![1, 2, 3]),
        relay_parent_number: 10,
        relay_parent_storage_root: Hash::repeat_byte(0x11),
        max_pov_size: 1 << 20,
    }
}

pub fn pov() -> PoV {
    PoV {
        block_data: BlockData(vec![5; 10]),
    }
}

/// What the PVF returns for the honest candidate.
pub fn result() -> ValidationResult {
    let mut result = crate::fake_host::valid_result(vec![7, 7]);
    result.upward_messages = vec![vec![1]];
    result.processed_downward_messages = 3;
    result.hrmp_watermark = 4;
    result
}

/// The V2 layout on core 0 in session 7 (the fake chain's session).
pub const V2: DescriptorLayout = DescriptorLayout::V2 {
    core_index: 0,
    session_index: 7,
};

/// The V3 layout on core 0, scheduled from [`SCHEDULING_PARENT`] in session 7.
pub const V3: DescriptorLayout = DescriptorLayout::V3 {
    core_index: 0,
    session_index: 7,
    scheduling_session: 7,
    scheduling_parent: SCHEDULING_PARENT,
};

/// A receipt of `layout` committing to the honest inputs and `result`.
pub fn receipt_for(layout: DescriptorLayout, result: &ValidationResult) -> CandidateReceipt {
    let (pvd, pov) = (pvd(), pov());
    let inputs = CommittedInputs {
        para_id: PARA,
        relay_parent: RELAY_PARENT,
        pvd: &pvd,
        pov: &pov,
        code: CODE,
        para_head: &result.head_data.0,
    };
    let commitments = receipt::commitments(result).expect("within the bounds");
    receipt::receipt(receipt::descriptor(layout, &inputs), &commitments)
}

/// The honest request of `layout` and `kind`.
pub fn request(layout: DescriptorLayout, kind: PvfExecKind) -> ExhaustiveRequest {
    ExhaustiveRequest {
        validation_data: pvd(),
        validation_code: CODE.to_vec(),
        candidate_receipt: receipt_for(layout, &result()),
        pov: pov(),
        executor_params: ExecutorParams::new(),
        exec_kind: kind,
    }
}
