//! A validator's execution load, not one PVF executed many times: distinct real-sized PVFs
//! (the corpus's two Cumulus runtimes in 8 variants each, plus 4 of the adder: 20 artifacts,
//! every one its own code hash), executed in a seeded random order, a mix of backing (2 s
//! budget) and approval (12 s) jobs, with a few in flight at once, on E execute workers.
//! The runtimes get a candidate they reject after running real code (their `validate_block`
//! panics decoding it), the adder a block it accepts.
//!
//! Run for each module-cache setting: none (what the reference does: load per job), one module
//! per worker (this host before the byte-bounded cache), and the default byte-bounded cache
//! with artifact affinity. Printed: throughput, p50/p95/p99 per kind, the module-cache hit
//! rate, and each execute worker's memory: peak RSS, private memory, and the module bytes its
//! cache holds (mapped from memfds, which the RSS counts only as far as jobs touched them),
//! next to the configured budget; then every PVF in turn, one at a time, so that the latency
//! of warm executions shows without queueing. Then the memory of this process, which embeds
//! the host, idle and with 1,000 adder executions queued. Prints figures, asserts nothing.
//!
//! With `REFBENCH_MIXED` set to `tools/refharness-mixed`'s `refbench-mixed` (the reference
//! host, `polkadot-node-core-pvf` 36.0.0, built outside CI; see its README), the same run first
//! writes the workload (the 20 variants' code and the order) to a temp dir and has the
//! reference replay it with the same E and the same number in flight, then runs our settings:
//! printed in the same format, plus our default setting's throughput ÷ the reference's and the
//! two hosts' p50/p95 side by side. The reference's memory is its execute workers' peak RSS and
//! that of the job process each forks per execution, sampled from /proc every 10 ms. Without
//! `REFBENCH_MIXED` the reference is said to be not measured.
//!
//! ```text
//! cargo bench -p pvf-tests --bench mixed_workload    # MIXED_EXECUTIONS=600 MIXED_WORKERS=2
//! MIXED_DEFAULT_ONLY=1 MIXED_WORKERS=1 cargo bench …  # only the default cache setting
//! REFBENCH_MIXED=/path/to/refbench-mixed cargo bench -p pvf-tests --bench mixed_workload
//! ```

#[path = "mixed_workload/memory.rs"]
mod memory;
#[path = "mixed_workload/reference.rs"]
mod reference;

use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{BlockData, HeadData, PersistedValidationData, PoV, ValidationError},
};
use pvf_host::{Config, Priority, execute::lanes::PvfExecKind};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");
const RUNTIMES: &[&str] = pvf_tests::CORPUS_PARACHAIN_RUNTIMES;
const VARIANTS_PER_RUNTIME: u8 = 8;
const ADDER_VARIANTS: u8 = 4;
const IN_FLIGHT: usize = 4;
/// Rounds over every target, one execution at a time, after the mixed run.
const WARM_ROUNDS: usize = 5;
const RELAY_PARENT: [u8; 32] = [7; 32];

/// One distinct PVF and the candidate it gets.
struct Target {
    name: String,
    pvf: PvfPrepData,
    pvd: PersistedValidationData,
    pov: PoV,
    /// The adder accepts its block; a runtime rejects its empty one.
    valid: bool,
}

