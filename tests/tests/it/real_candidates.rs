//! Real Cumulus candidates (issue 15): blocks that `tools/candidate-gen` built offline for the
//! corpus runtimes, each with the `ValidationResult` the block builder computed, plus the
//! negative candidates derived from them. Every one goes through real, sandboxed workers from
//! its PoV file (the collator's export format), and must come back with exactly the expected
//! result bytes, or as invalid.
//!
//! The candidates derive from third-party runtimes and chain specs, so they are not in the
//! repository: the test reads `$PVF_CORPUS_DIR/candidates/*/vectors.json` (written by
//! `candidate-gen --out $PVF_CORPUS_DIR/candidates`, see its README) and skips with a message
//! when there are none, also under `CI=true` until the shared corpus carries them.

use parity_scale_codec::Decode;
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{ValidationError, ValidationParams},
};
use pvf_host::Config;
use pvf_tests::{corpus_dir_or_skip, start_host_with, test_worker};
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

const PREPARE_TIMEOUT: Duration = Duration::from_secs(360);
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(12);

/// One generated candidate, as `vectors.json` lists it.
struct Candidate {
    name: String,
    /// The `ValidationParams` the builder encoded.
    params: ValidationParams,
    /// The PoV file: SCALE `PoV` then SCALE `PersistedValidationData`.
    pov_file: PathBuf,
    /// `Some(result bytes)` for a valid block, `None` for one the PVF must reject.
    expected: Option<Vec<u8>>,
}

/// Every `candidates/*/vectors.json` under the corpus dir, sorted.
fn candidate_sets(corpus: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(corpus.join("candidates")) else {
        return Vec::new();
    };
    let mut sets: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path().join("vectors.json")))
        .filter(|p| p.is_file())
        .collect();
    sets.sort();
    sets
}

/// The runtime blob a set names: a file of that name in the corpus's `pvf/` or `relay/`, or
/// next to the set.
fn runtime_of(corpus: &Path, set: &Path, name: &str) -> PathBuf {
    let places = [
        corpus.join("pvf").join(name),
        corpus.join("relay").join(name),
        set.with_file_name(name),
    ];
    places
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("{}: no runtime file named {name}", set.display()))
}

fn load_set(set: &Path) -> (String, Vec<Candidate>) {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(set).expect("readable vectors.json"))
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", set.display()));
    let runtime = doc["runtime"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no \"runtime\"", set.display()))
        .to_owned();
    let hex_field = |v: &serde_json::Value, key: &str| {
        v[key]
            .as_str()
            .map(|h| hex::decode(h.trim_start_matches("0x")).expect("hex"))
    };
    let candidates = doc["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no \"vectors\"", set.display()))
        .iter()
        .map(|v| {
            let name = v["name"].as_str().expect("a vector name").to_owned();
            let params_bytes = hex_field(v, "validation_params_scale_hex").expect("params");
            let expected = hex_field(v, "expected_validation_result_scale_hex");
            assert!(
                expected.is_some()
                    || v["expected"]
                        .as_str()
                        .is_some_and(|e| e.starts_with("trap")),
                "{name}: neither an expected result nor a trap"
            );
            Candidate {
                params: ValidationParams::decode(&mut &params_bytes[..])
                    .unwrap_or_else(|e| panic!("{name}: params do not decode: {e}")),
                pov_file: set.with_file_name(v["pov_file"].as_str().expect("a PoV file name")),
                expected,
                name,
            }
        })
        .collect();
    (runtime, candidates)
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_cumulus_candidates_validate_to_the_builders_results() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = corpus_dir_or_skip("generated_cumulus_candidates") else {
        return;
    };
    let sets = candidate_sets(&corpus);
    if sets.is_empty() {
        eprintln!(
            "SKIPPED generated_cumulus_candidates: no {}/candidates/*/vectors.json \
             (generate them with tools/candidate-gen, see its README)",
            corpus.display()
        );
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let host = start_host_with(Config::new(cache.path().into(), test_worker!()));
    pvf_tests::assert_fully_sandboxed(&host);
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for set in &sets {
        let (runtime, candidates) = load_set(set);
        let code = std::fs::read(runtime_of(&corpus, set, &runtime)).expect("runtime blob");
        let pvf = PvfPrepData::from_code(
            code,
            ExecutorParams::new(),
            PREPARE_TIMEOUT,
            PrepareJobKind::Compilation,
            DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
        );
        for c in &candidates {
            // What a parachain team hands us is the PoV file: it must carry the same params.
            let (pov, pvd) = pvf_validation::pov_file::decode(
                &std::fs::read(&c.pov_file).expect("the PoV file"),
            )
            .unwrap_or_else(|e| panic!("{}: PoV file: {e}", c.name));
            assert_eq!(pov.block_data, c.params.block_data, "{}", c.name);
            assert_eq!(pvd.parent_head, c.params.parent_head, "{}", c.name);
            assert_eq!(
                (pvd.relay_parent_number, pvd.relay_parent_storage_root),
                (
                    c.params.relay_parent_number,
                    c.params.relay_parent_storage_root
                ),
                "{}",
                c.name
            );
            let began = Instant::now();
            let got =
                pvf_tests::execute_approval(&host, pvf.clone(), &c.params, APPROVAL_TIMEOUT).await;
            let took = began.elapsed();
            let verdict = match (&got, &c.expected) {
                (Ok(result), Some(expected)) if result == expected => "valid, same result",
                (Err(ValidationError::Invalid(_)), None) => "invalid, as expected",
                _ => {
                    failures.push(format!(
                        "{runtime} {}: expected {}, got {got:?}",
                        c.name,
                        if c.expected.is_some() {
                            "the builder's result"
                        } else {
                            "invalid"
                        }
                    ));
                    "WRONG"
                }
            };
            match c.expected {
                Some(_) => valid += 1,
                None => invalid += 1,
            }
            eprintln!("{runtime:<50} {:<32} {verdict:<20} {took:.2?}", c.name);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "{valid} valid and {invalid} invalid generated candidates in {} sets",
        sets.len()
    );
}
