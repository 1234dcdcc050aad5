//! The `pvf` binary end to end: error rows, exit codes, the metrics endpoint and the cache
//! commands (`pvf validate` is in validate.rs).

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const PVF: &str = env!("CARGO_BIN_EXE_pvf");

#[test]
fn each_bad_input_gets_its_own_row_and_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wasm");
    let not_wasm = dir.path().join("not-wasm.bin");
    let bomb = dir.path().join("bomb.wasm");
    let invalid = dir.path().join("invalid.wasm");
    let missing = dir.path().join("missing.wasm");
    std::fs::write(&good, pvf_tests::test_pvf("minimal-pvf.wat")).unwrap();
    std::fs::write(&not_wasm, b"definitely not wasm").unwrap();
    let limit = pvf_common::blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT;
    std::fs::write(
        &bomb,
        pvf_common::blob::compress(&vec![0u8; limit as usize + 1], limit + 1).unwrap(),
    )
    .unwrap();
    // Valid header, truncated body.
    std::fs::write(&invalid, b"\0asm\x01\0\0\0\x01\x05\x01").unwrap();
    let output = Command::new(PVF)
        .arg("prepare")
        .args([&missing, &not_wasm, &bomb, &invalid, &good])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name} in\n{stdout}"))
            .to_string()
    };
    assert!(
        row("missing.wasm").contains("error: cannot read"),
        "{stdout}"
    );
    assert!(row("not-wasm.bin").contains("Prevalidation"), "{stdout}");
    assert!(
        row("bomb.wasm").contains("CouldNotDecompressCodeBlob"),
        "{stdout}"
    );
    assert!(row("invalid.wasm").contains("Prevalidation"), "{stdout}");
    assert!(row("good.wasm").contains(" ok"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("4 of 5 inputs failed"));
}

