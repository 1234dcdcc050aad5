//! A seeded chaos driver: a stream of pre-check, prepare, heads-up and execute requests (an
//! approval through the validation layer's retry, as a node runs it) to a host with real,
//! sandboxed workers, while faults hit workers, jobs, artifacts and worker dirs at random
//! moments, and to a second host whose workers answer garbage.
//!
//! The run is divided into epochs; each starts a host on the same cache dir, so artifacts
//! damaged between epochs test the persistent cache across restarts. Between epochs a host
//! process on the dir may also be ended by SIGTERM mid-compile (the next host must start on
//! what it left); during one, a second host may try the dir (it must be refused). The seed fixes every
//! choice (request kinds, fault kinds, targets, pauses); which process a signal finds busy
//! still depends on timing.
//!
//! Checked: every request gets exactly one answer of an allowed kind within its bound (see
//! [`workload`]); afterwards no tmp file, worker dir, worker process or zombie is left, the
//! number of open descriptors is back where it started, and RSS stays bounded.

pub mod faults;
pub mod workload;

use crate::procs;
use faults::Fault;
use pvf_common::{
    execute::{InternalValidationError, ValidationError},
    wire_names::TMP_ARTIFACT_FILE_NAME,
};
use pvf_host::{Config, Priority, ValidationHost, execute::lanes::PvfExecKind};
use pvf_validation::retry::{ExecutionInput, execute_with_retry};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use workload::{Call, Judgement, Target, Workload};

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct ChaosConfig {
    /// Fixes every random choice.
    pub seed: u64,
    /// Host restarts, each with its own share of the faults.
    pub epochs: usize,
    /// Faults injected into the main host per epoch (garbage answers come on top).
    pub faults_per_epoch: usize,
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Share of requests that go to the garbage host.
    pub garbage_share: f64,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct ChaosReport {
    /// Faults by kind.
    pub faults: BTreeMap<String, usize>,
    /// Answers by request and kind.
    pub answers: BTreeMap<(String, String), usize>,
    /// Slowest answer by request kind.
    pub slowest: BTreeMap<String, Duration>,
    /// Every answer that is not allowed, and every lost one.
    pub violations: Vec<String>,
    /// Requests sent (heads-up included).
    pub requests: usize,
    /// Leaks found after the last host stopped.
    pub leaks: Leaks,
    /// Open descriptors and RSS (KiB) at start, after the first epoch, and at the end.
    pub resources: [(usize, u64); 3],
}

/// What was left behind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leaks {
    /// `tmp-artifact` files anywhere in the cache dirs.
    pub tmp_files: usize,
    /// Worker dirs in the cache dirs.
    pub worker_dirs: usize,
    /// Live worker processes of either host.
    pub processes: usize,
    /// Zombie children of this process.
    pub zombies: usize,
}

impl ChaosReport {
    /// Total faults injected (garbage answers included).
    pub fn total_faults(&self) -> usize {
        self.faults.values().sum()
    }

    fn count_fault(&mut self, kind: &str) {
        *self.faults.entry(kind.into()).or_default() += 1;
    }

    /// The summary tables.
    pub fn render(&self, config: &ChaosConfig) -> String {
        let mut out = format!(
            "chaos run: seed {}, {} epochs, {} requests, {} faults\n\nfaults by kind\n",
            config.seed,
            config.epochs,
            self.requests,
            self.total_faults()
        );
        for (kind, n) in &self.faults {
            out += &format!("  {kind:<40} {n:>6}\n");
        }
        out += "\nanswers by request and kind                                        slowest\n";
        let mut last = "";
        for ((request, kind), n) in &self.answers {
            let slowest = if request != last {
                format!("{:>8.2} s", self.slowest[request].as_secs_f64())
            } else {
                String::new()
            };
            let shown = if request != last {
                request.as_str()
            } else {
                ""
            };
            out += &format!("  {shown:<34} {kind:<40} {n:>5} {slowest}\n");
            last = request;
        }
        let lost = self
            .violations
            .iter()
            .filter(|v| v.starts_with("LOST"))
            .count();
        let [start, first, end] = self.resources;
        out += &format!(
            "\nlost answers: {lost}   violations: {}\nleaks: {} tmp files, {} worker dirs, {} worker processes, {} zombies\n\
             open fds: {} at start, {} after epoch 1, {} at end\nRSS: {} MiB at start, {} MiB after epoch 1, {} MiB at end\n",
            self.violations.len(),
            self.leaks.tmp_files,
            self.leaks.worker_dirs,
            self.leaks.processes,
            self.leaks.zombies,
            start.0,
            first.0,
            end.0,
            start.1 / 1024,
            first.1 / 1024,
            end.1 / 1024,
        );
        for v in &self.violations {
            out += &format!("VIOLATION {v}\n");
        }
        out
    }
}

