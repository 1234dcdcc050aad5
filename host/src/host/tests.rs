//! Message-driven tests of the host actor with fake queues: recorders stand in for the
//! prepare queue and the execute queue, and the tests play their part by sending
//! `PrepareConcluded` and `ArtifactNeedsPreparation` back.

use super::*;
use crate::{
    cache_dir::ArtifactFileName,
    test_support::{DEADLINE, candidate, next, nothing, pvf, recorder},
};
use pvf_common::{
    ArtifactChecksum, PrepareStats,
    engine::EngineFingerprint,
    execute::{HeadData, InternalValidationError, PossiblyInvalidError, ValidationResult},
};
use tokio::sync::mpsc;

const RELAY_PARENT_LIVE: [u8; 32] = [1; 32];
const RELAY_PARENT_GONE: [u8; 32] = [2; 32];

async fn answer<T>(rx: oneshot::Receiver<T>) -> T {
    tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("expected an answer, got nothing")
        .expect("the host dropped the request unanswered")
}

/// Builds a host actor with fake queues, as the reference's host tests do.
struct Builder {
    policy: HostPolicy,
    /// Artifact files to create in the cache dir and adopt: (code, bytes, checksum to claim).
    adopted: Vec<(u8, Vec<u8>, ArtifactChecksum)>,
}

impl Builder {
    fn new() -> Self {
        Self {
            policy: HostPolicy {
                retry: RetryPolicy::default(),
                cleanup: ArtifactsCleanupConfig::default(),
                cleanup_pulse_interval: Duration::from_secs(3600),
            },
            adopted: Vec::new(),
        }
    }

    fn retry(mut self, cooldown: Duration, max_retries: u32) -> Self {
        self.policy.retry = RetryPolicy {
            cooldown,
            max_retries,
        };
        self
    }

    fn adopt(mut self, n: u8, bytes: &[u8], claimed: ArtifactChecksum) -> Self {
        self.adopted.push((n, bytes.to_vec(), claimed));
        self
    }

    fn build(self) -> Harness {
        let cache = tempfile::tempdir().expect("a temp dir");
        let adopted = self
            .adopted
            .into_iter()
            .map(|(n, bytes, checksum)| {
                let name = ArtifactFileName {
                    id: ArtifactId::from_pvf(&pvf(n)),
                    fingerprint: EngineFingerprint::current(),
                    checksum,
                };
                let path = name.path_in(cache.path());
                std::fs::write(&path, &bytes).expect("an artifact file");
                AdoptedArtifact {
                    name,
                    path,
                    size: bytes.len() as u64,
                    last_used: SystemTime::now(),
                }
            })
            .collect();
        let (prepare, prepare_rx) = recorder();
        let (execute, execute_rx) = recorder();
        let (prune_backing, prune_rx) = recorder();
        let queues = HostQueues {
            prepare: prepare.recipient(),
            execute: execute.recipient(),
            prune_backing: prune_backing.recipient(),
        };
        let host = HostActor::new(queues, self.policy, adopted).start();
        Harness {
            host,
            prepare_rx,
            execute_rx,
            prune_rx,
            cache,
        }
    }
}

struct Harness {
    host: Addr<HostActor>,
    prepare_rx: mpsc::UnboundedReceiver<Enqueue>,
    execute_rx: mpsc::UnboundedReceiver<EnqueueExecution>,
    prune_rx: mpsc::UnboundedReceiver<PruneBacking>,
    cache: tempfile::TempDir,
}

impl Harness {
    fn precheck(&self, n: u8) -> oneshot::Receiver<PrecheckResult> {
        let (result_tx, rx) = oneshot::channel();
        self.host.do_send(PrecheckPvf {
            pvf: pvf(n),
            result_tx,
        });
        rx
    }

    fn prepare(&self, n: u8, priority: Priority) -> oneshot::Receiver<PrepareResult> {
        let (result_tx, rx) = oneshot::channel();
        self.host.do_send(PreparePvf {
            pvf: pvf(n),
            priority,
            result_tx,
        });
        rx
    }

