//! `pvf validate`: one candidate through the full host (prepare, then execute in a sandboxed
//! worker), printed as JSON.
//!
//! Exit codes: 0 valid, 1 invalid, 3 possibly invalid (the reference retries, then votes
//! against), 2 error (bad input, a preparation error, or a local problem: no vote).
//! SIGINT / SIGTERM stop the validation, drop the host (its workers are killed and reaped) and
//! the temporary cache dir, and exit 130 / 143; a second signal exits at once.

use clap::{Args, ValueEnum};
use parity_scale_codec::{Decode, DecodeAll, Encode};
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfExecTimeoutKind, PvfPrepData, PvfPrepKind,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{
        POV_BOMB_LIMIT, PersistedValidationData, PoV, ValidationError, ValidationParams,
        ValidationResult,
    },
};
use pvf_host::{Config, execute::lanes::PvfExecKind};
use pvf_validation::{
    candidate::{CandidateReceipt, CandidateValidationResult, InvalidCandidate},
    exhaustive::{self, ExhaustiveRequest},
    fixed_chain::{Answers, FixedChain},
    policy::{self, DEFAULT_RETRY_DELAY, FinalOutcome},
    pov_file,
    retry::{ExecutionInput, execute_with_retry, timeout_kind},
};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

/// Which execution timeout and lane to use.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// Backing: the session's backing timeout, 2 s by default.
    Backing,
    /// Approval: the session's approval timeout, 12 s by default.
    Approval,
    /// Dispute: the approval timeout, in the dispute lane.
    Dispute,
}

/// Arguments of `pvf validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// The PVF (plain or substrate-compressed wasm).
    pub pvf: PathBuf,
    /// SCALE-encoded `ValidationParams`: a file, or else hex (with or without 0x).
    #[arg(long, conflicts_with_all = ["pvd", "pov"])]
    pub params: Option<String>,
    /// SCALE-encoded `PersistedValidationData`, as a file or hex (with --pov).
    #[arg(long, requires = "pov")]
    pub pvd: Option<String>,
    /// SCALE-encoded `PoV`, as a file or hex (with --pvd).
    #[arg(long, requires = "pvd")]
    pub pov: Option<String>,
    /// A PoV file as a Cumulus collator exports it (`--export-pov-to-path`): a SCALE `PoV`
    /// followed by a SCALE `PersistedValidationData`. Prints the verdict with the CPU time
    /// against the backing and approval limits, the PoV sizes and the decoded result.
    #[arg(long, conflicts_with_all = ["params", "pvd", "pov"])]
    pub pov_file: Option<PathBuf>,
    /// Keep artifacts in this dir instead of a temporary one, so that validating the same
    /// PVF again does not compile it again.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// CPU-time limit of the execution, in seconds [default: the session's for --kind, else
    /// the reference's default].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Backing, approval or dispute.
    #[arg(long, value_enum, default_value_t = Kind::Approval)]
    pub kind: Kind,
    /// The session's SCALE-encoded `ExecutorParams`, as a file or hex [default: none].
    /// They decide the preparation and execution timeouts, the memory and stack limits and
    /// the host functions (e.g. RFC-163's), as on chain.
    #[arg(long)]
    pub executor_params: Option<String>,
    /// The candidate's SCALE-encoded `CandidateReceiptV2`, as a file or hex (needs --pvd and
    /// --pov, or --pov-file). With it the whole candidate validation runs as a node runs it: the checks
    /// against the receipt before and after execution, and the vote. The relay chain's
    /// answers are taken as the descriptor claims them (its session, its core for the para).
    #[arg(long)]
    pub receipt: Option<String>,
    /// With --receipt: the `CandidateReceiptV3` node feature has been seen, so V3 descriptors
    /// are validated as V3 (the PVF gets the V3 extension of its parameters).
    #[arg(long, requires = "receipt")]
    pub v3_enabled: bool,
    /// A standalone `pvf-worker` executable to use instead of this binary.
    #[arg(long)]
    pub workers_path: Option<PathBuf>,
    #[command(flatten)]
    pub cache_lock: crate::cache_cmd::CacheLockArg,
    /// Start even if workers cannot be sandboxed.
    #[arg(long = "insecure-validator-i-know-what-i-do")]
    pub insecure_validator: bool,
}

