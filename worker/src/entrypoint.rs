//! Command-line entry of a worker process, shared by `pvf-worker`, the `pvf` CLI (which can
//! serve as its own worker) and the test worker.
//!
//! ```text
//! pvf-worker --version
//! pvf-worker prepare-worker --socket-path P --worker-dir-path D [--node-impl-version V]
//! ```

use std::{path::PathBuf, process::ExitCode};

/// The subcommand that starts a prepare worker.
pub const PREPARE_WORKER_SUBCOMMAND: &str = "prepare-worker";

/// Parsed worker arguments.
#[derive(Debug, PartialEq, Eq)]
pub enum WorkerArgs {
    /// Print the version and exit.
    Version,
    /// Serve prepare jobs.
    Prepare {
        /// The host's rendezvous socket.
        socket_path: PathBuf,
        /// The worker's private directory.
        worker_dir: PathBuf,
        /// The node's version, to be checked against ours.
        node_version: Option<String>,
    },
}

/// Parses worker arguments (without the program name).
pub fn parse(args: &[String]) -> Result<WorkerArgs, String> {
    match args.first().map(String::as_str) {
        Some("--version") if args.len() == 1 => Ok(WorkerArgs::Version),
        Some(PREPARE_WORKER_SUBCOMMAND) => {
            let (mut socket_path, mut worker_dir, mut node_version) = (None, None, None);
            let mut rest = args[1..].iter();
            while let Some(flag) = rest.next() {
                let mut value = || rest.next().cloned().ok_or(format!("{flag} needs a value"));
                match flag.as_str() {
                    "--socket-path" => socket_path = Some(PathBuf::from(value()?)),
                    "--worker-dir-path" => worker_dir = Some(PathBuf::from(value()?)),
                    "--node-impl-version" => node_version = Some(value()?),
                    other => return Err(format!("unknown argument {other:?}")),
                }
            }
            Ok(WorkerArgs::Prepare {
                socket_path: socket_path.ok_or("--socket-path is required")?,
                worker_dir: worker_dir.ok_or("--worker-dir-path is required")?,
                node_version,
            })
        }
        _ => Err(format!(
            "usage: --version | {PREPARE_WORKER_SUBCOMMAND} --socket-path P --worker-dir-path D [--node-impl-version V]"
        )),
    }
}

/// Runs a worker from its arguments and returns the process exit code.
pub fn run(args: &[String]) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    match parse(args) {
        Ok(WorkerArgs::Version) => {
            println!("{}", crate::WORKER_VERSION);
            ExitCode::SUCCESS
        }
        Ok(WorkerArgs::Prepare {
            socket_path,
            worker_dir,
            node_version,
        }) => match crate::run_prepare_worker(&socket_path, &worker_dir, node_version.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(target: pvf_common::LOG_TARGET, "prepare worker stopped: {e}");
                eprintln!("prepare worker stopped: {e}");
                ExitCode::FAILURE
            }
        },
        Err(usage) => {
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_prepare_subcommand() {
        assert_eq!(
            parse(&args(
                "prepare-worker --socket-path /s --worker-dir-path /d --node-impl-version 1"
            )),
            Ok(WorkerArgs::Prepare {
                socket_path: "/s".into(),
                worker_dir: "/d".into(),
                node_version: Some("1".into())
            })
        );
        assert_eq!(parse(&args("--version")), Ok(WorkerArgs::Version));
        assert!(parse(&args("prepare-worker --socket-path /s")).is_err());
        assert!(parse(&args("prepare-worker --bogus 1")).is_err());
        assert!(parse(&args("")).is_err());
    }
}
