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

use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData, blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::ValidationError,
};
use pvf_host::Config;
use pvf_tests::{candidates::candidate_sets, corpus_dir_or_skip, start_host_with, test_worker};
use std::time::{Duration, Instant};

const PREPARE_TIMEOUT: Duration = Duration::from_secs(360);
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(12);

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
        let runtime = &set.runtime_name;
        let code = std::fs::read(&set.runtime).expect("runtime blob");
        let pvf = PvfPrepData::from_code(
            code,
            ExecutorParams::new(),
            PREPARE_TIMEOUT,
            PrepareJobKind::Compilation,
            DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
        );
        for c in &set.candidates {
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
