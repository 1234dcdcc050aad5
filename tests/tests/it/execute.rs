//! Execution through the whole host with real, sandboxed prepare and execute workers.

use pvf_common::{
    PrepareJobKind,
    execute::{InvalidCandidate, PossiblyInvalidError, ValidationError, ValidationParams},
};
use pvf_host::{Config, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::{
    adder::{Adder, pvd_pov},
    procs,
};
use std::{
    path::Path,
    time::{Duration, Instant},
};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");

fn host(cache: &Path, execute_workers: usize) -> ValidationHost {
    let mut config = Config::new(cache.into(), WORKER.into());
    config.execute_workers_max_num = execute_workers;
    pvf_tests::start_host_with(config)
}

async fn execute(
    host: &ValidationHost,
    code: &[u8],
    params: &ValidationParams,
    timeout: Duration,
) -> Result<Vec<u8>, ValidationError> {
    pvf_tests::execute_approval(host, compilation(code), params, timeout).await
}

/// `code` to prepare for execution.
fn compilation(code: &[u8]) -> pvf_common::PvfPrepData {
    pvf_tests::pvf(
        code.to_vec(),
        PrepareJobKind::Compilation,
        Duration::from_secs(60),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn adder_valid_and_invalid_blocks_and_100_concurrent_executions() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("adder through the host") else {
        return;
    };
    let adder = Adder::load(&corpus);
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), 2);
    pvf_tests::assert_fully_sandboxed(&host);
    assert_eq!(
        execute(&host, &adder.code, &adder.good, Duration::from_secs(5)).await,
        Ok(adder.expected.clone())
    );
    let bad = execute(&host, &adder.code, &adder.bad, Duration::from_secs(5)).await;
    assert!(
        matches!(
            bad,
            Err(ValidationError::Invalid(
                InvalidCandidate::WorkerReportedInvalid(_)
            ))
        ),
        "{bad:?}"
    );

    let started = Instant::now();
    let all = futures::future::join_all(
        (0..100).map(|_| execute(&host, &adder.code, &adder.good, Duration::from_secs(12))),
    )
    .await;
    eprintln!(
        "100 concurrent executions on 2 workers: {:?}",
        started.elapsed()
    );
    assert!(
        all.iter().all(|r| r.as_ref() == Ok(&adder.expected)),
        "{:?}",
        all.iter().find(|r| r.is_err())
    );
    assert_eq!(
        host.counters().prepare.jobs_started,
        1,
        "one preparation served every execution"
    );
    assert!(
        procs::workers_of(cache.path()).len() <= 3,
        "1 prepare + at most 2 execute workers"
    );
}

