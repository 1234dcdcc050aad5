//! A worker binary replaced by another build while the host runs: the host stops for good
//! and says why, instead of respawning a worker that can never run while executions wait.
//!
//! The workers path is a script that runs the test worker; swapping the script for one that
//! runs it in `other-version` mode is what an in-place upgrade does to a running node.

use pvf_common::PrepareJobKind;
use pvf_host::{Config, FatalError, HostError, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::{adder::pvd_pov, pvf, test_pvf, test_worker, with_custom_section};
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

const GENEROUS: Duration = Duration::from_secs(60);
const OTHER_BUILD: &str = "0.0.1+build.0123456789abcdef";

/// Writes (atomically, as a package manager does) a script at `path` that runs the test
/// worker with `args` before the host's.
fn install_worker_script(path: &Path, args: &str) {
    let staged = path.with_extension("new");
    let script = format!(
        "#!/bin/sh\nexec {} {args} \"$@\"\n",
        test_worker!().display()
    );
    std::fs::write(&staged, script).unwrap();
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

async fn execute_minimal(host: &ValidationHost, nonce: u8) -> Result<(), HostError> {
    let code = with_custom_section(&test_pvf("minimal-pvf.wat"), "nonce", &[nonce]);
    let (pvd, pov) = pvd_pov(&pvf_tests::empty_validation_params());
    let pvf = pvf(code, PrepareJobKind::Compilation, GENEROUS);
    host.execute_pvf(pvf, GENEROUS, pvd, pov, PvfExecKind::Approval)
        .await
        .map(|_| ())
}

fn assert_names_the_mismatch(error: &HostError) {
    match error {
        HostError::Fatal(FatalError::WorkerVersionMismatch {
            worker, expected, ..
        }) => {
            assert_eq!(worker, OTHER_BUILD);
            assert_eq!(expected, pvf_common::BUILD_VERSION);
        }
        other => panic!("expected the worker version mismatch, got {other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("restart the node"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_binary_swapped_for_another_build_stops_the_host_with_both_versions() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let worker: PathBuf = dir.path().join("worker");
    install_worker_script(&worker, "");
    let mut config = Config::new(cache.clone(), worker.clone());
    config.execute_workers_max_num = 1;
    let host = pvf_tests::start_host_with(config);
    // The prepare worker of this build is up and works.
    let minimal = pvf(
        test_pvf("minimal-pvf.wat"),
        PrepareJobKind::Prechecking,
        GENEROUS,
    );
    assert_eq!(host.precheck_pvf(minimal).await, Ok(Ok(())));
    assert_eq!(host.fatal_error(), None);

    install_worker_script(&worker, &format!("other-version {OTHER_BUILD}"));
    let entered = host.fatal_error_entered();
    // Both executions prepare on the running prepare worker, then need an execute worker,
    // which is now of the other build.
    let (first, second) = tokio::join!(execute_minimal(&host, 1), execute_minimal(&host, 2));
    assert_names_the_mismatch(&first.unwrap_err());
    assert_names_the_mismatch(&second.unwrap_err());
    let reason = tokio::time::timeout(Duration::from_secs(5), entered)
        .await
        .expect("the fatal state is observable");
    assert_names_the_mismatch(&HostError::Fatal(reason));
    assert!(host.fatal_error().is_some());

    // Later requests of every kind get the reason at once.
    let later = pvf(
        test_pvf("minimal-pvf.wat"),
        PrepareJobKind::Prechecking,
        GENEROUS,
    );
    assert_names_the_mismatch(&host.precheck_pvf(later).await.unwrap_err());
    assert_names_the_mismatch(&host.heads_up(Vec::new()).await.unwrap_err());
    // The spawns that raced into the other build failed (a second prepare worker for the two
    // compilations, the execute worker, or both); after that nothing spawns any more, and no
    // worker of the other build ever ran.
    let at_fatal = host.counters();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counters = host.counters();
    assert_eq!(counters, at_fatal, "spawning went on after the fatal state");
    let failures = counters.prepare.spawn_failures + counters.execute.spawn_failures;
    assert!((1..=2).contains(&failures), "{counters:?}");
    assert_eq!(counters.prepare.workers_spawned, 1, "{counters:?}");
    assert_eq!(counters.execute.workers_spawned, 0, "{counters:?}");
    assert!(
        pvf_tests::procs::workers_of(&cache).is_empty(),
        "workers outlived the fatal state"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_of_another_build_at_start_is_refused_with_both_versions() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker");
    install_worker_script(&worker, &format!("other-version {OTHER_BUILD}"));
    let config = Config::new(dir.path().to_path_buf(), worker);
    let err = pvf_host::start(config)
        .err()
        .expect("the host refuses to start");
    let text = err.to_string();
    assert!(
        text.contains(OTHER_BUILD) && text.contains(pvf_common::BUILD_VERSION),
        "{text}"
    );
}
