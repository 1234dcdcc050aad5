//! Message-driven tests of the Queue actor: a fake pool and a fake host record what the queue
//! sends; the tests play the pool's part by sending `FromPool` messages.

use super::*;
use crate::test_support::{DEADLINE, QUIET, pvf, recorder};
use pvf_common::{ArtifactChecksum, PrepareError, PrepareStats, prepare::PrepareSuccess};
use tokio::sync::mpsc;

fn success() -> PrepareResult {
    Ok(PrepareSuccess {
        path: PathBuf::from("/cache/0xabc.pvf"),
        size: 1,
        checksum: ArtifactChecksum([7; 32]),
        stats: PrepareStats::default(),
    })
}

fn cache_path() -> PathBuf {
    PathBuf::from("/cache")
}

/// A queue wired to a recording pool and a recording host.
struct Harness {
    queue: Addr<Queue>,
    to_pool: mpsc::UnboundedReceiver<ToPool>,
    to_host: mpsc::UnboundedReceiver<PrepareConcluded>,
    keys: SlotMap<Worker, ()>,
}

impl Harness {
    fn new(soft_capacity: usize, hard_capacity: usize) -> Self {
        let (pool, to_pool) = recorder();
        let (host, to_host) = recorder();
        let queue = Queue::new(
            pool.recipient(),
            host.recipient(),
            cache_path(),
            Limits {
                soft_capacity,
                hard_capacity,
            },
        )
        .start();
        Self {
            queue,
            to_pool,
            to_host,
            keys: SlotMap::with_key(),
        }
    }

    fn enqueue(&self, priority: Priority, pvf: PvfPrepData) {
        self.queue.do_send(Enqueue { priority, pvf });
    }

    fn new_worker(&mut self) -> Worker {
        self.keys.insert(())
    }

    /// Tells the queue that a new worker is ready, and returns it.
    fn spawned(&mut self) -> Worker {
        let worker = self.new_worker();
        self.queue.do_send(FromPool::Spawned(worker));
        worker
    }

    fn concluded(&self, worker: Worker, rip: bool) {
        self.queue.do_send(FromPool::Concluded {
            worker,
            rip,
            result: success(),
        });
    }

    fn rip(&self, worker: Worker) {
        self.queue.do_send(FromPool::Rip(worker));
    }

    async fn next_to_pool(&mut self) -> ToPool {
        tokio::time::timeout(DEADLINE, self.to_pool.recv())
            .await
            .expect("the queue should have sent a message to the pool")
            .expect("the pool recorder is alive")
    }

    async fn expect_spawn(&mut self) {
        match self.next_to_pool().await {
            ToPool::Spawn => {}
            other => panic!("expected Spawn, got {other:?}"),
        }
    }

    async fn expect_start_work(&mut self) -> (Worker, PvfPrepData) {
        match self.next_to_pool().await {
            ToPool::StartWork {
                worker,
                pvf,
                cache_path: path,
            } => {
                assert_eq!(path, cache_path());
                (worker, pvf)
            }
            other => panic!("expected StartWork, got {other:?}"),
        }
    }

    /// Expects `StartWork` of `expected` on `worker`.
    async fn expect_start_work_of(&mut self, worker: Worker, expected: &PvfPrepData) {
        let (w, pvf) = self.expect_start_work().await;
        assert_eq!(w, worker, "StartWork on the wrong worker");
        assert_eq!(
            pvf.code_hash(),
            expected.code_hash(),
            "StartWork of the wrong PVF"
        );
    }

    async fn expect_kill(&mut self, worker: Worker) {
        match self.next_to_pool().await {
            ToPool::Kill(w) => assert_eq!(w, worker, "Kill of the wrong worker"),
            other => panic!("expected Kill, got {other:?}"),
        }
    }

    async fn expect_no_pool_message(&mut self) {
        if let Ok(msg) = tokio::time::timeout(QUIET, self.to_pool.recv()).await {
            panic!("expected no message to the pool, got {msg:?}");
        }
    }

    async fn expect_concluded(&mut self, expected: &PvfPrepData) {
        let msg = tokio::time::timeout(DEADLINE, self.to_host.recv())
            .await
            .expect("the queue should have reported a conclusion")
            .expect("the host recorder is alive");
        assert_eq!(msg.artifact_id, ArtifactId::from_pvf(expected));
        assert_eq!(msg.result, success());
    }

    async fn expect_no_conclusion(&mut self) {
        if let Ok(msg) = tokio::time::timeout(QUIET, self.to_host.recv()).await {
            panic!("expected no conclusion, got {msg:?}");
        }
    }
}

#[actix_rt::test]
async fn properly_concludes() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w = h.spawned();
    h.expect_start_work_of(w, &pvf(1)).await;
    h.concluded(w, false);
    h.expect_concluded(&pvf(1)).await;
    h.expect_no_pool_message().await;
    h.expect_no_conclusion().await;
}

