//! What an operator reads: whole reasons under `pvf prepare`'s table, and `--json` documents
//! of `prepare`, `security` and `cache list`/`verify` parsed back.

use std::process::Command;

const PVF: &str = env!("CARGO_BIN_EXE_pvf");

/// A PVF that fails prevalidation with a long reason: `i32.extend8_s` (opcode 0xc0) is past
/// the MVP the reference's parser accepts.
fn post_mvp_pvf() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "validate_block") (param i32 i32) (result i64)
                (drop (i32.extend8_s (i32.const 1)))
                (i64.const 0)))"#,
    )
    .unwrap()
}

fn prepare(args: &[&str], files: &[&std::path::Path]) -> (Option<i32>, String, String) {
    let output = Command::new(PVF)
        .arg("prepare")
        .args(args)
        .args(files)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn prepare_prints_every_reason_whole_and_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wasm");
    let bad = dir.path().join("post-mvp.wasm");
    std::fs::write(&good, pvf_tests::test_pvf("minimal-pvf.wat")).unwrap();
    std::fs::write(&bad, post_mvp_pvf()).unwrap();

    let (code, stdout, stderr) = prepare(&["--precheck"], &[&good, &bad]);
    assert_eq!(code, Some(1), "{stderr}");
    let reasons = stdout
        .split_once("\nreasons:\n")
        .unwrap_or_else(|| panic!("no reasons under the table:\n{stdout}"))
        .1;
    let line = reasons
        .lines()
        .find(|l| l.contains("post-mvp.wasm"))
        .unwrap_or_else(|| panic!("no reason for the bad PVF:\n{stdout}"));
    assert!(line.contains("Prevalidation"), "{line}");
    assert!(!line.contains("..."), "the reason is cut: {line}");
    assert!(!reasons.contains("good.wasm"), "{reasons}");

    let (code, stdout, stderr) = prepare(&["--precheck", "--json"], &[&good, &bad]);
    assert_eq!(code, Some(1), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("--json is not one JSON document ({e}):\n{stdout}"));
    assert_eq!(json["failures"], 1);
    let inputs = json["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    let good_row = inputs
        .iter()
        .find(|r| r["name"].as_str().unwrap().ends_with("good.wasm"))
        .unwrap();
    assert_eq!(good_row["verdict"], "ok");
    assert_eq!(good_row["code_hash"].as_str().unwrap().len(), 66);
    assert!(good_row["cpu_time_s"].as_f64().unwrap() >= 0.0);
    let bad_row = inputs
        .iter()
        .find(|r| r["name"].as_str().unwrap().ends_with("post-mvp.wasm"))
        .unwrap();
    assert_eq!(
        bad_row["verdict"].as_str().unwrap(),
        line.split_once(": ").unwrap().1
    );
}

#[test]
fn security_json_names_every_feature() {
    let output = Command::new(PVF)
        .args(["security", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("--json is not one JSON document ({e}):\n{stdout}"));
    let features = json["features"].as_array().unwrap();
    assert!(features.len() >= 4, "{json}");
    for feature in features {
        assert!(feature["feature"].is_string(), "{feature}");
        let available = feature["available"].as_bool().unwrap();
        assert_eq!(feature["reason"].is_null(), available, "{feature}");
    }
    let mode = &json["secure_validator_mode"];
    let available = mode["available"].as_bool().unwrap();
    assert_eq!(output.status.code(), Some(if available { 0 } else { 1 }));
    assert_eq!(mode["reason"].is_null(), available);
}

fn cache_cmd(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let output = Command::new(PVF).arg("cache").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("cache {args:?} --json is not one JSON document ({e}):\n{stdout}\n{stderr}")
    });
    (output.status.code(), json, stderr)
}

