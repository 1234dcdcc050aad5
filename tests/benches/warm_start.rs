//! Warm-start benchmark: prints figures, asserts nothing.
//!
//! 1. Restart → first execution: a host prepares a large corpus PVF and stops; then, timed,
//!    a new host starts on the same cache dir and executes one candidate. Target ≤ 50 ms. For
//!    comparison, the same with an empty cache (compile + execute).
//! 2. Execution-triggered preparation (`Compilation`, Critical) of each large corpus runtime
//!    with parallel compilation off and on, fresh cache each time: the wall-time ratio
//!    (target ≥ 1.6× on 2 idle cores), the CPU time the job reported, and whether the artifact
//!    bytes are identical.
//!
//! ```text
//! cargo bench -p pvf-tests --bench warm_start        # BENCH_SAMPLES=3 by default
//! ```

use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{BlockData, HeadData, PersistedValidationData, PoV},
};
use pvf_host::{Config, Priority, ValidationHost, execute::lanes::PvfExecKind};
use std::{
    path::Path,
    time::{Duration, Instant},
};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");

/// Parachain runtimes: they export `validate_block`, so they can be executed.
const PARACHAINS: &[&str] = pvf_tests::CORPUS_PARACHAIN_RUNTIMES;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn pvf(code: &[u8]) -> PvfPrepData {
    PvfPrepData::from_code(
        code.to_vec(),
        ExecutorParams::new(),
        Duration::from_secs(360),
        PrepareJobKind::Compilation,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    )
}

fn start(cache: &Path, parallel: bool) -> ValidationHost {
    let mut config = Config::new(cache.into(), WORKER.into());
    config.parallel_compilation = parallel;
    pvf_host::start(config).expect("host starts")
}

/// One candidate through `execute_pvf`. A runtime given an empty block fails validation
/// (it panics decoding the block), after running real code; that is all the figure needs.
async fn execute_once(host: &ValidationHost, code: &[u8]) {
    let pvd = PersistedValidationData {
        parent_head: HeadData(vec![0; 32]),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        max_pov_size: 5 * 1024 * 1024,
    };
    let pov = PoV {
        block_data: BlockData(Vec::new()),
    };
    let result = host
        .execute_pvf(
            pvf(code),
            Duration::from_secs(12),
            pvd,
            pov,
            PvfExecKind::Approval,
        )
        .await
        .expect("host alive");
    if let Err(e) = &result
        && !matches!(e, pvf_common::execute::ValidationError::Invalid(_))
    {
        panic!("expected a verdict about the candidate, got {e:?}");
    }
}

/// Start → first result, split into start-up and execution.
fn restart_and_execute(
    runtime: &tokio::runtime::Runtime,
    cache: &Path,
    code: &[u8],
    cache_was_warm: bool,
) -> (Duration, Duration) {
    let started = Instant::now();
    let host = start(cache, true);
    let up = started.elapsed();
    runtime.block_on(execute_once(&host, code));
    let total = started.elapsed();
    let jobs = host.counters().prepare.jobs_started;
    drop(host);
    if jobs != 0 && cache_was_warm {
        eprintln!("  warning: a warm restart compiled {jobs} time(s)");
    }
    (up, total - up)
}

