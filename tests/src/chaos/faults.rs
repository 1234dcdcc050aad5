//! The chaos suite's faults: signals to workers and jobs, damaged artifacts, worker dirs
//! that cannot be written, a second host on the same cache dir, and a host process ended by
//! SIGTERM mid-compile.

use crate::procs;
use rand::{Rng, rngs::StdRng};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// A fault, as applied (a job fault falls back to its worker when no job is running).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL to a worker process.
    KillWorker,
    /// SIGKILL to a job process.
    KillJob,
    /// SIGSTOP, a pause, SIGCONT to a worker process.
    StopWorker,
    /// SIGSTOP, a pause, SIGCONT to a job process.
    StopJob,
    /// An artifact file deleted while the host runs.
    DeleteArtifact,
    /// An artifact file cut in half while the host runs.
    TruncateArtifact,
    /// One byte of an artifact flipped while the host runs.
    CorruptArtifact,
    /// An artifact deleted, cut or flipped while the host is down.
    DamageAcrossRestart,
    /// A prepare worker's dir made immutable (nothing can be created in it) for a while.
    ReadOnlyWorkerDir,
    /// A busy prepare worker's file-size limit set to 0 (its writes fail as on a full disk).
    FullWorkerDir,
    /// A second host started on the cache dir of the running one (it must be refused).
    SecondHost,
    /// A host process on the cache dir ended by SIGTERM while compiling, between epochs.
    SigtermHost,
}

impl Fault {
    /// A label for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KillWorker => "SIGKILL worker",
            Self::KillJob => "SIGKILL job",
            Self::StopWorker => "SIGSTOP/SIGCONT worker",
            Self::StopJob => "SIGSTOP/SIGCONT job",
            Self::DeleteArtifact => "artifact deleted",
            Self::TruncateArtifact => "artifact truncated",
            Self::CorruptArtifact => "artifact corrupted",
            Self::DamageAcrossRestart => "artifact damaged across restart",
            Self::ReadOnlyWorkerDir => "read-only worker dir",
            Self::FullWorkerDir => "full worker dir (write fails)",
            Self::SecondHost => "second host on the same dir",
            Self::SigtermHost => "host SIGTERMed mid-compile",
        }
    }
}

/// Sends `signal`, ignoring a process that is already gone.
fn signal_quietly(pid: i32, signal: i32) {
    // SAFETY: kill(2) with integer arguments only.
    unsafe { libc::kill(pid, signal) };
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.random_range(0..items.len())])
}

