//! What an operator reads: whole reasons under `pvf prepare`'s table, and `--json` documents
//! of `prepare` and `security` parsed back.

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
