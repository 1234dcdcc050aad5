//! `validate_block` semantics, in process (no worker processes): the adder vectors on both
//! adder builds, an adder chain, relay runtimes, and the project's WAT PVFs for the stack,
//! memory and stubbed-import rules.

use parity_scale_codec::{Decode, Encode};
use pvf_common::{
    ExecutorParam, ExecutorParams, PrepareJobKind,
    engine::{self, Semantics},
    execute::{BlockData, HeadData, JobResponse, ValidationParams, ValidationResult},
};
use pvf_worker::execute::{LoadedArtifact, load_artifact, validate_block};
use std::time::Duration;

fn compile(code: Vec<u8>, params: ExecutorParams) -> (wasmtime::Engine, LoadedArtifact, Semantics) {
    let pvf = pvf_tests::pvf_with_params(
        code,
        params.clone(),
        PrepareJobKind::Compilation,
        Duration::from_secs(60),
    );
    let (artifact, _) =
        pvf_worker::prepare::compile(&pvf, pvf_common::engine::CompilationThreads::One)
            .expect("compiles");
    let semantics = Semantics::from_executor_params(&params);
    let engine = engine::new_engine(&semantics).unwrap();
    let checksum = pvf_common::prepare::ArtifactChecksum::of(&artifact);
    let loaded =
        load_artifact(&engine, &artifact, checksum, semantics.host_functions).expect("loads");
    (engine, loaded, semantics)
}

fn run(code: Vec<u8>, params: ExecutorParams, input: &ValidationParams) -> JobResponse {
    let (engine, loaded, semantics) = compile(code, params);
    validate_block(&engine, &loaded.module, &semantics, input, false)
}

fn params_with(block_data: Vec<u8>) -> ValidationParams {
    ValidationParams {
        parent_head: HeadData(Vec::new()),
        block_data: BlockData(block_data),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        extension: None,
    }
}

fn expect_invalid(response: JobResponse) -> String {
    match response {
        JobResponse::InvalidCandidate(msg) => msg,
        other => panic!("expected InvalidCandidate, got {other:?}"),
    }
}

#[test]
fn adder_vectors_give_identical_results_on_both_builds() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) =
        pvf_tests::corpus_dir_or_skip("adder_vectors_give_identical_results_on_both_builds")
    else {
        return;
    };
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("vectors/adder-vectors.json")).unwrap())
            .unwrap();
    for build in [
        "pvf/test-parachain-adder.gossamer.wasm",
        "pvf/test-parachain-adder.kagome.compressed.wasm",
    ] {
        let (engine, loaded, semantics) = compile(
            std::fs::read(corpus.join(build)).unwrap(),
            ExecutorParams::new(),
        );
        for vector in vectors["vectors"].as_array().unwrap() {
            let name = vector["name"].as_str().unwrap();
            let params_bytes =
                hex::decode(vector["validation_params_scale_hex"].as_str().unwrap()).unwrap();
            let params = ValidationParams::decode(&mut &params_bytes[..]).unwrap();
            assert_eq!(params.encode(), params_bytes, "{name}: params re-encode");
            let response = validate_block(&engine, &loaded.module, &semantics, &params, false);
            match vector["expected_validation_result_scale_hex"].as_str() {
                Some(expected) => match response {
                    JobResponse::Ok { result_descriptor } => {
                        assert_eq!(
                            hex::encode(result_descriptor.encode()),
                            expected,
                            "{build} {name}"
                        )
                    }
                    other => panic!("{build} {name}: expected a result, got {other:?}"),
                },
                None => {
                    expect_invalid(response);
                }
            }
        }
    }
}

/// Adder head: number (u64 LE), parent hash (keccak of the parent head), post state (keccak of
/// the state as u64 LE). Block: state before (u64), amount to add (u64).
#[test]
fn a_chain_of_ten_adder_blocks_validates_in_sequence() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) =
        pvf_tests::corpus_dir_or_skip("a_chain_of_ten_adder_blocks_validates_in_sequence")
    else {
        return;
    };
    let code = std::fs::read(corpus.join("pvf/test-parachain-adder.gossamer.wasm")).unwrap();
    let (engine, loaded, semantics) = compile(code, ExecutorParams::new());
    let head = |number: u64, parent: [u8; 32], state: u64| {
        let mut bytes = number.encode();
        bytes.extend_from_slice(&parent);
        bytes.extend_from_slice(&sp_keccak(&state.to_le_bytes()));
        bytes
    };
    let mut parent_head = head(0, [0; 32], 0);
    let mut state = 0u64;
    for number in 1..=10u64 {
        let add = number * 7;
        let mut block = state.encode();
        block.extend(add.encode());
        let params = ValidationParams {
            parent_head: HeadData(parent_head.clone()),
            block_data: BlockData(block),
            relay_parent_number: number as u32,
            relay_parent_storage_root: [0; 32],
            extension: None,
        };
        let result = match validate_block(&engine, &loaded.module, &semantics, &params, false) {
            JobResponse::Ok { result_descriptor } => result_descriptor,
            other => panic!("block {number}: {other:?}"),
        };
        state += add;
        let expected = head(number, sp_keccak(&parent_head), state);
        assert_eq!(result.head_data.0, expected, "block {number}");
        parent_head = result.head_data.0;
    }
}

