//! Prepare benchmark: prints figures, asserts nothing.
//!
//! For each real corpus runtime: the end-to-end pre-check time through the host (warm worker,
//! fresh cache) divided by the in-process compile time of the same work with the identical
//! engine configuration (`pvf_worker::prepare::compile`). Target: ≤ 1.03. Then the worker's
//! spawn-to-ready latency (process start, connect, handshake) as p50/p95.
//!
//! ```text
//! cargo bench -p pvf-tests --bench prepare            # BENCH_SAMPLES=3 by default
//! ```

use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData, blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
};
use pvf_host::{
    Config,
    spawn::{WorkerSpawnConfig, spawn_prepare_worker},
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

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
    pvf_worker::prepare::compile(&pvf).expect("compiles in process");
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
        let (e2e, local) = (median(e2e), median(local));
        println!(
            "{:<55} {:>10.3} s {:>10.3} s {:>7.3}",
            file,
            e2e.as_secs_f64(),
            local.as_secs_f64(),
            e2e.as_secs_f64() / local.as_secs_f64()
        );
    }

    let cache = tempfile::tempdir().expect("temp dir");
    let config = WorkerSpawnConfig {
        program: WORKER.into(),
        args_prefix: Vec::new(),
        cache_path: cache.path().into(),
        spawn_timeout: Duration::from_secs(5),
        node_version: None,
        security_status: Default::default(),
    };
    let spawns = 40;
    let mut latencies: Vec<Duration> = runtime.block_on(async {
        let mut v = Vec::new();
        for _ in 0..spawns {
            let started = Instant::now();
            let worker = spawn_prepare_worker(&config).await.expect("worker spawns");
            v.push(started.elapsed());
            drop(worker);
        }
        v
    });
    latencies.sort();
    println!(
        "worker spawn-to-ready ({spawns} spawns, no sandbox): p50 {:.2} ms, p95 {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3
    );
}