#[actix_rt::test]
async fn properly_reports_a_failed_preparation() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w = h.spawned();
    h.expect_start_work_of(w, &pvf(1)).await;
    let error = Err(PrepareError::Prevalidation("bad magic".into()));
    h.queue.do_send(FromPool::Concluded {
        worker: w,
        rip: false,
        result: error.clone(),
    });
    let msg = tokio::time::timeout(DEADLINE, h.to_host.recv())
        .await
        .expect("a conclusion")
        .expect("host recorder alive");
    assert_eq!(msg.artifact_id, ArtifactId::from_pvf(&pvf(1)));
    assert_eq!(msg.result, error);
    // The worker was kept: the next job runs on it without a spawn.
    h.enqueue(Priority::Normal, pvf(2));
    h.expect_start_work_of(w, &pvf(2)).await;
}

#[actix_rt::test]
async fn dont_spawn_over_soft_limit_unless_critical() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    h.enqueue(Priority::Normal, pvf(2));
    h.expect_no_pool_message().await;
    h.enqueue(Priority::Critical, pvf(3));
    h.expect_spawn().await;
    // The hard cap is reached: even Critical work spawns no more.
    h.enqueue(Priority::Critical, pvf(4));
    h.expect_no_pool_message().await;
}

#[actix_rt::test]
async fn cull_unwanted() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvf(1)).await;
    h.enqueue(Priority::Critical, pvf(2));
    h.expect_spawn().await;
    let w2 = h.spawned();
    h.expect_start_work_of(w2, &pvf(2)).await;
    // Above the soft cap and nothing critical waits: the worker that finishes goes.
    h.concluded(w2, false);
    h.expect_concluded(&pvf(2)).await;
    h.expect_kill(w2).await;
    // Back at the soft cap: the last worker stays.
    h.concluded(w1, false);
    h.expect_concluded(&pvf(1)).await;
    h.expect_no_pool_message().await;
}

#[actix_rt::test]
async fn dont_cull_while_critical_work_waits() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvf(1)).await;
    h.enqueue(Priority::Critical, pvf(2));
    h.expect_spawn().await;
    let w2 = h.spawned();
    h.expect_start_work_of(w2, &pvf(2)).await;
    h.enqueue(Priority::Critical, pvf(3));
    h.expect_no_pool_message().await;
    h.concluded(w2, false);
    h.expect_concluded(&pvf(2)).await;
    h.expect_start_work_of(w2, &pvf(3)).await;
}

#[actix_rt::test]
async fn rip_requeues_job_at_front() {
    let mut h = Harness::new(1, 1);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvf(1)).await;
    h.enqueue(Priority::Normal, pvf(2));
    h.enqueue(Priority::Normal, pvf(3));
    h.expect_no_pool_message().await;
    h.rip(w1);
    h.expect_spawn().await;
    let w2 = h.spawned();
    // The ripped job goes first, ahead of the jobs that waited behind it.
    h.expect_start_work_of(w2, &pvf(1)).await;
    h.concluded(w2, false);
    h.expect_concluded(&pvf(1)).await;
    h.expect_start_work_of(w2, &pvf(2)).await;
    h.concluded(w2, false);
    h.expect_concluded(&pvf(2)).await;
    h.expect_start_work_of(w2, &pvf(3)).await;
}

#[actix_rt::test]
async fn worker_mass_die_out_doesnt_stall_queue() {
    let mut h = Harness::new(2, 3);
    let pvfs: Vec<_> = (1..=4).map(pvf).collect();
    for p in &pvfs {
        h.enqueue(Priority::Normal, p.clone());
    }
    h.expect_spawn().await;
    h.expect_spawn().await;
    h.expect_no_pool_message().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvfs[0]).await;
    let w2 = h.spawned();
    h.expect_start_work_of(w2, &pvfs[1]).await;
    // Both workers die mid-job: each is replaced, up to the soft cap.
    h.rip(w1);
    h.rip(w2);
    h.expect_spawn().await;
    h.expect_spawn().await;
    h.expect_no_pool_message().await;
    // Play the pool until every job has concluded.
    let mut concluded = Vec::new();
    let (w3, w4) = (h.spawned(), h.spawned());
    let mut live = vec![w3, w4];
    while concluded.len() < pvfs.len() {
        match h.next_to_pool().await {
            ToPool::Spawn => live.push(h.spawned()),
            ToPool::StartWork { worker, pvf, .. } => {
                assert!(live.contains(&worker), "StartWork on a dead worker");
                h.concluded(worker, false);
                let msg = tokio::time::timeout(DEADLINE, h.to_host.recv())
                    .await
                    .expect("a conclusion")
                    .expect("host recorder alive");
                assert_eq!(msg.artifact_id, ArtifactId::from_pvf(&pvf));
                concluded.push(pvf.code_hash());
            }
            ToPool::Kill(worker) => {
                panic!("no cull expected at the soft cap, got Kill({worker:?})")
            }
        }
    }
    let mut expected: Vec<_> = pvfs.iter().map(|p| p.code_hash()).collect();
    expected.sort();
    concluded.sort();
    assert_eq!(concluded, expected, "every job ran exactly once");
    h.expect_no_pool_message().await;
}

