//! The `pvf` binary end to end: error rows, exit codes and the metrics endpoint.

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
fn validate_prints_json_and_exit_codes_tell_valid_invalid_and_error_apart() {
    let dir = tempfile::tempdir().unwrap();
    let looping = dir.path().join("loop.wasm");
    std::fs::write(&looping, pvf_tests::test_pvf("endless-loop.wat")).unwrap();
    let empty_params =
        "0x0000010000000000000000000000000000000000000000000000000000000000000000000000";
    let output = Command::new(PVF)
        .args([
            "validate",
            looping.to_str().unwrap(),
            "--params",
            empty_params,
            "--timeout",
            "0.3",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("hard timeout"));

    let output = Command::new(PVF)
        .args(["validate", looping.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--params"));

    let Some(corpus) = pvf_tests::corpus_dir_or_skip("validate the adder") else {
        return;
    };
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("vectors/adder-vectors.json")).unwrap())
            .unwrap();
    let vector = &vectors["vectors"][0];
    let params = format!(
        "0x{}",
        vector["validation_params_scale_hex"].as_str().unwrap()
    );
    let adder = corpus.join("pvf/test-parachain-adder.gossamer.wasm");
    let output = Command::new(PVF)
        .args(["validate", adder.to_str().unwrap(), "--params", &params])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verdict"], "valid");
    assert_eq!(
        json["scale"].as_str().unwrap(),
        format!(
            "0x{}",
            vector["expected_validation_result_scale_hex"]
                .as_str()
                .unwrap()
        )
    );
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
fn validate_takes_its_timeout_from_the_sessions_executor_params() {
    let dir = tempfile::tempdir().unwrap();
    let looping = dir.path().join("loop.wasm");
    std::fs::write(&looping, pvf_tests::test_pvf("endless-loop.wat")).unwrap();
    let empty_params =
        "0x0000010000000000000000000000000000000000000000000000000000000000000000000000";
    // ExecutorParams [PvfExecTimeout(Backing, 300 ms)]: variant 6, kind 0, u64 LE.
    let session = "0x0406002c01000000000000";
    let validate = |extra: &[&str]| {
        let mut args = vec![
            "validate",
            looping.to_str().unwrap(),
            "--params",
            empty_params,
        ];
        args.extend_from_slice(extra);
        let started = std::time::Instant::now();
        let output = Command::new(PVF).args(&args).output().unwrap();
        (output, started.elapsed())
    };
    let (output, took) = validate(&["--kind", "backing", "--executor-params", session]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("hard timeout") && stdout.contains("\"vote\": \"invalid\""));
    // The default would have let the loop burn 2 s of CPU time, hence at least 2 s of wall
    // time; the session's 300 ms stopped it sooner (start-up included).
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");

    let (output, _) = validate(&["--executor-params", "0x0406"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--executor-params does not decode"),
        "{stderr}"
    );
}

/// `--receipt`: the adder's good block as a candidate whose V2 receipt commits to it, then the
/// same receipt with one commitment changed, and a receipt with trailing bytes.
#[test]
fn validate_with_a_receipt_prints_the_vote() {
    use parity_scale_codec::{Decode, Encode};
    use pvf_validation::{
        candidate::{Hash, ParaId, PersistedValidationData},
        receipt::{self, CommittedInputs, DescriptorLayout},
    };
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("validate the adder with a receipt") else {
        return;
    };
    let adder = pvf_tests::adder::Adder::load(&corpus);
    let (pvd, pov) = pvf_tests::adder::pvd_pov(&adder.good);
    let relay_pvd = PersistedValidationData::decode(&mut &pvd.encode()[..]).unwrap();
    let result = pvf_common::execute::ValidationResult::decode(&mut &adder.expected[..]).unwrap();
    let inputs = CommittedInputs {
        para_id: ParaId::new(100),
        relay_parent: Hash::repeat_byte(1),
        pvd: &relay_pvd,
        pov: &pov,
        code: &adder.code,
        para_head: &result.head_data.0,
    };
    let layout = DescriptorLayout::V2 {
        core_index: 3,
        session_index: 11,
    };
    let descriptor = receipt::descriptor(layout, &inputs);
    let honest = receipt::receipt(descriptor.clone(), &receipt::commitments(&result).unwrap());
    let mut other = result.clone();
    other.processed_downward_messages += 1;
    let dishonest = receipt::receipt(descriptor, &receipt::commitments(&other).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let code_path = dir.path().join("adder.wasm");
    std::fs::write(&code_path, &adder.code).unwrap();
    let hex = |bytes: Vec<u8>| format!("0x{}", hex::encode(bytes));
    let run = |receipt: String| {
        let output = Command::new(PVF)
            .args(["validate", code_path.to_str().unwrap(), "--kind", "backing"])
            .args(["--pvd", &hex(pvd.encode()), "--pov", &hex(pov.encode())])
            .args(["--receipt", &receipt])
            .output()
            .unwrap();
        let json = serde_json::from_slice::<serde_json::Value>(&output.stdout).ok();
        (
            output.status.code(),
            json,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, json, stderr) = run(hex(honest.encode()));
    assert_eq!(code, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["vote"], "valid");
    assert_eq!(json["head_data"], hex(result.head_data.0.clone()));
    let (code, json, stderr) = run(hex(dishonest.encode()));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(json.unwrap()["kind"], "CommitmentsHashMismatch");
    let mut trailing = honest.encode();
    trailing.push(0);
    let (code, _, stderr) = run(hex(trailing));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--receipt does not decode"), "{stderr}");
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

/// A PVF that burns CPU time in a loop of `iterations`, then returns an empty
/// `ValidationResult` (12 zero bytes at 256).
fn busy_pvf(iterations: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (local $i i32)
    (local.set $i (i32.const {iterations}))
    (loop $again
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $again (local.get $i)))
    (i64.const 0xc00000100)))"#
    ))
    .unwrap()
}

/// A small synthetic PoV file: a 4-byte block and a PVD with an 8-byte parent head.
fn synthetic_pov_file() -> (
    pvf_common::execute::PoV,
    pvf_common::execute::PersistedValidationData,
    Vec<u8>,
) {
    use pvf_common::execute::{BlockData, HeadData, PersistedValidationData, PoV};
    let pov = PoV {
        block_data: BlockData(vec![1, 2, 3, 4]),
    };
    let pvd = PersistedValidationData {
        parent_head: HeadData(vec![0xAB; 8]),
        relay_parent_number: 7,
        relay_parent_storage_root: [3; 32],
        max_pov_size: 5 * 1024 * 1024,
    };
    let bytes = pvf_validation::pov_file::encode(&pov, &pvd);
    (pov, pvd, bytes)
}

fn run_validate(args: &[&str]) -> (Option<i32>, Option<serde_json::Value>, String) {
    let output = Command::new(PVF)
        .arg("validate")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        serde_json::from_slice(&output.stdout).ok(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `--pov-file`: the verdict with the CPU time against both limits, the PoV sizes and the
/// decoded result; a file with bytes left over or cut short is refused naming the part.
#[test]
fn validate_reads_a_collators_pov_file() {
    use parity_scale_codec::Encode;
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("busy.wasm");
    std::fs::write(&code, busy_pvf(150_000_000)).unwrap();
    let code = code.to_str().unwrap();
    let (pov, _, bytes) = synthetic_pov_file();
    let file = dir.path().join("0xabcd_12.pov");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();

    let (code_, json, stderr) = run_validate(&[code, "--pov-file", file, "--kind", "backing"]);
    assert_eq!(code_, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["verdict"], "valid", "{json:#}");
    let result = &json["validation_result"];
    assert_eq!(result["head_data"], "0x", "{json:#}");
    assert_eq!(result["upward_messages"], 0);
    assert_eq!(result["horizontal_messages"], 0);
    assert_eq!(result["new_validation_code"], false);
    assert_eq!(result["processed_downward_messages"], 0);
    assert_eq!(result["hrmp_watermark"], 0);
    let sizes = &json["pov_file"]["pov_size"];
    assert_eq!(sizes["encoded"], pov.encoded_size(), "{json:#}");
    assert_eq!(sizes["block_data"], 4);
    assert_eq!(sizes["decompressed"], 4);
    assert_eq!(sizes["within_max_pov_size"], true);
    assert_eq!(
        json["pov_file"]["persisted_validation_data"]["relay_parent_number"],
        7
    );
    let cpu = &json["cpu_time"];
    assert_eq!(cpu["backing_limit"], 2.0, "{json:#}");
    assert_eq!(cpu["approval_limit"], 12.0);
    assert_eq!(cpu["this_run_limit"], 2.0);
    // The loop burns measurable CPU time (the resolution is 10 ms), well within 2 s.
    let seconds = cpu["seconds"].as_f64().expect("CPU time measured");
    assert!((0.02..2.0).contains(&seconds), "{json:#}");
    assert_eq!(cpu["within_backing"], true);
    // A job process maps at least the runtime, the module and its 17-page memory: more than
    // 1 MiB, and nothing this PVF does needs a GiB.
    let peak = json["peak_memory"]["job_max_rss_kib"]
        .as_u64()
        .expect("peak memory measured");
    assert!((1024..1024 * 1024).contains(&peak), "{json:#}");

    let mut trailing = bytes.clone();
    trailing.push(0);
    let cut = &bytes[..bytes.len() - 1];
    for (contents, message) in [
        (
            &trailing[..],
            "1 bytes are left over after the PoV and the PersistedValidationData",
        ),
        (
            cut,
            &format!(
                "the PersistedValidationData after the PoV ({} bytes) does not decode",
                pov.encoded_size()
            )[..],
        ),
        (&[][..], "the PoV at the start of the file does not decode"),
    ] {
        let bad = dir.path().join("bad.pov");
        std::fs::write(&bad, contents).unwrap();
        let (code_, _, stderr) = run_validate(&[code, "--pov-file", bad.to_str().unwrap()]);
        assert_eq!(code_, Some(2), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
    let (code_, _, stderr) = run_validate(&[code, "--pov-file", file, "--params", "00"]);
    assert_eq!(code_, Some(2));
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// `--cache-dir`: the second validation of the same PVF adopts the first one's artifact.
/// `--pvd`/`--pov` take hex without `0x` when no such file exists.
#[test]
fn validate_reuses_its_cache_dir_and_takes_hex_without_0x() {
    use parity_scale_codec::Encode;
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("busy.wasm");
    std::fs::write(&code, busy_pvf(1000)).unwrap();
    let code = code.to_str().unwrap();
    let cache = dir.path().join("cache");
    let (pov, pvd, _) = synthetic_pov_file();
    let (pvd_hex, pov_hex) = (hex::encode(pvd.encode()), hex::encode(pov.encode()));
    let args = [
        code,
        "--pvd",
        &pvd_hex,
        "--pov",
        &pov_hex,
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let artifacts = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pvf"))
            .map(|p| {
                let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
                (p, mtime)
            })
            .collect()
    };
    let (code_, json, stderr) = run_validate(&args);
    assert_eq!(code_, Some(0), "{stderr}");
    assert_eq!(json.unwrap()["preparations"], 1);
    let first = artifacts();
    assert_eq!(first.len(), 1, "{first:?}");
    let (code_, json, stderr) = run_validate(&args);
    assert_eq!(code_, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["preparations"], 0, "compiled again: {json:#}");
    assert_eq!(artifacts(), first, "the artifact was rewritten");

    // A file of that name wins over hex; neither is an error that says so.
    let pvd_file = dir.path().join(&pvd_hex[..8]);
    std::fs::write(&pvd_file, pvd.encode()).unwrap();
    let (code_, _, stderr) = run_validate(&[
        code,
        "--pvd",
        pvd_file.to_str().unwrap(),
        "--pov",
        &format!("0x{pov_hex}"),
    ]);
    assert_eq!(code_, Some(0), "{stderr}");
    let (code_, _, stderr) = run_validate(&[code, "--pvd", "no-such-file.bin", "--pov", &pov_hex]);
    assert_eq!(code_, Some(2));
    assert!(
        stderr.contains("--pvd: \"no-such-file.bin\" is neither a readable file"),
        "{stderr}"
    );
}

/// The adder's good block as a collator would export it: valid, with the expected head.
#[test]
fn validate_runs_the_adder_from_a_pov_file() {
    use parity_scale_codec::Decode;
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("validate the adder from a PoV file") else {
        return;
    };
    let adder = pvf_tests::adder::Adder::load(&corpus);
    let (pvd, pov) = pvf_tests::adder::pvd_pov(&adder.good);
    let expected = pvf_common::execute::ValidationResult::decode(&mut &adder.expected[..]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("adder.wasm");
    std::fs::write(&code, &adder.code).unwrap();
    let file = dir.path().join("adder.pov");
    std::fs::write(&file, pvf_validation::pov_file::encode(&pov, &pvd)).unwrap();
    let (code_, json, stderr) =
        run_validate(&[code.to_str().unwrap(), "--pov-file", file.to_str().unwrap()]);
    assert_eq!(code_, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["verdict"], "valid");
    assert_eq!(
        json["validation_result"]["head_data"],
        format!("0x{}", hex::encode(&expected.head_data.0))
    );
    assert_eq!(
        json["validation_result"]["hrmp_watermark"],
        expected.hrmp_watermark
    );
    assert_eq!(json["scale"], format!("0x{}", hex::encode(&adder.expected)));
    assert_eq!(
        json["pov_file"]["pov_size"]["block_data"],
        adder.good.block_data.0.len()
    );

    // With --receipt the whole candidate validation runs on the file's PoV and PVD.
    use parity_scale_codec::Encode;
    use pvf_validation::{
        candidate::{Hash, ParaId, PersistedValidationData},
        receipt::{self, CommittedInputs, DescriptorLayout},
    };
    let relay_pvd = PersistedValidationData::decode(&mut &pvd.encode()[..]).unwrap();
    let inputs = CommittedInputs {
        para_id: ParaId::new(100),
        relay_parent: Hash::repeat_byte(1),
        pvd: &relay_pvd,
        pov: &pov,
        code: &adder.code,
        para_head: &expected.head_data.0,
    };
    let layout = DescriptorLayout::V2 {
        core_index: 3,
        session_index: 11,
    };
    let honest = receipt::receipt(
        receipt::descriptor(layout, &inputs),
        &receipt::commitments(&expected).unwrap(),
    );
    let receipt_hex = hex::encode(honest.encode());
    let (code_, json, stderr) = run_validate(&[
        code.to_str().unwrap(),
        "--pov-file",
        file.to_str().unwrap(),
        "--kind",
        "backing",
        "--receipt",
        &receipt_hex,
    ]);
    assert_eq!(code_, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["vote"], "valid", "{json:#}");
    assert_eq!(
        json["head_data"],
        format!("0x{}", hex::encode(&expected.head_data.0))
    );
}
