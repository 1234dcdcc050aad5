//! `pvf bench execute`: the per-execution overhead of the host (end to end minus the
//! in-process `validate_block` call), with the warm module cache on and off.

use clap::{Args, Subcommand};
use parity_scale_codec::Decode;
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    engine::{self, Semantics},
    execute::{BlockData, HeadData, PersistedValidationData, PoV, ValidationParams},
    prepare::ArtifactChecksum,
};
use pvf_host::{Config, execute::lanes::PvfExecKind};
use std::{
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

/// `pvf bench …`
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Per-execution overhead, warm module cache on and off.
    Execute(ExecuteBenchArgs),
}

/// Arguments of `pvf bench execute`.
#[derive(Args)]
pub struct ExecuteBenchArgs {
    /// A PVF to measure (with --params); without it: the bundled minimal PVF, and from the
    /// corpus the adder's valid block and a Cumulus PVF's failure path.
    pub pvf: Option<PathBuf>,
    /// SCALE-encoded `ValidationParams` for PVF, as hex (0x…) or a file.
    #[arg(long, requires = "pvf")]
    pub params: Option<String>,
    /// Executions per measurement.
    #[arg(long, default_value_t = 100)]
    pub runs: usize,
    /// A standalone `pvf-worker` executable to use instead of this binary.
    #[arg(long)]
    pub workers_path: Option<PathBuf>,
}

#[derive(Clone)]
struct Case {
    name: String,
    code: Vec<u8>,
    params: ValidationParams,
}

impl Case {
    /// The PVF as the host prepares it for execution.
    fn pvf(&self) -> PvfPrepData {
        PvfPrepData::from_code(
            self.code.clone(),
            ExecutorParams::new(),
            Duration::from_secs(360),
            PrepareJobKind::Compilation,
            DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
        )
    }
}

fn cases(args: &ExecuteBenchArgs) -> Result<Vec<Case>, String> {
    if let Some(path) = &args.pvf {
        let code =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let params = match &args.params {
            Some(p) => {
                let bytes = match p.strip_prefix("0x") {
                    Some(h) => hex::decode(h).map_err(|e| format!("bad hex: {e}"))?,
                    None => std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"))?,
                };
                ValidationParams::decode(&mut &bytes[..])
                    .map_err(|e| format!("--params does not decode: {e}"))?
            }
            None => empty_params(vec![]),
        };
        return Ok(vec![Case {
            name: path.display().to_string(),
            code,
            params,
        }]);
    }
    let minimal = wat::parse_str(include_str!("../../tests/pvfs/minimal-pvf.wat"))
        .map_err(|e| e.to_string())?;
    let mut cases = vec![Case {
        name: "bundled minimal PVF (invalid result)".into(),
        code: minimal,
        params: empty_params(vec![]),
    }];
    let corpus = crate::inputs::corpus_dir();
    if let Ok(vectors) = std::fs::read(corpus.join("vectors/adder-vectors.json")) {
        let hex_params = String::from_utf8_lossy(&vectors)
            .split("\"validation_params_scale_hex\": \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(String::from);
        if let (Some(hex_params), Ok(code)) = (
            hex_params,
            std::fs::read(corpus.join("pvf/test-parachain-adder.gossamer.wasm")),
        ) {
            let bytes = hex::decode(hex_params).map_err(|e| e.to_string())?;
            let params = ValidationParams::decode(&mut &bytes[..]).map_err(|e| e.to_string())?;
            cases.push(Case {
                name: "corpus adder, valid block".into(),
                code,
                params,
            });
        }
        if let Ok(code) =
            std::fs::read(corpus.join("pvf/collectives-polkadot-9290.genesis.compressed.wasm"))
        {
            cases.push(Case {
                name: "corpus collectives, garbage block (panics)".into(),
                code,
                params: empty_params(b"garbage".to_vec()),
            });
        }
    }
    Ok(cases)
}

fn empty_params(block_data: Vec<u8>) -> ValidationParams {
    ValidationParams {
        parent_head: HeadData(Vec::new()),
        block_data: BlockData(block_data),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        extension: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn in_process(case: &Case, runs: usize) -> Result<Duration, String> {
    let pvf = case.pvf();
    let (artifact, _) =
        pvf_worker::prepare::compile(&pvf, pvf_common::engine::CompilationThreads::One)
            .map_err(|e| e.to_string())?;
    let semantics = Semantics::default();
    let engine = engine::new_engine(&semantics)?;
    let loaded = pvf_worker::execute::load_artifact(
        &engine,
        &artifact,
        ArtifactChecksum::of(&artifact),
        semantics.host_functions,
    )
    .map_err(|e| e.to_string())?;
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            pvf_worker::execute::validate_block_on_big_stack(
                &engine,
                &loaded,
                &semantics,
                &case.params,
                false,
            )
            .map(|_| started.elapsed())
        })
        .collect::<Result<_, _>>()?;
    samples.sort();
    Ok(percentile(&samples, 0.5))
}

/// What ended a measurement early.
type Interrupted = crate::interrupt::Interrupt;

fn end_to_end(
    runtime: &tokio::runtime::Runtime,
    interrupts: &mut crate::interrupt::Listener,
    args: &ExecuteBenchArgs,
    case: &Case,
    warm: bool,
) -> Result<Result<Vec<Duration>, Interrupted>, String> {
    let (program, prefix) = crate::prepare_cmd::worker_program(args.workers_path.as_ref())?;
    let cache = tempfile::Builder::new()
        .prefix("pvf-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let mut config = Config::new(cache.path().into(), program);
    config.prepare_worker_args_prefix = prefix;
    config.execute_workers_max_num = 1;
    config.execute_module_cache_bytes =
        warm.then_some(pvf_host::DEFAULT_EXECUTE_MODULE_CACHE_BYTES);
    let host = pvf_host::start(config).map_err(|e| e.to_string())?;
    let pvf = case.pvf();
    let pvd = PersistedValidationData {
        parent_head: case.params.parent_head.clone(),
        relay_parent_number: case.params.relay_parent_number,
        relay_parent_storage_root: case.params.relay_parent_storage_root,
        max_pov_size: 10 * 1024 * 1024,
    };
    let pov = PoV {
        block_data: case.params.block_data.clone(),
    };
    let measure = async {
        let run = || {
            host.execute_pvf(
                pvf.clone(),
                Duration::from_secs(12),
                pvd.clone(),
                pov.clone(),
                PvfExecKind::Approval,
            )
        };
        run().await.map_err(|e| e.to_string())?.ok(); // warm-up: preparation and worker spawn
        let mut samples = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let started = Instant::now();
            run().await.map_err(|e| e.to_string())?.ok();
            samples.push(started.elapsed());
        }
        samples.sort();
        Ok::<_, String>(samples)
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            samples = measure => samples.map(Ok),
            signal = interrupts.wait() => Ok(Err(signal)),
        }
    });
    if let Ok(Err(signal)) = &outcome {
        // The host's drop kills and reaps its workers and removes their dirs; the temporary
        // cache dir goes after it.
        crate::interrupt::announce(
            *signal,
            &format!(
                "benchmark of {} unfinished (end to end, warm module cache {})",
                case.name,
                if warm { "on" } else { "off" }
            ),
            true,
        );
        drop(host);
        drop(cache);
    }
    outcome
}