fn main() {
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("warm-start benchmark") else {
        return;
    };
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    // Start-up does not read artifacts: a 10 GiB cache (sparse files) starts as fast as an
    // empty one.
    let big_cache = tempfile::tempdir().expect("temp dir");
    for n in 0..100u8 {
        let name = pvf_host::cache_dir::ArtifactFileName {
            id: pvf_host::ArtifactId {
                code_hash: pvf_common::ValidationCodeHash([n; 32]),
                executor_params_prep_hash: ExecutorParams::new().prep_hash(),
            },
            fingerprint: pvf_common::engine::EngineFingerprint::current(),
            checksum: pvf_common::prepare::ArtifactChecksum([n; 32]),
        };
        let file = std::fs::File::create(name.path_in(big_cache.path())).expect("artifact");
        file.set_len(100 << 20).expect("sparse 100 MiB");
    }
    let startup = |cache: &Path| {
        pvf_tests::median(
            (0..samples)
                .map(|_| {
                    let started = Instant::now();
                    drop(start(cache, true));
                    started.elapsed()
                })
                .collect(),
        )
    };
    let empty = tempfile::tempdir().expect("temp dir");
    println!(
        "host start-up: empty cache {}, 10 GiB cache of 100 artifacts {}\n",
        ms(startup(empty.path())),
        ms(startup(big_cache.path()))
    );

    println!("restart → first execution (medians of {samples}; page cache warm)");
    println!(
        "{:<48} {:>12} {:>12} {:>12} {:>16}",
        "runtime", "start-up", "execution", "total", "empty cache"
    );
    for name in PARACHAINS {
        let code = std::fs::read(corpus.join(name)).expect("corpus runtime");
        let cache = tempfile::tempdir().expect("temp dir");
        {
            let host = start(cache.path(), true);
            runtime.block_on(execute_once(&host, &code));
        }
        let warm: Vec<_> = (0..samples)
            .map(|_| restart_and_execute(&runtime, cache.path(), &code, true))
            .collect();
        let cold = pvf_tests::median(
            (0..samples)
                .map(|_| {
                    let empty = tempfile::tempdir().expect("temp dir");
                    let (up, exec) = restart_and_execute(&runtime, empty.path(), &code, false);
                    up + exec
                })
                .collect(),
        );
        let up = pvf_tests::median(warm.iter().map(|(u, _)| *u).collect());
        let exec = pvf_tests::median(warm.iter().map(|(_, e)| *e).collect());
        let total = pvf_tests::median(warm.iter().map(|(u, e)| *u + *e).collect());
        println!(
            "{name:<48} {:>12} {:>12} {:>12} {:>16}",
            ms(up),
            ms(exec),
            ms(total),
            ms(cold)
        );
    }

    println!(
        "\nexecution-triggered preparation, parallel compilation off vs on (medians of {samples})"
    );
    println!(
        "{:<48} {:>10} {:>10} {:>8} {:>12} {:>12} {:>10}",
        "runtime", "off", "on", "ratio", "cpu off", "cpu on", "identical"
    );
    // Every large runtime.
    for name in PARACHAINS.iter().chain(pvf_tests::CORPUS_RELAY_RUNTIMES) {
        let code = std::fs::read(corpus.join(name)).expect("corpus runtime");
        let mut figures = Vec::new();
        let mut artifacts = Vec::new();
        for parallel in [false, true] {
            let mut walls = Vec::new();
            let mut cpus = Vec::new();
            for _ in 0..samples {
                let cache = tempfile::tempdir().expect("temp dir");
                let host = start(cache.path(), parallel);
                let started = Instant::now();
                let prepared = runtime
                    .block_on(host.prepare(pvf(&code), Priority::Critical))
                    .expect("host alive")
                    .expect("prepares");
                walls.push(started.elapsed());
                cpus.push(prepared.stats.cpu_time_elapsed);
                artifacts.push(std::fs::read(&prepared.path).expect("artifact"));
            }
            figures.push((pvf_tests::median(walls), pvf_tests::median(cpus)));
        }
        let identical = artifacts.windows(2).all(|w| w[0] == w[1]);
        let ((off, cpu_off), (on, cpu_on)) = (figures[0], figures[1]);
        println!(
            "{name:<48} {:>10} {:>10} {:>7.2}× {:>12} {:>12} {:>10}",
            ms(off),
            ms(on),
            off.as_secs_f64() / on.as_secs_f64(),
            ms(cpu_off),
            ms(cpu_on),
            if identical { "yes" } else { "NO" }
        );
    }
}