/// The bytes `value` of `flag` stands for: the file of that name if one exists, else hex with
/// or without `0x`.
fn read_input(flag: &str, value: &str) -> Result<Vec<u8>, String> {
    let path = std::path::Path::new(value);
    if path.exists() {
        return std::fs::read(path).map_err(|e| format!("{flag}: cannot read {value}: {e}"));
    }
    let text = value.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|e| {
        format!("{flag}: {value:?} is neither a readable file (no such file) nor hex ({e})")
    })
}

/// Decodes the whole input: trailing bytes mean the input is not what the flag says.
fn decode<T: Decode>(what: &str, bytes: &[u8]) -> Result<T, String> {
    T::decode_all(&mut &bytes[..]).map_err(|e| format!("{what} does not decode: {e}"))
}

fn inputs(args: &ValidateArgs) -> Result<(PersistedValidationData, PoV), String> {
    match (&args.params, &args.pvd, &args.pov) {
        (Some(params), None, None) => {
            let params: ValidationParams = decode("--params", &read_input("--params", params)?)?;
            Ok((
                PersistedValidationData {
                    parent_head: params.parent_head,
                    relay_parent_number: params.relay_parent_number,
                    relay_parent_storage_root: params.relay_parent_storage_root,
                    max_pov_size: 10 * 1024 * 1024,
                },
                PoV {
                    block_data: params.block_data,
                },
            ))
        }
        (None, Some(pvd), Some(pov)) => Ok((
            decode("--pvd", &read_input("--pvd", pvd)?)?,
            decode("--pov", &read_input("--pov", pov)?)?,
        )),
        _ => Err("give --params, --pvd and --pov, or --pov-file".into()),
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn result_json(result: &ValidationResult) -> serde_json::Value {
    json!({
        "verdict": "valid",
        "vote": "valid",
        "head_data": hex0x(&result.head_data.0),
        "new_validation_code": result.new_validation_code.as_ref().map(|c| hex0x(&c.0)),
        "upward_messages": result.upward_messages.iter().map(|m| hex0x(m)).collect::<Vec<_>>(),
        "horizontal_messages": result.horizontal_messages.iter()
            .map(|m| json!({ "recipient": m.recipient, "data": hex0x(&m.data) }))
            .collect::<Vec<_>>(),
        "processed_downward_messages": result.processed_downward_messages,
        "hrmp_watermark": result.hrmp_watermark,
        "scale": hex0x(&result.encode()),
    })
}

fn error_json(error: &ValidationError) -> (serde_json::Value, u8) {
    let (class, code) = match error {
        ValidationError::Invalid(_) => ("invalid", 1),
        ValidationError::PossiblyInvalid(_) => ("possibly-invalid", 3),
        ValidationError::Preparation(_) => ("preparation-error", 2),
        ValidationError::Internal(_) => ("internal-error", 2),
        ValidationError::ExecutionDeadline => ("execution-deadline", 2),
    };
    // The vote the reference would cast on this error once its retries are spent, named as
    // with --receipt.
    let mut json = match policy::final_outcome(error.clone()) {
        FinalOutcome::Invalid(invalidity) => invalid_vote_json(&invalidity.into()),
        FinalOutcome::Abstain(reason) => json!({ "vote": "abstain", "reason": reason }),
    };
    json["verdict"] = class.into();
    json["error"] = error.to_string().into();
    (json, code)
}

fn invalid_vote_json(reason: &InvalidCandidate) -> serde_json::Value {
    // The variant's name alone: the reason already carries any message.
    let debug = format!("{reason:?}");
    let kind = debug.split('(').next().unwrap_or_default();
    json!({ "vote": "invalid", "reason": reason.to_string(), "kind": kind })
}

/// Runs the command.
pub fn run(args: ValidateArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: ValidateArgs) -> Result<u8, String> {
    let code =
        std::fs::read(&args.pvf).map_err(|e| format!("cannot read {}: {e}", args.pvf.display()))?;
    if crate::inputs::looks_like_wat(&code) {
        eprintln!("{}", crate::inputs::wat_note(&args.pvf));
    }
    if args.receipt.is_some() && args.params.is_some() {
        return Err("--receipt needs --pvd and --pov, or --pov-file (not --params)".into());
    }
    let (pvd, pov) = match &args.pov_file {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--pov-file: cannot read {}: {e}", path.display()))?;
            let (pov, pvd) = pov_file::decode(&bytes)
                .map_err(|e| format!("--pov-file {}: {e}", path.display()))?;
            (pvd, pov)
        }
        None => inputs(&args)?,
    };
    let executor_params: ExecutorParams = match &args.executor_params {
        Some(value) => decode(
            "--executor-params",
            &read_input("--executor-params", value)?,
        )?,
        None => ExecutorParams::new(),
    };
    let kind = match args.kind {
        Kind::Backing => PvfExecKind::Backing([0; 32]),
        Kind::Approval => PvfExecKind::Approval,
        Kind::Dispute => PvfExecKind::Dispute,
    };
    let timeout = match args.timeout {
        Some(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        Some(_) => return Err("--timeout must be a positive number of seconds".into()),
        None => policy::exec_timeout(&executor_params, timeout_kind(kind)),
    };
    let prep_timeout = policy::prep_timeout(&executor_params, PvfPrepKind::Prepare);
    let limits = CpuLimits {
        backing: policy::exec_timeout(&executor_params, PvfExecTimeoutKind::Backing),
        approval: policy::exec_timeout(&executor_params, PvfExecTimeoutKind::Approval),
        this_run: timeout,
    };
    let (program, prefix) = crate::prepare_cmd::worker_program(args.workers_path.as_ref())?;
    let mut temporary_cache = None;
    let cache_path = match &args.cache_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the cache dir {}: {e}", dir.display()))?;
            dir.clone()
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("pvf-cache-")
                .tempdir()
                .map_err(|e| format!("cannot create a cache dir: {e}"))?;
            let path = dir.path().to_path_buf();
            temporary_cache = Some(dir);
            path
        }
    };
    let receipt: Option<CandidateReceipt> = match &args.receipt {
        Some(receipt) => Some(decode("--receipt", &read_input("--receipt", receipt)?)?),
        None => None,
    };
    let mut config = Config::new(cache_path.clone(), program);
    args.cache_lock.apply(&mut config);
    config.prepare_worker_args_prefix = prefix;
    config.secure_validator_mode = !args.insecure_validator;
    let host = pvf_host::start(config).map_err(|e| e.to_string())?;
    let pvf = PvfPrepData::from_code(
        code,
        executor_params,
        prep_timeout,
        PrepareJobKind::Compilation,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    );
    // Multi-threaded, so that a second signal is handled while this thread drops the host.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let _entered = runtime.enter();
    let mut interrupts = crate::interrupt::Listener::new();
    // On SIGINT or SIGTERM: one line saying what stopped; the host's drop kills and reaps its
    // workers and removes their dirs, then the temporary cache dir goes.
    let interrupted = |signal: crate::interrupt::Interrupt, host: pvf_host::ValidationHost| {
        let counters = host.counters();
        let stage = if counters.execute.jobs_started > 0 {
            "executing"
        } else if counters.prepare.jobs_started > 0 {
            "preparing"
        } else {
            "waiting for a worker"
        };
        crate::interrupt::announce(
            signal,
            &format!("validation of {} unfinished ({stage})", args.pvf.display()),
            temporary_cache.is_some(),
        );
        drop(host);
        signal.exit_code()
    };
    if let Some(receipt) = receipt {
        let work = validate_candidate(&host, pvf, receipt, pvd, pov, kind, args.v3_enabled);
        let code = runtime.block_on(async {
            tokio::select! {
                code = work => Ok(code),
                signal = interrupts.wait() => Err(signal),
            }
        });
        return match code {
            Ok(code) => code,
            Err(signal) => Ok(interrupted(signal, host)),
        };
    }
    let report = args
        .pov_file
        .as_ref()
        .map(|path| PovFileReport::new(path, &pvd, &pov));
    let input = ExecutionInput {
        pvd,
        pov,
        params_extension: None,
    };
    // The node's retries (approvals and disputes) are the validation layer's, not the host's.
    let work = execute_with_retry(&host, pvf, timeout, input, kind, DEFAULT_RETRY_DELAY);
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = work => Ok(outcome),
            signal = interrupts.wait() => Err(signal),
        }
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(signal) => return Ok(interrupted(signal, host)),
    };
    let (mut json, code) = match &outcome {
        Ok(result) => (result_json(result), 0),
        Err(error) => error_json(error),
    };
    if let Some(report) = report {
        let cpu_time = execute_workers_cpu_time();
        let peak_rss_kib = Some(host.counters().execute_job_peak_rss_kib).filter(|&kib| kib > 0);
        report.add_to(&mut json, &outcome, (cpu_time, peak_rss_kib), &limits);
    }
    if let Some(object) = json.as_object_mut() {
        // Compilations this run started: 0 when the cache dir already held the artifact.
        object.insert(
            "preparations".into(),
            host.counters().prepare.jobs_started.into(),
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    Ok(code)
}

/// `--receipt`: the whole candidate validation, printed as the vote it casts.
#[allow(clippy::too_many_arguments)]
async fn validate_candidate(
    host: &pvf_host::ValidationHost,
    pvf: PvfPrepData,
    receipt: CandidateReceipt,
    pvd: PersistedValidationData,
    pov: PoV,
    kind: PvfExecKind,
    v3_enabled: bool,
) -> Result<u8, String> {
    let descriptor = &receipt.descriptor;
    let relay_pvd = polkadot_primitives::PersistedValidationData {
        parent_head: pvd.parent_head.0.into(),
        relay_parent_number: pvd.relay_parent_number,
        relay_parent_storage_root: pvd.relay_parent_storage_root.into(),
        max_pov_size: pvd.max_pov_size,
    };
    // Offline there is no runtime to ask: take the descriptor's own claims.
    let session = descriptor
        .scheduling_session_for_candidate_validation(v3_enabled)
        .unwrap_or_default();
    let core = descriptor.core_index().unwrap_or_default();
    let chain = FixedChain::new(Answers {
        session: Some(session),
        bomb_limit: Some(pvf.validation_code_bomb_limit()),
        claim_queue: Some(BTreeMap::from([(
            core,
            VecDeque::from([descriptor.para_id()]),
        )])),
        ..Answers::default()
    });
    let request = ExhaustiveRequest {
        validation_data: relay_pvd,
        validation_code: pvf.maybe_compressed_code().to_vec(),
        executor_params: (**pvf.executor_params()).clone(),
        candidate_receipt: receipt,
        pov,
        exec_kind: kind,
    };
    let verdict =
        exhaustive::validate(host, &chain, request, v3_enabled, DEFAULT_RETRY_DELAY).await;
    let (json, code) = match verdict {
        Ok(CandidateValidationResult::Valid(commitments, _)) => (
            json!({
                "vote": "valid",
                "head_data": hex0x(&commitments.head_data.0),
                "commitments_hash": hex0x(commitments.hash().as_bytes()),
            }),
            0,
        ),
        Ok(CandidateValidationResult::Invalid(reason)) => (invalid_vote_json(&reason), 1),
        Err(failed) => (json!({ "vote": "abstain", "reason": failed.0 }), 2),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    Ok(code)
}

/// The execution time limits the `--pov-file` report compares against.
struct CpuLimits {
    /// The session's backing limit (2 s by default).
    backing: Duration,
    /// The session's approval limit (12 s by default).
    approval: Duration,
    /// The limit this run used (`--kind`, or `--timeout`).
    this_run: Duration,
}

/// What `--pov-file` adds to the output besides the verdict.
struct PovFileReport {
    path: PathBuf,
    /// The SCALE-encoded PoV's size, which `max_pov_size` bounds.
    pov_size: usize,
    /// The block data as given (compressed or not).
    block_data_size: usize,
    /// The block data decompressed, with the PoV bomb limit.
    decompressed: Result<usize, String>,
    pvd: serde_json::Value,
}

impl PovFileReport {
    fn new(path: &Path, pvd: &PersistedValidationData, pov: &PoV) -> Self {
        let block = &pov.block_data.0;
        Self {
            path: path.to_path_buf(),
            pov_size: pov.encoded_size(),
            block_data_size: block.len(),
            decompressed: pvf_common::blob::decompress(block, POV_BOMB_LIMIT)
                .map(|b| b.len())
                .map_err(|e| e.to_string()),
            pvd: json!({
                "parent_head": hex0x(&pvd.parent_head.0),
                "relay_parent_number": pvd.relay_parent_number,
                "relay_parent_storage_root": hex0x(&pvd.relay_parent_storage_root),
                "max_pov_size": pvd.max_pov_size,
            }),
        }
    }

    fn add_to(
        self,
        json: &mut serde_json::Value,
        outcome: &Result<ValidationResult, ValidationError>,
        (cpu_time, peak_rss_kib): (Option<Duration>, Option<u64>),
        limits: &CpuLimits,
    ) {
        let Some(object) = json.as_object_mut() else {
            return;
        };
        let max_pov_size = self.pvd["max_pov_size"].as_u64().unwrap_or(0);
        object.insert(
            "pov_file".into(),
            json!({
                "path": self.path.display().to_string(),
                "pov_size": {
                    "encoded": self.pov_size,
                    "block_data": self.block_data_size,
                    "decompressed": match &self.decompressed {
                        Ok(n) => json!(n),
                        Err(e) => json!(format!("does not decompress: {e}")),
                    },
                    "within_max_pov_size": self.pov_size as u64 <= max_pov_size,
                },
                "persisted_validation_data": self.pvd,
            }),
        );
        let secs = |d: Duration| d.as_secs_f64();
        object.insert(
            "cpu_time".into(),
            json!({
                "seconds": cpu_time.map(secs),
                "measured": match cpu_time {
                    Some(_) => "the execute worker's reaped jobs (every attempt), 10 ms resolution",
                    None => "not measured: no execute worker was left to ask (killed after a timeout or a crash)",
                },
                "backing_limit": secs(limits.backing),
                "approval_limit": secs(limits.approval),
                "this_run_limit": secs(limits.this_run),
                "within_backing": cpu_time.map(|t| t <= limits.backing),
                "within_approval": cpu_time.map(|t| t <= limits.approval),
            }),
        );
        object.insert(
            "peak_memory".into(),
            json!({
                "job_max_rss_kib": peak_rss_kib,
                "measured": match peak_rss_kib {
                    Some(_) => "the execute job process's peak resident set (wait4), the largest of every attempt",
                    None => "not measured: no execute job ran to an answer",
                },
            }),
        );
        if let Ok(result) = outcome {
            object.insert(
                "validation_result".into(),
                json!({
                    "head_data": hex0x(&result.head_data.0),
                    "upward_messages": result.upward_messages.len(),
                    "horizontal_messages": result.horizontal_messages.len(),
                    "new_validation_code": result.new_validation_code.is_some(),
                    "processed_downward_messages": result.processed_downward_messages,
                    "hrmp_watermark": result.hrmp_watermark,
                }),
            );
        }
    }
}

/// Linux's `USER_HZ`, the unit of the CPU times in `/proc/<pid>/stat` (100 on every
/// architecture: it is part of the user-space ABI).
const USER_HZ: u64 = 100;

/// The CPU time of the jobs the live execute workers of this process ran so far: a worker
/// forks a process per job and reaps it, so the kernel adds the job's time to the worker's
/// "children" times (`cutime` + `cstime`). `None` when no execute worker is alive.
fn execute_workers_cpu_time() -> Option<Duration> {
    let me = std::process::id().to_string();
    let mut ticks = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses and may hold spaces.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] is field 3 (state): ppid is field 4, cutime 16, cstime 17.
        if fields.get(1) != Some(&me.as_str()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains("worker-dir-execute-") {
            continue;
        }
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        if let (Some(cutime), Some(cstime)) = (field(16), field(17)) {
            *ticks.get_or_insert(0) += cutime + cstime;
        }
    }
    ticks.map(|t: u64| Duration::from_millis(t * 1000 / USER_HZ))
}