/// `pvf cache list --json` and `pvf cache verify --json` on a dir `pvf prepare` filled: every
/// field of an artifact, a stale file, and a corrupt artifact reported, then removed.
#[test]
fn cache_list_and_verify_print_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wasm");
    std::fs::write(&good, pvf_tests::test_pvf("minimal-pvf.wat")).unwrap();
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    let (code, _, stderr) = prepare(&["--cache-dir", cache_arg, "--json"], &[&good]);
    assert_eq!(code, Some(0), "{stderr}");
    // A file of ours the host would not adopt: an artifact name of an older format.
    std::fs::write(cache.join("wasmtime_old.pvf"), b"old").unwrap();

    let (code, list, stderr) = cache_cmd(&["list", "--cache-dir", cache_arg, "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(list["cache_dir"], cache_arg);
    assert_eq!(list["engine_fingerprint"].as_str().unwrap().len(), 32);
    assert_eq!(list["usable_artifacts"], 1, "{list:#}");
    assert_eq!(list["stale_files"], 1, "{list:#}");
    assert_eq!(list["stale_size"], 3, "{list:#}");
    let entries = list["artifacts"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{list:#}");
    let usable = entries.iter().find(|e| e["status"] == "usable").unwrap();
    let file = usable["file"].as_str().unwrap();
    let path = std::path::PathBuf::from(usable["path"].as_str().unwrap());
    assert_eq!(path, cache.join(file));
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert_eq!(usable["size"], bytes);
    assert_eq!(list["usable_size"], bytes);
    assert!(usable["stale_reason"].is_null(), "{usable}");
    let code_hash = usable["code_hash"].as_str().unwrap();
    assert_eq!(code_hash.len(), 66);
    assert!(file.starts_with(&code_hash[2..]), "{usable}");
    assert_eq!(
        usable["executor_params_prep_hash"].as_str().unwrap().len(),
        66
    );
    assert_eq!(usable["engine_fingerprint"], list["engine_fingerprint"]);
    assert_eq!(usable["checksum"].as_str().unwrap().len(), 66);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let last_used = usable["last_used_unix_s"].as_u64().unwrap();
    assert!(last_used <= now && now - last_used < 600, "{usable}");
    let stale = entries.iter().find(|e| e["status"] == "stale").unwrap();
    assert_eq!(stale["file"], "wasmtime_old.pvf");
    assert_eq!(stale["stale_reason"], "unknown_name");
    assert!(stale["code_hash"].is_null(), "{stale}");

    let (code, verify, stderr) = cache_cmd(&["verify", "--cache-dir", cache_arg, "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(verify["cache_dir"], cache_arg);
    assert_eq!(
        (&verify["ok"], &verify["corrupt"], &verify["removed"]),
        (&1.into(), &0.into(), &0.into())
    );
    let entry = &verify["artifacts"][0];
    assert_eq!(entry["file"], file);
    assert_eq!(entry["code_hash"], code_hash);
    assert_eq!(entry["size"], bytes);
    assert_eq!(entry["status"], "ok");
    assert!(entry["reason"].is_null(), "{entry}");

    // One byte flipped: corrupt, and the exit code says so as without --json.
    let mut artifact = std::fs::read(&path).unwrap();
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0xff;
    std::fs::write(&path, &artifact).unwrap();
    let (code, verify, _) = cache_cmd(&["verify", "--cache-dir", cache_arg, "--json"]);
    assert_eq!(code, Some(1), "{verify:#}");
    assert_eq!(
        (&verify["ok"], &verify["corrupt"], &verify["removed"]),
        (&0.into(), &1.into(), &0.into())
    );
    let entry = &verify["artifacts"][0];
    assert_eq!(entry["status"], "corrupt");
    assert_eq!(entry["reason"], "checksum mismatch");
    let table = Command::new(PVF)
        .args(["cache", "verify", "--cache-dir", cache_arg])
        .output()
        .unwrap();
    assert_eq!(table.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&table.stdout).contains("CORRUPT"));

    let (code, verify, _) = cache_cmd(&[
        "verify",
        "--cache-dir",
        cache_arg,
        "--remove-corrupt",
        "--json",
    ]);
    assert_eq!(code, Some(1), "{verify:#}");
    assert_eq!(
        (&verify["ok"], &verify["corrupt"], &verify["removed"]),
        (&0.into(), &1.into(), &1.into())
    );
    assert_eq!(verify["artifacts"][0]["status"], "removed");
    assert_eq!(verify["artifacts"][0]["reason"], "checksum mismatch");
    assert!(!path.exists());
}
