//! Command-line entry of a worker process, shared by `pvf-worker`, the `pvf` CLI (which can
//! serve as its own worker) and the test worker.
//!
//! ```text
//! pvf-worker --version
//! pvf-worker prepare-worker --socket-path P --worker-dir-path D [--node-impl-version V]
//! pvf-worker execute-worker --socket-path P --worker-dir-path D [--node-impl-version V]
//! pvf-worker --check-can-enable-landlock
//! pvf-worker --check-can-enable-seccomp
//! pvf-worker --check-can-unshare-user-namespace-and-change-root DIR
//! pvf-worker --check-can-do-secure-clone
//! pvf-worker --check-security-features --worker-dir-path D
//! ```
//!
//! Each `--check-…` flag exits 0 when the feature works and otherwise exits 1 with the reason
//! on stderr. They change the process they run in, so the host runs each in a fresh process.

use crate::WorkerBodies;
use pvf_common::wire_names::{
    EXECUTE_WORKER_SUBCOMMAND, NODE_IMPL_VERSION_FLAG, PREPARE_WORKER_SUBCOMMAND, SOCKET_PATH_FLAG,
    WORKER_DIR_PATH_FLAG,
};
use std::{path::PathBuf, process::ExitCode};

/// A start-up probe of one sandbox feature (or all).
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// `--check-can-enable-landlock`
    Landlock,
    /// `--check-can-enable-seccomp`
    Seccomp,
    /// `--check-can-unshare-user-namespace-and-change-root DIR`
    ChangeRoot(PathBuf),
    /// `--check-can-do-secure-clone`
    SecureClone,
    /// `--check-security-features --worker-dir-path D`
    All(PathBuf),
}

/// Parsed worker arguments.
#[derive(Debug, PartialEq, Eq)]
pub enum WorkerArgs {
    /// Print the version and exit.
    Version,
    /// Check a sandbox feature and exit.
    Probe(Probe),
    /// Serve execute jobs.
    Execute {
        /// The host's rendezvous socket.
        socket_path: PathBuf,
        /// The worker's private directory.
        worker_dir: PathBuf,
        /// The node's version, to be checked against ours.
        node_version: Option<String>,
    },
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
        Some("--check-can-enable-landlock") if args.len() == 1 => {
            Ok(WorkerArgs::Probe(Probe::Landlock))
        }
        Some("--check-can-enable-seccomp") if args.len() == 1 => {
            Ok(WorkerArgs::Probe(Probe::Seccomp))
        }
        Some("--check-can-do-secure-clone") if args.len() == 1 => {
            Ok(WorkerArgs::Probe(Probe::SecureClone))
        }
        Some("--check-can-unshare-user-namespace-and-change-root") if args.len() == 2 => Ok(
            WorkerArgs::Probe(Probe::ChangeRoot(PathBuf::from(&args[1]))),
        ),
        Some("--check-security-features") if args.len() == 3 && args[1] == WORKER_DIR_PATH_FLAG => {
            Ok(WorkerArgs::Probe(Probe::All(PathBuf::from(&args[2]))))
        }
        Some(sub @ (PREPARE_WORKER_SUBCOMMAND | EXECUTE_WORKER_SUBCOMMAND)) => {
            let (mut socket_path, mut worker_dir, mut node_version) = (None, None, None);
            let mut rest = args[1..].iter();
            while let Some(flag) = rest.next() {
                let mut value = || rest.next().cloned().ok_or(format!("{flag} needs a value"));
                match flag.as_str() {
                    SOCKET_PATH_FLAG => socket_path = Some(PathBuf::from(value()?)),
                    WORKER_DIR_PATH_FLAG => worker_dir = Some(PathBuf::from(value()?)),
                    NODE_IMPL_VERSION_FLAG => node_version = Some(value()?),
                    other => return Err(format!("unknown argument {other:?}")),
                }
            }
            let socket_path = socket_path.ok_or(format!("{SOCKET_PATH_FLAG} is required"))?;
            let worker_dir = worker_dir.ok_or(format!("{WORKER_DIR_PATH_FLAG} is required"))?;
            Ok(if sub == EXECUTE_WORKER_SUBCOMMAND {
                WorkerArgs::Execute {
                    socket_path,
                    worker_dir,
                    node_version,
                }
            } else {
                WorkerArgs::Prepare {
                    socket_path,
                    worker_dir,
                    node_version,
                }
            })
        }
        _ => Err(usage()),
    }
}

