//! `pvf validate` end to end: the JSON naming the vote, exit codes, timeouts from the session,
//! receipts, collator PoV files and a reused cache dir.

use std::process::Command;

const PVF: &str = env!("CARGO_BIN_EXE_pvf");

#[test]
fn validate_prints_json_and_exit_codes_tell_valid_invalid_and_error_apart() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let looping = write("loop.wasm", &pvf_tests::test_pvf("endless-loop.wat"));
    let empty_params =
        "0x0000010000000000000000000000000000000000000000000000000000000000000000000000";
    let (code, json, stderr) =
        run_validate(&[&looping, "--params", empty_params, "--timeout", "0.3"]);
    assert_eq!(code, Some(1), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["verdict"], "invalid");
    assert_eq!(json["error"], "invalid: hard timeout");
    assert_eq!(json["vote"], "invalid");
    assert_eq!(json["kind"], "Timeout");

    // A trap: an execution error, its message in the reason, the variant alone in the kind.
    let trapping = write(
        "trap.wasm",
        &pvf_tests::test_pvf("calls-stubbed-import.wat"),
    );
    let (code, json, stderr) = run_validate(&[&trapping, "--params", empty_params]);
    assert_eq!(code, Some(1), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["vote"], "invalid");
    assert_eq!(json["kind"], "ExecutionError");
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.starts_with("execution error: "), "{json}");

    // A PVF that does not prepare: the reference abstains (pre-checking should have caught it).
    let garbage = write("garbage.wasm", b"\0asm\x01\0\0\0garbage");
    let (code, json, stderr) =
        run_validate(&[&garbage, "--params", empty_params, "--kind", "dispute"]);
    assert_eq!(code, Some(2), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["verdict"], "preparation-error");
    assert_eq!(json["vote"], "abstain");
    let reason = json["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the PVF failed to prepare: prepare: prevalidation"),
        "{json}"
    );

    // WAT text: the same verdict as on chain, and a note saying how to assemble it.
    let text = write(
        "minimal.wat",
        include_bytes!("../../tests/pvfs/minimal-pvf.wat"),
    );
    let (code, json, stderr) = run_validate(&[&text, "--params", empty_params]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(json.unwrap()["vote"], "abstain");
    assert!(stderr.contains("is WebAssembly text (WAT)"), "{stderr}");
    assert!(stderr.contains("wasm-tools parse"), "{stderr}");

    let (code, _, stderr) = run_validate(&[&looping]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--params"), "{stderr}");

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
    let (code, json, stderr) = run_validate(&[adder.to_str().unwrap(), "--params", &params]);
    assert_eq!(code, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["vote"], "valid");
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
    use parity_scale_codec::Encode;
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("validate the adder with a receipt") else {
        return;
    };
    let adder = pvf_tests::adder::Adder::load(&corpus);
    let (pvd, pov) = pvf_tests::adder::pvd_pov(&adder.good);
    let result = adder.expected_result();
    let honest = v2_receipt(&pvd, &pov, &adder.code, &result);
    let mut other = result.clone();
    other.processed_downward_messages += 1;
    let dishonest = v2_receipt(&pvd, &pov, &adder.code, &other);

    let dir = tempfile::tempdir().unwrap();
    let code_path = dir.path().join("adder.wasm");
    std::fs::write(&code_path, &adder.code).unwrap();
    let hex = |bytes: Vec<u8>| format!("0x{}", hex::encode(bytes));
    let (pvd_hex, pov_hex) = (hex(pvd.encode()), hex(pov.encode()));
    let run_kind = |code: &std::path::Path, kind: &str, receipt: String| {
        let code = code.to_str().unwrap();
        let pvd_pov = ["--pvd", &pvd_hex, "--pov", &pov_hex];
        run_validate(
            &[
                &[code, "--kind", kind],
                &pvd_pov[..],
                &["--receipt", &receipt],
            ]
            .concat(),
        )
    };
    let run = |receipt: String| run_kind(&code_path, "backing", receipt);
    for kind in ["backing", "approval", "dispute"] {
        let (code, json, stderr) = run_kind(&code_path, kind, hex(honest.encode()));
        assert_eq!(code, Some(0), "{kind}: {stderr}");
        let json = json.unwrap();
        assert_eq!(json["vote"], "valid");
        assert_eq!(json["head_data"], hex(result.head_data.0.clone()));
    }
    let (code, json, stderr) = run(hex(dishonest.encode()));
    assert_eq!(code, Some(1), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["vote"], "invalid");
    assert_eq!(json["kind"], "CommitmentsHashMismatch");
    assert_eq!(
        json["reason"],
        "the commitments hash does not match the receipt"
    );
    // Code the receipt commits to but that does not prepare: no vote.
    let garbage = b"\0asm\x01\0\0\0garbage".to_vec();
    let garbage_path = dir.path().join("garbage.wasm");
    std::fs::write(&garbage_path, &garbage).unwrap();
    let garbage_receipt = v2_receipt(&pvd, &pov, &garbage, &result);
    let (code, json, stderr) = run_kind(&garbage_path, "approval", hex(garbage_receipt.encode()));
    assert_eq!(code, Some(2), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["vote"], "abstain", "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("the PVF failed to prepare"),
        "{json}"
    );
    let mut trailing = honest.encode();
    trailing.push(0);
    let (code, _, stderr) = run(hex(trailing));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--receipt does not decode"), "{stderr}");
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
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("validate the adder from a PoV file") else {
        return;
    };
    let adder = pvf_tests::adder::Adder::load(&corpus);
    let (pvd, pov) = pvf_tests::adder::pvd_pov(&adder.good);
    let expected = adder.expected_result();
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
    let honest = v2_receipt(&pvd, &pov, &adder.code, &expected);
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

/// A V2 receipt (para 100, core 3, session 11) committing to these inputs and `outputs`.
fn v2_receipt(
    pvd: &pvf_common::execute::PersistedValidationData,
    pov: &pvf_common::execute::PoV,
    code: &[u8],
    outputs: &pvf_common::execute::ValidationResult,
) -> pvf_validation::candidate::CandidateReceipt {
    use parity_scale_codec::{Decode, Encode};
    use pvf_validation::{
        candidate::{Hash, ParaId, PersistedValidationData},
        receipt::{self, CommittedInputs, DescriptorLayout},
    };
    let relay_pvd = PersistedValidationData::decode(&mut &pvd.encode()[..]).unwrap();
    let inputs = CommittedInputs {
        para_id: ParaId::new(100),
        relay_parent: Hash::repeat_byte(1),
        pvd: &relay_pvd,
        pov,
        code,
        para_head: &outputs.head_data.0,
    };
    let layout = DescriptorLayout::V2 {
        core_index: 3,
        session_index: 11,
    };
    receipt::receipt(
        receipt::descriptor(layout, &inputs),
        &receipt::commitments(outputs).unwrap(),
    )
}
