//! What the execute workers of a host hold in memory. Their modules live in sealed memfds
//! (shared memory), which the RSS counts only as far as jobs touched them: the module bytes
//! are read from the mappings in `/proc/<pid>/maps` instead.

use std::path::Path;

/// One execute worker's memory, in KiB.
pub struct WorkerMemory {
    /// Peak resident set (VmHWM).
    pub peak_rss_kib: u64,
    /// Private memory resident now (RssAnon): the worker's own heap, engine and metadata.
    pub anon_kib: u64,
    /// Module bytes mapped from the worker's memfds: what its module cache holds.
    pub modules_kib: u64,
}

/// The execute workers of the host on `cache` (children of this process).
pub fn execute_workers(cache: &Path) -> Vec<WorkerMemory> {
    let needle = pvf_tests::procs::worker_needle(cache);
    pvf_tests::procs::with_cmdline_containing(&needle)
        .into_iter()
        .filter(|&pid| {
            pvf_tests::procs::cmdline(pid).is_some_and(|c| c.contains("execute-worker"))
                && pvf_tests::procs::state_and_parent(pid)
                    .is_some_and(|(_, parent)| parent == std::process::id() as i32)
        })
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let field = |name: &str| -> Option<u64> {
                status
                    .lines()
                    .find(|l| l.starts_with(name))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            };
            let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
            Some(WorkerMemory {
                peak_rss_kib: field("VmHWM:")?,
                anon_kib: field("RssAnon:")?,
                modules_kib: memfd_mapped_bytes(&maps) / 1024,
            })
        })
        .collect()
}

/// The bytes of every mapping of a memfd in a `/proc/<pid>/maps` listing.
fn memfd_mapped_bytes(maps: &str) -> u64 {
    maps.lines()
        .filter(|line| line.contains("/memfd:"))
        .filter_map(|line| {
            let (start, end) = line.split_whitespace().next()?.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            Some(end - start)
        })
        .sum()
}

/// One line per worker, e.g. `42 MiB peak RSS, 30 MiB private, 250 MiB of modules`.
pub fn describe(workers: &[WorkerMemory]) -> String {
    workers
        .iter()
        .map(|w| {
            format!(
                "{} MiB peak RSS, {} MiB private, {} MiB of modules",
                w.peak_rss_kib / 1024,
                w.anon_kib / 1024,
                w.modules_kib / 1024
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
