//! The PVF validation host.
//!
//! [`start`] launches the host on its own thread, with its own actix system, and returns a
//! cloneable [`ValidationHost`] handle that any async runtime can use. The data path:
//!
//! ```text
//! ValidationHost ─► HostActor (artifact table) ─► Queue ─► Pool ─► WorkerActor ─► worker process ─► job process
//!        ▲                 ▲                          │                                     │
//!        └── answer ───────┴──── PrepareConcluded ◄───┴──── FromPool ◄──── JobOutcome ◄──────┘
//!
//! HostActor ─► ExecuteQueue ─► WorkerActor ─► execute worker process ─► job process
//! ```
//!
//! Both flavours share the worker key, the per-worker actor, the spawner and the spawn
//! back-off ([`worker_interface`]); each has its own exchange (`prepare/exchange.rs`,
//! `execute/exchange.rs`).
//!
//! When the last handle is dropped the host stops: workers are killed and reaped, and their
//! directories removed, before the drop returns. The host also stops by itself when it can
//! no longer run workers at all ([`fatal`]); every request is then answered with the reason.

pub mod artifacts;
pub mod cache_dir;
pub mod execute;
pub mod fatal;
mod handle;
pub mod host;
pub mod metrics;
pub mod prepare;
pub mod security;
pub mod spawn;
pub mod worker_availability;
pub mod worker_interface;
pub mod worker_stderr;

pub use artifacts::{ArtifactId, ArtifactsCleanupConfig, RetryPolicy};
pub use fatal::FatalError;
pub use handle::{HostError, ValidationHost};
pub use metrics::{CountersSnapshot, FlavourCountersSnapshot};
pub use prepare::queue::Priority;
pub use pvf_common::{
    PrecheckResult, PrepareError, PrepareJobKind, PrepareResult, PvfPrepData, SecurityStatus,
    prepare::PrepareSuccess,
};

use actix::prelude::*;
use fatal::FatalState;
use handle::HostLifetime;
use metrics::HostCounters;
use prepare::{
    pool::Pool,
    queue::{Limits, Queue},
};
use spawn::{WorkerFlavour, WorkerSpawnConfig};
use std::{path::PathBuf, sync::Arc, time::Duration};
use tokio::sync::oneshot;
use worker_interface::{ProcessSpawner, SpawnAccounting};

/// Everything the host needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where artifacts and worker dirs live. At start, artifacts of this engine are kept
    /// (verified before first use), and other artifacts and worker dirs of ours are deleted;
    /// other files are left alone. See [`cache_dir`].
    pub cache_path: PathBuf,
    /// The version workers must have; a worker of another version refuses to run, which
    /// stops the host ([`FatalError::WorkerVersionMismatch`]). Defaults to this build's
    /// [`pvf_common::BUILD_VERSION`], which includes a build id; `None` skips the checks.
    pub expected_worker_version: Option<String>,
    /// The worker executable.
    pub prepare_worker_program_path: PathBuf,
    /// Arguments before the worker subcommand (e.g. `["worker"]` for the `pvf` CLI).
    pub prepare_worker_args_prefix: Vec<String>,
    /// How long a new worker may take to connect.
    pub prepare_worker_spawn_timeout: Duration,
    /// Workers for Normal work (default 1).
    pub prepare_workers_soft_max_num: usize,
    /// Workers Critical work may grow to (default 2).
    pub prepare_workers_hard_max_num: usize,
    /// Execution-triggered (`Compilation`) preparations compile on all cores (default on).
    /// Pre-checks always compile on one thread. The artifact bytes are the same either way.
    pub parallel_compilation: bool,
    /// Execute workers at most (default 4).
    pub execute_workers_max_num: usize,
    /// Forward PVF log lines (`ext_logging_log`) to the log. Off by default, as in the newest
    /// reference: parachains can spam validator logs.
    pub pvf_logging: bool,
    /// The log filter workers get in `RUST_LOG`. It decides more than logs: a PVF reads the
    /// resulting maximum level through `ext_logging_max_level_version_1` and may branch on it,
    /// as in stable2609, whose host passes the node's log directives (`info` and the node's
    /// `-l`/`RUST_LOG` ones). A node should pass its own; the default is
    /// [`default_worker_log_directives`].
    pub worker_log_directives: String,
    /// How many artifact bytes each execute worker keeps deserialised between jobs, least
    /// recently used out first (the one used last is always kept); default
    /// [`DEFAULT_EXECUTE_MODULE_CACHE_BYTES`]. A held module costs about its artifact's size
    /// in worker memory, so the bound is per worker: times `execute_workers_max_num` for the
    /// host. `None` costs a read, checksum and deserialisation of the artifact per execution,
    /// as in the reference.
    pub execute_module_cache_bytes: Option<u64>,
    /// Cache size bounds.
    pub artifacts_cleanup: ArtifactsCleanupConfig,
    /// How often the cache is pruned (default 1 h).
    pub cleanup_pulse_interval: Duration,
    /// When failed preparations for execution are retried.
    pub retry: RetryPolicy,
    /// Refuse to start unless workers can be sandboxed (seccomp, plus Landlock or
    /// change-root). On by default; turning it off is what `--insecure-validator-i-know-what-i-do`
    /// does.
    pub secure_validator_mode: bool,
    /// When another host holds the cache dir's lock ([`cache_dir::CacheDirLock`]): `None`
    /// (the default) fails at once with [`StartError::CacheDirLocked`]; `Some(d)` waits up to
    /// `d` for it (`Duration::MAX`: for ever). The CLI's `--wait-for-cache-lock`.
    pub cache_lock_wait: Option<Duration>,
    /// Failed worker spawns in a row after which requests needing that kind of worker are
    /// answered with [`HostError::WorkersUnavailable`] instead of waiting (default
    /// [`worker_availability::DEFAULT_SPAWN_FAILURES_BEFORE_UNAVAILABLE`]); the host keeps
    /// retrying in the background. `0` waits for ever, like the reference.
    pub spawn_failures_before_unavailable: u32,
    /// How long dropping the last handle waits for the host to kill its workers and release
    /// the cache dir (default 5 s); past it, the drop returns and the host finishes alone.
    pub shutdown_timeout: Duration,
}

