//! Shared helpers of the integration tests and benchmarks.

pub mod adder;
pub mod attack;
pub mod candidates;
pub mod chaos;
pub mod conformance;
pub mod garbage;

use pvf_common::{
    ExecutorParams, PrecheckResult, PrepareError, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
};
use pvf_host::{Config, ValidationHost};
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The integration tests share one process (`tests/tests/it`). Most run side by side; a test
/// that measures the whole process (open descriptors, RSS, zombie children) runs alone.
static PROCESS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A test's claim on the process, held for the test's life. Each test takes it once, first,
/// on its own thread, so holding it across awaits cannot deadlock.
pub enum ProcessClaim {
    /// Beside other tests.
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    /// Alone.
    Exclusive(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

/// Held by a test that may run beside others.
pub fn sharing_the_process() -> ProcessClaim {
    ProcessClaim::Shared(
        PROCESS
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Held by a test that measures the whole process: no other test runs meanwhile.
pub fn alone_in_the_process() -> ProcessClaim {
    ProcessClaim::Exclusive(
        PROCESS
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Environment variable naming the corpus dir.
pub const CORPUS_ENV: &str = "PVF_CORPUS_DIR";

/// The corpus dir (`$PVF_CORPUS_DIR`, default `../shared/pvf-corpus` next to the repo), or
/// `None` with a skip message. Under `CI=true` a missing corpus is a failure.
pub fn corpus_dir_or_skip(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(CORPUS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pvf-corpus"));
    if dir.join("manifest.json").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: the PVF corpus is missing at {} and CI=true; set {CORPUS_ENV}",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: no PVF corpus at {} (set {CORPUS_ENV})",
        dir.display()
    );
    None
}

/// Assembles one of the project's WAT test PVFs from `tests/pvfs/`.
pub fn test_pvf(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pvfs")
        .join(name);
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A valid module with `functions` large functions: compiling it takes long enough to hit
/// small timeouts, to be killed mid-job, and to be overtaken in the queue.
pub fn slow_to_compile_pvf(functions: usize, seed: u32) -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 17)\n");
    for f in 0..functions {
        wat.push_str(&format!(
            "(func $f{f} (param i32) (result i32) (local i32)\n"
        ));
        for i in 0..200 {
            wat.push_str(&format!(
                "(local.set 1 (i32.add (i32.mul (local.get 0) (i32.const {})) (local.get 1)))\n",
                seed.wrapping_add(i as u32 * 7 + f as u32)
            ));
            wat.push_str("(if (i32.gt_u (local.get 1) (i32.const 1000)) (then (local.set 0 (i32.rotl (local.get 0) (local.get 1)))))\n");
        }
        wat.push_str("(local.get 1))\n");
    }
    wat.push_str("(func (export \"validate_block\") (param i32 i32) (result i64) (i64.extend_i32_u (call $f0 (local.get 0)))))");
    wat::parse_str(&wat).expect("generated WAT assembles")
}

/// `code` with a name section naming the module `name`. Wasmtime keeps a module's name in the
/// compiled artifact, so variants made this way compile to distinct artifacts, as distinct
/// parachains' PVFs do; a bare custom section ([`with_custom_section`]) changes the code hash
/// but not the artifact bytes, so execute workers (whose caches are keyed by the artifact
/// checksum) see one module.
pub fn with_module_name(code: &[u8], name: &str) -> Vec<u8> {
    let mut module_name = Vec::new();
    leb128(name.len() as u64, &mut module_name);
    module_name.extend_from_slice(name.as_bytes());
    let mut payload = vec![0u8]; // the module-name subsection
    leb128(module_name.len() as u64, &mut payload);
    payload.extend_from_slice(&module_name);
    with_custom_section(code, "name", &payload)
}

/// The `test-worker` binary of this package, as a `PathBuf`. A macro because
/// `CARGO_BIN_EXE_*` is only set while integration tests and benches are compiled.
#[macro_export]
macro_rules! test_worker {
    () => {
        ::std::path::PathBuf::from(env!("CARGO_BIN_EXE_test-worker"))
    };
}

/// A PVF with default executor parameters and the default bomb limit.
pub fn pvf(code: Vec<u8>, kind: PrepareJobKind, timeout: Duration) -> PvfPrepData {
    pvf_with_params(code, ExecutorParams::new(), kind, timeout)
}

/// A PVF with the given executor parameters and the default bomb limit.
pub fn pvf_with_params(
    code: Vec<u8>,
    params: ExecutorParams,
    kind: PrepareJobKind,
    timeout: Duration,
) -> PvfPrepData {
    PvfPrepData::from_code(
        code,
        params,
        timeout,
        kind,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    )
}

/// A candidate with empty head and block: enough for PVFs that ignore their input.
pub fn empty_validation_params() -> pvf_common::execute::ValidationParams {
    pvf_common::execute::ValidationParams {
        parent_head: pvf_common::execute::HeadData(Vec::new()),
        block_data: pvf_common::execute::BlockData(Vec::new()),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        extension: None,
    }
}

/// The corpus's parachain runtimes (they export `validate_block`, so they can be executed).
pub const CORPUS_PARACHAIN_RUNTIMES: &[&str] = &[
    "pvf/collectives-polkadot-9290.genesis.compressed.wasm",
    "pvf/coretime-kusama-1002000.genesis.compressed.wasm",
];

/// The corpus's relay-chain runtimes (large, not executable as PVFs).
pub const CORPUS_RELAY_RUNTIMES: &[&str] = &[
    "relay/westend-9300.compressed.wasm",
    "relay/rococo-genesis.raw.wasm",
];

/// A benchmark setting from the environment variable `name`, else `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The median of some timings (the upper one of an even count).
pub fn median(mut timings: Vec<Duration>) -> Duration {
    timings.sort();
    timings[timings.len() / 2]
}

/// A host with default settings and the test worker, in `cache`.
pub fn start_host(cache: &Path, worker: PathBuf) -> ValidationHost {
    start_host_with(Config::new(cache.to_path_buf(), worker))
}

/// Fails the test unless `host` runs in secure-validator mode with every sandbox layer on.
pub fn assert_fully_sandboxed(host: &ValidationHost) {
    let status = host.security_status();
    assert!(
        status.secure_validator_mode
            && status.can_enable_landlock
            && status.can_enable_seccomp
            && status.can_unshare_user_namespace_and_change_root
            && status.can_do_secure_clone,
        "every sandbox layer must be on: {status:?}"
    );
}

/// Starts a host, failing the test with the reason if it cannot start.
pub fn start_host_with(config: Config) -> ValidationHost {
    pvf_host::start(config).unwrap_or_else(|e| panic!("the host does not start: {e}"))
}

/// Appends `n` as unsigned LEB128, the wasm binary format's integer encoding.
pub fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `code` with a custom section appended: the same module, another code hash.
pub fn with_custom_section(code: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb128(name.len() as u64, &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = code.to_vec();
    out.push(0); // custom section id
    leb128(body.len() as u64, &mut out);
    out.extend_from_slice(&body);
    out
}

/// The name of a `PrepareError` variant, as the verdict tables spell it.
pub fn error_kind(err: &PrepareError) -> &'static str {
    err.variant_name()
}

/// "ok" or the error's variant name.
pub fn verdict_kind(result: &PrecheckResult) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(e) => error_kind(e),
    }
}

/// The pvf-checker vote a reference node casts on a pre-check verdict class (`ok` or a
/// `PrepareError` variant name): for; against as invalid on a deterministic error (the
/// reference's `is_deterministic`, by variant); against as failed on any other.
pub fn reference_precheck_vote(class: &str) -> &'static str {
    match class {
        "ok" => "for",
        "Prevalidation"
        | "Preparation"
        | "JobError"
        | "OutOfMemory"
        | "CouldNotDecompressCodeBlob" => "against: invalid",
        _ => "against: failed",
    }
}

/// The name of a pvf-checker vote the validation layer casts, as [`reference_precheck_vote`]
/// names them.
pub fn precheck_vote_name(vote: &pvf_validation::precheck::PreCheckOutcome) -> &'static str {
    use pvf_validation::precheck::PreCheckOutcome;
    match vote {
        PreCheckOutcome::Valid => "for",
        PreCheckOutcome::Invalid(_) => "against: invalid",
        PreCheckOutcome::Failed(_) => "against: failed",
    }
}

/// Polls `probe` every 10 ms until it yields a value; fails the test after `timeout`.
pub async fn poll_until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Names of the entries of `dir`.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Every path under `dir` (recursively) whose file name is `name`.
pub fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(find_named(&path, name));
        }
    }
    found
}

