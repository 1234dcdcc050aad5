//! Metrics, through the `metrics` facade, with the reference's names so existing dashboards
//! keep working; plus what the reference lacks (cache size, spawn failures). Install any
//! recorder (the CLI serves Prometheus text) to collect them.

use crate::spawn::WorkerFlavour;
use pvf_common::PrepareStats;
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// The label the reference puts on worker metrics: `flavor="prepare"` or `flavor="execute"`.
const FLAVOR: &str = "flavor";

#[derive(Debug, Default)]
struct FlavourCounters {
    jobs_started: AtomicU64,
    workers_spawned: AtomicU64,
    spawn_failures: AtomicU64,
}

impl FlavourCounters {
    fn snapshot(&self) -> FlavourCountersSnapshot {
        FlavourCountersSnapshot {
            jobs_started: self.jobs_started.load(Ordering::Relaxed),
            workers_spawned: self.workers_spawned.load(Ordering::Relaxed),
            spawn_failures: self.spawn_failures.load(Ordering::Relaxed),
        }
    }
}

/// Counters the host keeps for itself, per worker flavour, readable through
/// [`ValidationHost::counters`](crate::ValidationHost::counters) without a metrics recorder.
#[derive(Debug, Default)]
pub struct HostCounters {
    prepare: FlavourCounters,
    execute: FlavourCounters,
    execute_job_peak_rss_kib: AtomicU64,
    execute_module_cache_hits: AtomicU64,
    execute_module_loads: AtomicU64,
}

/// A snapshot of one flavour's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlavourCountersSnapshot {
    /// Jobs handed to workers (for prepare, each is one compilation attempt).
    pub jobs_started: u64,
    /// Workers spawned successfully.
    pub workers_spawned: u64,
    /// Spawn attempts that failed.
    pub spawn_failures: u64,
}

/// A snapshot of [`HostCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Prepare workers and their jobs.
    pub prepare: FlavourCountersSnapshot,
    /// Execute workers and their jobs.
    pub execute: FlavourCountersSnapshot,
    /// The largest peak resident set size of any execute job so far, in KiB; `0` before the
    /// first job that reported one.
    pub execute_job_peak_rss_kib: u64,
    /// Execute jobs whose module was in their worker's cache.
    pub execute_module_cache_hits: u64,
    /// Execute jobs whose worker read and deserialised the artifact.
    pub execute_module_loads: u64,
}

impl HostCounters {
    fn of(&self, flavour: WorkerFlavour) -> &FlavourCounters {
        match flavour {
            WorkerFlavour::Prepare => &self.prepare,
            WorkerFlavour::Execute => &self.execute,
        }
    }

    pub(crate) fn job_started(&self, flavour: WorkerFlavour) {
        self.of(flavour)
            .jobs_started
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Current values.
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            prepare: self.prepare.snapshot(),
            execute: self.execute.snapshot(),
            execute_job_peak_rss_kib: self.execute_job_peak_rss_kib.load(Ordering::Relaxed),
            execute_module_cache_hits: self.execute_module_cache_hits.load(Ordering::Relaxed),
            execute_module_loads: self.execute_module_loads.load(Ordering::Relaxed),
        }
    }
}

pub(crate) fn worker_spawning(flavour: WorkerFlavour) {
    metrics::counter!("polkadot_pvf_worker_spawning", FLAVOR => flavour.as_str()).increment(1);
}

pub(crate) fn worker_spawned(flavour: WorkerFlavour, counters: &HostCounters) {
    counters
        .of(flavour)
        .workers_spawned
        .fetch_add(1, Ordering::Relaxed);
    metrics::counter!("polkadot_pvf_worker_spawned", FLAVOR => flavour.as_str()).increment(1);
}

pub(crate) fn worker_spawn_failed(flavour: WorkerFlavour, counters: &HostCounters) {
    counters
        .of(flavour)
        .spawn_failures
        .fetch_add(1, Ordering::Relaxed);
    metrics::counter!("polkadot_pvf_worker_spawn_failed", FLAVOR => flavour.as_str()).increment(1);
}

pub(crate) fn worker_retired(flavour: WorkerFlavour) {
    metrics::counter!("polkadot_pvf_worker_retired", FLAVOR => flavour.as_str()).increment(1);
}

pub(crate) fn prepare_enqueued() {
    metrics::counter!("polkadot_pvf_prepare_enqueued").increment(1);
}

pub(crate) fn prepare_concluded() {
    metrics::counter!("polkadot_pvf_prepare_concluded").increment(1);
}

