//! Warm start: artifacts survive a restart and are used without compiling again; foreign,
//! truncated or corrupted ones are prepared again, never executed and never `Invalid` (an
//! execution that finds one is answered `CorruptedArtifact` by the host, and the validation
//! layer's retry prepares it again); a background heads-up never delays Critical work.

use pvf_common::{
    ExecutorParam, ExecutorParams, PrepareJobKind,
    PrepareJobKind::{Compilation, Prechecking},
    PvfPrepData,
    execute::{InvalidCandidate, ValidationError, ValidationParams},
};
use pvf_host::{
    Config, Priority, ValidationHost,
    cache_dir::{self, ArtifactFileName, EntryVerdict, RemoveReason},
};
use pvf_tests::adder::Adder;
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");
const GENEROUS: Duration = Duration::from_secs(60);

fn host(cache: &Path) -> ValidationHost {
    let mut config = Config::new(cache.into(), WORKER.into());
    config.execute_workers_max_num = 2;
    pvf_tests::start_host_with(config)
}

/// The adder under executor parameters that differ only in the logical stack limit: the same
/// behaviour, but another artifact id and other artifact bytes for each `n`.
fn variant(adder: &Adder, n: u32, kind: PrepareJobKind) -> PvfPrepData {
    let params = ExecutorParams::from(vec![ExecutorParam::StackLogicalMax(65536 - n)]);
    pvf_tests::pvf_with_params(adder.code.clone(), params, kind, GENEROUS)
}

async fn execute(
    host: &ValidationHost,
    pvf: &PvfPrepData,
    params: &ValidationParams,
) -> Result<Vec<u8>, ValidationError> {
    let pvf = pvf.with_kind_and_timeout(Compilation, GENEROUS);
    pvf_tests::execute_approval(host, pvf, params, Duration::from_secs(10)).await
}

/// [`execute`] as a node runs an approval: through the validation layer's retry, which
/// prepares a bad artifact again before its one retry.
async fn execute_with_retry(
    host: &ValidationHost,
    pvf: &PvfPrepData,
    params: &ValidationParams,
) -> Result<Vec<u8>, ValidationError> {
    let pvf = pvf.with_kind_and_timeout(Compilation, GENEROUS);
    pvf_tests::execute_approval_with_retry(host, pvf, params, Duration::from_secs(10)).await
}

/// The artifact files in the cache dir, by name.
fn artifact_files(cache: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pvf"))
        .collect();
    found.sort();
    found
}

