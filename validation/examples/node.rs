//! A node embedding candidate validation: one actor over the PVF host and the node's runtime
//! API, answering the messages a node's subsystems send with the reference's votes.
//!
//! ```text
//! cargo build --bin pvf-worker
//! cargo run -p pvf-validation --example node -- target/debug/pvf-worker
//! ```
//!
//! A real node implements `RelayChainView` over its runtime API; this one answers from fixed
//! values (`FixedChain`: session 7, para 2000 on core 0). The PVF is `echo-params.wat`, which
//! returns its input as the new head, so a receipt commits to exactly the bytes a PVF receives.

use actix::Actor;
use parity_scale_codec::Encode;
use pvf_common::{
    ExecutorParams,
    execute::{BlockData, HeadData, PoV, ValidationParams, ValidationResult},
};
use pvf_host::execute::lanes::PvfExecKind;
use pvf_validation::{
    actor::{ActiveLeavesUpdate, CandidateValidator, Config, PreCheck, ValidateFromExhaustive},
    candidate::{CandidateValidationResult, Hash, ParaId, PersistedValidationData},
    checks::code_hash,
    exhaustive::ExhaustiveRequest,
    fixed_chain::FixedChain,
    receipt::{self, CommittedInputs, DescriptorLayout},
};

const ECHO_PVF: &str = include_str!("../../tests/pvfs/echo-params.wat");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let worker = std::env::args()
        .nth(1)
        .ok_or("usage: node <path to pvf-worker>")?;
    // Removed on every way out, a failed start included.
    let cache = tempfile::Builder::new()
        .prefix("pvf-node-example-")
        .tempdir()?;
    let host = pvf_host::start(pvf_host::Config::new(
        cache.path().to_path_buf(),
        worker.into(),
    ))?;
    let code = wat::parse_str(ECHO_PVF)?;
    let chain = FixedChain::default();
    chain.set(|answers| {
        answers.code.insert(code_hash(&code), code.clone());
    });

    // The actor lives in an actix system; the host's handle works from any runtime.
    actix::System::new().block_on(async move {
        let validator = CandidateValidator::new(host, chain, Config::default()).start();
        let leaf = Hash::repeat_byte(1);
        validator
            .send(ActiveLeavesUpdate {
                activated: Some(leaf),
                deactivated: Vec::new(),
            })
            .await?;

        // The pvf-checker's vote on new code.
        let vote = validator
            .send(PreCheck {
                relay_parent: leaf,
                validation_code_hash: code_hash(&code),
            })
            .await?;
        println!("pre-check vote: {vote:?}");

        // A candidate in backing, then the same candidate with a receipt that claims another
        // head: valid, then invalid.
        let (pvd, pov) = inputs();
        let input = ValidationParams {
            parent_head: HeadData(pvd.parent_head.0.clone()),
            block_data: pov.block_data.clone(),
            relay_parent_number: pvd.relay_parent_number,
            relay_parent_storage_root: pvd.relay_parent_storage_root.0,
            extension: None,
        }
        .encode();
        for claimed_head in [input.clone(), b"another head".to_vec()] {
            let request = candidate(&code, &pvd, &pov, &input, &claimed_head);
            let verdict = validator.send(ValidateFromExhaustive(request)).await?;
            match verdict {
                Ok(CandidateValidationResult::Valid(commitments, _)) => {
                    println!(
                        "vote: valid ({} bytes of head)",
                        commitments.head_data.0.len()
                    )
                }
                Ok(CandidateValidationResult::Invalid(reason)) => {
                    println!("vote: invalid ({reason})")
                }
                Err(failed) => println!("no vote: {failed}"),
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn inputs() -> (PersistedValidationData, PoV) {
    let pvd = PersistedValidationData {
        parent_head: vec![1, 2, 3].into(),
        relay_parent_number: 5,
        relay_parent_storage_root: Hash::repeat_byte(0x11),
        max_pov_size: 1 << 20,
    };
    let pov = PoV {
        block_data: BlockData(vec![9; 16]),
    };
    (pvd, pov)
}

/// A V2 candidate on core 0 whose receipt claims `claimed_head` and commits to the outputs the
/// echo PVF gives for `input`.
fn candidate(
    code: &[u8],
    pvd: &PersistedValidationData,
    pov: &PoV,
    input: &[u8],
    claimed_head: &[u8],
) -> ExhaustiveRequest {
    let outputs = ValidationResult {
        head_data: HeadData(input.to_vec()),
        new_validation_code: None,
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    };
    let relay_parent = Hash::repeat_byte(0xaa);
    let inputs = CommittedInputs {
        para_id: ParaId::new(2000),
        relay_parent,
        pvd,
        pov,
        code,
        para_head: claimed_head,
    };
    let layout = DescriptorLayout::V2 {
        core_index: 0,
        session_index: 7,
    };
    let commitments = receipt::commitments(&outputs).expect("within the relay chain's bounds");
    ExhaustiveRequest {
        validation_data: pvd.clone(),
        validation_code: code.to_vec(),
        candidate_receipt: receipt::receipt(receipt::descriptor(layout, &inputs), &commitments),
        pov: pov.clone(),
        executor_params: ExecutorParams::new(),
        exec_kind: PvfExecKind::Backing(relay_parent.0),
    }
}