    fn execute(&self, n: u8, kind: PvfExecKind) -> oneshot::Receiver<ExecuteResult> {
        let (result_tx, rx) = oneshot::channel();
        let (pvd, pov) = candidate(n);
        self.host.do_send(ExecutePvf {
            pvf: pvf(n),
            exec_timeout: Duration::from_secs(2),
            pvd,
            pov,
            params_extension: None,
            kind,
            result_tx,
        });
        rx
    }

    /// Expects one `Enqueue` for PVF `n` at `priority`.
    async fn expect_enqueue(&mut self, n: u8, priority: Priority) {
        let msg = next(&mut self.prepare_rx, "Enqueue").await;
        assert_eq!(
            msg.pvf.code_hash(),
            pvf(n).code_hash(),
            "enqueued the wrong PVF"
        );
        assert_eq!(msg.priority, priority);
    }

    async fn expect_no_enqueue(&mut self) {
        nothing(&mut self.prepare_rx, "Enqueue").await;
    }

    async fn expect_execution(&mut self) -> ExecuteJob {
        next(&mut self.execute_rx, "EnqueueExecution").await.0
    }

    async fn expect_no_execution(&mut self) {
        nothing(&mut self.execute_rx, "EnqueueExecution").await;
    }

    /// Plays the prepare queue: PVF `n` prepared into a real file in the cache dir.
    fn conclude_ok(&self, n: u8) -> PrepareSuccess {
        let path = self.cache.path().join(format!("artifact-{n}.pvf"));
        std::fs::write(&path, [n; 16]).expect("an artifact file");
        let success = PrepareSuccess {
            path,
            size: 16,
            checksum: ArtifactChecksum::of(&[n; 16]),
            stats: PrepareStats::default(),
        };
        self.conclude(n, Ok(success.clone()));
        success
    }

    fn conclude(&self, n: u8, result: PrepareResult) {
        self.host.do_send(PrepareConcluded {
            artifact_id: ArtifactId::from_pvf(&pvf(n)),
            result,
        });
    }
}

#[actix_rt::test]
async fn requests_for_one_pvf_share_one_preparation() {
    let mut h = Builder::new().build();
    let precheck = h.precheck(1);
    let prepare = h.prepare(1, Priority::Normal);
    let execute = h.execute(1, PvfExecKind::Backing(RELAY_PARENT_LIVE));
    h.expect_enqueue(1, Priority::Normal).await;
    h.expect_no_enqueue().await;

    let success = h.conclude_ok(1);
    assert_eq!(answer(precheck).await, Ok(()));
    assert_eq!(answer(prepare).await, Ok(success.clone()));
    let job = h.expect_execution().await;
    assert_eq!(job.artifact_path, success.path);
    assert_eq!(job.artifact_checksum, success.checksum);
    assert!(!job.reprepared);
    drop(execute);

    // Prepared now: answered at once, nothing queued.
    assert_eq!(answer(h.precheck(1)).await, Ok(()));
    assert_eq!(answer(h.prepare(1, Priority::Critical)).await, Ok(success));
    h.expect_no_enqueue().await;
}

#[actix_rt::test]
async fn a_critical_request_bumps_a_preparation_in_flight() {
    let mut h = Builder::new().build();
    let _normal = h.prepare(1, Priority::Normal);
    h.expect_enqueue(1, Priority::Normal).await;
    let _approval = h.execute(1, PvfExecKind::Approval);
    h.expect_enqueue(1, Priority::Critical).await;
    let _critical = h.prepare(1, Priority::Critical);
    h.expect_enqueue(1, Priority::Critical).await;
    // Normal requests joining do not re-send.
    let _backing = h.execute(1, PvfExecKind::Backing(RELAY_PARENT_LIVE));
    let _precheck = h.precheck(1);
    h.expect_no_enqueue().await;
}

