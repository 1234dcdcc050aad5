//! `refbench-mixed WORKLOAD.json [--workers E]`: replays a mixed execution workload on the
//! reference PVF host (`polkadot-node-core-pvf` 36.0.0 from crates.io), the same sequence
//! our `tests/benches/mixed_workload.rs` runs, and prints `SUMMARY` lines for it to parse.
//!
//! The workload (JSON, written by that bench):
//!
//! ```text
//! { "in_flight": 4, "relay_parent": "<32 bytes hex>",
//!   "targets": [{ "name", "code_path", "parent_head", "relay_parent_number",
//!                 "relay_parent_storage_root", "max_pov_size", "block_data", "expect_valid" }],
//!   "order": [[target_index, is_backing], ...] }
//! ```
//!
//! Steps: start the host with E execute workers; make the relay parent an active leaf (the
//! reference drops queued backing jobs whose relay parent is out of view); execute each target
//! once, untimed, so every artifact is prepared; then replay `order` with `in_flight`
//! executions outstanding, timing each from the call to the answer. Backing jobs are
//! `PvfExecKind::Backing(relay_parent)` with a 2 s timeout, approval jobs
//! `PvfExecKind::Approval` with 12 s. A verdict is right when a valid target gets `Ok` and an
//! invalid one `ValidationError::Invalid`. A thread samples the peak RSS (VmHWM) of the execute
//! workers and of the job processes they fork, from /proc, every 10 ms.

use futures::{StreamExt, stream::FuturesUnordered};
use polkadot_node_core_pvf::{
    Config, Metrics, PrepareJobKind, Priority, PvfPrepData, ValidationError, ValidationHost,
};
use polkadot_node_core_pvf_common::execute::ValidationContext;
use polkadot_node_primitives::PoV;
use polkadot_node_subsystem::{
    ActivatedLeaf, ActiveLeavesUpdate, UnpinHandle, messages::PvfExecKind,
};
use polkadot_parachain_primitives::primitives::{BlockData, HeadData};
use polkadot_primitives::{
    CandidateDescriptorV2, CandidateReceiptV2, CoreIndex, ExecutorParams, Hash, Id as ParaId,
    PersistedValidationData,
};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Decompression limit of the code, as polkadot derives it (3 MiB `max_code_size` × 10).
const BOMB_LIMIT: u32 = 30 * 1024 * 1024;
/// The lenient preparation timeout of execution-triggered compilation.
const PREP_TIMEOUT: Duration = Duration::from_secs(360);
const BACKING_TIMEOUT: Duration = Duration::from_secs(2);
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(12);

fn usage() -> ! {
    eprintln!(
        "usage: refbench-mixed WORKLOAD.json [--workers E]\n\
         env: REFBENCH_WORKER_DIR (default: directory of this executable), RUST_LOG"
    );
    std::process::exit(2)
}

/// One distinct PVF and the candidate it gets.
struct Target {
    name: String,
    pvf: PvfPrepData,
    pvd: PersistedValidationData,
    pov: PoV,
    expect_valid: bool,
}

struct Workload {
    in_flight: usize,
    relay_parent: Hash,
    targets: Vec<Target>,
    order: Vec<(usize, bool)>,
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    let s = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}`: a hex string"));
    hex::decode(s.trim_start_matches("0x")).unwrap_or_else(|e| panic!("`{key}`: {e}"))
}

fn hash_field(v: &Value, key: &str) -> Hash {
    let bytes = hex_field(v, key);
    assert_eq!(bytes.len(), 32, "`{key}`: 32 bytes");
    Hash::from_slice(&bytes)
}

fn u64_field(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}`: a number"))
}

fn load(path: &Path) -> Workload {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let json: Value = serde_json::from_slice(&text).expect("workload: JSON");
    let base = path.parent().unwrap_or(Path::new("."));
    let targets: Vec<Target> = json["targets"]
        .as_array()
        .expect("`targets`: a list")
        .iter()
        .map(|t| {
            // Relative to the workload file's directory.
            let code_path = base.join(t["code_path"].as_str().expect("`code_path`"));
            let code = std::fs::read(&code_path)
                .unwrap_or_else(|e| panic!("{}: {e}", code_path.display()));
            let pvf = PvfPrepData::from_code(
                code,
                ExecutorParams::default(),
                PREP_TIMEOUT,
                PrepareJobKind::Compilation,
                BOMB_LIMIT,
            );
            Target {
                name: t["name"].as_str().expect("`name`").to_string(),
                pvf,
                pvd: PersistedValidationData {
                    parent_head: HeadData(hex_field(t, "parent_head")),
                    relay_parent_number: u64_field(t, "relay_parent_number") as u32,
                    relay_parent_storage_root: hash_field(t, "relay_parent_storage_root"),
                    max_pov_size: u64_field(t, "max_pov_size") as u32,
                },
                pov: PoV {
                    block_data: BlockData(hex_field(t, "block_data")),
                },
                expect_valid: t["expect_valid"].as_bool().expect("`expect_valid`"),
            }
        })
        .collect();
    let order = json["order"]
        .as_array()
        .expect("`order`: a list")
        .iter()
        .map(|pair| {
            let index = pair[0].as_u64().expect("a target index") as usize;
            assert!(index < targets.len(), "target index {index} out of range");
            (index, pair[1].as_bool().expect("is_backing: a bool"))
        })
        .collect();
    Workload {
        in_flight: u64_field(&json, "in_flight") as usize,
        relay_parent: hash_field(&json, "relay_parent"),
        targets,
        order,
    }
}