fn artifacts(cache: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pvf"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Damages one artifact in `cache`: deleted, cut in half or one byte flipped. Returns the
/// fault, or `None` if there is no artifact.
pub fn damage_artifact(rng: &mut StdRng, cache: &Path) -> Option<Fault> {
    let candidates = artifacts(cache);
    let path = candidates
        .get(rng.random_range(0..candidates.len().max(1)))?
        .clone();
    let fault = pick(
        rng,
        &[
            Fault::DeleteArtifact,
            Fault::TruncateArtifact,
            Fault::CorruptArtifact,
        ],
    )?;
    let applied = match fault {
        Fault::DeleteArtifact => std::fs::remove_file(&path),
        Fault::TruncateArtifact => {
            std::fs::read(&path).and_then(|bytes| std::fs::write(&path, &bytes[..bytes.len() / 2]))
        }
        _ => std::fs::read(&path).and_then(|mut bytes| {
            let at = rng.random_range(0..bytes.len().max(1));
            if let Some(byte) = bytes.get_mut(at) {
                *byte ^= 1 << rng.random_range(0..8);
            }
            std::fs::write(&path, bytes)
        }),
    };
    // A host may have removed the file a moment ago: then nothing was damaged.
    applied.ok().map(|()| fault)
}

/// Workers of the host in `cache`, each with its job process if one runs.
fn workers_and_jobs(cache: &Path) -> Vec<(i32, Option<i32>)> {
    procs::workers_of(cache)
        .into_iter()
        .map(|w| (w, procs::task_children(w).first().copied()))
        .collect()
}

fn is_prepare_worker(pid: i32) -> bool {
    procs::cmdline(pid).is_some_and(|c| c.contains("prepare-worker"))
}

/// Sets the immutable attribute of `dir` on or off.
fn set_immutable(dir: &Path, on: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    /// `FS_IMMUTABLE_FL` from `linux/fs.h`.
    const FS_IMMUTABLE_FL: libc::c_long = 0x10;
    let file = std::fs::File::open(dir)?;
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS/SETFLAGS read and write one `long` through the pointer, which
    // points to a live local; the descriptor is open for the whole call.
    unsafe {
        if libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        flags = if on {
            flags | FS_IMMUTABLE_FL
        } else {
            flags & !FS_IMMUTABLE_FL
        };
        if libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sets the file-size limit of `pid`.
fn set_file_size_limit(pid: i32, limit: libc::rlim_t) {
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads one rlimit through a pointer to a live local; no old value is
    // requested. Failure (the process is gone) is fine.
    unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &rlimit, std::ptr::null_mut()) };
}

/// Applies one fault to the running host of `cache`. Returns what was applied, or `None` if
/// there was nothing to apply it to (no worker, no artifact): the caller tries again later.
pub async fn inject(rng: &mut StdRng, cache: &Path) -> Option<Fault> {
    let pause = Duration::from_millis(rng.random_range(20..400));
    match rng.random_range(0..100) {
        0..50 => {
            let (worker, job) = pick(rng, &workers_and_jobs(cache))?;
            let kill = rng.random_bool(0.5);
            let (pid, fault) = match (job, kill) {
                (Some(job), true) if rng.random_bool(0.7) => (job, Fault::KillJob),
                (Some(job), false) if rng.random_bool(0.7) => (job, Fault::StopJob),
                (_, true) => (worker, Fault::KillWorker),
                (_, false) => (worker, Fault::StopWorker),
            };
            if kill {
                signal_quietly(pid, libc::SIGKILL);
            } else {
                signal_quietly(pid, libc::SIGSTOP);
                tokio::time::sleep(pause).await;
                signal_quietly(pid, libc::SIGCONT);
            }
            Some(fault)
        }
        50..75 => damage_artifact(rng, cache),
        75..88 => {
            let workers: Vec<_> = procs::workers_of(cache)
                .into_iter()
                .filter(|&w| is_prepare_worker(w))
                .collect();
            let worker = pick(rng, &workers)?;
            let dir = worker_dir_of(worker)?;
            set_immutable(&dir, true).ok()?;
            tokio::time::sleep(pause).await;
            // Must succeed: an immutable dir would outlive the host.
            set_immutable(&dir, false).expect("clear the immutable attribute");
            Some(Fault::ReadOnlyWorkerDir)
        }
        _ => {
            // A worker that is compiling now will write its artifact soon.
            let busy: Vec<_> = workers_and_jobs(cache)
                .into_iter()
                .filter(|(w, job)| job.is_some() && is_prepare_worker(*w))
                .map(|(w, _)| w)
                .collect();
            let worker = pick(rng, &busy)?;
            set_file_size_limit(worker, 0);
            tokio::time::sleep(pause * 3).await;
            set_file_size_limit(worker, libc::RLIM_INFINITY);
            Some(Fault::FullWorkerDir)
        }
    }
}

/// The `--worker-dir-path` of a worker, from its command line.
fn worker_dir_of(pid: i32) -> Option<PathBuf> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = raw
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    args.find(|a| a == "--worker-dir-path")?;
    args.next().map(PathBuf::from)
}

/// Starts a second host on `cache`, where one runs: it must be refused with the lock error,
/// and nothing of the running host's may be touched. `Err` describes a violation.
pub async fn second_host(cache: &Path, worker: &Path) -> Result<Fault, String> {
    let config = pvf_host::Config::new(cache.into(), worker.into());
    let started = tokio::task::spawn_blocking(move || pvf_host::start(config))
        .await
        .expect("start task");
    match started {
        Err(pvf_host::StartError::CacheDirLocked { .. }) => Ok(Fault::SecondHost),
        Err(other) => Err(format!(
            "a second host on the dir failed otherwise: {other}"
        )),
        Ok(_) => Err("a second host started on a dir another host holds".into()),
    }
}

/// Runs `host_binary` (the `chaos-host` test binary) on `cache` until one of its prepare
/// workers is compiling, then SIGTERMs it. Its workers must notice and be gone within 2 s;
/// its leftovers (worker dirs, the lock file) are for the next host on the dir. `Err`
/// describes a violation.
pub async fn sigterm_host(
    cache: &Path,
    worker: &Path,
    host_binary: &Path,
) -> Result<Fault, String> {
    let mut host = std::process::Command::new(host_binary)
        .arg(worker)
        .arg(cache)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", host_binary.display()))?;
    // Its workers are not our children: found by their command line alone.
    let workers = || procs::with_cmdline_containing(&procs::worker_needle(cache));
    let compiling = wait_for(Duration::from_secs(60), || {
        workers()
            .into_iter()
            .any(|w| is_prepare_worker(w) && !procs::task_children(w).is_empty())
    })
    .await;
    signal_quietly(host.id() as i32, libc::SIGTERM);
    let status = host.wait().map_err(|e| e.to_string())?;
    if !compiling {
        return Err(format!(
            "the host process never started compiling ({status})"
        ));
    }
    let workers_gone = wait_for(Duration::from_secs(2), || {
        procs::workers_of(cache).is_empty()
    })
    .await;
    if !workers_gone {
        let left = procs::workers_of(cache);
        for &pid in &left {
            signal_quietly(pid, libc::SIGKILL);
        }
        return Err(format!(
            "workers {left:?} outlived their SIGTERMed host by 2 s"
        ));
    }
    Ok(Fault::SigtermHost)
}

/// Whether `probe` holds within `timeout`, polled every 20 ms.
async fn wait_for(timeout: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while !probe() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}
