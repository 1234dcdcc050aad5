//! One host per cache dir: a second host on a dir in use fails at start (or waits when asked)
//! and deletes nothing, so the first keeps its running compilation.

use pvf_common::PrepareJobKind::Compilation;
use pvf_host::{Config, Priority, StartError};
use pvf_tests::{
    dir_entries, poll_until, procs, pvf, slow_to_compile_pvf, start_host, test_worker,
};
use std::time::{Duration, Instant};

const GENEROUS: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);

fn worker_dirs(cache: &std::path::Path) -> Vec<String> {
    dir_entries(cache)
        .into_iter()
        .filter(|n| n.starts_with(pvf_host::cache_dir::WORKER_DIR_PREFIX))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_host_on_a_busy_cache_dir_fails_and_the_first_keeps_its_work() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let first = start_host(cache.path(), test_worker!());
    let slow = pvf(slow_to_compile_pvf(400, 71), Compilation, GENEROUS);
    let busy = {
        let first = first.clone();
        tokio::spawn(async move { first.prepare(slow, Priority::Normal).await })
    };
    poll_until(WAIT, "a worker running the slow job", || {
        procs::workers_of(cache.path())
            .into_iter()
            .find(|&worker| !procs::task_children(worker).is_empty())
    })
    .await;
    let dirs_before = worker_dirs(cache.path());
    assert!(!dirs_before.is_empty());

    // Today's host would sweep the first one's worker dir here.
    let path = cache.path().to_path_buf();
    let second =
        tokio::task::spawn_blocking(move || pvf_host::start(Config::new(path, test_worker!())))
            .await
            .unwrap();
    let err = match second {
        Err(err) => err,
        Ok(_) => panic!("a second host started on a cache dir in use"),
    };
    assert!(
        matches!(&err, StartError::CacheDirLocked { path, holder }
            if path == cache.path() && holder.0 == Some(std::process::id())),
        "{err:?}"
    );
    let message = err.to_string();
    for part in [
        cache.path().display().to_string(),
        format!("pid {}", std::process::id()),
        "--wait-for-cache-lock".to_string(),
    ] {
        assert!(message.contains(&part), "{part:?} not in: {message}");
    }
    for dir in &dirs_before {
        assert!(
            worker_dirs(cache.path()).contains(dir),
            "{dir} was wiped by the second host"
        );
    }

    let artifact = busy
        .await
        .unwrap()
        .expect("host alive")
        .expect("the first host's preparation survives the second host");
    assert!(artifact.path.is_file());
    tokio::task::spawn_blocking(move || drop(first))
        .await
        .unwrap();

    // Released with the first host: the next one starts and keeps the artifact.
    let path = cache.path().to_path_buf();
    let third = tokio::task::spawn_blocking(move || start_host(&path, test_worker!()))
        .await
        .unwrap();
    assert!(artifact.path.is_file());
    tokio::task::spawn_blocking(move || drop(third))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_asked_to_wait_starts_once_the_holder_stops() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let first = start_host(cache.path(), test_worker!());

    let path = cache.path().to_path_buf();
    let started = Instant::now();
    let waiting = tokio::task::spawn_blocking(move || {
        let mut config = Config::new(path, test_worker!());
        config.cache_lock_wait = Some(GENEROUS);
        pvf_host::start(config).map(|host| (host, started.elapsed()))
    });
    let hold = Duration::from_millis(700);
    tokio::time::sleep(hold).await;
    assert!(!waiting.is_finished(), "started while the dir was held");
    tokio::task::spawn_blocking(move || drop(first))
        .await
        .unwrap();
    let (second, waited) = waiting
        .await
        .unwrap()
        .expect("starts once the lock is free");
    assert!(waited >= hold, "{waited:?}");
    tokio::task::spawn_blocking(move || drop(second))
        .await
        .unwrap();

    // A bounded wait ends with the lock error.
    let holder = start_host(cache.path(), test_worker!());
    let mut config = Config::new(cache.path().into(), test_worker!());
    config.cache_lock_wait = Some(Duration::from_millis(200));
    let started = Instant::now();
    let err = tokio::task::spawn_blocking(move || pvf_host::start(config).err())
        .await
        .unwrap();
    assert!(
        matches!(err, Some(StartError::CacheDirLocked { .. })),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    tokio::task::spawn_blocking(move || drop(holder))
        .await
        .unwrap();
}