/// The execution context candidate-validation would build: a V2 descriptor (so the worker
/// passes the legacy `ValidationParams` encoding, no V3 extension).
fn context(target: &Target, relay_parent: Hash, timeout: Duration) -> ValidationContext {
    let descriptor = CandidateDescriptorV2::new(
        ParaId::from(100u32),
        relay_parent,
        CoreIndex(0),
        0,
        target.pvd.hash(),
        target.pov.hash(),
        Hash::zero(),
        Hash::zero(),
        target.pvf.code_hash(),
    );
    ValidationContext {
        candidate_receipt: CandidateReceiptV2 {
            descriptor,
            commitments_hash: Hash::zero(),
        },
        pvd: Arc::new(target.pvd.clone()),
        pov: Arc::new(target.pov.clone()),
        executor_params: ExecutorParams::default(),
        exec_timeout: timeout,
        v3_seen: false,
    }
}

/// One execution, timed from the call to the answer. Returns whether the verdict is right.
async fn execute(
    mut host: ValidationHost,
    target: &Target,
    relay_parent: Hash,
    backing: bool,
) -> (bool, Duration, String) {
    // Candidate-validation's choice: backing prepares at normal priority, the rest critical.
    let (kind, priority, timeout) = if backing {
        (
            PvfExecKind::Backing(relay_parent),
            Priority::Normal,
            BACKING_TIMEOUT,
        )
    } else {
        (PvfExecKind::Approval, Priority::Critical, APPROVAL_TIMEOUT)
    };
    let (tx, rx) = futures::channel::oneshot::channel();
    let began = Instant::now();
    host.execute_pvf(
        target.pvf.clone(),
        context(target, relay_parent, timeout),
        priority,
        kind,
        tx,
    )
    .await
    .expect("host alive");
    let result = rx.await.expect("host answered");
    let took = began.elapsed();
    let right = match &result {
        Ok(_) => target.expect_valid,
        Err(ValidationError::Invalid(_)) => !target.expect_valid,
        Err(_) => false,
    };
    let verdict = match result {
        Ok(_) => "Ok".to_string(),
        Err(e) => format!("Err({e:?})"),
    };
    (right, took, verdict)
}

fn worker_dir() -> PathBuf {
    match std::env::var_os("REFBENCH_WORKER_DIR") {
        Some(dir) => dir.into(),
        None => std::env::current_exe()
            .expect("current_exe")
            .parent()
            .expect("a parent dir")
            .to_path_buf(),
    }
}

/// Peak RSS (KiB) per execute worker (a child of this process): its own VmHWM, and the
/// largest VmHWM of the job processes it forked.
type Peaks = BTreeMap<u32, (u64, u64)>;

struct RssSampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<Peaks>>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new(Mutex::new(Peaks::new()));
        let (stop2, peaks2) = (stop.clone(), peaks.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                sample(&peaks2);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        RssSampler {
            stop,
            peaks,
            thread,
        }
    }

    fn finish(self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peaks.lock().unwrap().clone()
    }
}

/// The children of every thread of `pid` (the kernel's `/proc/PID/task/TID/children`): a few
/// reads per sample instead of a scan of all of /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn sample(peaks: &Mutex<Peaks>) {
    // comm is cut to 15 bytes: "polkadot-execut".
    let is_execute_worker = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.starts_with("polkadot-execut"))
    };
    for worker in children(std::process::id())
        .into_iter()
        .filter(is_execute_worker)
    {
        let own = vm_hwm_kib(worker);
        let jobs = children(worker).into_iter().filter_map(vm_hwm_kib).max();
        let mut peaks = peaks.lock().unwrap();
        let entry = peaks.entry(worker).or_default();
        entry.0 = entry.0.max(own.unwrap_or(0));
        entry.1 = entry.1.max(jobs.unwrap_or(0));
    }
}