/// The wait before an execution's retry: short, so that a run stays about a minute (a node
/// waits `pvf_validation::policy::DEFAULT_RETRY_DELAY`).
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// The relay parent every backing request uses; kept active.
const LEAF: [u8; 32] = [7; 32];

fn start_host(cache: &Path, worker: &Path, garbage: bool) -> ValidationHost {
    let mut config = Config::new(cache.into(), worker.into());
    config.execute_workers_max_num = 2;
    // Failed preparations are retried at once: otherwise one fault would answer every later
    // request for that PVF from the stored error for 15 minutes, and test nothing.
    config.retry.cooldown = Duration::ZERO;
    config.retry.max_retries = u32::MAX;
    if garbage {
        config.prepare_worker_args_prefix = vec!["garbage".into()];
    }
    crate::start_host_with(config)
}

type Shared = Arc<Mutex<ChaosReport>>;

/// Sends one request and records its judged answer.
async fn serve(host: ValidationHost, request: workload::Request, report: Shared) {
    let started = Instant::now();
    let bound = request.bound;
    let label = request.label;
    let answer = async {
        match request.call {
            Call::Precheck { pvf, fails_with } => host
                .precheck_pvf(pvf)
                .await
                .map(|r| workload::judge_precheck(&r, fails_with))
                .map_err(|e| e.to_string()),
            Call::Prepare(pvf) => host
                .prepare(pvf, Priority::Critical)
                .await
                .map(|r| workload::judge_precheck(&r.map(|_| ()), None))
                .map_err(|e| e.to_string()),
            Call::HeadsUp(pvf) => host
                .heads_up(vec![pvf])
                .await
                .map(|()| Judgement {
                    kind: "accepted".into(),
                    violation: None,
                })
                .map_err(|e| e.to_string()),
            Call::Execute {
                pvf,
                params,
                timeout,
                deserves,
            } => {
                // As a node runs an approval: the host answers each attempt, and the
                // validation layer retries (re-preparing a bad artifact first) while time
                // allows. A host that went away is not a local error here but a violation.
                let (pvd, pov) = crate::adder::pvd_pov(&params);
                let input = ExecutionInput {
                    pvd,
                    pov,
                    params_extension: None,
                };
                let kind = PvfExecKind::Approval;
                match execute_with_retry(&host, pvf, timeout, input, kind, RETRY_DELAY).await {
                    Err(ValidationError::Internal(InternalValidationError::HostCommunication(
                        e,
                    ))) => Err(e),
                    r => Ok(workload::judge_execution(
                        &r.map(|v| parity_scale_codec::Encode::encode(&v)),
                        &deserves,
                    )),
                }
            }
        }
    };
    let judgement = match tokio::time::timeout(bound.max(Duration::from_secs(5)), answer).await {
        Ok(Ok(judgement)) => judgement,
        Ok(Err(e)) => Judgement {
            kind: "HOST GONE".into(),
            violation: Some(format!("LOST {label}: the host went away: {e}")),
        },
        Err(_) => Judgement {
            kind: "LOST".into(),
            violation: Some(format!("LOST {label}: no answer within {bound:?}")),
        },
    };
    let elapsed = started.elapsed();
    let mut report = report.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = judgement.violation {
        report.violations.push(v);
    }
    *report
        .answers
        .entry((label.into(), judgement.kind))
        .or_default() += 1;
    let slowest = report.slowest.entry(label.into()).or_default();
    *slowest = (*slowest).max(elapsed);
}