/// The approval through the validation layer's caller-side retry, as a node runs it (with a
/// short retry delay).
async fn execute_with_retry(
    host: &ValidationHost,
    code: &[u8],
    params: &ValidationParams,
    timeout: Duration,
) -> Result<Vec<u8>, ValidationError> {
    pvf_tests::execute_approval_with_retry(host, compilation(code), params, timeout).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_or_corrupted_artifact_is_prepared_again_never_invalid() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("artifact loss") else {
        return;
    };
    let adder = Adder::load(&corpus);
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), 1);
    let timeout = Duration::from_secs(12);
    let run = || execute(&host, &adder.code, &adder.good, timeout);
    assert_eq!(run().await, Ok(adder.expected.clone()));
    let artifacts = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pvf"))
            .collect()
    };
    let prepared = || host.counters().prepare.jobs_started;

    // A deleted file is ours to fix: the host prepares it again by itself.
    for artifact in artifacts() {
        std::fs::remove_file(artifact).unwrap();
    }
    assert_eq!(run().await, Ok(adder.expected.clone()));
    assert_eq!(prepared(), 2, "the deleted artifact was prepared again");

    // Corrupt the file and kill the execute worker, so that the next one has to load it.
    let corrupt_the_artifact = || async {
        let found = artifacts();
        assert_eq!(found.len(), 1, "{found:?}");
        let mut bytes = std::fs::read(&found[0]).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&found[0], bytes).unwrap();
        let execute_workers: Vec<i32> = procs::workers_of(cache.path())
            .into_iter()
            .filter(|pid| {
                procs::cmdline(*pid)
                    .unwrap_or_default()
                    .contains("execute-worker")
            })
            .collect();
        assert_eq!(execute_workers.len(), 1, "{execute_workers:?}");
        procs::signal(execute_workers[0], libc::SIGKILL);
        // Wait for the zombie state, not an empty command line: the kernel drops the command
        // line before it closes the dead process's sockets.
        pvf_tests::poll_until(
            Duration::from_secs(5),
            "the execute worker to be dead",
            || (!procs::is_alive(execute_workers[0])).then_some(()),
        )
        .await;
    };

    // The host alone answers with the error, as the reference's does, for an approval too: it
    // deletes the artifact but neither prepares it again nor reruns the job.
    corrupt_the_artifact().await;
    assert_eq!(
        run().await,
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::CorruptedArtifact
        ))
    );
    assert_eq!(artifacts(), Vec::<std::path::PathBuf>::new(), "deleted");
    assert_eq!(prepared(), 2, "the host did not prepare it again by itself");
    assert_eq!(run().await, Ok(adder.expected.clone()));
    assert_eq!(prepared(), 3, "the next request prepared it anew");

    // Through the validation layer, as a node runs an approval, a corrupted artifact is never
    // a vote: its retry prepares the artifact again (a pre-check) and runs the candidate once
    // more, with the time left.
    corrupt_the_artifact().await;
    assert_eq!(
        execute_with_retry(&host, &adder.code, &adder.good, timeout).await,
        Ok(adder.expected.clone())
    );
    assert_eq!(
        prepared(),
        4,
        "the retry prepared the corrupted artifact again"
    );

    // Backing gets one attempt in the host too: the error is the answer, nothing is rerun.
    corrupt_the_artifact().await;
    let executed = || host.counters().execute.jobs_started;
    let executed_before = executed();
    let (pvd, pov) = pvf_tests::adder::pvd_pov(&adder.good);
    let backing = host
        .execute_pvf(
            compilation(&adder.code),
            Duration::from_secs(2),
            pvd,
            pov,
            PvfExecKind::Backing([0xaa; 32]),
        )
        .await
        .expect("host alive");
    assert_eq!(
        backing,
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::CorruptedArtifact
        ))
    );
    assert_eq!(artifacts(), Vec::<std::path::PathBuf>::new(), "deleted");
    assert_eq!(prepared(), 4, "a backing job is never prepared again");
    assert_eq!(executed(), executed_before + 1, "nor run again");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_and_killed_workers_or_jobs_give_the_documented_classes() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), 1);
    let looping = pvf_tests::test_pvf("endless-loop.wat");
    let params = pvf_tests::empty_validation_params();
    let t = Duration::from_millis(500);
    let started = Instant::now();
    let result = execute(&host, &looping, &params, t).await;
    assert_eq!(
        result,
        Err(ValidationError::Invalid(InvalidCandidate::HardTimeout))
    );
    // Preparation of the tiny module is included; the execution itself is bounded by [t, 4t).
    assert!(
        started.elapsed() >= t && started.elapsed() < t * 4 + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let busy_execute_worker = || {
        procs::workers_of(cache.path())
            .into_iter()
            .filter(|p| {
                procs::cmdline(*p)
                    .unwrap_or_default()
                    .contains("execute-worker")
            })
            .find_map(|p| procs::task_children(p).first().map(|job| (p, *job)))
    };
    for kill_job in [false, true] {
        let running = execute(&host, &looping, &params, Duration::from_secs(20));
        let killer = async {
            // The worker running this job is the one with a job process: a worker killed
            // after the previous timeout may still be visible for a moment.
            let (worker, job) =
                pvf_tests::poll_until(Duration::from_secs(10), "a busy execute worker", || {
                    busy_execute_worker()
                })
                .await;
            let target = if kill_job { job } else { worker };
            procs::signal(target, libc::SIGKILL);
        };
        let (result, ()) = tokio::join!(running, killer);
        let expected_ok = match (&result, kill_job) {
            (
                Err(ValidationError::PossiblyInvalid(PossiblyInvalidError::AmbiguousJobDeath(e))),
                true,
            ) => e.contains("SIGKILL"),
            (
                Err(ValidationError::PossiblyInvalid(PossiblyInvalidError::AmbiguousWorkerDeath)),
                false,
            ) => true,
            _ => false,
        };
        assert!(expected_ok, "kill_job={kill_job}: {result:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_execute_worker_is_possibly_invalid_not_invalid() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), 1);
    let looping = pvf_tests::test_pvf("endless-loop.wat");
    let params = pvf_tests::empty_validation_params();
    // Prepare first, so the timing below is the execution alone.
    let pvf = pvf_tests::pvf(
        looping.clone(),
        PrepareJobKind::Compilation,
        Duration::from_secs(60),
    );
    host.prepare(pvf, pvf_host::Priority::Normal)
        .await
        .unwrap()
        .unwrap();
    let t = Duration::from_millis(500);
    let started = Instant::now();
    let running = execute(&host, &looping, &params, t);
    let staller = async {
        let worker =
            pvf_tests::poll_until(Duration::from_secs(10), "a busy execute worker", || {
                procs::workers_of(cache.path())
                    .into_iter()
                    .find(|p| !procs::task_children(*p).is_empty())
            })
            .await;
        // The job keeps running and its CPU-time monitor fires, but the stopped worker can
        // neither see that nor answer.
        procs::signal(worker, libc::SIGSTOP);
    };
    let (result, ()) = tokio::join!(running, staller);
    assert_eq!(
        result,
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::WorkerStalled(t * pvf_common::JOB_TIMEOUT_WALL_CLOCK_FACTOR)
        ))
    );
    assert!(
        started.elapsed() < t * 4 + Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backing_jobs_whose_relay_parent_left_the_view_are_dropped() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = host(cache.path(), 1);
    let params = pvf_tests::empty_validation_params();
    let (pvd, pov) = pvd_pov(&params);
    let (old, new) = ([1u8; 32], [2u8; 32]);
    host.update_active_leaves(Some(old), vec![], vec![])
        .await
        .unwrap();
    let job = |code: Vec<u8>, kind: PvfExecKind, timeout: Duration| {
        let pvf = pvf_tests::pvf(code, PrepareJobKind::Compilation, Duration::from_secs(60));
        host.execute_pvf(pvf, timeout, pvd.clone(), pov.clone(), kind)
    };
    // The only execute worker is busy with an approval that loops until its timeout.
    let busy = job(
        pvf_tests::test_pvf("endless-loop.wat"),
        PvfExecKind::Approval,
        Duration::from_secs(2),
    );
    // A backing job waits in the execute queue; another waits for a slow preparation.
    let queued = job(
        pvf_tests::test_pvf("minimal-pvf.wat"),
        PvfExecKind::Backing(old),
        Duration::from_secs(2),
    );
    let preparing = job(
        pvf_tests::slow_to_compile_pvf(300, 9),
        PvfExecKind::Backing(old),
        Duration::from_secs(2),
    );
    let still_live = job(
        pvf_tests::test_pvf("deep-recursion.wat"),
        PvfExecKind::BackingSystemParas(new),
        Duration::from_secs(2),
    );
    let switch = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        host.update_active_leaves(Some(new), vec![old], vec![])
            .await
            .unwrap();
    };
    let (busy, queued, preparing, still_live, ()) =
        tokio::join!(busy, queued, preparing, still_live, switch);
    assert_eq!(
        busy.unwrap(),
        Err(ValidationError::Invalid(InvalidCandidate::HardTimeout))
    );
    assert_eq!(queued.unwrap(), Err(ValidationError::ExecutionDeadline));
    assert_eq!(preparing.unwrap(), Err(ValidationError::ExecutionDeadline));
    // Its relay parent is live: it ran (and was invalid: the recursion exhausts the stack limit).
    assert!(matches!(
        still_live.unwrap(),
        Err(ValidationError::Invalid(_))
    ));
}

