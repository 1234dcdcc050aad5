//! The reference host on the mixed workload: `$REFBENCH_MIXED` (`tools/refharness-mixed`'s
//! `refbench-mixed`, built outside CI) replays the same targets and the same order, with the
//! same number of executions in flight and of execute workers, and prints `SUMMARY` lines.

use super::Target;
use serde_json::json;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
};

/// What the reference reported, times in milliseconds.
pub struct Figures {
    pub throughput: f64,
    /// (n, p50, p95, p99) of backing and of approval jobs.
    pub backing: (usize, f64, f64, f64),
    pub approval: (usize, f64, f64, f64),
    pub wrong: usize,
    /// Each execute worker's peak RSS, and the peak of the job processes it forked (MiB).
    pub worker_peaks_mib: Vec<f64>,
    pub job_peaks_mib: Vec<f64>,
}

/// Writes each target's code (already decompressed: a variant of ours) and the workload JSON
/// into `dir`; the code paths are relative to it. Returns the workload's path.
pub fn write_workload(
    dir: &Path,
    targets: &[Target],
    order: &[(usize, bool)],
    in_flight: usize,
    relay_parent: [u8; 32],
) -> PathBuf {
    let targets: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let code_path = format!("target-{i}.wasm");
            std::fs::write(
                dir.join(&code_path),
                t.pvf.maybe_compressed_code().as_slice(),
            )
            .expect("temp file");
            json!({
                "name": t.name,
                "code_path": code_path,
                "parent_head": hex::encode(&t.pvd.parent_head.0),
                "relay_parent_number": t.pvd.relay_parent_number,
                "relay_parent_storage_root": hex::encode(t.pvd.relay_parent_storage_root),
                "max_pov_size": t.pvd.max_pov_size,
                "block_data": hex::encode(&t.pov.block_data.0),
                "expect_valid": t.valid,
            })
        })
        .collect();
    let workload = json!({
        "in_flight": in_flight,
        "relay_parent": hex::encode(relay_parent),
        "targets": targets,
        "order": order.iter().map(|&(i, backing)| json!([i, backing])).collect::<Vec<_>>(),
    });
    let path = dir.join("workload.json");
    std::fs::write(&path, workload.to_string()).expect("temp file");
    path
}

/// Runs `refbench WORKLOAD --workers E` and parses its `SUMMARY` lines.
pub fn run(refbench: &Path, workload: &Path, workers: usize) -> Result<Figures, String> {
    let output = Command::new(refbench)
        .arg(workload)
        .args(["--workers", &workers.to_string()])
        .env("RUST_LOG", "error")
        .output()
        .map_err(|e| format!("{}: {e}", refbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines().filter(|l| l.starts_with("# wrong")) {
        eprintln!("  reference: {line}");
    }
    let mut fields = HashMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("SUMMARY ")) {
        for pair in line.split_whitespace().skip(1) {
            if let Some((key, value)) = pair.split_once('=') {
                fields.insert(key.to_string(), value.to_string());
            }
        }
    }
    let number = |key: &str| -> Result<f64, String> {
        fields.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            format!(
                "no `{key}` in its output ({}); stderr ends: {tail:?}",
                output.status
            )
        })
    };
    let mibs = |key: &str| -> Vec<f64> {
        fields.get(key).map_or(Vec::new(), |v| {
            v.split(',').filter_map(|x| x.parse().ok()).collect()
        })
    };
    let kind = |kind: &str| -> Result<(usize, f64, f64, f64), String> {
        Ok((
            number(&format!("{kind}_n"))? as usize,
            number(&format!("{kind}_p50_ms"))?,
            number(&format!("{kind}_p95_ms"))?,
            number(&format!("{kind}_p99_ms"))?,
        ))
    };
    Ok(Figures {
        throughput: number("throughput")?,
        backing: kind("backing")?,
        approval: kind("approval")?,
        wrong: number("wrong")? as usize,
        worker_peaks_mib: mibs("worker_peak_rss_mib"),
        job_peaks_mib: mibs("job_peak_rss_mib"),
    })
}
