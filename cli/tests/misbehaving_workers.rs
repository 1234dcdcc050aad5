//! Worker binaries that misbehave must not hold up or hide anything from the operator:
//!
//! - one that leaves a process behind holding its output (a wrapper script, a helper it
//!   started): start-up reads the worker's `--version` and its probes' verdicts when they
//!   exit, not when their pipes close, and workers do not share the CLI's stderr, so a caller
//!   reading it to its end is not held up either;
//! - one that never connects: `pvf prepare` fails with the reason after a few attempts.

use std::{
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const PVF: &str = env!("CARGO_BIN_EXE_pvf");

/// Writes an executable worker script `name` with `body` after the shebang.
fn worker_script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let script = dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// `pvf prepare --precheck` of the minimal test PVF with a worker script running `body`.
fn precheck_with_worker(dir: &std::path::Path, body: &str) -> Command {
    let script = worker_script(dir, "worker.sh", body);
    let wasm = dir.join("minimal.wasm");
    std::fs::write(&wasm, pvf_tests::test_pvf("minimal-pvf.wat")).unwrap();
    let mut command = Command::new(PVF);
    command
        .args(["prepare", "--precheck", "--workers-path"])
        .arg(&script)
        .arg(&wasm)
        .stdin(Stdio::null());
    command
}

/// A worker script that leaves a sleep behind holding its stdout and stderr.
fn leaves_a_sleep_behind() -> String {
    format!("sleep 20 &\nexec {PVF} worker \"$@\"\n")
}

#[test]
fn a_worker_whose_descendant_holds_its_output_does_not_hold_up_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = precheck_with_worker(dir.path(), &leaves_a_sleep_behind());
    let started = Instant::now();
    let output = command
        .stderr(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    let took = started.elapsed();
    assert!(output.success());
    // Before: a --version run and the probes each waited for the sleep to end (about 40 s).
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_caller_reading_the_cli_stderr_to_its_end_is_not_held_up_by_a_worker_leftover() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = precheck_with_worker(dir.path(), &leaves_a_sleep_behind());
    let started = Instant::now();
    // Reads stdout and stderr to end-of-file, as a pipeline or a supervisor does.
    let output = command.env("RUST_LOG", "info").output().unwrap();
    let took = started.elapsed();
    assert!(output.status.success(), "{output:?}");
    // Before: the leftover sleep held the CLI's stderr, which workers inherited, for 20 s.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_worker_that_never_connects_fails_pvf_prepare_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Start-up checks run the real worker; the prepare worker hangs after a word on stderr.
    let hangs = format!(
        "case \"$*\" in *prepare-worker*) echo 'cannot reach the licence server' >&2; exec sleep 600;; esac\nexec {PVF} worker \"$@\"\n"
    );
    let mut command = precheck_with_worker(dir.path(), &hangs);
    let started = Instant::now();
    let output = command.output().unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    // Three spawns of 3 s each, with back-off between them.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    for needle in [
        "no prepare worker could be started",
        "did not connect within 3s",
        "cannot reach the licence server",
        "workers path",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from: {stdout}");
    }
}
