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
