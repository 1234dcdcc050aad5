//! Pre-check verdicts of the shared corpus through the real host: every blob must get the
//! verdict the reference gives it ([`pvf_tests::CORPUS_VERDICTS`]), with the full sandbox on,
//! and the pvf-checker vote the validation layer casts on it.

use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData, blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
};
use pvf_host::Config;
use pvf_tests::{CORPUS_VERDICTS, corpus_dir_or_skip, start_host_with, test_worker, verdict_kind};
use pvf_validation::precheck::precheck;
use std::time::{Duration, Instant};

const PRECHECK_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn corpus_precheck_verdicts_match_the_reference() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = corpus_dir_or_skip("corpus_precheck_verdicts_match_the_reference") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mut config = Config::new(cache.path().into(), test_worker!());
    config.prepare_workers_soft_max_num = 2;
    config.prepare_workers_hard_max_num = 2;
    let host = start_host_with(config);
    // The verdicts must hold with every sandbox layer applied, as on a validator.
    pvf_tests::assert_fully_sandboxed(&host);

    // Several runtimes take seconds to compile: submit everything at once, two workers share it.
    let started = Instant::now();
    let checks = CORPUS_VERDICTS.iter().map(|&(file, expected)| {
        let host = host.clone();
        let path = corpus.join(file);
        async move {
            let code = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let pvf = PvfPrepData::from_code(
                code.clone(),
                ExecutorParams::new(),
                PRECHECK_TIMEOUT,
                PrepareJobKind::Prechecking,
                DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
            );
            let result = host.precheck_pvf(pvf).await.expect("host alive");
            let done_after = started.elapsed();
            // The pvf-checker's vote, through the validation layer as a node casts it (the host
            // answers this second pre-check from its table).
            let limit = DEFAULT_VALIDATION_CODE_BOMB_LIMIT;
            let vote = precheck(&host, code, ExecutorParams::new(), limit).await;
            (file, expected, result, vote, done_after)
        }
    });
    let results = futures::future::join_all(checks).await;

    let mut mismatches = Vec::new();
    for (file, expected, result, vote, done_after) in &results {
        let got = verdict_kind(result);
        let vote_name = pvf_tests::precheck_vote_name(vote);
        eprintln!(
            "{file:<55} {got:<14} (expected {expected}) vote {vote_name:<18} done after {done_after:.2?}"
        );
        if got != *expected || vote_name != pvf_tests::reference_precheck_vote(expected) {
            mismatches.push(format!(
                "{file}: expected {expected}, got {result:?}, vote {vote_name}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "wrong verdicts:\n{}",
        mismatches.join("\n")
    );
    let counters = host.counters().prepare;
    assert_eq!(counters.jobs_started, CORPUS_VERDICTS.len() as u64);
    assert_eq!(counters.workers_spawned, 2);
}