/// One epoch: hosts up, requests and faults until `faults` main-host faults have been
/// applied, every answer in, hosts down.
async fn epoch(
    config: &ChaosConfig,
    rng: &mut StdRng,
    workload: &mut Workload,
    caches: (&Path, &Path),
    worker: &Path,
    report: &Shared,
) {
    let host = start_host(caches.0, worker, false);
    let garbage_host = start_host(caches.1, worker, true);
    host.update_active_leaves(Some(LEAF), vec![], vec![])
        .await
        .expect("host alive");
    let mut fault_rng = StdRng::seed_from_u64(rng.random());
    let faults_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let injector = {
        let (cache, report, done) = (caches.0.to_path_buf(), report.clone(), faults_done.clone());
        let worker = worker.to_path_buf();
        let faults = config.faults_per_epoch;
        tokio::spawn(async move {
            let mut applied = 0;
            while applied < faults {
                let gap = Duration::from_millis(fault_rng.random_range(10..250));
                tokio::time::sleep(gap).await;
                let fault = if fault_rng.random_ratio(1, 20) {
                    faults::second_host(&cache, &worker).await.map(Some)
                } else {
                    Ok(faults::inject(&mut fault_rng, &cache).await)
                };
                match fault {
                    Ok(Some(fault)) => {
                        applied += 1;
                        report.lock().unwrap().count_fault(fault.as_str());
                    }
                    Ok(None) => {}
                    Err(violation) => report.lock().unwrap().violations.push(violation),
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut in_flight = tokio::task::JoinSet::new();
    while !faults_done.load(std::sync::atomic::Ordering::SeqCst) {
        while in_flight.len() >= config.max_in_flight {
            in_flight.join_next().await;
        }
        let request = workload.next(rng, config.garbage_share);
        let target = match request.target {
            Target::Main => host.clone(),
            Target::Garbage => {
                report.lock().unwrap().count_fault(request.label);
                garbage_host.clone()
            }
        };
        report.lock().unwrap().requests += 1;
        in_flight.spawn(serve(target, request, report.clone()));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..60))).await;
    }
    injector.await.expect("fault injector");
    while let Some(joined) = in_flight.join_next().await {
        joined.expect("request task");
    }
    drop((host, garbage_host));
}

fn leaks(caches: &[&Path]) -> Leaks {
    let me = std::process::id() as i32;
    let mut leaks = Leaks::default();
    for cache in caches {
        leaks.tmp_files += crate::find_named(cache, TMP_ARTIFACT_FILE_NAME).len();
        leaks.worker_dirs += crate::dir_entries(cache)
            .iter()
            .filter(|n| n.starts_with(pvf_host::cache_dir::WORKER_DIR_PREFIX))
            .count();
        leaks.processes += procs::with_cmdline_containing(&procs::worker_needle(cache)).len();
    }
    leaks.zombies = procs::all()
        .into_iter()
        .filter(|&pid| procs::state_and_parent(pid).is_some_and(|(s, ppid)| ppid == me && s == 'Z'))
        .count();
    leaks
}

/// The binaries a run starts.
#[derive(Clone, Copy, Debug)]
pub struct Binaries<'a> {
    /// The test worker (`test-worker`).
    pub worker: &'a Path,
    /// A host in a process of its own (`chaos-host`), for [`Fault::SigtermHost`].
    pub host: &'a Path,
}

/// Runs the chaos suite with the test `binaries`; `corpus` adds the adder and a large runtime
/// to the workload.
pub async fn run(
    config: ChaosConfig,
    binaries: Binaries<'_>,
    corpus: Option<&Path>,
) -> ChaosReport {
    let worker = binaries.worker;
    let (cache, garbage_cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut workload = Workload::new(corpus);
    let report: Shared = Arc::default();
    let start = (procs::open_fds(), procs::rss_kib(None));
    let mut after_first = start;
    for n in 0..config.epochs {
        if n > 0 {
            for _ in 0..rng.random_range(1..=3) {
                if faults::damage_artifact(&mut rng, cache.path()).is_some() {
                    report
                        .lock()
                        .unwrap()
                        .count_fault(Fault::DamageAcrossRestart.as_str());
                }
            }
            // Once for sure, then by the seed.
            if n == 1 || rng.random_bool(0.5) {
                let ended = faults::sigterm_host(cache.path(), worker, binaries.host).await;
                let mut report = report.lock().unwrap();
                match ended {
                    Ok(fault) => report.count_fault(fault.as_str()),
                    Err(violation) => report.violations.push(violation),
                }
            }
        }
        let caches = (cache.path(), garbage_cache.path());
        epoch(&config, &mut rng, &mut workload, caches, worker, &report).await;
        if n == 0 {
            after_first = (procs::open_fds(), procs::rss_kib(None));
        }
    }
    let mut report = std::mem::take(&mut *report.lock().unwrap());
    report.leaks = leaks(&[cache.path(), garbage_cache.path()]);
    report.resources = [
        start,
        after_first,
        (procs::open_fds(), procs::rss_kib(None)),
    ];
    report
}