/// The deepest recursion of `recursion-depth.wat` for which `returns(depth)` holds, by
/// bisection below 2^20 (which the logical stack limit must stop).
pub fn deepest_recursion(mut returns: impl FnMut(u32) -> bool) -> u32 {
    let (mut good, mut bad) = (0u32, 1u32 << 20);
    assert!(
        !returns(bad),
        "the logical limit must stop recursion before {bad}"
    );
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if returns(mid) { good = mid } else { bad = mid }
    }
    good
}

/// Process inspection through `/proc`.
pub mod procs {
    use std::path::Path;

    /// Every process id.
    pub fn all() -> Vec<i32> {
        std::fs::read_dir("/proc")
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// State letter and parent pid from `/proc/<pid>/stat`, if the process exists.
    pub fn state_and_parent(pid: i32) -> Option<(char, i32)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        Some((state, ppid))
    }

    /// The command line with arguments joined by spaces (empty for zombies).
    pub fn cmdline(pid: i32) -> Option<String> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        Some(String::from_utf8_lossy(&raw).replace('\0', " "))
    }

    /// Whether `pid` exists and is neither a zombie nor dead.
    pub fn is_alive(pid: i32) -> bool {
        matches!(state_and_parent(pid), Some((state, _)) if state != 'Z' && state != 'X')
    }

    /// Live processes whose command line mentions `needle`.
    pub fn with_cmdline_containing(needle: &str) -> Vec<i32> {
        all()
            .into_iter()
            .filter(|&pid| is_alive(pid) && cmdline(pid).is_some_and(|c| c.contains(needle)))
            .collect()
    }

    /// Children of this process (any state) whose command line mentions `needle`.
    pub fn own_children_with_cmdline_containing(needle: &str) -> Vec<i32> {
        let me = std::process::id() as i32;
        all()
            .into_iter()
            .filter(|&pid| {
                state_and_parent(pid).is_some_and(|(_, ppid)| ppid == me)
                    && cmdline(pid).is_some_and(|c| c.contains(needle))
            })
            .collect()
    }

    /// The prepare workers of the host whose cache dir is `cache`: children of this process
    /// started with a worker dir inside `cache`.
    pub fn workers_of(cache: &Path) -> Vec<i32> {
        own_children_with_cmdline_containing(&worker_needle(cache))
            .into_iter()
            .filter(|&pid| is_alive(pid))
            .collect()
    }

    /// What the command line of a worker of `cache` contains.
    pub fn worker_needle(cache: &Path) -> String {
        format!(
            "{}/{}",
            cache.display(),
            pvf_host::cache_dir::WORKER_DIR_PREFIX
        )
    }

    /// Live children of `pid`'s main thread (a worker's job process).
    pub fn task_children(pid: i32) -> Vec<i32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .filter(|&child| is_alive(child))
            .collect()
    }

    /// Open file descriptors of this process.
    pub fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
    }

    /// Resident set size of `pid` (`None`: this process), in KiB; 0 if it is gone.
    pub fn rss_kib(pid: Option<i32>) -> u64 {
        let pid = pid.map_or_else(|| "self".to_string(), |p| p.to_string());
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    /// Sends `signal` to `pid`, failing the test if that is impossible.
    pub fn signal(pid: i32, signal: i32) {
        // SAFETY: kill(2) with integer arguments only.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal}): {}",
            std::io::Error::last_os_error()
        );
    }
}