#[actix_rt::test]
async fn failures_are_retried_for_execution_after_the_cooldown_but_never_for_prechecks() {
    let cooldown = Duration::from_millis(200);
    let mut h = Builder::new().retry(cooldown, 1).build();
    let first = h.prepare(1, Priority::Normal);
    h.expect_enqueue(1, Priority::Normal).await;
    h.conclude(1, Err(PrepareError::IoErr("lost".into())));
    assert_eq!(answer(first).await, Err(PrepareError::IoErr("lost".into())));

    // Within the cooldown: the stored error, no new job.
    let early = h.prepare(1, Priority::Normal);
    assert_eq!(answer(early).await, Err(PrepareError::IoErr("lost".into())));
    h.expect_no_enqueue().await;

    tokio::time::sleep(cooldown).await;
    // A pre-check never retries, even after the cooldown.
    assert_eq!(
        answer(h.precheck(1)).await,
        Err(PrepareError::IoErr("lost".into()))
    );
    h.expect_no_enqueue().await;
    // Preparation for execution does, once (max_retries = 1).
    let exec = h.execute(1, PvfExecKind::Approval);
    h.expect_enqueue(1, Priority::Critical).await;
    h.conclude(1, Err(PrepareError::IoErr("again".into())));
    assert_eq!(
        answer(exec).await,
        Err(ValidationError::Internal(
            InternalValidationError::NonDeterministicPrepareError(PrepareError::IoErr(
                "again".into()
            ))
        ))
    );
    // Two failures with one retry allowed: no more attempts, however long one waits.
    tokio::time::sleep(cooldown).await;
    let exhausted = h.prepare(1, Priority::Normal);
    assert_eq!(
        answer(exhausted).await,
        Err(PrepareError::IoErr("again".into()))
    );
    h.expect_no_enqueue().await;
}

#[actix_rt::test]
async fn deterministic_failures_are_never_retried() {
    let mut h = Builder::new().retry(Duration::ZERO, 5).build();
    let precheck = h.precheck(1);
    h.expect_enqueue(1, Priority::Normal).await;
    let error = PrepareError::Prevalidation("UnknownOpcode(192)".into());
    h.conclude(1, Err(error.clone()));
    assert_eq!(answer(precheck).await, Err(error.clone()));
    assert_eq!(
        answer(h.prepare(1, Priority::Critical)).await,
        Err(error.clone())
    );
    assert_eq!(
        answer(h.execute(1, PvfExecKind::Dispute)).await,
        Err(ValidationError::Preparation(error))
    );
    h.host.do_send(HeadsUp {
        active_pvfs: vec![pvf(1)],
    });
    h.expect_no_enqueue().await;
}

#[actix_rt::test]
async fn heads_up_prepares_what_is_missing_only() {
    let mut h = Builder::new().build();
    drop(h.prepare(1, Priority::Normal));
    h.expect_enqueue(1, Priority::Normal).await;
    h.conclude_ok(1);
    h.host.do_send(HeadsUp {
        active_pvfs: vec![pvf(1), pvf(2), pvf(2)],
    });
    h.expect_enqueue(2, Priority::Normal).await;
    h.expect_no_enqueue().await;
}

#[actix_rt::test]
async fn a_vanished_artifact_is_prepared_again() {
    let mut h = Builder::new().build();
    drop(h.prepare(1, Priority::Normal));
    h.expect_enqueue(1, Priority::Normal).await;
    let success = h.conclude_ok(1);
    std::fs::remove_file(&success.path).unwrap();
    // Every kind of request finds it gone, a pre-check included.
    let precheck = h.precheck(1);
    h.expect_enqueue(1, Priority::Normal).await;
    let execute = h.execute(1, PvfExecKind::Approval);
    h.expect_enqueue(1, Priority::Critical).await;
    let again = h.conclude_ok(1);
    assert_eq!(answer(precheck).await, Ok(()));
    assert_eq!(h.expect_execution().await.artifact_path, again.path);
    drop(execute);
}

