//! Message-driven tests of the execute queue, with the fakes of `queue_test_harness.rs`.

use super::test_harness::*;
use super::*;
use pvf_common::execute::PossiblyInvalidError;
use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

const RELAY_PARENT_LIVE: [u8; 32] = [1; 32];
const RELAY_PARENT_GONE: [u8; 32] = [2; 32];

#[actix_rt::test]
async fn a_job_spawns_a_dedicated_worker_and_the_next_job_with_its_params_reuses_it() {
    let mut h = Harness::new(2);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));

    h.script(2, Script::Valid(2));
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Backing(RELAY_PARENT_LIVE));
    h.enqueue(j2);
    h.expect_event(Event::Run(w, artifact_path(2))).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_failed_spawn_is_retried_with_back_off_for_the_same_job_and_counted() {
    let mut h = Harness::with_failing_spawns(1, 2);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    let started = Instant::now();
    h.enqueue(j1);
    let Event::SpawnFailed(w) = h.next_event().await else {
        panic!("expected a failed spawn");
    };
    h.expect_event(Event::SpawnFailed(w)).await;
    assert_eq!(
        h.expect_spawn(params_a()).await,
        w,
        "the job keeps its worker"
    );
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    // 250 ms, then 500 ms.
    assert!(started.elapsed() >= Duration::from_millis(750));
    let counters = h.counters.snapshot();
    assert_eq!(counters.execute.spawn_failures, 2);
    assert_eq!(counters.execute.workers_spawned, 1);
    assert_eq!(counters.execute.jobs_started, 1);
    assert_eq!(counters.prepare, Default::default());
}

#[actix_rt::test]
async fn at_capacity_an_idle_worker_with_other_params_is_retired_for_a_new_one() {
    let mut h = Harness::new(1);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let wa = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(wa, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));

    h.script(2, Script::Valid(2));
    let (j2, rx2) = job(2, params_b(), PvfExecKind::Approval);
    h.enqueue(j2);
    h.expect_replaced(wa, params_b(), 2).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn jobs_wait_while_every_worker_is_busy_at_capacity_then_run() {
    let mut h = Harness::new(2);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let gate2 = h.script_gated(2, Script::Valid(2));
    h.script(3, Script::Valid(3));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Approval);
    let (j3, mut rx3) = job(3, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    h.enqueue(j2);
    let w2 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w2, artifact_path(2))).await;

    // Both workers are busy and the queue is at capacity: job 3 waits.
    h.enqueue(j3);
    h.expect_no_event().await;
    assert_unanswered(&mut rx3);

    // Worker 2 finishes first: it takes job 3.
    gate2.send(()).unwrap();
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_event(Event::Run(w2, artifact_path(3))).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));

    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_finished_worker_prefers_a_waiting_job_with_its_own_params() {
    let mut h = Harness::new(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    h.script(2, Script::Valid(2));
    h.script(3, Script::Valid(3));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let wa = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(wa, artifact_path(1))).await;

    // The eldest waiting job has other params; a younger one has the busy worker's.
    let (j2, rx2) = job(2, params_b(), PvfExecKind::Approval);
    let (j3, rx3) = job(3, params_a(), PvfExecKind::Approval);
    h.enqueue(j2);
    h.enqueue(j3);
    h.expect_no_event().await;

    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    // Job 3 jumps job 2 on the same worker, no respawn.
    h.expect_event(Event::Run(wa, artifact_path(3))).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));
    // Then nothing with params A waits: the worker makes room for job 2.
    h.expect_replaced(wa, params_b(), 2).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn an_eldest_job_that_waited_too_long_beats_the_finished_workers_preference() {
    let mut h = Harness::new(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let gate2 = h.script_gated(2, Script::Valid(2));
    h.script(3, Script::Valid(3));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let wa = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(wa, artifact_path(1))).await;

    let (mut j2, rx2) = job(2, params_b(), PvfExecKind::Approval);
    j2.waiting_since = Instant::now()
        .checked_sub(MAX_KEEP_WAITING + Duration::from_secs(1))
        .expect("the clock is past MAX_KEEP_WAITING");
    let (j3, mut rx3) = job(3, params_a(), PvfExecKind::Approval);
    h.enqueue(j2);
    h.enqueue(j3);
    h.expect_no_event().await;

    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    // Job 2 goes first: the worker with params A is retired for it.
    let wb = h.expect_replaced(wa, params_b(), 2).await;
    // Job 3 waits for the only slot, held by job 2.
    h.expect_no_event().await;
    assert_unanswered(&mut rx3);
    gate2.send(()).unwrap();
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
    h.expect_replaced(wb, params_a(), 3).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));
}