fn targets(corpus: &Path) -> Vec<Target> {
    let pvf = |code: Vec<u8>| {
        PvfPrepData::from_code(
            code,
            ExecutorParams::new(),
            Duration::from_secs(360),
            PrepareJobKind::Compilation,
            DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
        )
    };
    let mut targets = Vec::new();
    for runtime in RUNTIMES {
        let blob = std::fs::read(corpus.join(runtime)).expect("corpus runtime");
        let code = pvf_common::blob::decompress(&blob, DEFAULT_VALIDATION_CODE_BOMB_LIMIT)
            .expect("decompresses")
            .into_owned();
        for n in 0..VARIANTS_PER_RUNTIME {
            targets.push(Target {
                name: format!("{} #{n}", runtime.trim_start_matches("pvf/")),
                pvf: pvf(pvf_tests::with_module_name(
                    &code,
                    &format!("parachain-{n}"),
                )),
                pvd: PersistedValidationData {
                    parent_head: HeadData(vec![0; 32]),
                    relay_parent_number: 1,
                    relay_parent_storage_root: [0; 32],
                    max_pov_size: 5 * 1024 * 1024,
                },
                pov: PoV {
                    block_data: BlockData(Vec::new()),
                },
                valid: false,
            });
        }
    }
    let adder = pvf_tests::adder::Adder::load(corpus);
    let code = pvf_common::blob::decompress(&adder.code, DEFAULT_VALIDATION_CODE_BOMB_LIMIT)
        .expect("decompresses")
        .into_owned();
    let (pvd, pov) = pvf_tests::adder::pvd_pov(&adder.good);
    for n in 0..ADDER_VARIANTS {
        targets.push(Target {
            name: format!("adder #{n}"),
            pvf: pvf(pvf_tests::with_module_name(&code, &format!("adder-{n}"))),
            pvd: pvd.clone(),
            pov: pov.clone(),
            valid: true,
        });
    }
    targets
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:7.2} ms", millis(d))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p95 and p99 of sorted timings, in milliseconds.
fn percentiles_ms(sorted: &[Duration]) -> [f64; 3] {
    [0.5, 0.95, 0.99].map(|p| millis(percentile(sorted, p)))
}

fn print_kind(kind: &str, n: usize, [p50, p95, p99]: [f64; 3]) {
    println!("  {kind:<8} n={n:<4} p50 {p50:7.2} ms  p95 {p95:7.2} ms  p99 {p99:7.2} ms");
}

struct Outcome {
    wall: Duration,
    backing: Vec<Duration>,
    approval: Vec<Duration>,
    hits: u64,
    loads: u64,
    workers: Vec<memory::WorkerMemory>,
    wrong: usize,
    repeated_adder_p50: Duration,
    /// Every target in turn, one at a time: p50/p95/p99 in ms, hits, executions.
    one_at_a_time: [f64; 3],
    one_at_a_time_hits: u64,
    one_at_a_time_n: usize,
}

/// Executes `sequence` as approvals, each after the last answered; the latencies, sorted.
fn one_at_a_time<'a>(
    runtime: &tokio::runtime::Runtime,
    host: &pvf_host::ValidationHost,
    sequence: impl Iterator<Item = &'a Target>,
) -> Vec<Duration> {
    let mut all: Vec<Duration> = runtime.block_on(async {
        let mut all = Vec::new();
        for target in sequence {
            let began = Instant::now();
            let _ = host
                .execute_pvf(
                    target.pvf.clone(),
                    Duration::from_secs(12),
                    target.pvd.clone(),
                    target.pov.clone(),
                    PvfExecKind::Approval,
                )
                .await;
            all.push(began.elapsed());
        }
        all
    });
    all.sort();
    all
}