#[actix_rt::test]
async fn an_intact_adopted_artifact_is_verified_once_and_used() {
    let bytes = b"adopted artifact".to_vec();
    let mut h = Builder::new()
        .adopt(1, &bytes, ArtifactChecksum::of(&bytes))
        .build();
    let (first, second) = (h.precheck(1), h.prepare(1, Priority::Normal));
    assert_eq!(answer(first).await, Ok(()));
    let success = answer(second).await.expect("the adopted artifact");
    assert_eq!(std::fs::read(&success.path).unwrap(), bytes);
    h.expect_no_enqueue().await;
    // Executions go straight to the queue, verified or not.
    let _exec = h.execute(1, PvfExecKind::Approval);
    assert_eq!(h.expect_execution().await.artifact_path, success.path);
}

#[actix_rt::test]
async fn a_damaged_adopted_artifact_is_removed_and_prepared_again() {
    let mut h = Builder::new()
        .adopt(1, b"flipped bytes", ArtifactChecksum::of(b"original bytes"))
        .build();
    let adopted_file = std::fs::read_dir(h.cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (precheck, prepare) = (h.precheck(1), h.prepare(1, Priority::Critical));
    // Both requests wait on one check, then on one preparation.
    h.expect_enqueue(1, Priority::Normal).await;
    h.expect_enqueue(1, Priority::Critical).await;
    assert!(!adopted_file.exists(), "the damaged artifact is deleted");
    let success = h.conclude_ok(1);
    assert_eq!(answer(precheck).await, Ok(()));
    assert_eq!(answer(prepare).await, Ok(success));
}

#[actix_rt::test]
async fn a_vanished_artifact_found_by_execution_is_prepared_again_and_the_job_rerun_once() {
    let mut h = Builder::new().build();
    let exec = h.execute(1, PvfExecKind::Backing(RELAY_PARENT_LIVE));
    h.expect_enqueue(1, Priority::Normal).await;
    let first = h.conclude_ok(1);
    let job = h.expect_execution().await;
    assert!(!job.reprepared);

    // The execute queue found the file gone when it linked it for the worker: ours to fix,
    // for backing too.
    std::fs::remove_file(&first.path).unwrap();
    h.host.do_send(ArtifactNeedsPreparation {
        job,
        problem: ArtifactProblem::Vanished,
    });
    h.expect_enqueue(1, Priority::Normal).await;
    let second = h.conclude_ok(1);
    let job = h.expect_execution().await;
    assert!(
        job.reprepared,
        "the queue must not send it back a second time"
    );
    assert_eq!(job.artifact_path, second.path);
    let _ = job.result_tx.send(Ok(ValidationResult {
        head_data: HeadData(vec![9]),
        new_validation_code: None,
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    }));
    assert!(answer(exec).await.is_ok());
}

#[actix_rt::test]
async fn a_bad_artifact_found_by_any_kind_is_deleted_and_the_job_answered_not_rerun() {
    let mut h = Builder::new().build();
    let kinds = [
        (1, PvfExecKind::Dispute, Priority::Critical),
        (2, PvfExecKind::Approval, Priority::Critical),
        (
            3,
            PvfExecKind::BackingSystemParas(RELAY_PARENT_LIVE),
            Priority::Normal,
        ),
        (4, PvfExecKind::Backing(RELAY_PARENT_LIVE), Priority::Normal),
    ];
    for (n, kind, priority) in kinds {
        let exec = h.execute(n, kind);
        h.expect_enqueue(n, priority).await;
        let first = h.conclude_ok(n);
        let job = h.expect_execution().await;
        let error = ValidationError::PossiblyInvalid(PossiblyInvalidError::CorruptedArtifact);
        h.host.do_send(ArtifactNeedsPreparation {
            job,
            problem: ArtifactProblem::Bad(error.clone()),
        });
        assert_eq!(answer(exec).await, Err(error), "{kind:?}");
        assert!(
            !first.path.exists(),
            "{kind:?}: the bad artifact is deleted at once"
        );
        // The retry is the caller's: the host neither prepares nor runs anything by itself.
        h.expect_no_enqueue().await;
        h.expect_no_execution().await;
        // The next request prepares it again.
        let _again = h.execute(n, kind);
        h.expect_enqueue(n, priority).await;
    }
}

#[actix_rt::test]
async fn backing_jobs_waiting_for_preparation_are_dropped_when_their_relay_parent_leaves() {
    let mut h = Builder::new().build();
    let gone = h.execute(1, PvfExecKind::Backing(RELAY_PARENT_GONE));
    h.expect_enqueue(1, Priority::Normal).await;
    let live = h.execute(1, PvfExecKind::Backing(RELAY_PARENT_LIVE));
    let approval = h.execute(1, PvfExecKind::Approval);
    h.expect_enqueue(1, Priority::Critical).await;
    h.host.do_send(UpdateActiveLeaves {
        activated: Some([3; 32]),
        deactivated: Vec::new(),
        ancestors: vec![RELAY_PARENT_LIVE],
    });
    assert_eq!(answer(gone).await, Err(ValidationError::ExecutionDeadline));
    let prune = next(&mut h.prune_rx, "PruneBacking").await;
    assert!(prune.live.contains(&RELAY_PARENT_LIVE) && prune.live.contains(&[3; 32]));
    assert!(!prune.live.contains(&RELAY_PARENT_GONE));

    h.conclude_ok(1);
    let kinds = [
        h.expect_execution().await.kind,
        h.expect_execution().await.kind,
    ];
    assert!(kinds.contains(&PvfExecKind::Backing(RELAY_PARENT_LIVE)));
    assert!(kinds.contains(&PvfExecKind::Approval));
    h.expect_no_execution().await;
    drop((live, approval));
}

#[actix_rt::test]
async fn a_caller_that_gave_up_costs_no_execution() {
    let mut h = Builder::new().build();
    let abandoned = h.execute(1, PvfExecKind::Approval);
    let kept = h.execute(1, PvfExecKind::Backing(RELAY_PARENT_LIVE));
    h.expect_enqueue(1, Priority::Critical).await;
    drop(abandoned);
    h.conclude_ok(1);
    let job = h.expect_execution().await;
    assert_eq!(job.kind, PvfExecKind::Backing(RELAY_PARENT_LIVE));
    h.expect_no_execution().await;
    drop((job, kept));
    // The host survives dropped receivers everywhere.
    drop(h.precheck(2));
    h.expect_enqueue(2, Priority::Normal).await;
    h.conclude(2, Err(PrepareError::TimedOut));
    assert_eq!(answer(h.precheck(2)).await, Err(PrepareError::TimedOut));
}

#[actix_rt::test]
async fn stale_artifacts_are_pruned_past_the_cache_limit() {
    let mut builder = Builder::new();
    builder.policy.cleanup = ArtifactsCleanupConfig {
        cache_limit: 20,
        min_stale_time: Duration::ZERO,
    };
    builder.policy.cleanup_pulse_interval = Duration::from_millis(50);
    let mut h = builder.build();
    let mut files = Vec::new();
    for n in 1..=3 {
        drop(h.prepare(n, Priority::Normal));
        h.expect_enqueue(n, Priority::Normal).await;
        files.push(h.conclude_ok(n).path);
        // Distinct "last needed" times, oldest first.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left: Vec<bool> = files.iter().map(|f| f.exists()).collect();
    assert_eq!(left, [false, false, true], "16-byte files, 20-byte limit");
    // A pruned artifact is prepared anew when needed.
    drop(h.prepare(1, Priority::Normal));
    h.expect_enqueue(1, Priority::Normal).await;
}

#[actix_rt::test]
async fn a_conclusion_for_an_unknown_artifact_is_ignored() {
    let mut h = Builder::new().build();
    h.conclude(7, Err(PrepareError::TimedOut));
    // Nothing recorded: a request for it prepares from scratch.
    drop(h.precheck(7));
    h.expect_enqueue(7, Priority::Normal).await;
}