/// What the worker prints when it cannot parse its arguments.
pub fn usage() -> String {
    let worker =
        format!("{SOCKET_PATH_FLAG} P {WORKER_DIR_PATH_FLAG} D [{NODE_IMPL_VERSION_FLAG} V]");
    format!(
        "usage: --version | {PREPARE_WORKER_SUBCOMMAND} {worker} | {EXECUTE_WORKER_SUBCOMMAND} {worker} \
         | --check-can-enable-landlock | --check-can-enable-seccomp | --check-can-do-secure-clone \
         | --check-can-unshare-user-namespace-and-change-root DIR \
         | --check-security-features {WORKER_DIR_PATH_FLAG} D"
    )
}

/// Runs a worker from its arguments and returns the process exit code, with the production
/// bodies (compilation, `validate_block`).
pub fn run(args: &[String]) -> ExitCode {
    run_with(args, WorkerBodies::PRODUCTION)
}

fn run_probe(probe: Probe) -> ExitCode {
    use pvf_security::probe;
    let result = match probe {
        Probe::Landlock => probe::can_enable_landlock(),
        Probe::Seccomp => probe::can_enable_seccomp(),
        Probe::ChangeRoot(dir) => probe::can_unshare_user_namespace_and_change_root(&dir),
        Probe::SecureClone => probe::can_do_secure_clone(),
        Probe::All(dir) => {
            if !dir.is_dir() {
                eprintln!("worker dir {} is not a directory", dir.display());
                return ExitCode::FAILURE;
            }
            let results = probe::all(&dir);
            for (name, result) in &results {
                match result {
                    Ok(()) => println!("{name}: available"),
                    Err(reason) => println!("{name}: unavailable: {reason}"),
                }
            }
            if results.iter().all(|(_, r)| r.is_ok()) {
                Ok(())
            } else {
                Err("some features are unavailable".into())
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("{reason}");
            ExitCode::FAILURE
        }
    }
}

/// [`run`] with other bodies (see [`WorkerBodies`]). Only the test worker passes anything but
/// the production bodies (its test-only job kinds and modes).
pub fn run_with(args: &[String], bodies: WorkerBodies) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    match parse(args) {
        Ok(WorkerArgs::Version) => {
            println!("{}", bodies.version);
            ExitCode::SUCCESS
        }
        Ok(WorkerArgs::Probe(probe)) => run_probe(probe),
        Ok(WorkerArgs::Execute {
            socket_path,
            worker_dir,
            node_version,
        }) => {
            match crate::execute_worker::run_execute_worker_with(
                &socket_path,
                &worker_dir,
                node_version.as_deref(),
                bodies,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => stopped("execute", e),
            }
        }
        Ok(WorkerArgs::Prepare {
            socket_path,
            worker_dir,
            node_version,
        }) => {
            match crate::run_prepare_worker_with(
                &socket_path,
                &worker_dir,
                node_version.as_deref(),
                bodies,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => stopped("prepare", e),
            }
        }
        Err(usage) => {
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}

/// Reports why a worker stopped and picks its exit code. A version mismatch gets its own
/// code, with this worker's version alone on stdout, so the host can tell the operator both
/// versions instead of respawning a worker that can never run.
fn stopped(flavour: &str, error: crate::WorkerError) -> ExitCode {
    tracing::error!(target: pvf_common::LOG_TARGET, "{flavour} worker stopped: {error}");
    eprintln!("{flavour} worker stopped: {error}");
    match error {
        crate::WorkerError::VersionMismatch { worker, .. } => {
            println!("{worker}");
            ExitCode::from(pvf_common::wire_names::VERSION_MISMATCH_EXIT_CODE)
        }
        _ => ExitCode::FAILURE,
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
        assert_eq!(
            parse(&args("--check-can-enable-seccomp")),
            Ok(WorkerArgs::Probe(Probe::Seccomp))
        );
        assert_eq!(
            parse(&args(
                "--check-can-unshare-user-namespace-and-change-root /d"
            )),
            Ok(WorkerArgs::Probe(Probe::ChangeRoot("/d".into())))
        );
        assert_eq!(
            parse(&args("--check-security-features --worker-dir-path /d")),
            Ok(WorkerArgs::Probe(Probe::All("/d".into())))
        );
        assert!(parse(&args("--check-security-features")).is_err());
    }

    #[test]
    fn parses_the_execute_subcommand_and_the_usage_names_both() {
        assert_eq!(
            parse(&args(
                "execute-worker --worker-dir-path /d --socket-path /s"
            )),
            Ok(WorkerArgs::Execute {
                socket_path: "/s".into(),
                worker_dir: "/d".into(),
                node_version: None
            })
        );
        let usage = parse(&args("bogus")).unwrap_err();
        assert!(usage.contains("prepare-worker --socket-path"), "{usage}");
        assert!(usage.contains("execute-worker --socket-path"), "{usage}");
    }
}