impl Config {
    /// Defaults of a validator node: 1 soft / 2 hard prepare workers, 3 s spawn timeout,
    /// 10 GiB / 24 h cache bounds, 15 min × 5 retries.
    pub fn new(cache_path: PathBuf, prepare_worker_program_path: PathBuf) -> Self {
        Self {
            cache_path,
            expected_worker_version: Some(pvf_common::BUILD_VERSION.to_string()),
            prepare_worker_program_path,
            prepare_worker_args_prefix: Vec::new(),
            prepare_worker_spawn_timeout: Duration::from_secs(3),
            prepare_workers_soft_max_num: 1,
            prepare_workers_hard_max_num: 2,
            parallel_compilation: true,
            execute_workers_max_num: 4,
            pvf_logging: false,
            worker_log_directives: default_worker_log_directives(),
            execute_module_cache_bytes: Some(DEFAULT_EXECUTE_MODULE_CACHE_BYTES),
            artifacts_cleanup: ArtifactsCleanupConfig::default(),
            cleanup_pulse_interval: Duration::from_secs(3600),
            retry: RetryPolicy::default(),
            secure_validator_mode: true,
            cache_lock_wait: None,
            spawn_failures_before_unavailable:
                worker_availability::DEFAULT_SPAWN_FAILURES_BEFORE_UNAVAILABLE,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Artifact bytes an execute worker keeps deserialised by default: 256 MiB, six to fifteen
/// real parachain runtimes (15–45 MB artifacts), about 1 GiB for the default four workers.
pub const DEFAULT_EXECUTE_MODULE_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// What a node started without log options gives its workers in the reference: `info`,
/// then this process's `RUST_LOG` directives, if any.
pub fn default_worker_log_directives() -> String {
    match std::env::var(pvf_common::WORKER_ENV_KEEP) {
        Ok(user) if !user.is_empty() => format!("info,{user}"),
        _ => "info".to_string(),
    }
}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The cache dir could not be created or read.
    #[error("cannot prepare the cache dir {path}: {err}; check that it is writable")]
    CacheDir {
        /// The cache dir.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// Another process holds the cache dir: two hosts on one dir would delete each other's
    /// worker dirs and artifacts.
    #[error(
        "the cache dir {path} is in use by another validation host ({holder}); stop that process, give this one another cache dir, or wait for it (`--wait-for-cache-lock`, `Config::cache_lock_wait`)"
    )]
    CacheDirLocked {
        /// The cache dir.
        path: PathBuf,
        /// How the holder is described: its pid, if it wrote one.
        holder: LockHolder,
    },
    /// The worker binary could not be run.
    #[error("cannot run the worker {program} --version: {err}; pass a valid workers path")]
    WorkerUnusable {
        /// The worker executable.
        program: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// The worker binary is of another build than the host expects.
    #[error(
        "worker {program} is version {worker}, this host expects {expected}; install the workers built with this node"
    )]
    WorkerVersionMismatch {
        /// The worker executable.
        program: PathBuf,
        /// The worker's version.
        worker: String,
        /// The version the host expects.
        expected: String,
    },
    /// Worker limits make no sense.
    #[error("prepare worker limits must satisfy 1 <= soft ({soft}) <= hard ({hard})")]
    BadLimits {
        /// Soft cap.
        soft: usize,
        /// Hard cap.
        hard: usize,
    },
    /// Secure-validator mode is on but the sandbox cannot be applied here.
    #[error("{0}")]
    SecureModeUnavailable(#[from] security::SecureModeUnavailable),
    /// The host thread could not start.
    #[error("cannot start the host thread: {0}")]
    Thread(std::io::Error),
}

/// The process holding a cache dir's lock, as far as its lock file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockHolder(pub Option<u32>);

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "pid {pid}"),
            None => f.write_str("pid unknown"),
        }
    }
}

