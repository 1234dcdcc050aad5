//! Soak: 10 000 adder executions with a preparation every 250, through one host. Prints RSS
//! and open descriptors at the start and end, and the throughput. Heavy, so `--ignored`:
//!
//! ```text
//! cargo test --release -p pvf-tests --test it -- soak --ignored --nocapture
//! SOAK_EXECUTIONS=100000 cargo test --release -p pvf-tests --test it -- soak --ignored --nocapture
//! ```

use parity_scale_codec::Encode;
use pvf_common::PrepareJobKind;
use pvf_host::{Config, execute::lanes::PvfExecKind};
use pvf_tests::{
    adder::{Adder, pvd_pov},
    procs,
};
use std::time::{Duration, Instant};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Summed RSS of the host's worker processes, in MiB.
fn workers_rss_mib(cache: &std::path::Path) -> f64 {
    mib(procs::workers_of(cache)
        .into_iter()
        .map(|pid| procs::rss_kib(Some(pid)))
        .sum())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "soak: 10 000 executions; run with --ignored"]
async fn soak_adder_executions_and_repeated_preparations() {
    let _process = pvf_tests::alone_in_the_process();
    let Some(corpus) = pvf_tests::corpus_dir_or_skip("soak") else {
        return;
    };
    let executions: usize = std::env::var("SOAK_EXECUTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let adder = Adder::load(&corpus);
    let cache = tempfile::tempdir().unwrap();
    let mut config = Config::new(cache.path().into(), WORKER.into());
    config.execute_workers_max_num = 2;
    let host = pvf_tests::start_host_with(config);
    let pvf = pvf_tests::pvf(
        adder.code.clone(),
        PrepareJobKind::Compilation,
        Duration::from_secs(60),
    );
    let (pvd, pov) = pvd_pov(&adder.good);
    let execute = || {
        let (host, pvf, pvd, pov) = (host.clone(), pvf.clone(), pvd.clone(), pov.clone());
        async move {
            host.execute_pvf(pvf, Duration::from_secs(2), pvd, pov, PvfExecKind::Approval)
                .await
                .expect("host alive")
                .map(|r| r.encode())
        }
    };
    // Warm up: the artifact, both execute workers, the prepare worker.
    for result in futures::future::join_all((0..4).map(|_| execute())).await {
        assert_eq!(result, Ok(adder.expected.clone()));
    }
    let minimal = pvf_tests::test_pvf("minimal-pvf.wat");
    let (fds_start, rss_start) = (procs::open_fds(), mib(procs::rss_kib(None)));
    let workers_start = workers_rss_mib(cache.path());
    let started = Instant::now();
    let (mut done, mut preparations) = (0, 0);
    while done < executions {
        let batch = 8.min(executions - done);
        for result in futures::future::join_all((0..batch).map(|_| execute())).await {
            assert_eq!(result, Ok(adder.expected.clone()));
        }
        done += batch;
        if done % 250 < batch {
            let code = pvf_tests::with_custom_section(&minimal, "soak", &done.to_le_bytes());
            let precheck =
                pvf_tests::pvf(code, PrepareJobKind::Prechecking, Duration::from_secs(60));
            assert_eq!(host.precheck_pvf(precheck).await, Ok(Ok(())));
            preparations += 1;
        }
    }
    let elapsed = started.elapsed();
    let (fds_end, rss_end) = (procs::open_fds(), mib(procs::rss_kib(None)));
    let workers_end = workers_rss_mib(cache.path());
    println!(
        "soak: {done} executions and {preparations} preparations in {:.1} s: {:.0} executions/s",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );
    println!("open fds: {fds_start} at start, {fds_end} at end");
    println!("host RSS: {rss_start:.1} MiB at start, {rss_end:.1} MiB at end");
    println!("workers' RSS (sum): {workers_start:.1} MiB at start, {workers_end:.1} MiB at end");
    assert!(fds_end <= fds_start + 2, "descriptors leaked");
    assert!(rss_end <= rss_start + 64.0, "RSS grew by more than 64 MiB");
    assert_eq!(
        host.counters().prepare.jobs_started,
        1 + preparations as u64
    );
}
