//! A worker binary that leaves a process behind holding its output (a wrapper script, a
//! helper it started) must not hold up the host: start-up reads the worker's `--version` and
//! its probes' verdicts when they exit, not when their pipes close.

use std::{
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const PVF: &str = env!("CARGO_BIN_EXE_pvf");

#[test]
fn a_worker_whose_descendant_holds_its_output_does_not_hold_up_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("worker-with-a-lingering-child.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nsleep 20 &\nexec {PVF} worker \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let wasm = dir.path().join("minimal.wasm");
    std::fs::write(&wasm, pvf_tests::test_pvf("minimal-pvf.wat")).unwrap();
    let started = Instant::now();
    let output = Command::new(PVF)
        .args(["prepare", "--precheck", "--workers-path"])
        .arg(&script)
        .arg(&wasm)
        .stdin(Stdio::null())
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