/// `sorted[round((n - 1) × p)]`, the definition the project's benches use.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    polkadot_node_core_pvf_common::sp_tracing::try_init_simple();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut file, mut workers) = (None, 2usize);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--workers" => {
                workers = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            a if a.starts_with("--") => usage(),
            a if file.is_none() => file = Some(PathBuf::from(a)),
            _ => usage(),
        }
    }
    let workload = Arc::new(load(&file.unwrap_or_else(|| usage())));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let sampler = RssSampler::start();
    let cache = tempfile::Builder::new()
        .prefix("refbench-mixed-cache-")
        .tempdir()
        .expect("cache dir");
    runtime.block_on(run(&workload, workers, cache.path()));
    runtime.shutdown_timeout(Duration::from_secs(2));
    let peaks = sampler.finish();
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    let list = |f: fn(&(u64, u64)) -> u64| {
        peaks
            .values()
            .map(|p| mib(f(p)))
            .collect::<Vec<_>>()
            .join(",")
    };
    println!("SUMMARY worker_peak_rss_mib={}", list(|p| p.0));
    println!("SUMMARY job_peak_rss_mib={}", list(|p| p.1));
}

async fn run(workload: &Arc<Workload>, workers: usize, cache: &Path) {
    let dir = worker_dir();
    let config = Config::new(
        cache.to_path_buf(),
        Some(refharness_mixed::NODE_VERSION.to_string()),
        false, // secure_validator_mode
        dir.join(polkadot_node_core_pvf::PREPARE_BINARY_NAME),
        dir.join(polkadot_node_core_pvf::EXECUTE_BINARY_NAME),
        workers, // execute_workers_max_num
        1,       // prepare_workers_soft_max_num
        2,       // prepare_workers_hard_max_num
    );
    let (mut host, task) = polkadot_node_core_pvf::start(config, Metrics::default())
        .await
        .expect("the reference host starts");
    let host_task = tokio::spawn(task);

    // The relay parent as an active leaf. The receiver outlives the leaf's unpin handle.
    let (unpin_tx, _unpin_rx) = sc_utils::mpsc::tracing_unbounded("refbench-mixed-unpin", 100);
    let leaf = ActivatedLeaf {
        hash: workload.relay_parent,
        number: 1,
        unpin_handle: UnpinHandle::new(workload.relay_parent, unpin_tx),
    };
    host.update_active_leaves(ActiveLeavesUpdate::start_work(leaf), vec![])
        .await
        .expect("host alive");

    // Every artifact ready first: the figures are about execution.
    for target in &workload.targets {
        let (right, took, verdict) =
            execute(host.clone(), target, workload.relay_parent, false).await;
        let verdict: String = verdict.chars().take(100).collect();
        println!(
            "# prepared and executed {}: {verdict} in {:.1} ms{}",
            target.name,
            ms(took),
            if right { "" } else { " (WRONG verdict)" }
        );
    }

    let began = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut done = Vec::with_capacity(workload.order.len());
    for &(index, backing) in &workload.order {
        if pending.len() >= workload.in_flight.max(1) {
            done.push(pending.next().await.expect("a pending execution"));
        }
        let (host, workload) = (host.clone(), workload.clone());
        pending.push(async move {
            let target = &workload.targets[index];
            let (right, took, verdict) =
                execute(host, target, workload.relay_parent, backing).await;
            (index, backing, right, took, verdict)
        });
    }
    while let Some(finished) = pending.next().await {
        done.push(finished);
    }
    let wall = began.elapsed();

    let (mut backing_ms, mut approval_ms, mut wrong) = (Vec::new(), Vec::new(), 0);
    for (index, backing, right, took, verdict) in done {
        if !right {
            wrong += 1;
            let kind = if backing { "backing" } else { "approval" };
            println!(
                "# wrong verdict: {} ({kind}): {verdict}",
                workload.targets[index].name
            );
        }
        if backing {
            backing_ms.push(ms(took));
        } else {
            approval_ms.push(ms(took));
        }
    }
    backing_ms.sort_by(f64::total_cmp);
    approval_ms.sort_by(f64::total_cmp);
    let executions = workload.order.len();
    let mut line = format!(
        "SUMMARY mixed executions={executions} in_flight={} workers={workers} wall_ms={:.1} throughput={:.2}",
        workload.in_flight,
        ms(wall),
        executions as f64 / wall.as_secs_f64()
    );
    for (kind, sorted) in [("backing", &backing_ms), ("approval", &approval_ms)] {
        line += &format!(
            " {kind}_n={} {kind}_p50_ms={:.2} {kind}_p95_ms={:.2} {kind}_p99_ms={:.2}",
            sorted.len(),
            percentile(sorted, 0.5),
            percentile(sorted, 0.95),
            percentile(sorted, 0.99)
        );
    }
    println!("{line} wrong={wrong}");

    drop(host);
    host_task.abort();
    let _ = host_task.await;
}
