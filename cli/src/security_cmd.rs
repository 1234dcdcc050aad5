//! `pvf security`: which sandbox features work here, and why not.

use clap::Args;
use pvf_host::security::{self, Feature};
use std::{path::PathBuf, process::ExitCode};

/// Arguments of `pvf security`.
#[derive(Args)]
pub struct SecurityArgs {
    /// A standalone `pvf-worker` executable to probe instead of this binary.
    #[arg(long)]
    pub workers_path: Option<PathBuf>,
    /// Print one JSON document instead of the table: `features` (each with `feature`,
    /// `available`, `reason`) and `secure_validator_mode` (`available`, `reason`).
    #[arg(long)]
    pub json: bool,
}

/// Probes every feature with real worker processes and prints a table. Exits 0 when
/// secure-validator mode can be honoured.
pub fn run(args: SecurityArgs) -> ExitCode {
    let (program, prefix) = match crate::prepare_cmd::worker_program(args.workers_path.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scratch = match tempfile::Builder::new().prefix("pvf-security-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: cannot create a scratch dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = security::probe_features(&program, &prefix, scratch.path());
    let rows: Vec<(String, &str, String)> = Feature::ALL
        .iter()
        .map(|feature| {
            let result = report
                .results
                .iter()
                .find(|(f, _)| f == feature)
                .map(|(_, r)| r.clone());
            match result {
                Some(Ok(())) => (feature.to_string(), "yes", String::new()),
                Some(Err(reason)) => (feature.to_string(), "no", reason.replace('\n', " ")),
                None => (feature.to_string(), "no", "not probed".into()),
            }
        })
        .collect();
    let decision = security::decide(&report, true);
    if args.json {
        let features: Vec<_> = rows
            .iter()
            .map(|(feature, available, reason)| {
                serde_json::json!({
                    "feature": feature,
                    "available": *available == "yes",
                    "reason": (!reason.is_empty()).then_some(reason),
                })
            })
            .collect();
        let json = serde_json::json!({
            "features": features,
            "secure_validator_mode": {
                "available": decision.is_ok(),
                "reason": decision.as_ref().err().map(|e| e.to_string()),
            },
        });
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot print JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
        return if decision.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let width = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max("feature".len());
    println!("{:<width$}  {:<9}  why not", "feature", "available");
    for (feature, available, reason) in &rows {
        println!("{feature:<width$}  {available:<9}  {reason}");
    }
    match decision {
        Ok(_) => {
            println!("\nsecure validator mode: can be enabled");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("\nsecure validator mode: unavailable\n{e}");
            ExitCode::FAILURE
        }
    }
}
