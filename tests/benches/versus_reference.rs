//! Pre-checking and execution side by side with the reference host, in one run, alternating
//! the two on the same inputs.
//!
//! Pre-check: each corpus PVF and relay runtime, on a fresh host each time (so each pays for
//! spawning its prepare worker, as `refbench prepare FILE --reps 1` does), timed from the call
//! to the answer, with the job's peak RSS. Ours goes through `prepare` with the pre-checking
//! job kind (the same single-threaded job as `precheck_pvf`) because that answer carries the
//! job's memory figure; the reference's peak is its sampled VmHWM.
//!
//! Execution: the adder's vectors, and the failure path of the corpus's Cumulus runtimes
//! (an empty block, which their `validate_block` rejects after running real code); and, when
//! `$PVF_CORPUS_DIR/candidates/*/vectors.json` exist (`tools/candidate-gen`), each set's valid
//! real blocks, whose results the reference checks against the builder's (a count of
//! differences is printed if any).
//!
//! For each case and round: a fresh host of ours executes the first vector `BENCH_REPS` times
//! one after another (after 3 warm-up runs), then `BENCH_CONCURRENT` executions at once
//! cycling through the vectors, `BENCH_BATCHES` times; then `$REFBENCH execute-adder` does the
//! same with the reference host (`../shared/tools/refharness`, built outside CI). Both use 2
//! execute workers, approval jobs and a 12 s timeout. Printed: the medians over rounds of
//! each host's p50 and p95 latency, concurrent batch wall time and largest execute job's peak
//! RSS, and the ratio reference ÷ ours. Without `REFBENCH` only our figures are printed, and
//! the ratio is said to be not measured. Prints figures, asserts nothing.
//!
//! ```text
//! REFBENCH=/path/to/refbench cargo bench -p pvf-tests --bench versus_reference
//! BENCH_PRECHECK=0 REFBENCH=… cargo bench -p pvf-tests --bench versus_reference   # execution only
//! BENCH_EXECUTE=0 REFBENCH=… cargo bench -p pvf-tests --bench versus_reference    # pre-check only
//! REFBENCH_WORKER_DIR=DIR …   # the reference's worker binaries from DIR (e.g. built with LTO)
//! ```

use parity_scale_codec::{Decode, Encode};
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{BlockData, HeadData, ValidationParams},
};
use pvf_host::{Config, ValidationHost};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");
const RUNTIMES: &[&str] = pvf_tests::CORPUS_PARACHAIN_RUNTIMES;
const ADDER: &str = "pvf/test-parachain-adder.kagome.compressed.wasm";

/// One pre-check: wall time from the call to the answer, and the job's peak RSS (MiB).
fn precheck_ours(runtime: &tokio::runtime::Runtime, blob: &Path) -> (f64, f64) {
    let cache = tempfile::tempdir().expect("temp dir");
    let host =
        pvf_host::start(Config::new(cache.path().into(), WORKER.into())).expect("host starts");
    let pvf = PvfPrepData::from_code(
        std::fs::read(blob).expect("PVF"),
        ExecutorParams::new(),
        Duration::from_secs(120),
        PrepareJobKind::Prechecking,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    );
    let began = Instant::now();
    let result = runtime
        .block_on(host.prepare(pvf, pvf_host::Priority::Critical))
        .expect("host alive");
    let took = ms(began.elapsed());
    let rss = result
        .ok()
        .and_then(|s| s.stats.memory_stats.max_rss_kib)
        .map_or(f64::NAN, |kib| kib as f64 / 1024.0);
    (took, rss)
}

