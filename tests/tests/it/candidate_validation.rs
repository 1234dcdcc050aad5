//! The candidate-validation layer over the real host and sandboxed workers: the adder's
//! candidates, honest and each broken in exactly one way, sent to the actor as a node sends
//! them.

use actix::{Actor, Addr};
use parity_scale_codec::Decode;
use pvf_common::{
    ExecutorParams,
    execute::{POV_BOMB_LIMIT, PoV, ValidationResult},
};
use pvf_host::{Config as HostConfig, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::adder::{Adder, pvd_pov};
use pvf_validation::{
    actor::{CandidateValidator, Config, ValidateFromExhaustive},
    candidate::{
        CandidateReceipt, CandidateValidationResult as Verdict, Hash, InvalidCandidate, ParaId,
        PersistedValidationData, ValidationFailed,
    },
    exhaustive::ExhaustiveRequest,
    fixed_chain::FixedChain,
    receipt::{self, CommittedInputs, DescriptorLayout},
};
use std::{path::Path, time::Duration};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");
const BACKING: PvfExecKind = PvfExecKind::Backing([0xaa; 32]);

type Validator = Addr<CandidateValidator<ValidationHost, FixedChain>>;

fn start_validator(cache: &Path, chain: &FixedChain) -> Validator {
    let host = pvf_tests::start_host_with(HostConfig::new(cache.into(), WORKER.into()));
    let config = Config {
        retry_delay: Duration::from_millis(200),
        ..Config::default()
    };
    CandidateValidator::new(host, chain.clone(), config).start()
}

/// The adder's good block as a candidate: the relay chain's PVD, the PoV, the code and a V2
/// receipt committing to them and to the adder's known result.
struct Candidate {
    pvd: PersistedValidationData,
    pov: PoV,
    code: Vec<u8>,
    result: ValidationResult,
}

impl Candidate {
    fn adder(adder: &Adder) -> Self {
        let (pvd, pov) = pvd_pov(&adder.good);
        let pvd = PersistedValidationData {
            parent_head: pvd.parent_head.0.into(),
            relay_parent_number: pvd.relay_parent_number,
            relay_parent_storage_root: Hash::from(pvd.relay_parent_storage_root),
            max_pov_size: pvd.max_pov_size,
        };
        Self {
            pvd,
            pov,
            code: adder.code.clone(),
            result: ValidationResult::decode(&mut &adder.expected[..]).expect("adder result"),
        }
    }

    /// A receipt committing to this candidate's inputs, `para_head` and `result`.
    fn receipt(&self, para_head: &[u8], result: &ValidationResult) -> CandidateReceipt {
        let inputs = CommittedInputs {
            para_id: ParaId::new(2000),
            relay_parent: Hash::repeat_byte(0xaa),
            pvd: &self.pvd,
            pov: &self.pov,
            code: &self.code,
            para_head,
        };
        let layout = DescriptorLayout::V2 {
            core_index: 0,
            session_index: 7,
        };
        let commitments = receipt::commitments(result).expect("bounded");
        receipt::receipt(receipt::descriptor(layout, &inputs), &commitments)
    }

    fn honest_receipt(&self) -> CandidateReceipt {
        self.receipt(&self.result.head_data.0, &self.result)
    }

    fn request(&self, receipt: CandidateReceipt, kind: PvfExecKind) -> ExhaustiveRequest {
        ExhaustiveRequest {
            validation_data: self.pvd.clone(),
            validation_code: self.code.clone(),
            candidate_receipt: receipt,
            pov: self.pov.clone(),
            executor_params: ExecutorParams::new(),
            exec_kind: kind,
        }
    }
}

async fn verdict(
    validator: &Validator,
    request: ExhaustiveRequest,
) -> Result<Verdict, ValidationFailed> {
    validator
        .send(ValidateFromExhaustive(request))
        .await
        .expect("the validator is alive")
}

fn invalid(e: InvalidCandidate) -> Result<Verdict, ValidationFailed> {
    Ok(Verdict::Invalid(e))
}

#[actix::test]
async fn the_adder_through_the_layer_valid_and_each_broken_commitment() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("candidate validation of the adder") else {
        return;
    };
    let candidate = Candidate::adder(&Adder::load(&corpus));
    let cache = tempfile::tempdir().unwrap();
    let chain = FixedChain::default();
    let validator = start_validator(cache.path(), &chain);

    for kind in [BACKING, PvfExecKind::Approval, PvfExecKind::Dispute] {
        let honest = candidate.request(candidate.honest_receipt(), kind);
        let Ok(Verdict::Valid(commitments, pvd)) = verdict(&validator, honest).await else {
            panic!("the honest adder candidate is valid in {kind:?}")
        };
        assert_eq!(commitments.head_data.0, candidate.result.head_data.0);
        assert_eq!(pvd, candidate.pvd);
    }

    // Inputs that are not the ones the receipt commits to.
    let mut other_pov = candidate.request(candidate.honest_receipt(), BACKING);
    other_pov.pov.block_data.0.push(0);
    assert_eq!(
        verdict(&validator, other_pov).await,
        invalid(InvalidCandidate::PoVHashMismatch)
    );
    let mut other_pvd = candidate.request(candidate.honest_receipt(), BACKING);
    other_pvd.validation_data.relay_parent_number += 1;
    assert_eq!(
        verdict(&validator, other_pvd).await,
        invalid(InvalidCandidate::PersistedValidationDataMismatch)
    );
    let mut other_code = candidate.request(candidate.honest_receipt(), BACKING);
    other_code.validation_code.push(0);
    assert_eq!(
        verdict(&validator, other_code).await,
        invalid(InvalidCandidate::CodeHashMismatch)
    );
    let mut too_large = candidate.request(candidate.honest_receipt(), BACKING);
    too_large.validation_data.max_pov_size = 8;
    assert!(matches!(
        verdict(&validator, too_large).await,
        Ok(Verdict::Invalid(InvalidCandidate::ParamsTooLarge(_)))
    ));

    // Outputs that are not the ones the receipt commits to, found after a real execution.
    let other_head = candidate.receipt(b"another head", &candidate.result);
    assert_eq!(
        verdict(
            &validator,
            candidate.request(other_head, PvfExecKind::Approval)
        )
        .await,
        invalid(InvalidCandidate::ParaHeadHashMismatch)
    );
    let mut other_outputs = candidate.result.clone();
    other_outputs.hrmp_watermark += 1;
    let other_commitments = candidate.receipt(&candidate.result.head_data.0, &other_outputs);
    assert_eq!(
        verdict(&validator, candidate.request(other_commitments, BACKING)).await,
        invalid(InvalidCandidate::CommitmentsHashMismatch)
    );
}

