//! Tests of [`super`]: real processes standing in for workers.

use super::*;

#[test]
fn a_short_command_is_done_when_it_exits_not_when_its_pipe_closes() {
    // The backgrounded sleep keeps stdout open after the shell exits.
    let mut child = Command::new("sh")
        .args(["-c", "sleep 3 & echo done"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(10);
    let (status, output) = finish_short_command(&mut child, stdout, deadline).unwrap();
    assert!(status.success());
    assert_eq!(output, b"done\n");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let mut endless = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = endless.stdout.take().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_millis(200);
    let error = finish_short_command(&mut endless, stdout, deadline).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert!(endless.try_wait().unwrap().is_some(), "killed and reaped");
}

/// A spawn config whose "worker" is `sh -c script`, with a long spawn timeout.
fn shell_worker(cache: &Path, script: &str) -> WorkerSpawnConfig {
    WorkerSpawnConfig {
        program: "/bin/sh".into(),
        args_prefix: vec!["-c".into(), script.into(), "sh".into()],
        cache_path: cache.to_path_buf(),
        spawn_timeout: Duration::from_secs(30),
        expected_worker_version: Some("1.0.0+build.ours".into()),
        security_status: SecurityStatus::default(),
        parallel_compilation: false,
        log_directives: Some("info,parachain=debug".into()),
    }
}

#[tokio::test]
async fn workers_get_the_configured_log_directives() {
    let cache = tempfile::tempdir().unwrap();
    let seen = cache.path().join("rust_log");
    let script = format!("printf %s \"$RUST_LOG\" > '{}'; exit 3", seen.display());
    let _ = spawn_prepare_worker(&shell_worker(cache.path(), &script)).await;
    let directives = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(directives, "info,parachain=debug");
}

#[tokio::test]
async fn a_worker_of_another_build_is_named_with_both_versions_at_once() {
    let cache = tempfile::tempdir().unwrap();
    let script = format!("echo 1.0.0+build.theirs; exit {VERSION_MISMATCH_EXIT_CODE}");
    let config = shell_worker(cache.path(), &script);
    let started = std::time::Instant::now();
    let err = spawn_prepare_worker(&config).await.unwrap_err();
    match &err {
        SpawnErr::VersionMismatch {
            worker, expected, ..
        } => {
            assert_eq!(worker, "1.0.0+build.theirs");
            assert_eq!(expected, "1.0.0+build.ours");
        }
        other => panic!("expected a version mismatch, got {other}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
}

#[tokio::test]
async fn a_worker_that_dies_at_start_is_noticed_before_the_spawn_timeout() {
    let cache = tempfile::tempdir().unwrap();
    let config = shell_worker(cache.path(), "exit 3");
    let started = std::time::Instant::now();
    let err = spawn_prepare_worker(&config).await.unwrap_err();
    assert!(
        matches!(&err, SpawnErr::ExitedBeforeConnecting { status, .. } if status.contains('3')),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    // The same exit code without a version check expected is no mismatch either.
    let mut unchecked = shell_worker(cache.path(), "exit 66");
    unchecked.expected_worker_version = None;
    let err = spawn_prepare_worker(&unchecked).await.unwrap_err();
    assert!(
        matches!(err, SpawnErr::ExitedBeforeConnecting { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_worker_that_dies_at_start_is_explained_by_its_last_stderr_lines() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = shell_worker(
        cache.path(),
        "echo 'loading config' >&2; echo 'error: libfoo.so: cannot open shared object' >&2; exit 127",
    );
    config.expected_worker_version = None;
    let text = spawn_prepare_worker(&config).await.unwrap_err().to_string();
    for needle in [
        "/bin/sh",
        "exited before connecting",
        "127",
        "loading config | error: libfoo.so",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
}

#[tokio::test]
async fn a_worker_that_never_connects_is_killed_and_explained_at_the_spawn_timeout() {
    let cache = tempfile::tempdir().unwrap();
    let pid_file = cache.path().join("pid");
    let script = format!(
        "echo $$ > '{}'; echo 'waiting for a licence server' >&2; exec sleep 60",
        pid_file.display()
    );
    let mut config = shell_worker(cache.path(), &script);
    config.spawn_timeout = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let err = spawn_prepare_worker(&config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    let text = err.to_string();
    assert!(matches!(err, SpawnErr::AcceptTimeout { .. }), "{text}");
    assert!(text.contains("did not connect within 500ms"), "{text}");
    assert!(
        text.contains("its stderr ended with: waiting for a licence server"),
        "{text}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the worker was killed and reaped"
    );
}

#[tokio::test]
async fn a_worker_that_exits_at_start_is_noticed_at_once_even_if_a_leftover_holds_its_output() {
    let cache = tempfile::tempdir().unwrap();
    let script = format!("sleep 10 & echo 1.0.0+build.theirs; exit {VERSION_MISMATCH_EXIT_CODE}");
    let config = shell_worker(cache.path(), &script);
    let started = std::time::Instant::now();
    let err = spawn_prepare_worker(&config).await.unwrap_err();
    // Before: the leftover sleep held stdout open for 10 s.
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert!(
        matches!(&err, SpawnErr::VersionMismatch { worker, .. } if worker == "1.0.0+build.theirs"),
        "{err}"
    );
}
