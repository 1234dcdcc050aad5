//! The execute worker process, driven by hand through its socket: warm module cache (several
//! modules at once), checksum, PoV bomb, timeout, with the full sandbox applied.

use parity_scale_codec::Decode;
use pvf_common::{
    ExecutorParams, PrepareJobKind,
    execute::{
        BlockData, ExecuteHandshake, ExecuteRequest, JobResponse, PersistedValidationData, PoV,
        ValidationParams, WorkerResponse,
    },
    framing,
    prepare::ArtifactChecksum,
};
use pvf_host::spawn::{IdleWorker, WorkerHandle, WorkerSpawnConfig, spawn_execute_worker};
use std::{path::Path, time::Duration};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");

async fn sandboxed_execute_worker(cache: &Path) -> (IdleWorker, WorkerHandle) {
    let report = pvf_host::security::probe_features(Path::new(WORKER), &[], cache);
    let security_status =
        pvf_host::security::decide(&report, true).expect("the full sandbox is available");
    let config = WorkerSpawnConfig {
        program: WORKER.into(),
        args_prefix: Vec::new(),
        cache_path: cache.into(),
        spawn_timeout: Duration::from_secs(5),
        expected_worker_version: None,
        security_status,
        parallel_compilation: false,
        log_directives: None,
    };
    spawn_execute_worker(
        &config,
        &ExecuteHandshake {
            executor_params: ExecutorParams::new(),
            pvf_logging: false,
            module_cache_bytes: Some(64 << 20),
        },
    )
    .await
    .expect("execute worker spawns")
}

fn compile(code: Vec<u8>) -> Vec<u8> {
    let pvf = pvf_tests::pvf(code, PrepareJobKind::Compilation, Duration::from_secs(60));
    pvf_worker::prepare::compile(&pvf, pvf_common::engine::CompilationThreads::One)
        .expect("compiles")
        .0
}

fn request(
    params: &ValidationParams,
    pov: Vec<u8>,
    checksum: ArtifactChecksum,
    timeout: Duration,
) -> ExecuteRequest {
    ExecuteRequest {
        pvd: PersistedValidationData {
            parent_head: params.parent_head.clone(),
            relay_parent_number: params.relay_parent_number,
            relay_parent_storage_root: params.relay_parent_storage_root,
            max_pov_size: 5 * 1024 * 1024,
        },
        pov: PoV {
            block_data: BlockData(pov),
        },
        execution_timeout: timeout,
        artifact_checksum: checksum,
        params_extension: params.extension,
    }
}

async fn execute(
    worker: &mut IdleWorker,
    artifact: Option<&[u8]>,
    request: &ExecuteRequest,
) -> WorkerResponse {
    let link = worker
        .worker_dir
        .path()
        .join(pvf_common::wire_names::ARTIFACT_FILE_NAME);
    let _ = std::fs::remove_file(&link);
    if let Some(bytes) = artifact {
        std::fs::write(&link, bytes).unwrap();
    }
    framing::send(&mut worker.stream, request).await.unwrap();
    let default_session = pvf_common::engine::Semantics::default().max_memory_pages;
    let reply_limit = framing::max_execute_reply_frame_len(default_session);
    let response = framing::recv(&mut worker.stream, reply_limit)
        .await
        .unwrap();
    let _ = std::fs::remove_file(&link);
    response
}