#[actix_rt::test]
async fn doesnt_resurrect_ripped_worker_if_no_work() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvf(1)).await;
    h.concluded(w1, false);
    h.expect_concluded(&pvf(1)).await;
    // The idle worker dies with nothing queued: no replacement.
    h.rip(w1);
    h.expect_no_pool_message().await;
    // New work spawns a worker again.
    h.enqueue(Priority::Normal, pvf(2));
    h.expect_spawn().await;
    let w2 = h.spawned();
    h.expect_start_work_of(w2, &pvf(2)).await;
    // The job concluded but the worker was killed: with nothing queued, no replacement.
    h.concluded(w2, true);
    h.expect_concluded(&pvf(2)).await;
    h.expect_no_pool_message().await;
    h.enqueue(Priority::Normal, pvf(3));
    h.expect_spawn().await;
    let w3 = h.spawned();
    h.expect_start_work_of(w3, &pvf(3)).await;
}

#[actix_rt::test]
async fn stale_rip_of_a_culled_worker_is_tolerated() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvf(1)).await;
    h.enqueue(Priority::Critical, pvf(2));
    h.expect_spawn().await;
    let w2 = h.spawned();
    h.expect_start_work_of(w2, &pvf(2)).await;
    h.concluded(w2, false);
    h.expect_concluded(&pvf(2)).await;
    h.expect_kill(w2).await;
    // The pool reported w2 gone before it saw the Kill.
    h.rip(w2);
    h.expect_no_pool_message().await;
    h.concluded(w1, false);
    h.expect_concluded(&pvf(1)).await;
    h.enqueue(Priority::Normal, pvf(3));
    h.expect_start_work_of(w1, &pvf(3)).await;
    h.expect_no_pool_message().await;
}

#[actix_rt::test]
async fn duplicate_enqueue_is_coalesced() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    h.expect_no_pool_message().await;
    let w = h.spawned();
    h.expect_start_work_of(w, &pvf(1)).await;
    // A request while the job runs joins it too.
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_no_pool_message().await;
    h.concluded(w, false);
    h.expect_concluded(&pvf(1)).await;
    h.expect_no_conclusion().await;
    h.expect_no_pool_message().await;
    // Once concluded, the same PVF is a new job.
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_start_work_of(w, &pvf(1)).await;
}

#[actix_rt::test]
async fn critical_bump() {
    let mut h = Harness::new(1, 2);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w1 = h.spawned();
    h.expect_start_work_of(w1, &pvf(1)).await;
    h.enqueue(Priority::Normal, pvf(2));
    h.enqueue(Priority::Normal, pvf(3));
    h.expect_no_pool_message().await;
    // A Critical request for the queued pvf(3) moves it to the Critical lane, which may grow
    // the pool to the hard cap.
    h.enqueue(Priority::Critical, pvf(3));
    h.expect_spawn().await;
    let w2 = h.spawned();
    h.expect_start_work_of(w2, &pvf(3)).await;
    h.concluded(w2, false);
    h.expect_concluded(&pvf(3)).await;
    h.expect_no_conclusion().await;
    // Nothing critical waits and the pool is above the soft cap: w2 goes, w1 then takes pvf(2).
    h.expect_kill(w2).await;
    h.concluded(w1, false);
    h.expect_concluded(&pvf(1)).await;
    h.expect_start_work_of(w1, &pvf(2)).await;
    h.expect_no_pool_message().await;
}

#[actix_rt::test]
async fn critical_bump_at_hard_cap_runs_before_older_normal() {
    let mut h = Harness::new(1, 1);
    h.enqueue(Priority::Normal, pvf(1));
    h.expect_spawn().await;
    let w = h.spawned();
    h.expect_start_work_of(w, &pvf(1)).await;
    h.enqueue(Priority::Normal, pvf(2));
    h.enqueue(Priority::Normal, pvf(3));
    h.enqueue(Priority::Critical, pvf(3));
    h.expect_no_pool_message().await;
    h.concluded(w, false);
    h.expect_concluded(&pvf(1)).await;
    h.expect_start_work_of(w, &pvf(3)).await;
    h.concluded(w, false);
    h.expect_concluded(&pvf(3)).await;
    h.expect_start_work_of(w, &pvf(2)).await;
}

#[actix_rt::test]
async fn critical_overtakes_normal() {
    let mut h = Harness::new(1, 1);
    h.enqueue(Priority::Normal, pvf(9));
    h.expect_spawn().await;
    let w = h.spawned();
    h.expect_start_work_of(w, &pvf(9)).await;
    let (a, b, c) = (pvf(1), pvf(2), pvf(3));
    h.enqueue(Priority::Normal, a.clone());
    h.enqueue(Priority::Normal, b.clone());
    h.enqueue(Priority::Critical, c.clone());
    h.expect_no_pool_message().await;
    for (done, next) in [(pvf(9), &c), (c.clone(), &a), (a.clone(), &b)] {
        h.concluded(w, false);
        h.expect_concluded(&done).await;
        h.expect_start_work_of(w, next).await;
    }
    h.concluded(w, false);
    h.expect_concluded(&b).await;
    h.expect_no_pool_message().await;
}