fn sp_keccak(data: &[u8]) -> [u8; 32] {
    sp_crypto_hashing::keccak_256(data)
}

#[test]
fn relay_runtimes_and_old_abis_are_invalid_with_the_reference_messages() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("relay_runtimes_and_old_abis_are_invalid")
    else {
        return;
    };
    for (file, message) in [
        (
            "relay/westend-9300.compressed.wasm",
            "validate_block is not found",
        ),
        (
            "negative/polkadot-2019-infinite-loop.wasm",
            "__heap_base is not found",
        ),
    ] {
        let response = run(
            std::fs::read(corpus.join(file)).unwrap(),
            ExecutorParams::new(),
            &params_with(vec![]),
        );
        let msg = expect_invalid(response);
        assert!(msg.contains(message), "{file}: {msg}");
    }
}

#[test]
fn calling_a_stubbed_import_is_invalid_and_names_it() {
    let _process = pvf_tests::sharing_the_process();
    let msg = expect_invalid(run(
        pvf_tests::test_pvf("calls-stubbed-import.wat"),
        ExecutorParams::new(),
        &params_with(vec![]),
    ));
    assert!(msg.contains("ext_storage_get_version_1"), "{msg}");
}

#[test]
fn growing_memory_past_max_memory_pages_is_invalid() {
    let _process = pvf_tests::sharing_the_process();
    let limit = ExecutorParams::from(vec![ExecutorParam::MaxMemoryPages(100)]);
    // 17 initial pages; the limit is 100 + 32 = 132 pages.
    let within = run(
        pvf_tests::test_pvf("memory-hog.wat"),
        limit.clone(),
        &params_with(100u32.to_le_bytes().to_vec()),
    );
    assert!(matches!(within, JobResponse::Ok { .. }), "{within:?}");
    let beyond = run(
        pvf_tests::test_pvf("memory-hog.wat"),
        limit,
        &params_with(116u32.to_le_bytes().to_vec()),
    );
    expect_invalid(beyond);
}

/// The deepest recursion that still returns, found by bisection.
fn max_depth(native_stack_max: u32) -> u32 {
    let params = ExecutorParams::from(vec![ExecutorParam::StackNativeMax(native_stack_max)]);
    let (engine, loaded, semantics) = compile(pvf_tests::test_pvf("recursion-depth.wat"), params);
    pvf_tests::deepest_recursion(|depth| {
        let response = pvf_worker::execute::validate_block_on_big_stack(
            &engine,
            &loaded,
            &semantics,
            &params_with(depth.to_le_bytes().to_vec()),
            false,
        )
        .unwrap();
        matches!(response, JobResponse::Ok { .. })
    })
}

#[test]
fn deep_recursion_stops_at_the_same_logical_depth_whatever_the_native_stack() {
    let _process = pvf_tests::sharing_the_process();
    let small = max_depth(128 * 65536);
    let large = max_depth(512 * 1024 * 1024);
    assert!(small > 1000, "{small}");
    assert_eq!(small, large);
}

#[test]
fn results_that_do_not_decode_are_invalid() {
    let _process = pvf_tests::sharing_the_process();
    let msg = expect_invalid(run(
        pvf_tests::test_pvf("minimal-pvf.wat"),
        ExecutorParams::new(),
        &params_with(vec![1, 2, 3]),
    ));
    assert!(msg.contains("decoding failed"), "{msg}");
    let _ = ValidationResult::decode(&mut &[][..]).unwrap_err();
}

#[test]
fn cumulus_pvfs_given_garbage_are_invalid_with_the_runtime_panic_text() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("cumulus_pvfs_given_garbage_are_invalid")
    else {
        return;
    };
    // The shell is stored as a bare zstd frame; with the substrate magic it is a real PVF.
    let mut shell = b"\x52\xbc\x53\x76\x46\xdb\x8e\x05".to_vec();
    shell.extend(
        std::fs::read(corpus.join("pvf/cumulus-shell.zstd-without-magic.wasm.zst")).unwrap(),
    );
    let pvfs = [
        ("cumulus-shell (magic added)", shell),
        (
            "collectives",
            std::fs::read(corpus.join("pvf/collectives-polkadot-9290.genesis.compressed.wasm"))
                .unwrap(),
        ),
        (
            "coretime",
            std::fs::read(corpus.join("pvf/coretime-kusama-1002000.genesis.compressed.wasm"))
                .unwrap(),
        ),
    ];
    for (name, code) in pvfs {
        let msg = expect_invalid(run(
            code,
            ExecutorParams::new(),
            &params_with(b"garbage block data".to_vec()),
        ));
        assert!(msg.contains("panicked at"), "{name}: {msg}");
    }
}