/// Wall time from handing the job to a worker until its outcome, plus memory and code size of
/// successful jobs (`stats`).
pub(crate) fn preparation_finished(elapsed: Duration, stats: Option<&PrepareStats>) {
    metrics::histogram!("polkadot_pvf_preparation_time").record(elapsed.as_secs_f64());
    if let Some(stats) = stats {
        let memory = stats.memory_stats;
        if let Some(rss) = memory.max_rss_kib {
            metrics::histogram!("polkadot_pvf_preparation_max_rss").record(rss as f64);
        }
        metrics::histogram!("polkadot_pvf_preparation_peak_tracked_allocation")
            .record((memory.peak_tracked_alloc / 1024) as f64);
        metrics::histogram!("polkadot_parachain_candidate_validation_code_size")
            .record(stats.observed_wasm_code_len as f64);
    }
}

pub(crate) fn artifact_cache_usage(bytes: u64, count: usize) {
    metrics::gauge!("polkadot_pvf_artifact_cache_bytes").set(bytes as f64);
    metrics::gauge!("polkadot_pvf_artifact_cache_count").set(count as f64);
}

/// Histogram buckets matching the reference's, for recorders that need them up front:
/// (metric name, bucket bounds).
pub fn histogram_buckets() -> Vec<(&'static str, Vec<f64>)> {
    let exponential = |start: f64, count: usize| {
        (0..count)
            .map(|i| start * 2f64.powi(i as i32))
            .collect::<Vec<_>>()
    };
    vec![
        (
            "polkadot_pvf_preparation_time",
            vec![
                0.1, 0.5, 1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 60.0, 120.0, 240.0, 360.0, 480.0,
            ],
        ),
        (
            "polkadot_pvf_execution_time",
            vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0,
            ],
        ),
        (
            "polkadot_pvf_execution_queued_time",
            vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 12.0, 24.0, 48.0,
            ],
        ),
        ("polkadot_pvf_preparation_max_rss", exponential(8192.0, 10)),
        ("pvf_execution_max_rss", exponential(8192.0, 10)),
        (
            "polkadot_pvf_preparation_peak_tracked_allocation",
            exponential(8192.0, 10),
        ),
        (
            "polkadot_parachain_candidate_validation_code_size",
            exponential(16384.0, 10),
        ),
        (
            "polkadot_parachain_candidate_validation_pov_size",
            exponential(16384.0, 10),
        ),
    ]
}

/// A job entered the execute queue with a PoV of `pov_len` (compressed) bytes.
pub(crate) fn execute_enqueued(pov_len: usize) {
    metrics::counter!("polkadot_pvf_execute_enqueued").increment(1);
    metrics::histogram!("polkadot_parachain_candidate_validation_pov_size", "compressed" => "true")
        .record(pov_len as f64);
}

/// A job left the queue for a worker after `queued`, from lane `priority`.
pub(crate) fn execute_started(queued: Duration, priority: &'static str) {
    metrics::histogram!("polkadot_pvf_execution_queued_time").record(queued.as_secs_f64());
    metrics::counter!("polkadot_pvf_exec_kind_selected", "priority" => priority).increment(1);
}

/// A job finished (any outcome) `elapsed` after it started.
pub(crate) fn execute_finished(elapsed: Duration) {
    metrics::counter!("polkadot_pvf_execute_finished").increment(1);
    metrics::histogram!("polkadot_pvf_execution_time").record(elapsed.as_secs_f64());
}

/// Whether an execute job's module was cached in its worker (not in the reference).
pub(crate) fn execute_module_cached(hit: bool, counters: &HostCounters) {
    let (counter, result) = if hit {
        (&counters.execute_module_cache_hits, "hit")
    } else {
        (&counters.execute_module_loads, "miss")
    };
    counter.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("pvf_execute_module_cache", "result" => result).increment(1);
}

/// An execute job's peak resident set size, in KiB (not in the reference).
pub(crate) fn execute_job_max_rss(kib: u64, counters: &HostCounters) {
    counters
        .execute_job_peak_rss_kib
        .fetch_max(kib, Ordering::Relaxed);
    metrics::histogram!("pvf_execution_max_rss").record(kib as f64);
}

/// The decompressed size of a PoV a job executed.
pub(crate) fn execute_pov_decompressed(pov_size: u32) {
    metrics::histogram!("polkadot_parachain_candidate_validation_pov_size", "compressed" => "false")
        .record(f64::from(pov_size));
}

#[cfg(test)]
mod tests {
    /// Every histogram this file records has its buckets in [`super::histogram_buckets`]:
    /// without them a Prometheus exporter renders it as a summary, unlike the reference's.
    #[test]
    fn every_histogram_recorded_has_its_buckets() {
        let source = include_str!("metrics.rs");
        let marker = concat!("histogram!", "(\"");
        let recorded: std::collections::BTreeSet<&str> = source
            .split(marker)
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        assert!(recorded.len() >= 8, "{recorded:?}");
        let with_buckets: std::collections::BTreeSet<&str> = super::histogram_buckets()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let missing: Vec<_> = recorded.difference(&with_buckets).collect();
        assert!(missing.is_empty(), "no buckets for {missing:?}");
    }
}