fn run(
    runtime: &tokio::runtime::Runtime,
    targets: &Arc<Vec<Target>>,
    order: &[(usize, bool)],
    workers: usize,
    module_cache_bytes: Option<u64>,
) -> Outcome {
    let cache = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(cache.path().into(), WORKER.into());
    config.execute_workers_max_num = workers;
    config.execute_module_cache_bytes = module_cache_bytes;
    let host = pvf_host::start(config).expect("host starts");
    runtime.block_on(async {
        host.update_active_leaves(Some(RELAY_PARENT), vec![], vec![])
            .await
            .expect("host alive");
        // Every artifact ready first: the figures are about execution.
        let mut checksums = std::collections::HashSet::new();
        let mut bytes = 0;
        for target in targets.iter() {
            let prepared = host
                .prepare(target.pvf.clone(), Priority::Critical)
                .await
                .expect("host alive")
                .expect("prepares");
            if checksums.insert(prepared.checksum) {
                bytes += prepared.size;
            }
        }
        println!(
            "  ({} distinct artifacts, {} MiB in all)",
            checksums.len(),
            bytes / (1024 * 1024)
        );
    });
    let before = host.counters();
    let started = Instant::now();
    let timings = runtime.block_on(async {
        let mut in_flight = tokio::task::JoinSet::new();
        let mut timings = Vec::new();
        for &(index, backing) in order {
            while in_flight.len() >= IN_FLIGHT {
                timings.push(in_flight.join_next().await.expect("a task").expect("joins"));
            }
            let (host, targets) = (host.clone(), targets.clone());
            in_flight.spawn(async move {
                let target = &targets[index];
                let (kind, timeout) = if backing {
                    (PvfExecKind::Backing(RELAY_PARENT), Duration::from_secs(2))
                } else {
                    (PvfExecKind::Approval, Duration::from_secs(12))
                };
                let began = Instant::now();
                let result = host
                    .execute_pvf(
                        target.pvf.clone(),
                        timeout,
                        target.pvd.clone(),
                        target.pov.clone(),
                        kind,
                    )
                    .await
                    .expect("host alive");
                let right = match &result {
                    Ok(_) => target.valid,
                    Err(ValidationError::Invalid(_)) => !target.valid,
                    Err(_) => false,
                };
                (backing, began.elapsed(), right, index)
            });
        }
        while let Some(done) = in_flight.join_next().await {
            timings.push(done.expect("joins"));
        }
        timings
    });
    let wall = started.elapsed();
    let after = host.counters();
    let worker_memory = memory::execute_workers(cache.path());
    // One PVF again and again, one at a time, on workers as the run left them: what a warm
    // execution costs next to however many modules the worker holds.
    let adder = targets.iter().find(|t| t.valid).expect("an adder target");
    let repeated = one_at_a_time(runtime, &host, std::iter::repeat_n(adder, 100));
    // Every PVF in turn, one at a time (no queueing): the latency of the workload's own
    // executions when their modules are warm, and how many were.
    let before_warm = host.counters();
    let warm = one_at_a_time(
        runtime,
        &host,
        std::iter::repeat_n(targets.iter(), WARM_ROUNDS).flatten(),
    );
    let after_warm = host.counters();
    drop(host);
    let mut outcome = Outcome {
        wall,
        backing: Vec::new(),
        approval: Vec::new(),
        hits: after.execute_module_cache_hits - before.execute_module_cache_hits,
        loads: after.execute_module_loads - before.execute_module_loads,
        workers: worker_memory,
        wrong: 0,
        repeated_adder_p50: percentile(&repeated, 0.5),
        one_at_a_time: percentiles_ms(&warm),
        one_at_a_time_hits: after_warm.execute_module_cache_hits
            - before_warm.execute_module_cache_hits,
        one_at_a_time_n: warm.len(),
    };
    for (backing, took, right, index) in timings {
        if !right {
            outcome.wrong += 1;
            eprintln!("  unexpected verdict for {}", targets[index].name);
        }
        if backing {
            outcome.backing.push(took);
        } else {
            outcome.approval.push(took);
        }
    }
    outcome.backing.sort();
    outcome.approval.sort();
    outcome
}