#[actix_rt::test]
async fn prune_backing_answers_stale_backing_jobs_and_keeps_the_rest() {
    let mut h = Harness::new(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Dispute);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;

    // Queued behind the busy worker.
    let (stale_backing, rx_stale_backing) =
        job(2, params_a(), PvfExecKind::Backing(RELAY_PARENT_GONE));
    let (stale_system, rx_stale_system) = job(
        3,
        params_a(),
        PvfExecKind::BackingSystemParas(RELAY_PARENT_GONE),
    );
    let (live_backing, mut rx_live_backing) =
        job(4, params_a(), PvfExecKind::Backing(RELAY_PARENT_LIVE));
    let (approval, mut rx_approval) = job(5, params_a(), PvfExecKind::Approval);
    for j in [stale_backing, stale_system, live_backing, approval] {
        h.enqueue(j);
    }
    h.expect_no_event().await;

    h.queue.do_send(PruneBacking {
        live: Arc::new(HashSet::from([RELAY_PARENT_LIVE])),
    });
    assert_eq!(
        result_of(rx_stale_backing).await,
        Err(ValidationError::ExecutionDeadline)
    );
    assert_eq!(
        result_of(rx_stale_system).await,
        Err(ValidationError::ExecutionDeadline)
    );
    assert_unanswered(&mut rx_live_backing);
    assert_unanswered(&mut rx_approval);

    // The rest still run once the worker is free; the pruned jobs never do.
    h.script(4, Script::Valid(4));
    h.script(5, Script::Valid(5));
    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    h.expect_events(vec![
        Event::Run(w, artifact_path(4)),
        Event::Run(w, artifact_path(5)),
    ])
    .await;
    assert_eq!(result_of(rx_live_backing).await, Ok(valid(4)));
    assert_eq!(result_of(rx_approval).await, Ok(valid(5)));
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn an_unreached_worker_is_retired_and_the_job_runs_again_on_a_new_one() {
    let mut h = Harness::new(1);
    h.script(1, Script::Unreached);
    h.script(1, Script::Valid(7));
    let (j1, rx1) = job(1, params_b(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_b()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    // The job is put back first in line; a fresh worker runs it.
    h.expect_replaced(w1, params_b(), 1).await;
    assert_eq!(result_of(rx1).await, Ok(valid(7)));
    h.expect_no_event().await;
    h.expect_no_host_message().await;
}

#[actix_rt::test]
async fn an_unreached_worker_in_backing_is_an_ambiguous_death_not_a_second_attempt() {
    let mut h = Harness::new(1);
    h.script(1, Script::Unreached);
    let (j1, rx1) = job(1, params_b(), PvfExecKind::Backing([1; 32]));
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_b()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    assert_eq!(
        result_of(rx1).await,
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousWorkerDeath
        ))
    );
    h.expect_event(Event::Retire(w1)).await;
    h.expect_no_event().await;
    h.expect_no_host_message().await;
}

/// Every kind of execution, each with its own artifact (job `n` of the returned list).
fn every_kind() -> [(u8, PvfExecKind); 4] {
    [
        (1, PvfExecKind::Dispute),
        (2, PvfExecKind::Approval),
        (3, PvfExecKind::BackingSystemParas(RELAY_PARENT_LIVE)),
        (4, PvfExecKind::Backing(RELAY_PARENT_LIVE)),
    ]
}

#[actix_rt::test]
async fn a_reprepare_verdict_of_any_kind_goes_to_the_host_to_be_answered_not_rerun() {
    let mut h = Harness::new(1);
    let mut worker = None;
    for (n, kind) in every_kind() {
        h.script(n, Script::Reprepare);
        let (j, mut rx) = job(n, params_a(), kind);
        h.enqueue(j);
        let w = match worker {
            None => *worker.insert(h.expect_spawn(params_a()).await),
            Some(w) => w,
        };
        h.expect_event(Event::Run(w, artifact_path(n))).await;
        let msg = h.next_host_message().await;
        assert_eq!(msg.job.artifact_path, artifact_path(n));
        assert_eq!(
            msg.problem,
            ArtifactProblem::Bad(runtime_construction()),
            "{kind:?}: the host drops the artifact and answers the error, even for approvals"
        );
        assert_unanswered(&mut rx);
    }
    // No rerun: nothing more reaches a worker.
    h.expect_no_event().await;
    h.expect_no_host_message().await;
}

#[actix_rt::test]
async fn a_lost_reply_answers_ambiguous_worker_death_and_retires_the_worker() {
    let mut h = Harness::new(1);
    h.script(1, Script::NoReply);
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(
        result_of(rx1).await,
        Err(ValidationError::PossiblyInvalid(
            PossiblyInvalidError::AmbiguousWorkerDeath
        ))
    );
    h.expect_event(Event::Retire(w)).await;
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_missing_artifact_of_any_kind_goes_to_the_host_to_be_prepared_again_once() {
    let mut h = Harness::new(1);
    let mut worker = None;
    for (n, kind) in every_kind() {
        h.script(n, Script::Missing);
        let (j, mut rx) = job(n, params_a(), kind);
        h.enqueue(j);
        let w = match worker {
            None => *worker.insert(h.expect_spawn(params_a()).await),
            Some(w) => w,
        };
        h.expect_event(Event::Run(w, artifact_path(n))).await;
        let msg = h.next_host_message().await;
        assert_eq!(msg.problem, ArtifactProblem::Vanished, "{kind:?}");
        assert_eq!(msg.job.artifact_path, artifact_path(n));
        assert!(!msg.job.reprepared);
        assert_unanswered(&mut rx);

        // The host prepared it again and enqueues the same job, which runs once more (on the
        // kept worker); a second vanished file is answered, not sent back.
        let mut again = msg.job;
        again.reprepared = true;
        h.script(n, Script::Missing);
        h.enqueue(again);
        h.expect_event(Event::Run(w, artifact_path(n))).await;
        assert!(
            matches!(result_of(rx).await, Err(ValidationError::Internal(_))),
            "{kind:?}"
        );
        h.expect_no_host_message().await;
    }
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_reprepare_verdict_after_a_vanished_file_still_drops_the_artifact() {
    let mut h = Harness::new(1);
    h.script(1, Script::Reprepare);
    let (mut j1, mut rx1) = job(1, params_a(), PvfExecKind::Approval);
    // Already prepared again once because its file had vanished.
    j1.reprepared = true;
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    let msg = h.next_host_message().await;
    assert_eq!(msg.problem, ArtifactProblem::Bad(runtime_construction()));
    assert_unanswered(&mut rx1);
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn an_idle_worker_that_dies_is_retired_and_replaced_on_demand() {
    let mut h = Harness::new(1);
    h.script(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    assert_eq!(result_of(rx1).await, Ok(valid(1)));

    h.queue.do_send(WorkerDied { worker: w1 });
    h.expect_event(Event::Retire(w1)).await;

    h.script(2, Script::Valid(2));
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Approval);
    h.enqueue(j2);
    let w2 = h.expect_spawn(params_a()).await;
    assert_ne!(w1, w2);
    h.expect_event(Event::Run(w2, artifact_path(2))).await;
    assert_eq!(result_of(rx2).await, Ok(valid(2)));
}

#[actix_rt::test]
async fn a_job_goes_to_the_idle_worker_that_holds_its_module() {
    let mut h = Harness::with_module_cache(2);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let gate2 = h.script_gated(2, Script::Valid(2));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    let (j2, rx2) = job(2, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w1 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w1, artifact_path(1))).await;
    h.enqueue(j2);
    let w2 = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w2, artifact_path(2))).await;
    gate1.send(()).unwrap();
    gate2.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    assert_eq!(result_of(rx2).await, Ok(valid(2)));

    // Both idle; each job goes where its module is, whatever the order of the workers.
    for (n, worker) in [(2, w2), (1, w1), (2, w2)] {
        h.script(n, Script::Valid(n));
        let (j, rx) = job(n, params_a(), PvfExecKind::Approval);
        h.enqueue(j);
        h.expect_event(Event::Run(worker, artifact_path(n))).await;
        assert_eq!(result_of(rx).await, Ok(valid(n)));
    }
    h.expect_no_event().await;
}

#[actix_rt::test]
async fn a_finished_worker_takes_a_waiting_job_whose_module_it_holds_first() {
    let mut h = Harness::with_module_cache(1);
    let gate1 = h.script_gated(1, Script::Valid(1));
    let (j1, rx1) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j1);
    let w = h.expect_spawn(params_a()).await;
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    // While it runs: a job whose module nobody holds, then one whose module it holds.
    h.script(3, Script::Valid(3));
    h.script(1, Script::Valid(1));
    let (j3, rx3) = job(3, params_a(), PvfExecKind::Approval);
    let (j1_again, rx1_again) = job(1, params_a(), PvfExecKind::Approval);
    h.enqueue(j3);
    h.enqueue(j1_again);
    h.expect_no_event().await;
    gate1.send(()).unwrap();
    assert_eq!(result_of(rx1).await, Ok(valid(1)));
    h.expect_event(Event::Run(w, artifact_path(1))).await;
    assert_eq!(result_of(rx1_again).await, Ok(valid(1)));
    h.expect_event(Event::Run(w, artifact_path(3))).await;
    assert_eq!(result_of(rx3).await, Ok(valid(3)));
}