/// Runs the command.
pub fn run(command: BenchCommand) -> ExitCode {
    let BenchCommand::Execute(args) = command;
    // Multi-threaded, so that a second signal is handled while this thread drops a host.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let entered = runtime.enter();
    let mut interrupts = crate::interrupt::Listener::new();
    let code = match run_execute(&runtime, &mut interrupts, &args) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(signal)) => ExitCode::from(signal.exit_code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    };
    drop(entered);
    // An interrupted in-process measurement may still run on a blocking thread: leave it.
    runtime.shutdown_background();
    code
}

/// Runs the benchmark; `Some(signal)` if a signal stopped it.
fn run_execute(
    runtime: &tokio::runtime::Runtime,
    interrupts: &mut crate::interrupt::Listener,
    args: &ExecuteBenchArgs,
) -> Result<Option<Interrupted>, String> {
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    println!(
        "per-execution overhead = end to end (sandboxed worker, fresh job process) − in-process validate_block p50; {} runs",
        args.runs
    );
    println!(
        "{:<45} {:>12} {:>10} {:>14} {:>14} {:>14} {:>14}",
        "case", "in-process", "cache", "e2e p50", "e2e p95", "overhead p50", "overhead p95"
    );
    for case in cases(args)? {
        // On a blocking thread, so that a signal is answered at once; no host runs meanwhile.
        let (owned, runs) = (case.clone(), args.runs.min(50));
        let measured = runtime.block_on(async {
            tokio::select! {
                inner = tokio::task::spawn_blocking(move || in_process(&owned, runs)) => Ok(inner),
                signal = interrupts.wait() => Err(signal),
            }
        });
        let inner = match measured {
            Ok(inner) => inner.map_err(|e| format!("in-process measurement: {e}"))??,
            Err(signal) => {
                eprintln!(
                    "interrupted by {}: benchmark of {} unfinished (in-process runs; no host was running)",
                    signal.name(),
                    case.name
                );
                return Ok(Some(signal));
            }
        };
        for warm in [true, false] {
            let samples = match end_to_end(runtime, interrupts, args, &case, warm)? {
                Ok(samples) => samples,
                Err(signal) => return Ok(Some(signal)),
            };
            let (p50, p95) = (percentile(&samples, 0.5), percentile(&samples, 0.95));
            println!(
                "{:<45} {:>12} {:>10} {:>14} {:>14} {:>14} {:>14}",
                case.name,
                ms(inner),
                if warm { "warm" } else { "off" },
                ms(p50),
                ms(p95),
                ms(p50.saturating_sub(inner)),
                ms(p95.saturating_sub(inner))
            );
        }
    }
    Ok(None)
}