/// `refbench prepare FILE --reps 1`: its wall time and job peak RSS (MiB).
fn precheck_reference(refbench: &Path, blob: &Path) -> Option<(f64, f64)> {
    let output = Command::new(refbench)
        .arg("prepare")
        .arg(blob)
        .args(["--reps", "1"])
        .env("RUST_LOG", "error")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.starts_with("SUMMARY") && l.contains("\trep="))?;
    let fields: Vec<&str> = line.split('\t').collect();
    let took = fields.get(2)?.trim_end_matches(" ms").parse().ok()?;
    let rss = fields
        .iter()
        .find_map(|f| f.strip_prefix("job_peak_rss="))?
        .trim_end_matches(" MiB")
        .parse()
        .ok()?;
    Some((took, rss))
}

fn precheck_side_by_side(
    runtime: &tokio::runtime::Runtime,
    corpus: &Path,
    refbench: Option<&Path>,
    rounds: usize,
) {
    println!(
        "
pre-check (fresh host per file; median of {rounds} rounds)"
    );
    // The adder and every large runtime.
    let runtimes = RUNTIMES.iter().chain(pvf_tests::CORPUS_RELAY_RUNTIMES);
    for file in std::iter::once(&ADDER).chain(runtimes) {
        let blob = corpus.join(file);
        let (mut us, mut them) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            us.push(precheck_ours(runtime, &blob));
            if let Some(figures) = refbench.and_then(|r| precheck_reference(r, &blob)) {
                them.push(figures);
            }
        }
        let took = median(us.iter().map(|f| f.0).collect());
        let rss = median(us.iter().map(|f| f.1).collect());
        let name = file.rsplit('/').next().unwrap_or(file);
        if them.is_empty() {
            println!(
                "  {name:<55} ours {took:8.1} ms {rss:6.1} MiB   reference: not measured (set REFBENCH)"
            );
        } else {
            let (their_took, their_rss) = (
                median(them.iter().map(|f| f.0).collect()),
                median(them.iter().map(|f| f.1).collect()),
            );
            println!(
                "  {name:<55} ours {took:8.1} ms {rss:6.1} MiB   reference {their_took:8.1} ms {their_rss:6.1} MiB   reference ÷ ours {:5.2}",
                their_took / took
            );
        }
    }
}

/// A PVF with its vectors, as `refbench execute-adder --pvf --vectors` takes them.
struct Case {
    name: String,
    pvf: PathBuf,
    vectors_file: PathBuf,
    vectors: Vec<ValidationParams>,
}

