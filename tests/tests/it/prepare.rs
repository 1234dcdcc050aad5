//! Preparation through the real host with real worker processes: verdicts, limits, the cache
//! dir, coalescing, priorities and clean shutdown.

use pvf_common::{
    ExecutorParam, ExecutorParams, PrepareError, PrepareJobKind, prepare::ArtifactChecksum,
    wire_names::TMP_ARTIFACT_FILE_NAME,
};
use pvf_host::{Config, Priority, ValidationHost};
use pvf_tests::{
    dir_entries, find_named, poll_until, procs, pvf, pvf_with_params, slow_to_compile_pvf,
    start_host, start_host_with, test_pvf, test_worker, with_custom_section,
};
use std::{
    os::unix::fs::PermissionsExt,
    time::{Duration, Instant},
};

use PrepareJobKind::{Compilation, Prechecking};

const GENEROUS: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);

fn minimal() -> Vec<u8> {
    test_pvf("minimal-pvf.wat")
}

async fn precheck_ok(host: &ValidationHost, code: Vec<u8>) {
    let result = host
        .precheck_pvf(pvf(code, Prechecking, GENEROUS))
        .await
        .expect("host alive");
    assert_eq!(result, Ok(()));
}

#[tokio::test(flavor = "multi_thread")]
async fn precheck_and_prepare_succeed_and_the_artifact_is_on_disk() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    precheck_ok(&host, minimal()).await;

    let success = host
        .prepare(pvf(minimal(), Compilation, GENEROUS), Priority::Normal)
        .await
        .expect("host alive")
        .expect("minimal PVF prepares");
    let bytes = std::fs::read(&success.path)
        .unwrap_or_else(|e| panic!("artifact {} unreadable: {e}", success.path.display()));
    assert_eq!(
        success.size,
        bytes.len() as u64,
        "reported size is the file's length"
    );
    assert_eq!(success.checksum, ArtifactChecksum::of(&bytes));
    assert_eq!(success.path.parent(), Some(cache.path()));
    let name = success.path.file_name().unwrap().to_string_lossy();
    let parsed = pvf_host::cache_dir::ArtifactFileName::parse(&name).expect("our name format");
    assert_eq!(
        parsed.id,
        pvf_host::ArtifactId::from_pvf(&pvf(minimal(), Compilation, GENEROUS))
    );
    assert_eq!(parsed.checksum, success.checksum);
    assert_eq!(
        parsed.fingerprint,
        pvf_common::engine::EngineFingerprint::current()
    );
    // The prepare request found the artifact the pre-check produced.
    assert_eq!(host.counters().prepare.jobs_started, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_wasm_fails_prevalidation_deterministically() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let code = b"definitely not a wasm module".to_vec();
    let result = host
        .precheck_pvf(pvf(code.clone(), Prechecking, GENEROUS))
        .await
        .expect("host alive");
    let err = result.expect_err("invalid wasm must fail");
    assert!(matches!(err, PrepareError::Prevalidation(_)), "{err:?}");
    assert!(err.is_deterministic());
    // A deterministic failure is final: a prepare request gets it without another job.
    let again = host
        .prepare(pvf(code, Prechecking, GENEROUS), Priority::Critical)
        .await
        .expect("host alive");
    assert!(
        matches!(again, Err(PrepareError::Prevalidation(_))),
        "{again:?}"
    );
    assert_eq!(host.counters().prepare.jobs_started, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_compile_times_out_between_t_and_4t() {
    let _process = pvf_tests::sharing_the_process();
    let t = Duration::from_millis(500);
    // 400 functions take about 1.9 s of CPU to compile in a debug build (dependencies are
    // optimised), far more than t.
    let code = slow_to_compile_pvf(400, 1);
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    // Warm the worker so the measurement is the job, not the spawn.
    precheck_ok(&host, minimal()).await;

    let started = Instant::now();
    let result = host
        .precheck_pvf(pvf(code, Prechecking, t))
        .await
        .expect("host alive");
    let elapsed = started.elapsed();
    eprintln!("timeout test: t = {t:?}, TimedOut after {elapsed:?}");
    assert_eq!(result, Err(PrepareError::TimedOut));
    assert!(
        elapsed >= t && elapsed < t * 4,
        "timed out after {elapsed:?}, expected within [{t:?}, {:?})",
        t * 4
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prechecking_max_memory_is_enforced() {
    let _process = pvf_tests::sharing_the_process();
    let limited = |bytes| ExecutorParams::from(vec![ExecutorParam::PrecheckingMaxMemory(bytes)]);
    // About 3.7 MiB of peak tracked allocation. (The minimal PVF peaks near 120 KiB, under
    // any sensible tiny limit.)
    let code = slow_to_compile_pvf(20, 5);
    // Separate hosts: the memory limit is not part of the artifact id (it does not change the
    // compiled bytes), so one host would answer the second request from the first verdict.
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let small = pvf_with_params(code.clone(), limited(512 * 1024), Prechecking, GENEROUS);
    let result = host.precheck_pvf(small).await.expect("host alive");
    assert_eq!(result, Err(PrepareError::OutOfMemory));

    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let ample = pvf_with_params(code, limited(64 << 20), Prechecking, GENEROUS);
    let success = host
        .prepare(ample, Priority::Normal)
        .await
        .expect("host alive")
        .expect("fits in 64 MiB");
    let peak = success.stats.memory_stats.peak_tracked_alloc;
    assert!(
        (512 * 1024..64 << 20).contains(&peak),
        "peak tracked allocation {peak} B"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compiling_the_same_blob_twice_gives_identical_artifacts() {
    let _process = pvf_tests::sharing_the_process();
    let code = slow_to_compile_pvf(20, 3);
    let prepare_in_fresh_host = |code: Vec<u8>| async move {
        let cache = tempfile::tempdir().unwrap();
        let host = start_host(cache.path(), test_worker!());
        let success = host
            .prepare(pvf(code, Compilation, GENEROUS), Priority::Normal)
            .await
            .expect("host alive")
            .expect("prepares");
        let bytes = std::fs::read(&success.path).expect("artifact readable");
        (success.checksum, bytes)
    };
    let (first, second) = futures::join!(
        prepare_in_fresh_host(code.clone()),
        prepare_in_fresh_host(code)
    );
    assert_eq!(first.0, second.0, "checksums differ");
    assert!(first.1 == second.1, "artifact bytes differ");
    assert!(!first.1.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_wipes_stale_artifacts_and_worker_dirs_only() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let stale_artifact = cache.path().join(format!("0x{}.pvf", "ab".repeat(64)));
    let stale_worker_dir = cache.path().join("worker-dir-prepare-x");
    let foreign = cache.path().join("operator-notes.txt");
    std::fs::write(&stale_artifact, b"old artifact").unwrap();
    std::fs::create_dir(&stale_worker_dir).unwrap();
    std::fs::write(
        stale_worker_dir.join(TMP_ARTIFACT_FILE_NAME),
        b"half written",
    )
    .unwrap();
    std::fs::write(&foreign, b"keep me").unwrap();

    let host = start_host(cache.path(), test_worker!());
    assert!(!stale_artifact.exists(), "stale artifact survived");
    assert!(!stale_worker_dir.exists(), "stale worker dir survived");
    assert_eq!(std::fs::read(&foreign).unwrap(), b"keep me");
    // And the running host's lock file, which goes with the host.
    let mut entries = dir_entries(cache.path());
    entries.sort();
    assert_eq!(
        entries,
        vec![pvf_host::cache_dir::LOCK_FILE_NAME, "operator-notes.txt"]
    );
    precheck_ok(&host, minimal()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_prechecks_of_the_same_pvfs_compile_each_once() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    let base = minimal();
    let mut distinct = vec![base.clone()];
    distinct.extend((0u8..4).map(|i| with_custom_section(&base, "variant", &[i])));
    let checks = (0..20).map(|i| {
        let code = distinct[i % distinct.len()].clone();
        let host = host.clone();
        async move {
            host.precheck_pvf(pvf(code, Prechecking, GENEROUS))
                .await
                .expect("host alive")
        }
    });
    let results = futures::future::join_all(checks).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        host.counters().prepare.jobs_started,
        5,
        "one compilation per distinct PVF"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_critical_job_overtakes_queued_normal_ones() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let mut config = Config::new(cache.path().into(), test_worker!());
    config.prepare_workers_soft_max_num = 1;
    config.prepare_workers_hard_max_num = 1;
    let host = start_host_with(config);
    // A keeps the only worker busy for about 2.4 s; B, C and D take about 100 ms each, so the
    // completion order is the order in which the worker took them.
    let job = |functions, seed| pvf(slow_to_compile_pvf(functions, seed), Compilation, GENEROUS);
    let (a, b, c, d) = (job(500, 10), job(25, 20), job(25, 30), job(25, 40));

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let submit = |label: &'static str, pvf, priority| {
        let (host, done_tx) = (host.clone(), done_tx.clone());
        tokio::spawn(async move {
            let result = host.prepare(pvf, priority).await.expect("host alive");
            done_tx.send((label, result)).expect("collector alive");
        })
    };
    submit("A", a, Priority::Normal);
    poll_until(WAIT, "A to start on the worker", || {
        (host.counters().prepare.jobs_started == 1).then_some(())
    })
    .await;
    // Once `heads_up` returns, B and C wait in the Normal lane in this order; the prepare
    // requests below join those queued jobs.
    host.heads_up(vec![b.clone(), c.clone()])
        .await
        .expect("host alive");
    submit("B", b, Priority::Normal);
    submit("C", c, Priority::Normal);
    submit("D", d, Priority::Critical);

    let mut order = Vec::new();
    for _ in 0..4 {
        let (label, result) = tokio::time::timeout(WAIT, done_rx.recv())
            .await
            .expect("all jobs finish")
            .expect("senders alive");
        assert!(result.is_ok(), "{label}: {result:?}");
        order.push(label);
    }
    assert_eq!(order, ["A", "D", "B", "C"]);
    let counters = host.counters().prepare;
    assert_eq!((counters.jobs_started, counters.workers_spawned), (4, 1));
}

/// Drops the capabilities that let root ignore permission bits, on this thread only. Threads
/// started from here (the host thread, its blocking pool) inherit the reduced set, so the
/// host's rename into the cache dir obeys the mode bits. (Workers exec'd as root regain full
/// capabilities; that does not matter, they only write inside their own dir.)
fn drop_permission_bypass_capabilities() {
    use caps::{CapSet, Capability};
    for cap in [
        Capability::CAP_DAC_OVERRIDE,
        Capability::CAP_DAC_READ_SEARCH,
        Capability::CAP_FOWNER,
    ] {
        caps::drop(None, CapSet::Effective, cap)
            .unwrap_or_else(|e| panic!("cannot drop {cap} from the effective set: {e}"));
    }
}

#[test]
fn read_only_cache_dir_gives_rename_error_and_keeps_the_worker() {
    let _process = pvf_tests::sharing_the_process();
    // Capabilities are per thread: a dedicated thread keeps the other tests unaffected.
    std::thread::spawn(|| {
        drop_permission_bypass_capabilities();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(read_only_cache_dir_scenario());
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

async fn read_only_cache_dir_scenario() {
    let cache = tempfile::tempdir().unwrap();
    let host = start_host(cache.path(), test_worker!());
    // The worker (and its dir inside the cache dir) exists once a first job has run.
    precheck_ok(&host, minimal()).await;
    let [worker_dir] = &dir_entries(cache.path())
        .into_iter()
        .filter(|n| n.starts_with("worker-dir"))
        .map(|n| cache.path().join(n))
        .collect::<Vec<_>>()[..]
    else {
        panic!("expected one worker dir in {:?}", dir_entries(cache.path()));
    };

    let set_mode = |mode| {
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set_mode(0o555);
    let probe = std::fs::File::create(cache.path().join("probe"));
    if probe.is_ok() {
        set_mode(0o755);
        panic!("the read-only cache dir is still writable: capabilities were not dropped");
    }
    let variant = |i: u8| with_custom_section(&minimal(), "rename", &[i]);
    let second = host
        .prepare(pvf(variant(1), Compilation, GENEROUS), Priority::Normal)
        .await
        .expect("host alive");
    let worker_dir_left = dir_entries(worker_dir);
    set_mode(0o755);

    match &second {
        Err(PrepareError::RenameTmpFile { err, src, dest }) => {
            assert!(err.contains("ermission denied"), "{err}");
            assert!(
                src.as_deref()
                    .is_some_and(|s| s.ends_with(TMP_ARTIFACT_FILE_NAME)),
                "{src:?}"
            );
            assert!(
                dest.as_deref().is_some_and(|d| d.ends_with(".pvf")),
                "{dest:?}"
            );
        }
        other => panic!("expected RenameTmpFile, got {other:?}"),
    }
    assert!(
        worker_dir_left.is_empty(),
        "worker dir not cleared: {worker_dir_left:?}"
    );

    let third = host
        .prepare(pvf(variant(2), Compilation, GENEROUS), Priority::Normal)
        .await
        .expect("host alive");
    assert!(third.is_ok(), "{third:?}");
    let counters = host.counters().prepare;
    assert_eq!(
        counters.workers_spawned, 1,
        "the worker survived the rename error"
    );
    assert_eq!(counters.jobs_started, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_last_handle_leaves_no_files_or_processes() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let mut config = Config::new(cache.path().into(), test_worker!());
    config.prepare_workers_soft_max_num = 1;
    config.prepare_workers_hard_max_num = 2;
    let host = start_host_with(config);
    precheck_ok(&host, minimal()).await;

    // Leave a job running when the host goes: about 1.9 s of compilation.
    let busy = {
        let host = host.clone();
        let slow = pvf(slow_to_compile_pvf(400, 50), Compilation, GENEROUS);
        tokio::spawn(async move { host.prepare(slow, Priority::Critical).await })
    };
    let (busy_worker, job) = poll_until(WAIT, "a worker running the slow job", || {
        procs::workers_of(cache.path())
            .into_iter()
            .find_map(|worker| {
                let jobs = procs::task_children(worker);
                jobs.first().map(|&job| (worker, job))
            })
    })
    .await;
    let workers = procs::workers_of(cache.path());
    assert!(workers.contains(&busy_worker), "{workers:?}");
    busy.abort();
    assert!(busy.await.unwrap_err().is_cancelled());

    let clone = host.clone();
    drop(clone);
    tokio::task::spawn_blocking(move || drop(host))
        .await
        .unwrap();

    let leftovers: Vec<_> = dir_entries(cache.path())
        .into_iter()
        .filter(|n| n.starts_with("worker-dir") || n == TMP_ARTIFACT_FILE_NAME)
        .collect();
    assert!(leftovers.is_empty(), "left in the cache dir: {leftovers:?}");
    assert!(find_named(cache.path(), TMP_ARTIFACT_FILE_NAME).is_empty());
    let needle = cache.path().display().to_string();
    let children = procs::own_children_with_cmdline_containing(&needle);
    assert!(children.is_empty(), "worker processes left: {children:?}");
    // Killed and reaped, not left as zombies (a zombie's command line is empty).
    let me = std::process::id() as i32;
    for worker in workers {
        let state = procs::state_and_parent(worker);
        assert!(
            state.is_none_or(|(_, parent)| parent != me),
            "worker {worker} not reaped: {state:?}"
        );
    }
    // Job processes die with their worker (parent-death signal); give the kernel a moment.
    poll_until(WAIT, "job processes to die with their worker", || {
        (!procs::is_alive(job) && procs::with_cmdline_containing(&needle).is_empty()).then_some(())
    })
    .await;
}

#[test]
fn a_host_dropped_right_after_start_shuts_down_cleanly() {
    let _process = pvf_tests::sharing_the_process();
    // Regression: the host actor used to be started by the teardown itself, outside the
    // runtime, and panicked creating its pruning timer.
    static HOST_THREAD_PANICS: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("pvf-validation-host") {
            HOST_THREAD_PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        default_hook(info);
    }));
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..100 {
        drop(start_host(cache.path(), test_worker!()));
    }
    assert_eq!(
        HOST_THREAD_PANICS.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(
        dir_entries(cache.path()).is_empty(),
        "{:?}",
        dir_entries(cache.path())
    );
}
