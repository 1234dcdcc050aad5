//! Prepare benchmark: prints figures, asserts nothing.
//!
//! For each real corpus runtime: the end-to-end pre-check time through the host (warm worker,
//! fresh cache) divided by the in-process compile time of the same work with the identical
//! engine configuration (`pvf_worker::prepare::compile`). Target: ≤ 1.03. Then, with the
//! sandbox off and with every layer on: the worker's spawn-to-ready latency (process start,
//! connect, handshake) as p50/p95, spawn plus first job (which includes applying the
//! sandbox), and the latency of a further tiny job (a fork, or a namespaced clone each).
//!
//! ```text
//! cargo bench -p pvf-tests --bench prepare            # BENCH_SAMPLES=3 by default
//! ```

use pvf_common::SecurityStatus;
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData, blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
};
use pvf_host::{
    Config,
    prepare::exchange::run_job,
    spawn::{WorkerSpawnConfig, spawn_prepare_worker},
    worker_interface::JobOutcome,
};
use std::time::{Duration, Instant};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");

const RUNTIMES: &[&str] = &[
    "pvf/test-parachain-adder.kagome.compressed.wasm",
    "pvf/collectives-polkadot-9290.genesis.compressed.wasm",
    "pvf/coretime-kusama-1002000.genesis.compressed.wasm",
    "relay/westend-9300.compressed.wasm",
    "relay/rococo-genesis.raw.wasm",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn pvf(code: Vec<u8>) -> PvfPrepData {
    PvfPrepData::from_code(
        code,
        ExecutorParams::new(),
        Duration::from_secs(120),
        PrepareJobKind::Prechecking,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    )
}

fn end_to_end(runtime: &tokio::runtime::Runtime, code: &[u8]) -> Duration {
    let cache = tempfile::tempdir().expect("temp dir");
    let host =
        pvf_host::start(Config::new(cache.path().into(), WORKER.into())).expect("host starts");
    runtime.block_on(async {
        // Warm the worker so the figure is the job, not the spawn.
        let warm = pvf_tests::test_pvf("minimal-pvf.wat");
        host.precheck_pvf(pvf(warm))
            .await
            .expect("host alive")
            .expect("warm-up pre-check");
        let started = Instant::now();
        host.precheck_pvf(pvf(code.to_vec()))
            .await
            .expect("host alive")
            .expect("pre-check succeeds");
        started.elapsed()
    })
}

fn in_process(code: &[u8]) -> Duration {
    let pvf = pvf(code.to_vec());
    let started = Instant::now();
    pvf_worker::prepare::compile(&pvf, pvf_common::engine::CompilationThreads::One)
        .expect("compiles in process");
    started.elapsed()
}

fn main() {
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("bench prepare") else {
        return;
    };
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("pre-check end to end vs in-process compile ({samples} samples each, medians)");
    println!(
        "{:<55} {:>12} {:>12} {:>7}",
        "runtime", "host e2e", "in-process", "ratio"
    );
    for file in RUNTIMES {
        let code = std::fs::read(corpus.join(file)).expect("corpus file readable");
        let (mut e2e, mut local) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            // Interleaved, so drift in machine load hits both sides alike.
            local.push(in_process(&code));
            e2e.push(end_to_end(&runtime, &code));
        }
        let (e2e, local) = (pvf_tests::median(e2e), pvf_tests::median(local));
        println!(
            "{:<55} {:>10.3} s {:>10.3} s {:>7.3}",
            file,
            e2e.as_secs_f64(),
            local.as_secs_f64(),
            e2e.as_secs_f64() / local.as_secs_f64()
        );
    }

    let cache = tempfile::tempdir().expect("temp dir");
    let sandboxed = SecurityStatus {
        secure_validator_mode: true,
        can_enable_landlock: true,
        can_enable_seccomp: true,
        can_unshare_user_namespace_and_change_root: true,
        can_do_secure_clone: true,
    };
    println!("\nworker latency (medians over {SPAWNS} spawns; jobs: minimal PVF pre-check)");
    println!(
        "{:<12} {:>16} {:>16} {:>22} {:>14}",
        "sandbox", "spawn p50", "spawn p95", "spawn + 1st job p50", "job p50"
    );
    for (name, status) in [
        ("off", SecurityStatus::default()),
        ("all layers", sandboxed),
    ] {
        let config = WorkerSpawnConfig {
            program: WORKER.into(),
            args_prefix: Vec::new(),
            cache_path: cache.path().into(),
            spawn_timeout: Duration::from_secs(5),
            expected_worker_version: None,
            security_status: status,
            parallel_compilation: false,
            log_directives: None,
        };
        let (mut spawn, mut first, mut jobs) =
            runtime.block_on(measure_worker(&config, cache.path()));
        spawn.sort();
        first.sort();
        jobs.sort();
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        println!(
            "{:<12} {:>16} {:>16} {:>22} {:>14}",
            name,
            ms(percentile(&spawn, 0.5)),
            ms(percentile(&spawn, 0.95)),
            ms(percentile(&first, 0.5)),
            ms(percentile(&jobs, 0.5))
        );
    }
}

const SPAWNS: usize = 30;
const JOBS_PER_WORKER: usize = 20;

/// Spawn-to-ready, spawn plus first job (which includes applying the sandbox), and then the
/// latency of further jobs on the same worker (a fork or a namespaced clone each).
async fn measure_worker(
    config: &WorkerSpawnConfig,
    cache: &std::path::Path,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let (mut spawn, mut first, mut jobs) = (Vec::new(), Vec::new(), Vec::new());
    let minimal = pvf_tests::test_pvf("minimal-pvf.wat");
    for i in 0..SPAWNS {
        let started = Instant::now();
        let (mut idle, handle) = spawn_prepare_worker(config).await.expect("worker spawns");
        spawn.push(started.elapsed());
        let job_count = if i == 0 { JOBS_PER_WORKER + 1 } else { 1 };
        for j in 0..job_count {
            let code = pvf_tests::with_custom_section(&minimal, "n", format!("{i}-{j}").as_bytes());
            let job_started = Instant::now();
            match run_job(idle, pvf(code), cache.into()).await {
                JobOutcome::Ran {
                    worker: Some(worker),
                    result: Ok(_),
                } => idle = worker,
                other => panic!("bench job failed: {other:?}"),
            }
            if j == 0 {
                first.push(started.elapsed());
            } else {
                jobs.push(job_started.elapsed());
            }
        }
        drop((idle, handle));
    }
    (spawn, first, jobs)
}