/// Starts the host on a dedicated thread. Fails if the cache dir or the worker binary is
/// unusable; never panics on bad configuration.
pub fn start(config: Config) -> Result<ValidationHost, StartError> {
    let (soft, hard) = (
        config.prepare_workers_soft_max_num,
        config.prepare_workers_hard_max_num,
    );
    if soft == 0 || soft > hard {
        return Err(StartError::BadLimits { soft, hard });
    }
    let program = config.prepare_worker_program_path.clone();
    let worker =
        spawn::worker_version(&program, &config.prepare_worker_args_prefix).map_err(|err| {
            StartError::WorkerUnusable {
                program: program.clone(),
                err,
            }
        })?;
    if let Some(expected) = &config.expected_worker_version
        && *expected != worker
    {
        return Err(StartError::WorkerVersionMismatch {
            program,
            worker,
            expected: expected.clone(),
        });
    }
    // Before anything in the dir is deleted or adopted, and held until the host thread has
    // swept the worker dirs at shutdown.
    let cache_lock = cache_dir::CacheDirLock::acquire(&config.cache_path, config.cache_lock_wait)
        .map_err(|e| match e {
        cache_dir::LockError::Held { holder } => StartError::CacheDirLocked {
            path: config.cache_path.clone(),
            holder: LockHolder(holder),
        },
        cache_dir::LockError::Io(err) => StartError::CacheDir {
            path: config.cache_path.clone(),
            err,
        },
    })?;
    let counters = Arc::new(HostCounters::default());
    let fatal = Arc::new(FatalState::default());
    let thread_fatal = fatal.clone();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (finished_tx, finished_rx) = std::sync::mpsc::channel::<()>();
    let availability = |flavour| {
        Arc::new(worker_availability::WorkerAvailability::new(
            flavour,
            config.spawn_failures_before_unavailable,
        ))
    };
    let workers = Availability {
        prepare: availability(WorkerFlavour::Prepare),
        execute: availability(WorkerFlavour::Execute),
    };
    let thread_workers = workers.clone();
    let shutdown_timeout = config.shutdown_timeout;
    let thread_counters = counters.clone();
    let cache_path = config.cache_path.clone();
    let thread = std::thread::Builder::new()
        .name("pvf-validation-host".into())
        .spawn(move || {
            let system = System::new();
            system.block_on(async move {
                // Names and sizes only: adoption costs a directory listing, not a read of
                // every artifact, however large the cache.
                let fingerprint = pvf_common::engine::EngineFingerprint::current();
                let adopted = match cache_dir::adopt(&config.cache_path, fingerprint) {
                    Ok(adopted) => adopted,
                    Err(err) => {
                        let _ = ready_tx.send(Err(StartError::CacheDir {
                            path: config.cache_path.clone(),
                            err,
                        }));
                        return;
                    }
                };
                // Probes are short-lived processes; nothing else runs on this thread yet.
                let report = security::probe_features(
                    &config.prepare_worker_program_path,
                    &config.prepare_worker_args_prefix,
                    &config.cache_path,
                );
                let security_status = match security::decide(&report, config.secure_validator_mode)
                {
                    Ok(status) => status,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let fatal_entered = thread_fatal.entered();
                let host = start_actors(
                    config,
                    security_status,
                    thread_counters,
                    thread_fatal,
                    thread_workers,
                    adopted,
                );
                let _ = ready_tx.send(Ok((host, security_status)));
                // In the fatal state every actor is dropped like at shutdown: pending requests
                // lose their answer channels, and the handles report the reason.
                tokio::select! {
                    _ = stop_rx => {}
                    _ = fatal_entered => {}
                }
            });
            // Dropping the system drops every actor: worker handles kill and reap their
            // processes, worker dirs are removed.
            drop(system);
            // A worker dir that could not be removed when its worker died (it was not
            // writable then) is removed now that no worker of ours is left.
            if let Err(e) = cache_dir::remove_worker_dirs(&cache_path) {
                tracing::warn!(target: pvf_common::LOG_TARGET, ?cache_path, "cannot sweep worker dirs at shutdown: {e}");
            }
            // Only now may another host have the dir.
            drop(cache_lock);
            drop(finished_tx);
        })
        .map_err(StartError::Thread)?;
    // The thread is not joined: the lifetime waits for it within the shutdown bound.
    drop(thread);
    let lifetime = Arc::new(HostLifetime::new(stop_tx, finished_rx, shutdown_timeout));
    let (host, security_status) = ready_rx.recv().unwrap_or_else(|_| {
        Err(StartError::Thread(std::io::Error::other(
            "the host thread ended during start-up",
        )))
    })?;
    Ok(ValidationHost {
        host,
        counters,
        security_status,
        fatal,
        prepare_workers: workers.prepare,
        execute_workers: workers.execute,
        _lifetime: lifetime,
    })
}

/// The availability of each kind of worker, shared by the spawners and the handles.
#[derive(Clone)]
struct Availability {
    prepare: Arc<worker_availability::WorkerAvailability>,
    execute: Arc<worker_availability::WorkerAvailability>,
}

fn start_actors(
    config: Config,
    security_status: SecurityStatus,
    counters: Arc<HostCounters>,
    fatal: Arc<FatalState>,
    workers: Availability,
    adopted: Vec<cache_dir::AdoptedArtifact>,
) -> Addr<host::HostActor> {
    let spawn_config = Arc::new(WorkerSpawnConfig {
        program: config.prepare_worker_program_path,
        args_prefix: config.prepare_worker_args_prefix,
        cache_path: config.cache_path.clone(),
        spawn_timeout: config.prepare_worker_spawn_timeout,
        expected_worker_version: config.expected_worker_version,
        log_directives: Some(config.worker_log_directives),
        security_status,
        parallel_compilation: config.parallel_compilation,
    });
    // The host and the prepare queue report to each other: both contexts exist before either
    // actor is built, so every address is known at construction.
    let queue_ctx = Context::<Queue>::new();
    let host_ctx = Context::<host::HostActor>::new();
    let execute_queue = execute::queue::ExecuteQueue::new(
        config.execute_workers_max_num.max(1),
        Box::new(ProcessSpawner {
            config: spawn_config.clone(),
            fatal: fatal.clone(),
        }),
        host_ctx.address().recipient(),
        execute::queue::ExecuteWorkerOptions {
            pvf_logging: config.pvf_logging,
            module_cache_bytes: config.execute_module_cache_bytes,
        },
        SpawnAccounting::new(WorkerFlavour::Execute, counters.clone())
            .with_availability(workers.execute),
    )
    .start();
    let pool = Pool::new(
        Box::new(ProcessSpawner {
            config: spawn_config,
            fatal,
        }),
        queue_ctx.address().recipient(),
        SpawnAccounting::new(WorkerFlavour::Prepare, counters)
            .with_availability(workers.prepare.clone()),
    )
    .start();
    let limits = Limits {
        soft_capacity: config.prepare_workers_soft_max_num,
        hard_capacity: config.prepare_workers_hard_max_num,
    };
    let queue = queue_ctx.run(Queue::new(
        pool.recipient(),
        host_ctx.address().recipient(),
        config.cache_path,
        limits,
    ));
    let queues = host::HostQueues {
        prepare: queue.recipient(),
        execute: execute_queue.clone().recipient(),
        prune_backing: execute_queue.recipient(),
    };
    let policy = host::HostPolicy {
        retry: config.retry,
        cleanup: config.artifacts_cleanup,
        cleanup_pulse_interval: config.cleanup_pulse_interval,
    };
    host_ctx
        .run(host::HostActor::new(queues, policy, adopted).with_prepare_workers(workers.prepare))
}

#[cfg(test)]
mod layering_tests;
#[cfg(test)]
mod test_support;