/// The level `ext_logging_max_level_version_1` reports is the workers' log filter, as in
/// stable2609, whose workers get the node's directives (`info` unless told otherwise).
#[tokio::test(flavor = "multi_thread")]
async fn a_pvf_reads_the_log_level_the_node_gives_its_workers() {
    let _process = pvf_tests::sharing_the_process();
    let code = pvf_tests::test_pvf("reports-log-level.wat");
    let params = pvf_tests::empty_validation_params();
    let reported_level = |directives: &str| {
        let (code, params) = (code.clone(), params.clone());
        let directives = directives.to_string();
        async move {
            let cache = tempfile::tempdir().unwrap();
            let mut config = Config::new(cache.path().into(), WORKER.into());
            config.worker_log_directives = directives;
            let host = pvf_tests::start_host_with(config);
            let result = execute(&host, &code, &params, Duration::from_secs(10))
                .await
                .expect("valid");
            // The head data is the first field: compact length 1, then the level.
            assert_eq!(&result[..1], &[4]);
            result[1]
        }
    };
    // LogLevelFilter: 0 Off, 1 Error, 2 Warn, 3 Info, 4 Debug, 5 Trace.
    assert_eq!(reported_level("info").await, 3);
    assert_eq!(reported_level("info,parachain=trace").await, 5);
    assert_eq!(reported_level("off").await, 0);
}
