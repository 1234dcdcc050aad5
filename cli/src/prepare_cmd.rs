//! `pvf prepare`: every input through the full host, a row per input.

use crate::{
    inputs::{self, Input},
    table::{self, Row},
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData, blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
};
use pvf_host::{Config, Priority, ValidationHost};
use std::{
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

/// Arguments of `pvf prepare`.
#[derive(Args)]
pub struct PrepareArgs {
    /// PVF files (plain or substrate-compressed wasm). Without files, a bundled default set is
    /// prepared: the project's WAT test PVFs plus the shared corpus when present.
    pub files: Vec<PathBuf>,
    /// Pre-check (compile and instantiate) instead of compiling for execution.
    #[arg(long)]
    pub precheck: bool,
    /// Cache dir for artifacts; a temporary dir (removed at exit) when not given.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Number of prepare workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// CPU-time limit per preparation, in seconds [default: 60 with --precheck, else 360].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9615) while running.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// A standalone `pvf-worker` executable to use instead of this binary.
    #[arg(long)]
    pub workers_path: Option<PathBuf>,
    #[command(flatten)]
    pub cache_lock: crate::cache_cmd::CacheLockArg,
    /// Print one JSON document instead of the table (see the operator guide for its fields).
    #[arg(long)]
    pub json: bool,
    /// Start even if workers cannot be sandboxed (seccomp, plus Landlock or change-root).
    /// Untrusted code then runs with fewer protections.
    #[arg(long = "insecure-validator-i-know-what-i-do")]
    pub insecure_validator: bool,
}

/// The worker program and its argument prefix: `--workers-path`, or this binary itself.
pub fn worker_program(workers_path: Option<&PathBuf>) -> Result<(PathBuf, Vec<String>), String> {
    match workers_path {
        Some(path) => Ok((path.clone(), Vec::new())),
        None => {
            let me = std::env::current_exe()
                .map_err(|e| format!("cannot locate this executable: {e}"))?;
            Ok((me, vec![crate::WORKER_SUBCOMMAND.to_string()]))
        }
    }
}

/// Runs the command; exit code 0 only if every input got the verdict it should.
pub fn run(args: PrepareArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run_async(args)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_async(args: PrepareArgs) -> ExitCode {
    if args.workers == 0 {
        eprintln!("error: --workers must be at least 1");
        return ExitCode::from(2);
    }
    let timeout = match args.timeout {
        Some(s) if !(s > 0.0 && s.is_finite()) => {
            eprintln!("error: --timeout must be a positive number of seconds");
            return ExitCode::from(2);
        }
        Some(s) => Duration::from_secs_f64(s),
        None if args.precheck => pvf_common::executor_params::DEFAULT_PRECHECK_PREPARATION_TIMEOUT,
        None => pvf_common::executor_params::DEFAULT_LENIENT_PREPARATION_TIMEOUT,
    };
    if let Some(addr) = args.metrics_addr {
        let mut builder =
            metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(addr);
        for (name, buckets) in pvf_host::metrics::histogram_buckets() {
            builder = match builder.set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(name.into()),
                &buckets,
            ) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: bad histogram buckets for {name}: {e}");
                    return ExitCode::FAILURE;
                }
            };
        }
        if let Err(e) = builder.install() {
            eprintln!("error: cannot serve metrics on {addr}: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("serving Prometheus metrics on http://{addr}/metrics");
    }
    let bundled = args.files.is_empty();
    let inputs = if bundled {
        inputs::bundled(args.precheck, DEFAULT_VALIDATION_CODE_BOMB_LIMIT)
    } else {
        inputs::from_files(&args.files)
    };
    let mut temp_cache = None;
    let cache_path = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => match tempfile::Builder::new().prefix("pvf-cache-").tempdir() {
            Ok(dir) => {
                let path = dir.path().to_path_buf();
                temp_cache = Some(dir);
                path
            }
            Err(e) => {
                eprintln!("error: cannot create a temporary cache dir: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let host = match start_host(&args, cache_path) {
        Ok(host) => host,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let total = inputs.len();
    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(inputs.len() as u64)
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    let kind = if args.precheck {
        PrepareJobKind::Prechecking
    } else {
        PrepareJobKind::Compilation
    };
    let jobs = inputs.into_iter().map(|input| {
        let (host, progress) = (host.clone(), progress.clone());
        async move {
            let row = prepare_one(&host, input, kind, timeout).await;
            progress.inc(1);
            progress.set_message(row.name.clone());
            row
        }
    });
    let rows = tokio::select! {
        rows = futures::future::join_all(jobs) => rows,
        signal = crate::interrupt::first_signal() => {
            let unfinished = total - progress.position() as usize;
            progress.finish_and_clear();
            eprintln!(
                "interrupted by {}: {unfinished} of {total} preparations unfinished; stopping the workers and removing the worker dirs{}",
                signal.name(),
                if args.cache_dir.is_none() { " and the temporary cache dir" } else { "" },
            );
            // A second signal ends the process at once; otherwise the host's drop kills and
            // reaps its workers and removes their dirs, and the temporary cache dir goes next.
            crate::interrupt::exit_on_second_signal();
            drop(host);
            drop(temp_cache);
            return ExitCode::from(signal.exit_code());
        }
    };
    progress.finish_and_clear();
    drop(host);
    let failures = rows
        .iter()
        .filter(|r| r.as_expected.map_or(r.verdict != "ok", |ok| !ok))
        .count();
    if args.json {
        let mut json = table::to_json(&rows);
        json["failures"] = failures.into();
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot print JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}{}", table::render(&rows), table::render_reasons(&rows));
    }
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        let what = if bundled {
            "had an unexpected verdict"
        } else {
            "failed"
        };
        eprintln!("{failures} of {} inputs {what}", rows.len());
        ExitCode::FAILURE
    }
}

fn start_host(args: &PrepareArgs, cache_path: PathBuf) -> Result<ValidationHost, String> {
    let (program, prefix) = worker_program(args.workers_path.as_ref())?;
    let mut config = Config::new(cache_path, program);
    args.cache_lock.apply(&mut config);
    config.prepare_worker_args_prefix = prefix;
    config.prepare_workers_soft_max_num = args.workers;
    config.prepare_workers_hard_max_num = args.workers;
    config.secure_validator_mode = !args.insecure_validator;
    pvf_host::start(config).map_err(|e| e.to_string())
}

async fn prepare_one(
    host: &ValidationHost,
    input: Input,
    kind: PrepareJobKind,
    timeout: Duration,
) -> Row {
    let mut row = Row {
        name: input.name,
        code_hash: "-".into(),
        blob_size: None,
        decompressed_size: None,
        verdict: String::new(),
        as_expected: None,
        cpu_time: None,
        wall_time: None,
        artifact_size: None,
        peak_rss_kib: None,
    };
    let (verdict_kind, verdict) = match input.bytes {
        Err(e) => ("unreadable", format!("error: {e}")),
        Ok(bytes) => {
            row.blob_size = Some(bytes.len());
            let pvf = PvfPrepData::from_code(
                bytes,
                ExecutorParams::new(),
                timeout,
                kind,
                DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
            );
            row.code_hash = pvf.code_hash().to_string();
            let started = Instant::now();
            let result = host.prepare(pvf, Priority::Normal).await;
            row.wall_time = Some(started.elapsed());
            match result {
                Err(gone) => ("host", format!("error: {gone}")),
                Ok(Ok(success)) => {
                    row.decompressed_size = Some(success.stats.observed_wasm_code_len);
                    row.cpu_time = Some(success.stats.cpu_time_elapsed);
                    row.artifact_size = Some(success.size);
                    row.peak_rss_kib = success.stats.memory_stats.max_rss_kib;
                    ("ok", "ok".to_string())
                }
                Ok(Err(err)) => (err.variant_name(), format!("{}: {err}", err.variant_name())),
            }
        }
    };
    row.as_expected = input.expected.map(|expected| expected == verdict_kind);
    row.verdict = verdict;
    row
}