/// The artifact file of `pvf`, found by its name.
fn artifact_of(cache: &Path, pvf: &PvfPrepData) -> PathBuf {
    let id = pvf_host::ArtifactId::from_pvf(pvf);
    let found: Vec<_> = artifact_files(cache)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            ArtifactFileName::parse(name).is_some_and(|n| n.id == id)
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// Every artifact left in the cache is adoptable and its bytes match its name. (Worker dirs
/// of the running host would be removed at the next start, as they should.)
fn assert_cache_sound(cache: &Path) {
    let fingerprint = pvf_common::engine::EngineFingerprint::current();
    for verdict in cache_dir::scan(cache, fingerprint).unwrap() {
        match verdict {
            EntryVerdict::Adopt(artifact) => assert!(
                cache_dir::verify(&artifact.path, &artifact.name.checksum).unwrap(),
                "{:?} does not match its checksum",
                artifact.path
            ),
            EntryVerdict::Remove {
                reason: RemoveReason::WorkerDir,
                ..
            } => {}
            EntryVerdict::Remove { path, reason, .. } => {
                panic!("{path:?} would be removed: {}", reason.as_str())
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prepared_artifacts_survive_a_restart_and_are_not_compiled_again() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("warm start") else {
        return;
    };
    let adder = Adder::load(&corpus);
    let pvfs: Vec<_> = (0..3).map(|n| variant(&adder, n, Compilation)).collect();
    let cache = tempfile::tempdir().unwrap();
    {
        let host = host(cache.path());
        for pvf in &pvfs {
            assert_eq!(
                execute(&host, pvf, &adder.good).await,
                Ok(adder.expected.clone())
            );
        }
        assert_eq!(host.counters().prepare.jobs_started, 3);
    }
    let before = artifact_files(cache.path());
    assert_eq!(before.len(), 3, "{before:?}");

    let host = host(cache.path());
    for pvf in &pvfs {
        let precheck = host
            .precheck_pvf(pvf.with_kind_and_timeout(Prechecking, GENEROUS))
            .await
            .expect("host alive");
        assert_eq!(precheck, Ok(()));
        let prepared = host
            .prepare(pvf.clone(), Priority::Normal)
            .await
            .expect("host alive")
            .expect("served from the cache");
        assert_eq!(prepared.path, artifact_of(cache.path(), pvf));
        assert_eq!(
            execute(&host, pvf, &adder.good).await,
            Ok(adder.expected.clone())
        );
        let bad = execute(&host, pvf, &adder.bad).await;
        assert!(
            matches!(
                bad,
                Err(ValidationError::Invalid(
                    InvalidCandidate::WorkerReportedInvalid(_)
                ))
            ),
            "{bad:?}"
        );
    }
    let counters = host.counters().prepare;
    assert_eq!(
        (counters.jobs_started, counters.workers_spawned),
        (0, 0),
        "no compilation and no prepare worker after the restart"
    );
    assert_eq!(artifact_files(cache.path()), before);
    assert_cache_sound(cache.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_truncated_or_corrupted_artifacts_are_prepared_again_never_executed() {
    let _process = pvf_tests::sharing_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("damaged cache") else {
        return;
    };
    let adder = Adder::load(&corpus);
    let [foreign, truncated, flipped, flipped_prechecked] =
        [10, 11, 12, 13].map(|n| variant(&adder, n, Compilation));
    let all = [&foreign, &truncated, &flipped, &flipped_prechecked];
    let cache = tempfile::tempdir().unwrap();
    {
        let host = host(cache.path());
        for pvf in all {
            assert_eq!(
                execute(&host, pvf, &adder.good).await,
                Ok(adder.expected.clone())
            );
        }
    }

    // Another engine's artifact: the same name but for the fingerprint.
    let path = artifact_of(cache.path(), &foreign);
    let mut name = ArtifactFileName::parse(path.file_name().unwrap().to_str().unwrap()).unwrap();
    name.fingerprint.0[0] ^= 0x5a;
    let foreign_path = name.path_in(cache.path());
    std::fs::rename(&path, &foreign_path).unwrap();
    // A write torn by a crash: half the bytes.
    let path = artifact_of(cache.path(), &truncated);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    // Bit rot, in the code section's neighbourhood.
    for pvf in [&flipped, &flipped_prechecked] {
        let path = artifact_of(cache.path(), pvf);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
    }

    let host = host(cache.path());
    assert!(
        !foreign_path.exists(),
        "an artifact of another engine is removed at start"
    );
    assert_eq!(artifact_files(cache.path()).len(), 3);
    for pvf in [&foreign, &truncated, &flipped] {
        assert_eq!(
            execute_with_retry(&host, pvf, &adder.good).await,
            Ok(adder.expected.clone()),
            "a damaged artifact must be prepared again, not executed"
        );
    }
    assert_eq!(host.counters().prepare.jobs_started, 3);
    // A pre-check answered from an adopted artifact verifies it first.
    let precheck = host
        .precheck_pvf(flipped_prechecked.with_kind_and_timeout(Prechecking, GENEROUS))
        .await
        .expect("host alive");
    assert_eq!(precheck, Ok(()));
    assert_eq!(
        host.counters().prepare.jobs_started,
        4,
        "the pre-check found the damage"
    );
    assert_eq!(
        execute(&host, &flipped_prechecked, &adder.good).await,
        Ok(adder.expected.clone())
    );
    assert_eq!(
        host.counters().prepare.jobs_started,
        4,
        "each damaged artifact was compiled again, once"
    );
    assert_eq!(artifact_files(cache.path()).len(), 4);
    assert_cache_sound(cache.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_background_heads_up_never_delays_a_critical_preparation() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let mut config = Config::new(cache.path().into(), WORKER.into());
    config.prepare_workers_soft_max_num = 1;
    config.prepare_workers_hard_max_num = 2;
    let host = pvf_tests::start_host_with(config);
    let background: Vec<_> = (0..2)
        .map(|seed| {
            pvf_tests::pvf(
                pvf_tests::slow_to_compile_pvf(600, seed),
                Compilation,
                GENEROUS,
            )
        })
        .collect();
    host.heads_up(background.clone()).await.expect("host alive");
    pvf_tests::poll_until(GENEROUS, "the heads-up to fill the soft cap", || {
        (host.counters().prepare.jobs_started == 1).then_some(())
    })
    .await;
    let background_done = {
        let host = host.clone();
        tokio::spawn(async move {
            for pvf in background {
                let prepared = host.prepare(pvf, Priority::Normal).await;
                assert!(matches!(prepared, Ok(Ok(_))), "{prepared:?}");
            }
            Instant::now()
        })
    };

    let critical = pvf_tests::pvf(
        pvf_tests::test_pvf("minimal-pvf.wat"),
        Compilation,
        GENEROUS,
    );
    let prepared = host
        .prepare(critical, Priority::Critical)
        .await
        .expect("host alive");
    let critical_done = Instant::now();
    assert!(prepared.is_ok(), "{prepared:?}");
    let counters = host.counters().prepare;
    assert_eq!(
        counters.workers_spawned, 2,
        "the Critical job got a second worker, within the hard cap"
    );
    assert!(
        critical_done < background_done.await.unwrap(),
        "the Critical job finished before the background work it arrived behind"
    );
    assert_eq!(host.counters().prepare.jobs_started, 3);
}
