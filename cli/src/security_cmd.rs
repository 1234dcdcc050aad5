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
    match security::decide(&report, true) {
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