#[actix::test]
async fn decompression_bombs_pov_invalid_code_abstain() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("candidate validation bombs") else {
        return;
    };
    let adder = Candidate::adder(&Adder::load(&corpus));
    let cache = tempfile::tempdir().unwrap();
    let validator = start_validator(cache.path(), &FixedChain::default());

    // A PoV that inflates past POV_BOMB_LIMIT: invalid, as in the reference.
    let bomb =
        pvf_common::blob::compress(&vec![0u8; POV_BOMB_LIMIT as usize + 1], POV_BOMB_LIMIT + 1)
            .expect("zeros compress");
    let candidate = Candidate {
        pov: PoV {
            block_data: pvf_common::execute::BlockData(bomb),
        },
        ..adder
    };
    let request = candidate.request(candidate.honest_receipt(), PvfExecKind::Approval);
    assert_eq!(
        verdict(&validator, request).await,
        invalid(InvalidCandidate::PoVDecompressionFailure)
    );

    // Code that inflates past the session's bomb limit is a preparation error: no vote. (A
    // host of its own: the bomb limit is not part of an artifact's identity.)
    let cache = tempfile::tempdir().unwrap();
    let small_limit = FixedChain::default();
    small_limit.set(|a| a.bomb_limit = Some(1024));
    let small_limit_validator = start_validator(cache.path(), &small_limit);
    let request = candidate.request(candidate.honest_receipt(), BACKING);
    let abstain = verdict(&small_limit_validator, request).await;
    assert!(abstain.is_err(), "{abstain:?}");
}
