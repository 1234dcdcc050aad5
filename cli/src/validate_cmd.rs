//! `pvf validate`: one candidate through the full host (prepare, then execute in a sandboxed
//! worker), printed as JSON.
//!
//! Exit codes: 0 valid, 1 invalid, 3 possibly invalid (the reference retries, then votes
//! against), 2 error (bad input, a preparation error, or a local problem: no vote).

use clap::{Args, ValueEnum};
use parity_scale_codec::{Decode, DecodeAll, Encode};
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData, PvfPrepKind,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{PersistedValidationData, PoV, ValidationError, ValidationParams, ValidationResult},
};
use pvf_host::{Config, execute::lanes::PvfExecKind};
use pvf_validation::{
    candidate::{CandidateReceipt, CandidateValidationResult},
    exhaustive::{self, ExhaustiveRequest},
    fixed_chain::{Answers, FixedChain},
    policy::{self, DEFAULT_RETRY_DELAY, FinalOutcome},
    retry::{ExecutionInput, execute_with_retry, timeout_kind},
};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::{path::PathBuf, process::ExitCode, time::Duration};

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
    /// SCALE-encoded `ValidationParams`, as hex (0x…) or a file.
    #[arg(long, conflicts_with_all = ["pvd", "pov"])]
    pub params: Option<String>,
    /// SCALE-encoded `PersistedValidationData`, as hex or a file (with --pov).
    #[arg(long, requires = "pov")]
    pub pvd: Option<String>,
    /// SCALE-encoded `PoV`, as hex or a file (with --pvd).
    #[arg(long, requires = "pvd")]
    pub pov: Option<String>,
    /// CPU-time limit of the execution, in seconds [default: the session's for --kind, else
    /// the reference's default].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Backing, approval or dispute.
    #[arg(long, value_enum, default_value_t = Kind::Approval)]
    pub kind: Kind,
    /// The session's SCALE-encoded `ExecutorParams`, as hex (0x…) or a file [default: none].
    /// They decide the preparation and execution timeouts, the memory and stack limits and
    /// the host functions (e.g. RFC-163's), as on chain.
    #[arg(long)]
    pub executor_params: Option<String>,
    /// The candidate's SCALE-encoded `CandidateReceiptV2`, as hex (0x…) or a file (needs --pvd
    /// and --pov). With it the whole candidate validation runs as a node runs it: the checks
    /// against the receipt before and after execution, and the vote. The relay chain's
    /// answers are taken as the descriptor claims them (its session, its core for the para).
    #[arg(long, requires = "pvd")]
    pub receipt: Option<String>,
    /// With --receipt: the `CandidateReceiptV3` node feature has been seen, so V3 descriptors
    /// are validated as V3 (the PVF gets the V3 extension of its parameters).
    #[arg(long, requires = "receipt")]
    pub v3_enabled: bool,
    /// A standalone `pvf-worker` executable to use instead of this binary.
    #[arg(long)]
    pub workers_path: Option<PathBuf>,
    /// Start even if workers cannot be sandboxed.
    #[arg(long = "insecure-validator-i-know-what-i-do")]
    pub insecure_validator: bool,
}

fn read_input(value: &str) -> Result<Vec<u8>, String> {
    match value.strip_prefix("0x") {
        Some(hex_text) => hex::decode(hex_text.trim()).map_err(|e| format!("bad hex: {e}")),
        None => std::fs::read(value).map_err(|e| format!("cannot read {value}: {e}")),
    }
}

/// Decodes the whole input: trailing bytes mean the input is not what the flag says.
fn decode<T: Decode>(what: &str, bytes: &[u8]) -> Result<T, String> {
    T::decode_all(&mut &bytes[..]).map_err(|e| format!("{what} does not decode: {e}"))
}

fn inputs(args: &ValidateArgs) -> Result<(PersistedValidationData, PoV), String> {
    match (&args.params, &args.pvd, &args.pov) {
        (Some(params), None, None) => {
            let params: ValidationParams = decode("--params", &read_input(params)?)?;
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
            decode("--pvd", &read_input(pvd)?)?,
            decode("--pov", &read_input(pov)?)?,
        )),
        _ => Err("give --params, or --pvd and --pov".into()),
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn result_json(result: &ValidationResult) -> serde_json::Value {
    json!({
        "verdict": "valid",
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
    // The vote the reference would cast on this error once its retries are spent.
    let vote = match policy::final_outcome(error.clone()) {
        FinalOutcome::Invalid(reason) => {
            json!({ "vote": "invalid", "reason": format!("{reason:?}") })
        }
        FinalOutcome::Abstain(reason) => json!({ "vote": "abstain", "reason": reason }),
    };
    (
        json!({ "verdict": class, "error": error.to_string(), "final": vote }),
        code,
    )
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
    let (pvd, pov) = inputs(&args)?;
    let executor_params: ExecutorParams = match &args.executor_params {
        Some(value) => decode("--executor-params", &read_input(value)?)?,
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
    let (program, prefix) = crate::prepare_cmd::worker_program(args.workers_path.as_ref())?;
    let cache = tempfile::Builder::new()
        .prefix("pvf-cache-")
        .tempdir()
        .map_err(|e| format!("cannot create a cache dir: {e}"))?;
    let mut config = Config::new(cache.path().into(), program);
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if let Some(receipt) = &args.receipt {
        let receipt: CandidateReceipt = decode("--receipt", &read_input(receipt)?)?;
        return validate_candidate(
            &runtime,
            &host,
            pvf,
            receipt,
            pvd,
            pov,
            kind,
            args.v3_enabled,
        );
    }
    let input = ExecutionInput {
        pvd,
        pov,
        params_extension: None,
    };
    // The node's retries (approvals and disputes) are the validation layer's, not the host's.
    let outcome = runtime.block_on(execute_with_retry(
        &host,
        pvf,
        timeout,
        input,
        kind,
        DEFAULT_RETRY_DELAY,
    ));
    let (json, code) = match &outcome {
        Ok(result) => (result_json(result), 0),
        Err(error) => error_json(error),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    Ok(code)
}

/// `--receipt`: the whole candidate validation, printed as the vote it casts.
#[allow(clippy::too_many_arguments)]
fn validate_candidate(
    runtime: &tokio::runtime::Runtime,
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
    let verdict = runtime.block_on(exhaustive::validate(
        host,
        &chain,
        request,
        v3_enabled,
        DEFAULT_RETRY_DELAY,
    ));
    let (json, code) = match verdict {
        Ok(CandidateValidationResult::Valid(commitments, _)) => (
            json!({
                "vote": "valid",
                "head_data": hex0x(&commitments.head_data.0),
                "commitments_hash": hex0x(commitments.hash().as_bytes()),
            }),
            0,
        ),
        Ok(CandidateValidationResult::Invalid(reason)) => (
            json!({ "vote": "invalid", "reason": reason.to_string(), "kind": format!("{reason:?}") }),
            1,
        ),
        Err(failed) => (json!({ "vote": "abstain", "reason": failed.0 }), 2),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    Ok(code)
}