include!("../pvfs/corpus_verdicts.rs");

/// Executes the candidate `params` on `pvf` as an approval with `timeout`: the result, SCALE
/// encoded, or the error. Panics if the host is gone.
pub async fn execute_approval(
    host: &ValidationHost,
    pvf: PvfPrepData,
    params: &pvf_common::execute::ValidationParams,
    timeout: Duration,
) -> Result<Vec<u8>, pvf_common::execute::ValidationError> {
    let (pvd, pov) = adder::pvd_pov(params);
    host.execute_pvf(
        pvf,
        timeout,
        pvd,
        pov,
        pvf_host::execute::lanes::PvfExecKind::Approval,
    )
    .await
    .expect("host alive")
    .map(|r| parity_scale_codec::Encode::encode(&r))
}

/// [`execute_approval`] as a node runs it: through the validation layer's retry (with a
/// 200 ms retry delay), which prepares a bad artifact again before its one retry.
pub async fn execute_approval_with_retry(
    host: &ValidationHost,
    pvf: PvfPrepData,
    params: &pvf_common::execute::ValidationParams,
    timeout: Duration,
) -> Result<Vec<u8>, pvf_common::execute::ValidationError> {
    let (pvd, pov) = adder::pvd_pov(params);
    let input = pvf_validation::retry::ExecutionInput {
        pvd,
        pov,
        params_extension: None,
    };
    pvf_validation::retry::execute_with_retry(
        host,
        pvf,
        timeout,
        input,
        pvf_host::execute::lanes::PvfExecKind::Approval,
        Duration::from_millis(200),
    )
    .await
    .map(|r| parity_scale_codec::Encode::encode(&r))
}