fn main() {
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("mixed-workload benchmark") else {
        return;
    };
    let env = pvf_tests::env_or;
    let executions = env("MIXED_EXECUTIONS", 600);
    let workers = env("MIXED_WORKERS", 2);
    let targets = Arc::new(targets(&corpus));
    let mut rng = StdRng::seed_from_u64(20261205);
    // Uniform over the PVFs (every parachain produces at about the same rate); 60 % backing.
    let order: Vec<(usize, bool)> = (0..executions)
        .map(|_| (rng.random_range(0..targets.len()), rng.random_bool(0.6)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "mixed workload: {} artifacts, {executions} executions, {IN_FLIGHT} in flight, {workers} execute workers",
        targets.len()
    );
    let refbench = std::env::var_os("REFBENCH_MIXED").map(PathBuf::from);
    // The reference first, on the same sequence, then our settings.
    let theirs = refbench.as_deref().and_then(|refbench| {
        let dir = tempfile::tempdir().expect("temp dir");
        let workload =
            reference::write_workload(dir.path(), &targets, &order, IN_FLIGHT, RELAY_PARENT);
        match reference::run(refbench, &workload, workers) {
            Ok(figures) => Some(figures),
            Err(e) => {
                println!("\nreference: no figures: {e}");
                None
            }
        }
    });
    if let Some(theirs) = &theirs {
        println!("\nreference host (polkadot-node-core-pvf 36.0.0, refbench-mixed):");
        println!(
            "  throughput {:8.1} executions/s   module-cache hits     - (loads per job)   wrong verdicts {}",
            theirs.throughput, theirs.wrong
        );
        for (kind, (n, p50, p95, p99)) in
            [("backing", theirs.backing), ("approval", theirs.approval)]
        {
            print_kind(kind, n, [p50, p95, p99]);
        }
        let list = |mibs: &[f64]| {
            let all: Vec<String> = mibs.iter().map(|m| format!("{m:.0} MiB")).collect();
            all.join(", ")
        };
        println!(
            "  execute worker peak RSS: {}   (the job process each forks: {})",
            list(&theirs.worker_peaks_mib),
            list(&theirs.job_peaks_mib)
        );
    }
    let settings: [(&str, Option<u64>); 4] = [
        (
            "no module cache (loads per job, as the reference does)",
            None,
        ),
        ("one module per worker", Some(0)),
        (
            "byte-bounded cache + affinity (default 256 MiB per worker)",
            Some(pvf_host::DEFAULT_EXECUTE_MODULE_CACHE_BYTES),
        ),
        (
            "byte-bounded cache + affinity (64 MiB per worker)",
            Some(64 * 1024 * 1024),
        ),
    ];
    // With MIXED_DEFAULT_ONLY=1 only the default setting runs (e.g. to compare E = 1 … cores).
    let default_only = env("MIXED_DEFAULT_ONLY", 0) == 1;
    const DEFAULT_SETTING: usize = 2;
    let mut throughputs = Vec::new();
    let mut ours = Vec::new();
    for (index, (label, bytes)) in settings.into_iter().enumerate() {
        if default_only && index != DEFAULT_SETTING {
            continue;
        }
        let outcome = run(&runtime, &targets, &order, workers, bytes);
        let throughput = executions as f64 / outcome.wall.as_secs_f64();
        throughputs.push(throughput);
        print_setting(label, bytes, throughput, &outcome);
        ours.push(outcome);
    }
    let (default_throughput, default_outcome) = if default_only {
        (throughputs[0], &ours[0])
    } else {
        println!(
            "\nthroughput ratio, byte-bounded cache ÷ no cache: {:.2}×; ÷ one module: {:.2}×",
            throughputs[DEFAULT_SETTING] / throughputs[0],
            throughputs[DEFAULT_SETTING] / throughputs[1]
        );
        (throughputs[DEFAULT_SETTING], &ours[DEFAULT_SETTING])
    };
    match &theirs {
        Some(theirs) => {
            versus_reference(theirs, default_throughput, default_outcome);
            if !default_only {
                println!(
                    "  no module cache ÷ reference: {:.2}×",
                    throughputs[0] / theirs.throughput
                );
            }
        }
        None => println!(
            "reference: not measured in this run (set REFBENCH_MIXED=/path/to/refbench-mixed, \
             built from tools/refharness-mixed; see its README)"
        ),
    }
    queued_memory(&runtime, &targets);
}

/// One module-cache setting's figures.
fn print_setting(label: &str, bytes: Option<u64>, throughput: f64, outcome: &Outcome) {
    let hit_rate = outcome.hits as f64 / (outcome.hits + outcome.loads).max(1) as f64;
    println!("\n{label}:");
    println!(
        "  throughput {throughput:8.1} executions/s   module-cache hits {:5.1} % ({} hits, {} loads)   wrong verdicts {}",
        hit_rate * 100.0,
        outcome.hits,
        outcome.loads,
        outcome.wrong
    );
    for (kind, timings) in [
        ("backing", &outcome.backing),
        ("approval", &outcome.approval),
    ] {
        print_kind(kind, timings.len(), percentiles_ms(timings));
    }
    let bound = bytes.map_or("none".into(), |b| format!("{} MiB", b >> 20));
    println!(
        "  execute workers (module budget {bound} each, plus the module used last): {}",
        memory::describe(&outcome.workers)
    );
    println!(
        "  then the adder alone, 100 times in a row: p50 {}",
        ms(outcome.repeated_adder_p50)
    );
    let [p50, p95, p99] = outcome.one_at_a_time;
    println!(
        "  every PVF in turn, one at a time ({} executions, {} module-cache hits): p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms",
        outcome.one_at_a_time_n, outcome.one_at_a_time_hits
    );
}

/// Our default setting (byte-bounded cache) next to the reference, on the same sequence.
fn versus_reference(theirs: &reference::Figures, default_throughput: f64, default: &Outcome) {
    println!(
        "versus the reference (same sequence, same workers): throughput, default setting ÷ reference: {:.2}×",
        default_throughput / theirs.throughput
    );
    for (kind, mine, (_, p50, p95, p99)) in [
        ("backing", &default.backing, theirs.backing),
        ("approval", &default.approval, theirs.approval),
    ] {
        let [my50, my95, my99] = percentiles_ms(mine);
        println!(
            "  {kind:<8} ours vs reference (ours ÷ reference): p50 {my50:.2} vs {p50:.2} ms ({:.2}×)   p95 {my95:.2} vs {p95:.2} ms ({:.2}×)   p99 {my99:.2} vs {p99:.2} ms ({:.2}×)",
            my50 / p50,
            my95 / p95,
            my99 / p99
        );
    }
    println!(
        "  wrong verdicts: ours {} (default setting), reference {}",
        default.wrong, theirs.wrong
    );
}

/// This process's RSS (it embeds the host) idle, and with 1,000 executions queued on one
/// execute worker.
fn queued_memory(runtime: &tokio::runtime::Runtime, targets: &Arc<Vec<Target>>) {
    const QUEUED: usize = 1000;
    let cache = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(cache.path().into(), WORKER.into());
    config.execute_workers_max_num = 1;
    let host = pvf_host::start(config).expect("host starts");
    let adder = targets.iter().find(|t| t.valid).expect("an adder target");
    runtime.block_on(async {
        host.prepare(adder.pvf.clone(), Priority::Critical)
            .await
            .expect("host alive")
            .expect("prepares");
    });
    let rss = || pvf_tests::procs::rss_kib(None) / 1024;
    let idle = rss();
    let mut peak = idle;
    runtime.block_on(async {
        let mut all = tokio::task::JoinSet::new();
        for _ in 0..QUEUED {
            let (host, pvf) = (host.clone(), adder.pvf.clone());
            let (pvd, pov) = (adder.pvd.clone(), adder.pov.clone());
            all.spawn(async move {
                host.execute_pvf(
                    pvf,
                    Duration::from_secs(12),
                    pvd,
                    pov,
                    PvfExecKind::Approval,
                )
                .await
            });
        }
        while all.join_next().await.is_some() {
            peak = peak.max(rss());
        }
    });
    println!(
        "\nmemory of this process (it embeds the host): idle {idle} MiB, with {QUEUED} executions queued up to {peak} MiB"
    );
}
