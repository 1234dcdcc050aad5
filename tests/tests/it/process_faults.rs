//! Faults of real worker and job processes in the middle of a job: the host reports the right
//! error, gets rid of the broken worker and serves the next job on a fresh one.
//!
//! A test finds its own worker as the child of this process whose command line names a worker
//! dir in the test's cache dir, and the worker's job process in
//! `/proc/<worker>/task/<worker>/children`.

use pvf_common::{PrecheckResult, PrepareError, PrepareJobKind};
use pvf_host::ValidationHost;
use pvf_tests::{poll_until, procs, pvf, slow_to_compile_pvf, start_host, test_pvf, test_worker};
use std::{
    path::Path,
    time::{Duration, Instant},
};
use tokio::task::JoinHandle;

const GENEROUS: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);
/// About 1.9 s of compilation in a debug build: long enough to be caught mid-job.
const SLOW_FUNCTIONS: usize = 400;

/// Starts a pre-check of a slow PVF with `timeout` on a clone of `host`.
fn start_slow_precheck(
    host: &ValidationHost,
    seed: u32,
    timeout: Duration,
) -> JoinHandle<PrecheckResult> {
    let host = host.clone();
    let slow = pvf(
        slow_to_compile_pvf(SLOW_FUNCTIONS, seed),
        PrepareJobKind::Prechecking,
        timeout,
    );
    tokio::spawn(async move { host.precheck_pvf(slow).await.expect("host alive") })
}

/// Waits until a worker of the host using `cache` runs a job; returns (worker, job) pids.
async fn worker_and_job(cache: &Path) -> (i32, i32) {
    poll_until(WAIT, "a worker with a running job", || {
        procs::workers_of(cache).into_iter().find_map(|worker| {
            let jobs = procs::task_children(worker);
            jobs.first().map(|&job| (worker, job))
        })
    })
    .await
}

/// After a fault: the old worker is gone (killed and reaped by the host), the next pre-check
/// succeeds on a replacement, and exactly two workers were ever spawned.
async fn next_job_runs_on_a_replacement(host: &ValidationHost, cache: &Path, old_worker: i32) {
    poll_until(WAIT, "the faulty worker to be gone", || {
        (!procs::is_alive(old_worker)).then_some(())
    })
    .await;
    let minimal = pvf(
        test_pvf("minimal-pvf.wat"),
        PrepareJobKind::Prechecking,
        GENEROUS,
    );
    assert_eq!(
        host.precheck_pvf(minimal).await.expect("host alive"),
        Ok(())
    );
    assert_eq!(host.counters().prepare.workers_spawned, 2);
    let workers = procs::workers_of(cache);
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_ne!(workers[0], old_worker);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_the_worker_mid_job_is_an_io_error() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let job = start_slow_precheck(&host, 1, GENEROUS);
    let (worker, _) = worker_and_job(cache.path()).await;

    procs::signal(worker, libc::SIGKILL);
    let result = tokio::time::timeout(WAIT, job)
        .await
        .expect("the job concludes")
        .unwrap();
    assert!(matches!(result, Err(PrepareError::IoErr(_))), "{result:?}");
    next_job_runs_on_a_replacement(&host, cache.path(), worker).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_the_job_process_is_job_died() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let job = start_slow_precheck(&host, 2, GENEROUS);
    let (worker, job_pid) = worker_and_job(cache.path()).await;

    procs::signal(job_pid, libc::SIGKILL);
    let result = tokio::time::timeout(WAIT, job)
        .await
        .expect("the job concludes")
        .unwrap();
    assert_eq!(
        result,
        Err(PrepareError::JobDied {
            err: "received signal: SIGKILL".into(),
            job_pid,
        })
    );
    next_job_runs_on_a_replacement(&host, cache.path(), worker).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_worker_hits_the_wall_clock_backstop() {
    let _process = pvf_tests::sharing_the_process();
    let prep_timeout = Duration::from_secs(1);
    let backstop = prep_timeout * pvf_common::JOB_TIMEOUT_WALL_CLOCK_FACTOR;
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let started = Instant::now();
    let job = start_slow_precheck(&host, 3, prep_timeout);
    let (worker, _) = worker_and_job(cache.path()).await;

    // The job goes on (and hits its CPU limit), but the stopped worker cannot pass its answer
    // on: only the host's wall-clock limit ends the wait. The host kills the worker; nothing
    // here resumes it.
    procs::signal(worker, libc::SIGSTOP);
    let result = tokio::time::timeout(WAIT, job)
        .await
        .expect("the job concludes")
        .unwrap();
    let elapsed = started.elapsed();
    eprintln!("stopped worker: TimedOut after {elapsed:?} (backstop {backstop:?})");
    assert_eq!(result, Err(PrepareError::TimedOut));
    assert!(
        elapsed >= backstop && elapsed < backstop + Duration::from_secs(10),
        "TimedOut after {elapsed:?}, the backstop is {backstop:?}"
    );
    next_job_runs_on_a_replacement(&host, cache.path(), worker).await;
}
