//! The candidate-validation layer over the real host and sandboxed workers: the adder's
//! candidates, honest and each broken in exactly one way, sent to the actor as a node sends
//! them.

use actix::{Actor, Addr};
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
            result: adder.expected_result(),
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
    // `max_pov_size` never reaches the PVF: only the PVD's hash changes.
    other_pvd.validation_data.max_pov_size += 1;
    assert_eq!(
        verdict(&validator, other_pvd.clone()).await,
        invalid(InvalidCandidate::PersistedValidationDataMismatch)
    );
    // An approval runs with the PVD it recovered, whatever its hash, as the reference does.
    other_pvd.exec_kind = PvfExecKind::Approval;
    let approval = verdict(&validator, other_pvd).await;
    assert!(matches!(approval, Ok(Verdict::Valid(..))), "{approval:?}");
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
    assert!(
        matches!(&abstain, Err(ValidationFailed(reason))
            if reason.contains("the PVF failed to prepare: prepare: could not decompress code blob")),
        "{abstain:?}"
    );
}

/// The bytes a PVF receives, per descriptor version, end to end: `echo-params.wat` returns its
/// input as the new head, so a candidate is valid only if its receipt commits to exactly the
/// input the reference's worker builds: the encoded `ValidationParams`, followed for a V3
/// descriptor (once the `CandidateReceiptV3` node feature has been seen) by
/// `0x03 ++ relay_parent ++ scheduling_parent`.
#[actix::test]
async fn each_descriptor_version_gets_the_references_params_bytes() {
    use parity_scale_codec::Encode;
    use pvf_validation::actor::ActiveLeavesUpdate;
    let _process = pvf_tests::sharing_the_process();
    let code = pvf_tests::test_pvf("echo-params.wat");
    let cache = tempfile::tempdir().unwrap();
    let chain = FixedChain::default();
    let validator = start_validator(cache.path(), &chain);
    let pvd = PersistedValidationData {
        parent_head: vec![1, 2, 3].into(),
        relay_parent_number: 5,
        relay_parent_storage_root: Hash::repeat_byte(0x11),
        max_pov_size: 1 << 20,
    };
    let pov = PoV {
        block_data: pvf_common::execute::BlockData(vec![9; 16]),
    };
    let (relay_parent, scheduling_parent) = (Hash::repeat_byte(0xaa), Hash::repeat_byte(0xbb));
    let params = pvf_common::execute::ValidationParams {
        parent_head: pvf_common::execute::HeadData(vec![1, 2, 3]),
        block_data: pov.block_data.clone(),
        relay_parent_number: 5,
        relay_parent_storage_root: [0x11; 32],
        extension: None,
    }
    .encode();
    let mut with_extension = params.clone();
    with_extension.push(3);
    with_extension.extend_from_slice(relay_parent.as_bytes());
    with_extension.extend_from_slice(scheduling_parent.as_bytes());
    let v3 = DescriptorLayout::V3 {
        core_index: 0,
        session_index: 7,
        scheduling_session: 7,
        scheduling_parent,
    };
    let v2 = DescriptorLayout::V2 {
        core_index: 0,
        session_index: 7,
    };
    let cases = [
        (DescriptorLayout::V1, false, &params),
        (v2, false, &params),
        // Before the node feature, a V3 descriptor is V1 to candidate validation.
        (v3, false, &params),
        (v3, true, &with_extension),
        (v2, true, &params),
    ];
    for (layout, v3_seen, input) in cases {
        if v3_seen {
            chain.set(|a| a.v3_enabled = true);
            let update = ActiveLeavesUpdate {
                activated: Some(Hash::repeat_byte(1)),
                deactivated: Vec::new(),
            };
            validator.send(update).await.unwrap();
        }
        let result = ValidationResult {
            head_data: pvf_common::execute::HeadData(input.clone()),
            new_validation_code: None,
            upward_messages: Vec::new(),
            horizontal_messages: Vec::new(),
            processed_downward_messages: 0,
            hrmp_watermark: 0,
        };
        let inputs = CommittedInputs {
            para_id: ParaId::new(2000),
            relay_parent,
            pvd: &pvd,
            pov: &pov,
            code: &code,
            para_head: input,
        };
        let receipt = receipt::receipt(
            receipt::descriptor(layout, &inputs),
            &receipt::commitments(&result).unwrap(),
        );
        let request = ExhaustiveRequest {
            validation_data: pvd.clone(),
            validation_code: code.clone(),
            candidate_receipt: receipt,
            pov: pov.clone(),
            executor_params: ExecutorParams::new(),
            exec_kind: PvfExecKind::Approval,
        };
        let verdict = verdict(&validator, request).await;
        assert!(
            matches!(verdict, Ok(Verdict::Valid(..))),
            "{layout:?} (V3 feature seen: {v3_seen}): {verdict:?}"
        );
    }
}

/// A code upgrade of 3 MB (chains accept several MiB of new code): the result travels back from
/// the job through the worker to the host whole, as in the reference, which bounds none of
/// those replies. A 1 MiB cap on the worker's reply made this valid candidate an ambiguous
/// worker death, a vote against, in every kind.
#[actix::test]
async fn a_valid_code_upgrade_larger_than_a_mebibyte_is_valid() {
    let _process = pvf_tests::sharing_the_process();
    let code = pvf_tests::test_pvf("upgrades-code.wat");
    let cache = tempfile::tempdir().unwrap();
    let validator = start_validator(cache.path(), &FixedChain::default());
    let new_code = vec![0x42; 3_000_003];
    let result = ValidationResult {
        head_data: pvf_common::execute::HeadData(b"big!".to_vec()),
        new_validation_code: Some(pvf_common::execute::ValidationCode(new_code.clone())),
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    };
    let (pvd, pov) = (
        PersistedValidationData {
            parent_head: vec![1].into(),
            relay_parent_number: 5,
            relay_parent_storage_root: Hash::repeat_byte(0x11),
            max_pov_size: 1 << 20,
        },
        PoV {
            block_data: pvf_common::execute::BlockData(vec![9; 16]),
        },
    );
    let candidate = Candidate {
        pvd,
        pov,
        code,
        result,
    };
    for kind in [BACKING, PvfExecKind::Approval, PvfExecKind::Dispute] {
        let request = candidate.request(candidate.honest_receipt(), kind);
        match verdict(&validator, request).await {
            Ok(Verdict::Valid(commitments, _)) => assert_eq!(
                commitments.new_validation_code.map(|c| c.0),
                Some(new_code.clone()),
                "{kind:?}"
            ),
            other => panic!("a 3 MB code upgrade in {kind:?}: {other:?}"),
        }
    }
}