fn adder_case(corpus: &Path) -> Case {
    let vectors_file = corpus.join("vectors/adder-vectors.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&vectors_file).expect("adder vectors"))
            .expect("JSON");
    let vectors = json["vectors"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| {
            let bytes = hex::decode(v["validation_params_scale_hex"].as_str().unwrap()).unwrap();
            ValidationParams::decode(&mut &bytes[..]).unwrap()
        })
        .collect();
    Case {
        name: "adder".into(),
        pvf: corpus.join(ADDER),
        vectors_file,
        vectors,
    }
}

/// A runtime with one vector: an empty block, which it rejects.
fn runtime_case(corpus: &Path, runtime: &str, dir: &Path) -> Case {
    let params = ValidationParams {
        parent_head: HeadData(vec![0; 32]),
        block_data: BlockData(Vec::new()),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        extension: None,
    };
    let name = runtime.trim_start_matches("pvf/").to_string();
    let vectors_file = dir.join(format!("{name}.vectors.json"));
    let json = serde_json::json!({"vectors": [{
        "name": "empty block",
        "validation_params_scale_hex": hex::encode(params.encode()),
        "expected": "trap: an empty block does not decode",
    }]});
    std::fs::write(&vectors_file, json.to_string()).expect("temp file");
    Case {
        name: format!("{name} (panic path)"),
        pvf: corpus.join(runtime),
        vectors_file,
        vectors: vec![params],
    }
}

/// A real block set from `tools/candidate-gen` (issue 15): both hosts time its valid blocks,
/// the first one sequentially and all of them in the concurrent batches.
fn candidate_case(set: &pvf_tests::candidates::CandidateSet, dir: &Path) -> Option<Case> {
    let valid: Vec<_> = set
        .candidates
        .iter()
        .filter(|c| c.expected.is_some())
        .collect();
    if valid.is_empty() {
        return None;
    }
    let vectors_file = dir.join(format!("{}.valid-vectors.json", set.label));
    let json =
        serde_json::json!({"vectors": valid.iter().map(|c| c.json.clone()).collect::<Vec<_>>()});
    std::fs::write(&vectors_file, json.to_string()).expect("temp file");
    Some(Case {
        name: format!(
            "{} ({} real blocks, {})",
            set.label,
            valid.len(),
            set.runtime_name
        ),
        pvf: set.runtime.clone(),
        vectors_file,
        vectors: valid.iter().map(|c| c.params.clone()).collect(),
    })
}

/// One round's figures: times in milliseconds.
#[derive(Clone, Copy, Default)]
struct Figures {
    p50: f64,
    p95: f64,
    concurrent_wall: f64,
    /// Results that differed from the vectors' expectations (the reference checks them).
    mismatches: usize,
    /// The largest execute job's peak RSS, in MiB (ours: `wait4`'s `ru_maxrss`; the
    /// reference's: its job processes' VmHWM, sampled).
    job_peak_rss_mib: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn execute(host: &ValidationHost, pvf: &PvfPrepData, params: &ValidationParams) -> Duration {
    let began = Instant::now();
    let _ = pvf_tests::execute_approval(host, pvf.clone(), params, Duration::from_secs(12)).await;
    began.elapsed()
}

fn ours(
    runtime: &tokio::runtime::Runtime,
    case: &Case,
    reps: usize,
    concurrent: usize,
    batches: usize,
) -> Figures {
    let cache = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(cache.path().into(), WORKER.into());
    config.execute_workers_max_num = 2;
    let host = pvf_host::start(config).expect("host starts");
    let pvf = PvfPrepData::from_code(
        std::fs::read(&case.pvf).expect("PVF"),
        ExecutorParams::new(),
        Duration::from_secs(360),
        PrepareJobKind::Compilation,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    );
    runtime.block_on(async {
        let first = &case.vectors[0];
        for _ in 0..4 {
            execute(&host, &pvf, first).await;
        }
        let mut latencies = Vec::with_capacity(reps);
        for _ in 0..reps {
            latencies.push(ms(execute(&host, &pvf, first).await));
        }
        latencies.sort_by(f64::total_cmp);
        let p95 = latencies[((latencies.len() - 1) as f64 * 0.95).round() as usize];
        let mut walls = Vec::new();
        for _ in 0..batches {
            let began = Instant::now();
            let all = (0..concurrent)
                .map(|i| execute(&host, &pvf, &case.vectors[i % case.vectors.len()]));
            futures::future::join_all(all).await;
            walls.push(ms(began.elapsed()));
        }
        Figures {
            p50: median(latencies),
            p95,
            concurrent_wall: median(walls),
            mismatches: 0,
            job_peak_rss_mib: host.counters().execute_job_peak_rss_kib as f64 / 1024.0,
        }
    })
}

/// The value after `label` (e.g. "median ") in a tab-separated refbench field.
fn field_ms(line: &str, label: &str) -> Option<f64> {
    line.split('\t')
        .find_map(|f| f.strip_prefix(label))
        .and_then(|f| f.trim_end_matches(" ms").parse().ok())
}

fn reference(
    refbench: &Path,
    case: &Case,
    reps: usize,
    concurrent: usize,
    batches: usize,
) -> Option<Figures> {
    let output = Command::new(refbench)
        .arg("execute-adder")
        .args(["--reps", &reps.to_string()])
        .args(["--concurrent", &concurrent.to_string()])
        .args(["--batches", &batches.to_string()])
        .arg("--pvf")
        .arg(&case.pvf)
        .arg("--vectors")
        .arg(&case.vectors_file)
        .env("RUST_LOG", "error")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let exec = text.lines().find(|l| l.starts_with("EXEC\t"))?;
    let mismatches = text
        .lines()
        .filter(|l| l.starts_with("EXEC\t") || l.starts_with("CONCURRENT\t"))
        .filter_map(|l| {
            l.split('\t')
                .find_map(|f| f.strip_prefix("mismatches="))?
                .parse::<usize>()
                .ok()
        })
        .sum();
    let summary = text.lines().find(|l| l.starts_with("SUMMARY concurrent"))?;
    let wall = summary
        .split("wall median ")
        .nth(1)?
        .split(" ms")
        .next()?
        .parse()
        .ok()?;
    Some(Figures {
        p50: field_ms(exec, "median ")?,
        p95: field_ms(exec, "p95 ")?,
        concurrent_wall: wall,
        mismatches,
        job_peak_rss_mib: text
            .lines()
            .find_map(|l| l.strip_prefix("# peak_rss polkadot-execut@depth1 "))
            .and_then(|mib| mib.trim_end_matches(" MiB").parse().ok())
            .unwrap_or(f64::NAN),
    })
}

fn main() {
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("side-by-side execution benchmark") else {
        return;
    };
    let env = pvf_tests::env_or;
    let (rounds, reps) = (env("BENCH_ROUNDS", 3), env("BENCH_REPS", 200));
    let (concurrent, batches) = (env("BENCH_CONCURRENT", 100), env("BENCH_BATCHES", 5));
    let refbench = std::env::var_os("REFBENCH").map(PathBuf::from);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cases = vec![adder_case(&corpus)];
    cases.extend(
        RUNTIMES
            .iter()
            .map(|r| runtime_case(&corpus, r, dir.path())),
    );
    let sets = pvf_tests::candidates::candidate_sets(&corpus);
    if sets.is_empty() {
        println!(
            "real blocks: none under {}/candidates (see tools/candidate-gen)",
            corpus.display()
        );
    }
    cases.extend(
        sets.iter()
            .filter_map(|set| candidate_case(set, dir.path())),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if env("BENCH_PRECHECK", 1) != 0 {
        precheck_side_by_side(&runtime, &corpus, refbench.as_deref(), rounds);
    }
    if env("BENCH_EXECUTE", 1) == 0 {
        return;
    }
    println!(
        "\nexecution side by side: {rounds} rounds, {reps} sequential runs, {concurrent} at once × {batches} batches, 2 execute workers"
    );
    for case in &cases {
        let (mut us, mut them) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            us.push(ours(&runtime, case, reps, concurrent, batches));
            if let Some(refbench) = &refbench {
                match reference(refbench, case, reps, concurrent, batches) {
                    Some(figures) => them.push(figures),
                    None => eprintln!("  refbench gave no figures for {}", case.name),
                }
            }
        }
        let pick = |all: &[Figures], f: fn(&Figures) -> f64| median(all.iter().map(f).collect());
        println!("\n{}", case.name);
        for (label, unit, f) in [
            (
                "p50 latency",
                "ms",
                (|x: &Figures| x.p50) as fn(&Figures) -> f64,
            ),
            ("p95 latency", "ms", |x: &Figures| x.p95),
            ("concurrent batch wall", "ms", |x: &Figures| {
                x.concurrent_wall
            }),
            ("execute job peak RSS", "MiB", |x: &Figures| {
                x.job_peak_rss_mib
            }),
        ] {
            let mine = pick(&us, f);
            if them.is_empty() {
                println!(
                    "  {label:<22} ours {mine:9.2} {unit:<3}   reference: not measured (set REFBENCH)"
                );
            } else {
                let theirs = pick(&them, f);
                println!(
                    "  {label:<22} ours {mine:9.2} {unit:<3}   reference {theirs:9.2} {unit:<3}   reference ÷ ours {:6.2}",
                    theirs / mine
                );
            }
        }
        let wrong: usize = them.iter().map(|f| f.mismatches).sum();
        if wrong > 0 {
            println!("  reference results that differ from the vectors' expectations: {wrong}");
        }
    }
}
