//! Differential conformance against the reference, without the reference: every input of
//! tests/conformance goes through our real host (pre-check, and execution for the execution
//! cases), and its verdict class must equal the one refbench recorded for the reference in
//! tests/conformance/expected.json (tools/conformance.sh runs both hosts side by side and
//! refreshes that file). Also the post-MVP opcodes that must fail prevalidation whatever the
//! executor parameters, end to end.

use pvf_tests::conformance as suite;

use pvf_common::{ExecutorParam, ExecutorParams, PrepareError, PrepareJobKind};
use pvf_host::Config;
use pvf_tests::{pvf_with_params, start_host_with, test_worker};
use std::time::{Duration, Instant};

/// Our execution timeout here. The reference's is 12 s; only the endless loop comes near any
/// limit, and it is `Invalid(HardTimeout)` either way. The long loop needs well under 1 s.
const EXEC_TIMEOUT: Duration = Duration::from_secs(4);

/// A host with two prepare and two execute workers, and its cache dir.
fn host() -> (tempfile::TempDir, pvf_host::ValidationHost) {
    let cache = tempfile::tempdir().unwrap();
    let mut config = Config::new(cache.path().into(), test_worker!());
    config.prepare_workers_soft_max_num = 2;
    config.execute_workers_max_num = 2;
    (cache, start_host_with(config))
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_verdicts_match_the_reference() {
    let _process = pvf_tests::sharing_the_process();
    let inputs = suite::load(&suite::inputs_dir());
    let expected = suite::Expected::load(&suite::expected_path());
    let (_cache, host) = host();
    let started = Instant::now();
    let ours = suite::run_ours(&host, &inputs, EXEC_TIMEOUT).await;
    eprintln!(
        "{} verdicts of {} inputs in {:.1?}",
        ours.len(),
        inputs.len(),
        started.elapsed()
    );
    let (matches, rows) = suite::differences(&expected.verdicts(), &ours);
    let mut report = String::new();
    for row in &rows {
        let ours = ours.iter().find(|v| v.kind == row[0] && v.name == row[1]);
        report.push_str(&format!(
            "{} {}: ours in full: {}\n",
            row[0],
            row[1],
            ours.map_or("(none)", |v| v.message.as_str())
        ));
    }
    assert!(
        rows.is_empty(),
        "{} of {} verdict classes differ from the reference's (reference \"(none)\": not \
         recorded yet; run tools/conformance.sh --record):\n{}\n{report}",
        rows.len(),
        matches + rows.len(),
        suite::table(&rows)
    );
}

/// The pvf-checker vote the validation layer casts on every bundled input, pre-checked through
/// a real host with the session's pre-check timeout and kind, is the one the reference's
/// recorded verdict implies: for on success, against as `Invalid` on a deterministic error,
/// against as `Failed` on any other.
#[tokio::test(flavor = "multi_thread")]
async fn precheck_votes_on_the_bundled_set_are_the_references() {
    use pvf_validation::precheck::precheck;
    let _process = pvf_tests::sharing_the_process();
    let inputs = suite::load(&suite::inputs_dir());
    let reference: std::collections::BTreeMap<String, String> =
        suite::Expected::load(&suite::expected_path())
            .verdicts()
            .into_iter()
            .filter(|v| v.kind == "precheck")
            .map(|v| (v.name, v.class))
            .collect();
    let (_cache, host) = host();
    let votes = inputs.iter().map(|input| {
        let host = host.clone();
        async move {
            let limit = pvf_common::blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT;
            let vote = precheck(&host, input.code.clone(), ExecutorParams::new(), limit).await;
            (input.name.clone(), vote)
        }
    });
    let votes = futures::future::join_all(votes).await;
    let (mut wrong, mut counted) = (Vec::new(), std::collections::BTreeMap::new());
    for (name, vote) in &votes {
        let Some(class) = reference.get(name) else {
            continue;
        };
        let expected = pvf_tests::reference_precheck_vote(class);
        let got = pvf_tests::precheck_vote_name(vote);
        *counted.entry(got).or_insert(0) += 1;
        if got != expected {
            wrong.push(format!(
                "{name}: the reference's {class} means {expected}, we vote {got}: {vote:?}"
            ));
        }
    }
    eprintln!("pre-check votes on the bundled set: {counted:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        counted.values().sum::<usize>(),
        reference.len(),
        "every recorded input voted on"
    );
}

/// Post-MVP opcodes and encodings: the reference's prevalidation parses with parity-wasm, with
/// none of its optional features, whatever the executor parameters say (`prevalidate` takes
/// no parameters; WasmExtBulkMemory only changes the compiler's settings). So even with
/// WasmExtBulkMemory, a blob with `memory.fill` never reaches the compiler.
#[tokio::test(flavor = "multi_thread")]
async fn post_mvp_opcodes_fail_prevalidation_whatever_the_params() {
    let _process = pvf_tests::sharing_the_process();
    let expected = suite::Expected::load(&suite::expected_path());
    let inputs = suite::load(&suite::inputs_dir());
    let (_cache, host) = host();
    let bulk = ExecutorParams::from(vec![ExecutorParam::WasmExtBulkMemory]);
    let cases = [
        ("signext-i32-extend8-s", ExecutorParams::new()),
        ("bulk-memory-fill", ExecutorParams::new()),
        ("bulk-memory-fill", bulk.clone()),
        ("bulk-memory-copy", bulk.clone()),
        ("satconv-i32-trunc-sat-f32-s", ExecutorParams::new()),
        ("satconv-i32-trunc-sat-f32-s", bulk.clone()),
        ("bulk-passive-data", ExecutorParams::new()),
        ("bulk-passive-data", bulk),
        ("multivalue-func-results", ExecutorParams::new()),
    ];
    let checks = cases.iter().map(|(name, params)| {
        let host = host.clone();
        let input = inputs
            .iter()
            .find(|i| i.name == *name)
            .unwrap_or_else(|| panic!("no input {name}"));
        let pvf = pvf_with_params(
            input.code.clone(),
            params.clone(),
            PrepareJobKind::Prechecking,
            suite::PREP_TIMEOUT,
        );
        async move {
            (
                name,
                params,
                host.precheck_pvf(pvf).await.expect("host alive"),
            )
        }
    });
    let mut failures = Vec::new();
    for (name, params, result) in futures::future::join_all(checks).await {
        let key = ("precheck".to_string(), name.to_string());
        let class = expected.classes.get(&key).map(String::as_str);
        assert_eq!(
            class,
            Some("Prevalidation"),
            "{name}: the recorded reference verdict"
        );
        let substring = expected.messages.get(&key).map_or("", String::as_str);
        match &result {
            Err(PrepareError::Prevalidation(message)) if message.contains(substring) => {}
            _ => failures.push(format!(
                "{name} with {params:?}: {result:?}, expected Prevalidation containing {substring:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
