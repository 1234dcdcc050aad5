//! SIGINT and SIGTERM to `pvf prepare` and `pvf validate` mid-compile: it exits 130 / 143 within 2 s, says what
//! it interrupted, and leaves no worker and no temporary cache dir behind.

use pvf_tests::procs;
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const PVF: &str = env!("CARGO_BIN_EXE_pvf");

/// Empty `ValidationParams` (head, block, relay parent 1, zero storage root), SCALE in hex.
const EMPTY_PARAMS: &str =
    "0x0000010000000000000000000000000000000000000000000000000000000000000000000000";

/// Runs `pvf <args> slow.wasm <more>` (a PVF of `functions` big functions: slow to compile),
/// sends SIGINT and then, in a second run, SIGTERM mid-compile, and checks: the signal's exit
/// code within 2 s, the one line naming what was interrupted (holding `says`), no worker
/// left, no temporary cache dir left.
fn interrupt_mid_compile(functions: usize, args: &[&str], more: &[&str], says: &str) {
    for (signal, name, code) in [
        (libc::SIGINT, "SIGINT", 130),
        (libc::SIGTERM, "SIGTERM", 143),
    ] {
        // The CLI's temp dir, so that what it leaves behind can be seen.
        let tmp = tempfile::tempdir().unwrap();
        let slow = tmp.path().join("slow.wasm");
        std::fs::write(&slow, pvf_tests::slow_to_compile_pvf(functions, 7)).unwrap();
        let mut child = Command::new(PVF)
            .args(args)
            .arg(&slow)
            .args(more)
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Its workers' command lines name their dirs inside the temporary cache dir.
        let needle = format!("{}/pvf-cache-", tmp.path().display());
        let deadline = Instant::now() + Duration::from_secs(30);
        while procs::with_cmdline_containing(&needle).is_empty() {
            assert!(Instant::now() < deadline, "no worker started");
            assert!(
                child.try_wait().unwrap().is_none(),
                "pvf {args:?} ended early"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the compilation start.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the compilation was too quick"
        );

        procs::signal(child.id() as i32, signal);
        let sent = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "{name}: still running"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = sent.elapsed();
        let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
        assert_eq!(status.code(), Some(code), "{name}: {stderr}");
        assert!(took < Duration::from_secs(2), "{name}: took {took:?}");
        let lines: Vec<_> = stderr
            .lines()
            .filter(|l| l.starts_with("interrupted by"))
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with(&format!("interrupted by {name}: ")),
            "{stderr}"
        );
        assert!(lines[0].contains(says), "{stderr}");
        // A job process killed through its parent-death signal may still be tearing down its
        // compiler's memory for a moment after `pvf` exits, on a loaded machine.
        let gone_by = Instant::now() + Duration::from_secs(2);
        while !procs::with_cmdline_containing(&needle).is_empty() && Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            procs::with_cmdline_containing(&needle),
            Vec::<i32>::new(),
            "{name}: a worker is left 2 s after pvf exited"
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("pvf-cache-"))
            .collect();
        assert!(left.is_empty(), "{name}: left behind {left:?}");
    }
}

#[test]
fn an_interrupted_prepare_cleans_up_and_exits_with_the_signals_code() {
    interrupt_mid_compile(
        400,
        &["prepare", "--precheck"],
        &[],
        "1 of 1 preparations unfinished",
    );
}

#[test]
fn an_interrupted_validate_cleans_up_and_exits_with_the_signals_code() {
    // Larger: compiling for execution is quicker than pre-checking.
    interrupt_mid_compile(
        1200,
        &["validate"],
        &["--params", EMPTY_PARAMS],
        "/slow.wasm unfinished (preparing)",
    );
}

/// When the host dies without cleaning up (SIGKILL), its workers notice the closed connection
/// and kill their running jobs at once, instead of compiling on for nobody.
#[test]
fn workers_of_a_killed_host_stop_their_jobs_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = tmp.path().join("slow.wasm");
    std::fs::write(&slow, pvf_tests::slow_to_compile_pvf(2000, 11)).unwrap();
    let mut child = Command::new(PVF)
        .args(["prepare", "--precheck", "--timeout", "600"])
        .arg(&slow)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let needle = format!("{}/pvf-cache-", tmp.path().display());
    // The worker and its job process (a clone of it, with the same command line).
    let deadline = Instant::now() + Duration::from_secs(30);
    while procs::with_cmdline_containing(&needle).len() < 2 {
        assert!(Instant::now() < deadline, "no job started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "pvf prepare ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the compilation was too quick"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    while !procs::with_cmdline_containing(&needle).is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "the worker or its job still runs {:?} after the host died",
            killed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
