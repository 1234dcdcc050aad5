//! Workers that cannot start (a broken install, a binary that hangs at start) and workers
//! that leave something running: requests are answered with the reason within a bound, the
//! host recovers by itself once a worker starts again, and dropping the host returns in time.
//!
//! The workers path is a script that runs the test worker for the host's start-up checks
//! (`--version`, the sandbox probes) but hangs instead of serving one kind of worker.

use pvf_common::PrepareJobKind;
use pvf_host::{Config, HostError, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::{adder::pvd_pov, pvf, test_pvf, test_worker, with_custom_section};
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

const GENEROUS: Duration = Duration::from_secs(60);
const SPAWN_TIMEOUT: Duration = Duration::from_millis(500);
/// Three failed spawns of 0.5 s with 0.25 s and 0.5 s of back-off between them, and room for
/// a loaded machine.
const ANSWER_BOUND: Duration = Duration::from_secs(8);

/// Writes (atomically) a worker script at `path` that hangs, after a line on stderr, when
/// asked to be a `stuck` worker (`prepare-worker` or `execute-worker`), and otherwise runs
/// the test worker.
fn install_worker_script(path: &Path, stuck: Option<&str>) {
    let staged = path.with_extension("new");
    let hang = match stuck {
        Some(subcommand) => format!(
            "if [ \"$1\" = {subcommand} ]; then echo 'worker: waiting for a licence server' >&2; exec sleep 600; fi\n"
        ),
        None => String::new(),
    };
    let script = format!(
        "#!/bin/sh\n{hang}exec {} \"$@\"\n",
        test_worker!().display()
    );
    std::fs::write(&staged, script).unwrap();
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

fn host_with_worker_script(dir: &Path, stuck: Option<&str>) -> (ValidationHost, PathBuf) {
    let cache = dir.join("cache");
    std::fs::create_dir(&cache).unwrap();
    let worker = dir.join("worker");
    install_worker_script(&worker, stuck);
    let mut config = Config::new(cache, worker.clone());
    config.prepare_worker_spawn_timeout = SPAWN_TIMEOUT;
    config.execute_workers_max_num = 1;
    (pvf_tests::start_host_with(config), worker)
}

fn minimal(kind: PrepareJobKind, nonce: u8) -> pvf_common::PvfPrepData {
    let code = with_custom_section(&test_pvf("minimal-pvf.wat"), "nonce", &[nonce]);
    pvf(code, kind, GENEROUS)
}

async fn execute(host: &ValidationHost, nonce: u8) -> Result<(), HostError> {
    let (pvd, pov) = pvd_pov(&pvf_tests::empty_validation_params());
    let pvf = minimal(PrepareJobKind::Compilation, nonce);
    host.execute_pvf(pvf, GENEROUS, pvd, pov, PvfExecKind::Approval)
        .await
        .map(|_| ())
}

/// The error names the kind, the failure, what the worker said and what to check.
fn assert_explains(error: &HostError, flavour: &str) {
    let HostError::WorkersUnavailable(why) = error else {
        panic!("expected workers unavailable, got {error:?}");
    };
    assert_eq!(why.flavour, flavour);
    let text = error.to_string();
    for needle in [
        &format!("no {flavour} worker could be started"),
        "did not connect within 500ms",
        "waiting for a licence server",
        "workers path",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prepare_worker_that_never_connects_answers_within_the_bound_and_recovers() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let (host, worker) = host_with_worker_script(dir.path(), Some("prepare-worker"));

    let started = Instant::now();
    let error = host
        .precheck_pvf(minimal(PrepareJobKind::Prechecking, 1))
        .await
        .unwrap_err();
    assert!(started.elapsed() < ANSWER_BOUND, "{:?}", started.elapsed());
    assert_explains(&error, "prepare");
    assert!(host.workers_unavailable().is_some());

    // Asked again, it answers at once and queues nothing.
    let again = Instant::now();
    let error = host
        .precheck_pvf(minimal(PrepareJobKind::Prechecking, 2))
        .await
        .unwrap_err();
    assert!(again.elapsed() < Duration::from_secs(1));
    assert_explains(&error, "prepare");

    // The operator fixes the install; the background retries start a worker.
    install_worker_script(&worker, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.workers_unavailable().is_some() {
        assert!(Instant::now() < deadline, "the host never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let verdict = host
        .precheck_pvf(minimal(PrepareJobKind::Prechecking, 3))
        .await;
    assert_eq!(verdict, Ok(Ok(())));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_execution_waiting_for_a_preparation_that_cannot_start_is_answered() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = host_with_worker_script(dir.path(), Some("prepare-worker"));
    let started = Instant::now();
    let (first, second) = tokio::join!(execute(&host, 1), execute(&host, 2));
    assert!(started.elapsed() < ANSWER_BOUND, "{:?}", started.elapsed());
    assert_explains(&first.unwrap_err(), "prepare");
    assert_explains(&second.unwrap_err(), "prepare");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_execute_worker_that_never_connects_answers_executions_within_the_bound() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = host_with_worker_script(dir.path(), Some("execute-worker"));
    let started = Instant::now();
    let error = execute(&host, 1).await.unwrap_err();
    assert!(started.elapsed() < ANSWER_BOUND, "{:?}", started.elapsed());
    assert_explains(&error, "execute");
    // Preparation does not need execute workers: it still works.
    let verdict = host
        .precheck_pvf(minimal(PrepareJobKind::Prechecking, 2))
        .await;
    assert_eq!(verdict, Ok(Ok(())));
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_host_returns_in_time_whatever_its_workers_left_running() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let worker = dir.path().join("worker");
    let pids = dir.path().join("leftovers");
    // Each worker leaves a process behind that holds its stdout and stderr and ignores the
    // polite signals.
    let script = format!(
        "#!/bin/sh\n(trap '' TERM INT HUP; exec sh -c 'echo $$ >> {}; exec sleep 30') &\nexec {} \"$@\"\n",
        pids.display(),
        test_worker!().display()
    );
    std::fs::write(&worker, script).unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = pvf_tests::start_host(&cache, worker);
    let (verdict, executed) = tokio::join!(
        host.precheck_pvf(minimal(PrepareJobKind::Prechecking, 1)),
        execute(&host, 2)
    );
    assert_eq!(verdict, Ok(Ok(())));
    executed.unwrap();
    let dropped = Instant::now();
    tokio::task::spawn_blocking(move || drop(host))
        .await
        .unwrap();
    let took = dropped.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "dropping the host took {took:?}"
    );
    // The leftovers are not ours to kill (they left our process tree's control when their
    // shell exited), but they held up nothing.
    for pid in std::fs::read_to_string(&pids).unwrap_or_default().lines() {
        if let Ok(pid) = pid.trim().parse::<i32>()
            && pvf_tests::procs::is_alive(pid)
        {
            pvf_tests::procs::signal(pid, libc::SIGKILL);
        }
    }
}