fn adder_case(corpus: &Path) -> (ValidationParams, Vec<u8>) {
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("vectors/adder-vectors.json")).unwrap())
            .unwrap();
    let vector = &vectors["vectors"][0];
    let params = hex::decode(vector["validation_params_scale_hex"].as_str().unwrap()).unwrap();
    let expected = hex::decode(
        vector["expected_validation_result_scale_hex"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    (
        ValidationParams::decode(&mut &params[..]).unwrap(),
        expected,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandboxed_execute_worker_validates_keeps_the_module_warm_and_checks_checksums() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("execute worker") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let (mut worker, _handle) = sandboxed_execute_worker(cache.path()).await;
    let artifact =
        compile(std::fs::read(corpus.join("pvf/test-parachain-adder.gossamer.wasm")).unwrap());
    let checksum = ArtifactChecksum::of(&artifact);
    let (params, expected) = adder_case(&corpus);
    let good = request(
        &params,
        params.block_data.0.clone(),
        checksum,
        Duration::from_secs(5),
    );

    let expect_ok = |response: WorkerResponse| match response {
        WorkerResponse::Job {
            job_response: JobResponse::Ok { result_descriptor },
            ..
        } => {
            assert_eq!(
                parity_scale_codec::Encode::encode(&result_descriptor),
                expected
            )
        }
        other => panic!("expected a valid result, got {other:?}"),
    };
    expect_ok(execute(&mut worker, Some(&artifact), &good).await);
    // Same checksum: the worker answers from its warm module even without the file.
    expect_ok(execute(&mut worker, None, &good).await);

    // Another checksum with damaged bytes: the worker reloads and refuses them.
    let mut damaged = artifact.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    let corrupted = request(
        &params,
        params.block_data.0.clone(),
        ArtifactChecksum([7; 32]),
        Duration::from_secs(5),
    );
    let response = execute(&mut worker, Some(&damaged), &corrupted).await;
    assert!(
        matches!(
            response,
            WorkerResponse::Job {
                job_response: JobResponse::CorruptedArtifact,
                ..
            }
        ),
        "{response:?}"
    );

    // A PoV bomb is refused before any job runs.
    let limit = pvf_common::execute::POV_BOMB_LIMIT;
    let bomb = pvf_common::blob::compress(&vec![0u8; limit as usize + 1], limit + 1).unwrap();
    let response = execute(
        &mut worker,
        Some(&artifact),
        &request(&params, bomb, checksum, Duration::from_secs(5)),
    )
    .await;
    assert!(
        matches!(
            response,
            WorkerResponse::Job {
                job_response: JobResponse::PoVDecompressionFailure,
                ..
            }
        ),
        "{response:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_times_out_and_a_stubbed_call_is_invalid() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let (mut worker, _handle) = sandboxed_execute_worker(cache.path()).await;
    let params = pvf_tests::empty_validation_params();
    let looping = compile(pvf_tests::test_pvf("endless-loop.wat"));
    let started = std::time::Instant::now();
    let timeout = Duration::from_millis(500);
    let response = execute(
        &mut worker,
        Some(&looping),
        &request(&params, vec![], ArtifactChecksum::of(&looping), timeout),
    )
    .await;
    assert_eq!(response, WorkerResponse::JobTimedOut);
    assert!(
        started.elapsed() >= timeout && started.elapsed() < timeout * 4,
        "{:?}",
        started.elapsed()
    );

    let stubbed = compile(pvf_tests::test_pvf("calls-stubbed-import.wat"));
    let response = execute(
        &mut worker,
        Some(&stubbed),
        &request(
            &params,
            vec![],
            ArtifactChecksum::of(&stubbed),
            Duration::from_secs(5),
        ),
    )
    .await;
    match response {
        WorkerResponse::Job {
            job_response: JobResponse::InvalidCandidate(msg),
            ..
        } => {
            assert!(msg.contains("ext_storage_get_version_1"), "{msg}")
        }
        other => panic!("expected an invalid candidate, got {other:?}"),
    }
}

#[tokio::test]
async fn a_worker_keeps_several_modules_warm_at_once() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let (mut worker, _handle) = sandboxed_execute_worker(cache.path()).await;
    let params = pvf_tests::empty_validation_params();
    // Distinct artifacts, each well under the worker's 64 MiB budget.
    let artifacts: Vec<Vec<u8>> = (0..3u8)
        .map(|n| {
            compile(pvf_tests::with_module_name(
                &pvf_tests::test_pvf("minimal-pvf.wat"),
                &format!("variant-{n}"),
            ))
        })
        .collect();
    let distinct: std::collections::HashSet<_> =
        artifacts.iter().map(|a| ArtifactChecksum::of(a)).collect();
    assert_eq!(
        distinct.len(),
        artifacts.len(),
        "the variants compile alike"
    );
    let run = |artifact: &Vec<u8>| {
        request(
            &params,
            vec![],
            ArtifactChecksum::of(artifact),
            Duration::from_secs(5),
        )
    };
    for artifact in &artifacts {
        let response = execute(&mut worker, Some(artifact), &run(artifact)).await;
        assert!(
            matches!(
                response,
                WorkerResponse::Job {
                    module_was_cached: false,
                    ..
                }
            ),
            "{response:?}"
        );
    }
    // Every module is still held: no file is needed, whatever the order.
    for artifact in artifacts.iter().rev().chain(&artifacts) {
        let response = execute(&mut worker, None, &run(artifact)).await;
        assert!(
            matches!(
                response,
                WorkerResponse::Job {
                    module_was_cached: true,
                    ..
                }
            ),
            "a cached module was reloaded: {response:?}"
        );
    }
    // One the worker never loaded needs its file.
    let other = compile(pvf_tests::test_pvf("endless-loop.wat"));
    let response = execute(&mut worker, None, &run(&other)).await;
    assert!(
        matches!(response, WorkerResponse::InternalError(_)),
        "{response:?}"
    );
}

/// A cloned job runs `validate_block` on its own stack, not on a thread: it must reach the
/// same logical recursion depth as a thread with `StackNativeMax` + slack of stack, and fail
/// one deeper with the same verdict, not crash.
#[tokio::test(flavor = "multi_thread")]
async fn a_cloned_job_recurses_exactly_as_deep_as_a_big_stack_thread() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let (mut worker, _handle) = sandboxed_execute_worker(cache.path()).await;
    let artifact = compile(pvf_tests::test_pvf("recursion-depth.wat"));
    let checksum = ArtifactChecksum::of(&artifact);
    let semantics = pvf_common::engine::Semantics::default();
    let engine = pvf_common::engine::new_engine(&semantics).unwrap();
    let loaded =
        pvf_worker::execute::load_artifact(&engine, &artifact, checksum, semantics.host_functions)
            .unwrap();
    let params = |depth: u32| {
        let mut params = pvf_tests::empty_validation_params();
        params.block_data = BlockData(depth.to_le_bytes().to_vec());
        params
    };
    let on_a_thread = pvf_tests::deepest_recursion(|depth| {
        matches!(
            pvf_worker::execute::validate_block_on_big_stack(
                &engine,
                &loaded,
                &semantics,
                &params(depth),
                false
            ),
            Ok(JobResponse::Ok { .. })
        )
    });
    let mut artifact = Some(&artifact[..]);
    for (depth, returns) in [(on_a_thread, true), (on_a_thread + 1, false)] {
        let p = params(depth);
        let response = execute(
            &mut worker,
            artifact.take(),
            &request(&p, p.block_data.0.clone(), checksum, Duration::from_secs(5)),
        )
        .await;
        match (&response, returns) {
            (
                WorkerResponse::Job {
                    job_response: JobResponse::Ok { .. },
                    ..
                },
                true,
            )
            | (
                WorkerResponse::Job {
                    job_response: JobResponse::InvalidCandidate(_),
                    ..
                },
                false,
            ) => {}
            _ => panic!("depth {depth}: {response:?}"),
        }
    }
}