#[test]
fn good_inputs_exit_zero_when_compiling_and_prechecking() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wasm");
    std::fs::write(&good, pvf_tests::test_pvf("minimal-pvf.wat")).unwrap();
    for extra in [vec![], vec!["--precheck".to_string()]] {
        let output = Command::new(PVF)
            .arg("prepare")
            .arg(&good)
            .args(&extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn bad_flags_are_refused_cleanly() {
    for args in [
        &["prepare", "--workers", "0"][..],
        &["prepare", "--timeout", "-1"][..],
    ] {
        let output = Command::new(PVF).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
    }
    let output = Command::new(PVF)
        .args(["prepare", "--workers-path", "/nonexistent/worker"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot run the worker"));
}

fn scrape(addr: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn metrics_are_served_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow.wasm");
    std::fs::write(&slow, pvf_tests::slow_to_compile_pvf(300, 1)).unwrap();
    let port = 20000 + (std::process::id() % 20000) as u16;
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(PVF)
        .args(["prepare", "--metrics-addr", &addr])
        .arg(&slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while Instant::now() < deadline && seen.is_none() {
        if let Some(body) = scrape(&addr).filter(|b| b.contains("polkadot_pvf_worker_spawned")) {
            seen = Some(body);
        } else if child.try_wait().unwrap().is_some() {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.wait();
    let body = seen.expect("the metrics endpoint answered while the job ran");
    assert!(body.contains("polkadot_pvf_prepare_enqueued"), "{body}");
}

#[test]
fn cache_list_verify_and_prune() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (a, b) = (dir.path().join("a.wasm"), dir.path().join("b.wasm"));
    let minimal = pvf_tests::test_pvf("minimal-pvf.wat");
    std::fs::write(&a, &minimal).unwrap();
    std::fs::write(&b, pvf_tests::with_custom_section(&minimal, "b", b"b")).unwrap();
    let prepared = Command::new(PVF)
        .args(["prepare", "--cache-dir"])
        .arg(&cache)
        .args([&a, &b])
        .output()
        .unwrap();
    assert!(prepared.status.success(), "{prepared:?}");
    let cache_cmd = |args: &[&str]| {
        let output = Command::new(PVF)
            .arg("cache")
            .args(args)
            .arg("--cache-dir")
            .arg(&cache)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.code(), stdout)
    };
    let artifacts: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pvf"))
        .collect();
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    // Another engine's artifact: listed, marked, never counted as usable.
    std::fs::write(cache.join(format!("0x{}.pvf", "ab".repeat(64))), b"old").unwrap();

    let (code, stdout) = cache_cmd(&["list"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(stdout.matches("  match").count(), 2, "{stdout}");
    assert!(
        stdout.contains("removed at next start: unknown name"),
        "{stdout}"
    );
    assert!(stdout.contains("2 usable artifacts"), "{stdout}");

    let (code, stdout) = cache_cmd(&["verify"]);
    assert_eq!(
        (code, stdout.contains("2 sound, 0 corrupt")),
        (Some(0), true),
        "{stdout}"
    );
    let mut bytes = std::fs::read(&artifacts[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&artifacts[0], bytes).unwrap();
    let (code, stdout) = cache_cmd(&["verify"]);
    assert_eq!(
        (code, stdout.contains("1 sound, 1 corrupt")),
        (Some(1), true),
        "{stdout}"
    );
    let (code, _) = cache_cmd(&["verify", "--remove-corrupt"]);
    assert_eq!(code, Some(1));
    assert!(!artifacts[0].exists());

    let (code, stdout) = cache_cmd(&["prune", "--max-size", "0", "--stale", "--dry-run"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("would free 2 artifacts"), "{stdout}");
    assert!(artifacts[1].exists());
    let (code, _) = cache_cmd(&["prune", "--older-than", "1d"]);
    assert_eq!(code, Some(0));
    assert!(artifacts[1].exists(), "used just now");
    let (code, stdout) = cache_cmd(&["prune", "--max-size", "0", "--stale"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(!artifacts[1].exists());
    let (_, stdout) = cache_cmd(&["list"]);
    assert!(stdout.contains("0 usable artifacts"), "{stdout}");
    let (code, _) = cache_cmd(&["prune"]);
    assert_eq!(code, Some(2), "nothing to prune by is an error");
}

#[test]
fn cache_commands_that_delete_wait_for_or_refuse_a_locked_cache_dir() {
    use pvf_host::cache_dir::{CacheDirLock, LOCK_FILE_NAME};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path();
    // A file `prune --stale` removes (a legacy artifact name).
    let stale = cache.join("wasmtime_polkadot_v1.0.0_0xab");
    std::fs::write(&stale, b"x").unwrap();
    let cache_arg = cache.to_str().unwrap();
    let pvf = |args: &[&str]| {
        Command::new(PVF)
            .arg("cache")
            .args(args)
            .args(["--cache-dir", cache_arg])
            .output()
            .unwrap()
    };

    // This test process holds the lock, as a running host does.
    let held = CacheDirLock::acquire(cache, None).unwrap();
    for args in [&["prune", "--stale"][..], &["verify", "--remove-corrupt"]] {
        let output = pvf(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for part in [
            cache_arg.to_string(),
            format!("pid {}", std::process::id()),
            "--wait-for-cache-lock".into(),
        ] {
            assert!(stderr.contains(&part), "{args:?}: {part:?} not in {stderr}");
        }
    }
    assert!(stale.exists(), "removed while the dir was locked");
    // Reading needs no lock.
    for args in [
        &["list"][..],
        &["verify"],
        &["prune", "--stale", "--dry-run"],
    ] {
        let output = pvf(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
    assert!(stale.exists());

    // Asked to wait, it runs once the holder lets go.
    let mut waiting = Command::new(PVF)
        .args(["cache", "prune", "--stale", "--wait-for-cache-lock"])
        .args(["--cache-dir", cache_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(waiting.try_wait().unwrap().is_none(), "did not wait");
    assert!(stale.exists());
    drop(held);
    let status = waiting.wait().unwrap();
    assert!(status.success());
    assert!(!stale.exists());
    assert!(
        !cache.join(LOCK_FILE_NAME).exists(),
        "the lock file goes with the lock"
    );
}
