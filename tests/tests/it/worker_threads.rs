//! The single-thread rule, end to end: a worker with a second thread refuses to fork jobs,
//! under the full sandbox (its `/proc/self/task` was opened before `/proc` vanished).
//!
//! The test worker's `extra-thread` mode starts a parked thread after the sandbox and before
//! the first job. Without the worker's check, its jobs would fork and compile as usual.

use pvf_common::{PrepareError, PrepareJobKind};
use pvf_host::{Config, ValidationHost};
use pvf_tests::{pvf, start_host_with, test_pvf, test_worker, with_custom_section};
use std::{path::Path, time::Duration};

const GENEROUS: Duration = Duration::from_secs(60);

/// A host whose workers run the test worker, in `mode` if given.
fn host(cache: &Path, mode: Option<&str>) -> ValidationHost {
    let mut config = Config::new(cache.to_path_buf(), test_worker!());
    config.prepare_worker_args_prefix = mode.into_iter().map(String::from).collect();
    let host = start_host_with(config);
    pvf_tests::assert_fully_sandboxed(&host);
    host
}

/// Pre-checks the minimal PVF, made distinct by `nonce` so that no answer comes from a cache.
async fn precheck_minimal(host: &ValidationHost, nonce: u8) -> Result<(), PrepareError> {
    let code = with_custom_section(&test_pvf("minimal-pvf.wat"), "nonce", &[nonce]);
    let minimal = pvf(code, PrepareJobKind::Prechecking, GENEROUS);
    host.precheck_pvf(minimal).await.expect("host alive")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_with_two_threads_refuses_to_fork_a_job() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), Some("extra-thread"));
    for nonce in 0..2 {
        let result = precheck_minimal(&host, nonce).await;
        match &result {
            Err(err @ PrepareError::Kernel(msg)) => {
                assert!(
                    msg.contains("worker has 2 threads") && msg.contains("single-threaded"),
                    "{msg}"
                );
                assert!(!err.is_deterministic());
            }
            other => panic!("expected the more-than-one-thread refusal, got {other:?}"),
        }
    }
    // A refusal is the worker's answer, not a fault: the same worker answers again.
    assert_eq!(host.counters().prepare.workers_spawned, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_threaded_worker_prepares() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), None);
    assert_eq!(precheck_minimal(&host, 0).await, Ok(()));
    assert_eq!(precheck_minimal(&host, 1).await, Ok(()));
}
