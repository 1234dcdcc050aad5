//! Starting a worker process: its private directory, the rendezvous socket, the process
//! itself and the handshake.
//!
//! The host never trusts a worker to clean up after itself: a [`WorkerHandle`] kills and reaps
//! its process when dropped, and a [`WorkerDir`] removes its directory when dropped.

use crate::{cache_dir::WORKER_DIR_PREFIX, worker_stderr};
use pvf_common::{
    LOG_TARGET, SecurityStatus, WORKER_ENV_KEEP, WorkerHandshake, framing,
    wire_names::{
        EXECUTE_WORKER_SUBCOMMAND, NODE_IMPL_VERSION_FLAG, PREPARE_WORKER_SUBCOMMAND,
        SOCKET_PATH_FLAG, VERSION_MISMATCH_EXIT_CODE, WORKER_DIR_PATH_FLAG,
    },
};
use std::{
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};
use tokio::{
    io::AsyncReadExt,
    net::{UnixListener, UnixStream, unix::pipe},
};

/// How to start workers.
#[derive(Clone, Debug)]
pub struct WorkerSpawnConfig {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the worker subcommand (e.g. `["worker"]` when the CLI serves as its own
    /// worker).
    pub args_prefix: Vec<String>,
    /// The cache dir, in which worker dirs are created.
    pub cache_path: PathBuf,
    /// How long a new worker may take to connect.
    pub spawn_timeout: Duration,
    /// The version the worker must have (see [`pvf_common::BUILD_VERSION`]), checked by the
    /// worker; `None` skips the check.
    pub expected_worker_version: Option<String>,
    /// The sandbox features the worker must apply.
    pub security_status: SecurityStatus,
    /// Prepare workers compile `Compilation` jobs on all cores.
    pub parallel_compilation: bool,
    /// The worker's `RUST_LOG`, which also sets the level `ext_logging_max_level` reports;
    /// `None` passes on this process's.
    pub log_directives: Option<String>,
}

/// Why a worker could not be started. Every variant is retried by the pool after a back-off.
#[derive(Debug, thiserror::Error)]
pub enum SpawnErr {
    /// The worker dir could not be created in the cache dir.
    #[error("cannot create a worker dir in {cache}: {err}")]
    WorkerDir {
        /// The cache dir.
        cache: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// No free socket path, or binding failed.
    #[error("cannot bind the worker rendezvous socket: {0}")]
    Bind(std::io::Error),
    /// The executable could not be started; check the workers path.
    #[error("cannot start worker program {program}: {err}")]
    ProcessSpawn {
        /// The executable.
        program: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// The worker did not connect within the spawn timeout (it hung at start, or is not a
    /// worker of this host).
    #[error("worker {program} did not connect within {timeout:?}; {stderr}")]
    AcceptTimeout {
        /// The executable.
        program: PathBuf,
        /// The spawn timeout.
        timeout: Duration,
        /// What its stderr last said ([`worker_stderr::describe`]).
        stderr: String,
    },
    /// The worker exited before connecting (it crashed at start).
    #[error("worker {program} exited before connecting ({status}); {stderr}")]
    ExitedBeforeConnecting {
        /// The executable.
        program: PathBuf,
        /// How it exited.
        status: String,
        /// What its stderr last said ([`worker_stderr::describe`]).
        stderr: String,
    },
    /// The worker is of another build than the host expects: it refused to run. Fatal: no
    /// later spawn can succeed until the binaries match again.
    #[error(
        "worker {program} is version {worker}, this host expects {expected}: the worker binary was replaced while the node ran, or the workers path points at another build; restart the node with matching binaries"
    )]
    VersionMismatch {
        /// The worker executable.
        program: PathBuf,
        /// The version the worker reported.
        worker: String,
        /// The version the host expects.
        expected: String,
    },
    /// Accepting the connection failed.
    #[error("cannot accept the worker connection: {0}")]
    Accept(std::io::Error),
    /// The handshake could not be sent.
    #[error("cannot send the handshake: {0}")]
    Handshake(framing::FrameError),
}

/// A worker's private directory, `<cache>/worker-dir-<flavour>-<random>/`. It holds only
/// `tmp-artifact` (prepare) or the `artifact` link (execute) during a job; the host empties it
/// after each job and removes it on drop.
#[derive(Debug)]
pub struct WorkerDir {
    dir: tempfile::TempDir,
}

impl WorkerDir {
    /// Creates a fresh prepare worker dir in `cache_path`.
    pub fn new(cache_path: &Path) -> std::io::Result<Self> {
        Self::for_flavour(cache_path, WorkerFlavour::Prepare)
    }

    /// Creates a fresh worker dir of `flavour` in `cache_path`.
    pub fn for_flavour(cache_path: &Path, flavour: WorkerFlavour) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{WORKER_DIR_PREFIX}-{}-", flavour.as_str()))
            .tempdir_in(cache_path)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Ownership token of an idle worker: its connection and its directory. Passed by value into
/// exactly one job; a job that loses it can only report the worker as gone.
#[derive(Debug)]
pub struct IdleWorker {
    /// The connection to the worker process.
    pub stream: UnixStream,
    /// The worker's process id (for logs and tests).
    pub pid: u32,
    /// The worker's private directory.
    pub worker_dir: WorkerDir,
}

/// The worker process. Dropping it kills and reaps the process, so no worker outlives its
/// handle and none is left a zombie.
#[derive(Debug)]
pub struct WorkerHandle {
    child: Child,
    /// The read end of the worker's stdout; end-of-file on it means the process is gone.
    stdout: Option<pipe::Receiver>,
}

impl WorkerHandle {
    /// Wraps an already started process whose stdout is piped (tests start stand-ins). Must
    /// be called within a tokio runtime.
    #[cfg(test)]
    pub(crate) fn from_child(mut child: Child) -> Self {
        let stdout = child.stdout.take().and_then(stdout_receiver);
        Self { child, stdout }
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A future that completes when the process exits. Must be called within a tokio
    /// runtime.
    ///
    /// It waits on a pidfd: end-of-file on the worker's stdout, the fallback where pidfds do
    /// not exist (Linux < 5.3), also waits for whatever the worker started and left running.
    pub fn exited(&mut self) -> impl std::future::Future<Output = ()> + 'static {
        let stdout = self.stdout.take();
        let exit = process_exit(self.pid());
        async move {
            match (exit, stdout) {
                // The pipe stays open: a worker writing to it must not get SIGPIPE.
                (Some(exit), _stdout) => exit.await,
                (None, Some(mut pipe)) => {
                    let _ = read_to_end_capped(&mut pipe).await;
                }
                (None, None) => std::future::pending().await,
            }
        }
    }

    /// The exit status of a process that has exited, or whose stdout has closed (it exits
    /// right after), so a short wait suffices; `None` if it is still running.
    async fn status_once_exited(&mut self) -> Option<ExitStatus> {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }
}

/// Completes when process `pid`, a child of ours not yet reaped (so the pid cannot be reused),
/// exits; `None` where pidfds are not available. Must be called within a tokio runtime.
fn process_exit(pid: u32) -> Option<impl std::future::Future<Output = ()> + 'static> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new close-on-exec descriptor or -1;
    // no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by pidfd_open and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as std::os::fd::RawFd) };
    // SAFETY: the AsyncFd owns the OwnedFd, which stays open and the same descriptor until
    // the AsyncFd drops it.
    let fd = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
    }
    .ok()?;
    Some(async move {
        // A pidfd becomes readable when its process exits, and stays so.
        let _ = fd.readable().await;
    })
}

/// Registers a child's stdout pipe with the runtime.
fn stdout_receiver(stdout: std::process::ChildStdout) -> Option<pipe::Receiver> {
    pipe::Receiver::from_owned_fd(OwnedFd::from(stdout)).ok()
}

/// The most a worker's stdout is kept: only a version string is ever expected there.
const STDOUT_CAP: usize = 256;

/// Reads `pipe` until end-of-file, keeping the first [`STDOUT_CAP`] bytes.
async fn read_to_end_capped(pipe: &mut pipe::Receiver) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = STDOUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Reads what `pipe` holds now, without waiting, keeping the first [`STDOUT_CAP`] bytes.
fn read_available_capped(pipe: &mut pipe::Receiver) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = pipe.try_read(&mut buf) {
        let room = STDOUT_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Retired, or the host is stopping: the operator can see what it had to kill.
            tracing::info!(target: LOG_TARGET, pid = self.child.id(), "killing worker process");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command for the worker binary as every worker process starts: `program [args_prefix]`,
/// with a cleared environment except `RUST_LOG`, and no stdin.
pub fn worker_command(program: &Path, args_prefix: &[String]) -> Command {
    let mut command = Command::new(program);
    command.args(args_prefix).env_clear().stdin(Stdio::null());
    if let Ok(directives) = std::env::var(WORKER_ENV_KEEP) {
        command.env(WORKER_ENV_KEEP, directives);
    }
    command
}

/// Which kind of worker to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerFlavour {
    /// Compiles PVFs.
    Prepare,
    /// Executes artifacts.
    Execute,
}

impl WorkerFlavour {
    /// The flavour's name in directory and socket names.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerFlavour::Prepare => "prepare",
            WorkerFlavour::Execute => "execute",
        }
    }

    fn subcommand(self) -> &'static str {
        match self {
            WorkerFlavour::Prepare => PREPARE_WORKER_SUBCOMMAND,
            WorkerFlavour::Execute => EXECUTE_WORKER_SUBCOMMAND,
        }
    }
}

/// Starts a prepare worker and completes the handshake.
pub async fn spawn_prepare_worker(
    config: &WorkerSpawnConfig,
) -> Result<(IdleWorker, WorkerHandle), SpawnErr> {
    spawn_worker(config, WorkerFlavour::Prepare, None).await
}

/// Starts an execute worker bound to the executor parameters in `handshake`.
pub async fn spawn_execute_worker(
    config: &WorkerSpawnConfig,
    handshake: &pvf_common::execute::ExecuteHandshake,
) -> Result<(IdleWorker, WorkerHandle), SpawnErr> {
    spawn_worker(config, WorkerFlavour::Execute, Some(handshake)).await
}

/// Starts a worker of `flavour`, sends the security handshake and, for execute workers, the
/// executor-parameter handshake.
pub async fn spawn_worker(
    config: &WorkerSpawnConfig,
    flavour: WorkerFlavour,
    execute_handshake: Option<&pvf_common::execute::ExecuteHandshake>,
) -> Result<(IdleWorker, WorkerHandle), SpawnErr> {
    let worker_dir =
        WorkerDir::for_flavour(&config.cache_path, flavour).map_err(|err| SpawnErr::WorkerDir {
            cache: config.cache_path.clone(),
            err,
        })?;
    let (socket_path, listener) = bind_rendezvous_socket(flavour)?;
    let _socket_guard = RemoveOnDrop(socket_path.clone());
    let mut command = worker_command(&config.program, &config.args_prefix);
    command
        .arg(flavour.subcommand())
        .arg(SOCKET_PATH_FLAG)
        .arg(&socket_path)
        .arg(WORKER_DIR_PATH_FLAG)
        .arg(worker_dir.path());
    if let Some(directives) = &config.log_directives {
        command.env(WORKER_ENV_KEEP, directives);
    }
    if let Some(version) = &config.expected_worker_version {
        command.arg(NODE_IMPL_VERSION_FLAG).arg(version);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|err| SpawnErr::ProcessSpawn {
        program: config.program.clone(),
        err,
    })?;
    let stderr_tail = child
        .stderr
        .take()
        .and_then(|stderr| pipe::Receiver::from_owned_fd(OwnedFd::from(stderr)).ok())
        .map(worker_stderr::forward);
    let mut stdout = child.stdout.take().and_then(stdout_receiver);
    let mut handle = WorkerHandle {
        child,
        stdout: None,
    };
    // A worker that exits at start is noticed at once, not after the spawn timeout.
    let accepted = tokio::select! {
        accepted = tokio::time::timeout(config.spawn_timeout, listener.accept()) => accepted,
        printed = async {
            match (process_exit(handle.pid()), stdout.as_mut()) {
                // What it printed is in the pipe by the time it has exited; a leftover it
                // started may keep the pipe open, so read what is there, not to its end.
                (Some(exit), Some(pipe)) => {
                    exit.await;
                    read_available_capped(pipe)
                }
                (None, Some(pipe)) => read_to_end_capped(pipe).await,
                (_, None) => std::future::pending().await,
            }
        } => {
            let status = handle.status_once_exited().await;
            return Err(exited_before_connecting(config, status, printed, stderr_tail).await);
        }
    };
    handle.stdout = stdout;
    let Ok(accepted) = accepted else {
        drop(handle);
        return Err(SpawnErr::AcceptTimeout {
            program: config.program.clone(),
            timeout: config.spawn_timeout,
            stderr: stderr_said(stderr_tail).await,
        });
    };
    let (mut stream, _) = accepted.map_err(SpawnErr::Accept)?;
    let handshake = WorkerHandshake {
        security_status: config.security_status,
        parallel_compilation: config.parallel_compilation,
    };
    framing::send(&mut stream, &handshake)
        .await
        .map_err(SpawnErr::Handshake)?;
    if let Some(execute_handshake) = execute_handshake {
        framing::send(&mut stream, execute_handshake)
            .await
            .map_err(SpawnErr::Handshake)?;
    }
    tracing::debug!(target: LOG_TARGET, pid = handle.pid(), worker_dir = ?worker_dir.path(), flavour = flavour.as_str(), "worker spawned");
    Ok((
        IdleWorker {
            stream,
            pid: handle.pid(),
            worker_dir,
        },
        handle,
    ))
}

/// Why a worker exited before connecting: its exit status and last words, and for a version
/// mismatch the version it printed.
async fn exited_before_connecting(
    config: &WorkerSpawnConfig,
    status: Option<ExitStatus>,
    printed: Vec<u8>,
    stderr_tail: Option<std::sync::Arc<worker_stderr::StderrTail>>,
) -> SpawnErr {
    let exited = |status: String, stderr| SpawnErr::ExitedBeforeConnecting {
        program: config.program.clone(),
        status,
        stderr,
    };
    let Some(status) = status else {
        return exited(
            "it closed its stdout".into(),
            stderr_said(stderr_tail).await,
        );
    };
    match (status.code(), &config.expected_worker_version) {
        (Some(code), Some(expected)) if code == i32::from(VERSION_MISMATCH_EXIT_CODE) => {
            SpawnErr::VersionMismatch {
                program: config.program.clone(),
                worker: String::from_utf8_lossy(&printed).trim().to_string(),
                expected: expected.clone(),
            }
        }
        _ => exited(status.to_string(), stderr_said(stderr_tail).await),
    }
}

/// What a worker that failed to start last wrote to stderr, waiting briefly for the pipe to
/// drain: the worker is gone, but a descendant may hold the pipe.
async fn stderr_said(tail: Option<std::sync::Arc<worker_stderr::StderrTail>>) -> String {
    const DRAIN_WAIT: Duration = Duration::from_millis(200);
    match tail {
        Some(tail) => worker_stderr::describe(&tail.settled(DRAIN_WAIT).await),
        None => worker_stderr::describe(&[]),
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds a listener at a fresh `$TMPDIR/pvf-host-<flavour>-<10 chars>` path.
fn bind_rendezvous_socket(flavour: WorkerFlavour) -> Result<(PathBuf, UnixListener), SpawnErr> {
    const ATTEMPTS: usize = 50;
    let mut last_err = None;
    for _ in 0..ATTEMPTS {
        let suffix: String = rand::distr::SampleString::sample_string(
            &rand::distr::Alphanumeric,
            &mut rand::rng(),
            10,
        );
        let path = std::env::temp_dir().join(format!("pvf-host-{}-{suffix}", flavour.as_str()));
        match UnixListener::bind(&path) {
            Ok(listener) => return Ok((path, listener)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => return Err(SpawnErr::Bind(e)),
        }
    }
    Err(SpawnErr::Bind(last_err.unwrap_or_else(|| {
        std::io::Error::other("no free socket path")
    })))
}

/// How long a worker's `--version` run or a start-up probe may take before it is killed.
pub const SHORT_COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// The most kept of what a short command writes.
const SHORT_COMMAND_OUTPUT_MAX: usize = 64 * 1024;

/// Waits for a short-lived worker command to exit (killing it at `deadline`) and returns its
/// status and what it wrote to `pipe` by then. It does not wait for `pipe` to close: anything
/// the command left running may hold it open for as long as it lives, and start-up would hang
/// that long.
pub fn finish_short_command<R: std::io::Read + std::os::fd::AsRawFd>(
    child: &mut std::process::Child,
    mut pipe: R,
    deadline: std::time::Instant,
) -> std::io::Result<(ExitStatus, Vec<u8>)> {
    use std::io::ErrorKind;
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl on a descriptor `pipe` owns, changing only its status flags.
    if unsafe {
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    let (mut output, mut buf) = (Vec::new(), [0u8; 4096]);
    loop {
        let exited = child.try_wait()?;
        // What is there now; the process wrote everything before it exited.
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = SHORT_COMMAND_OUTPUT_MAX.saturating_sub(output.len());
                    output.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if let Some(status) = exited {
            return Ok((status, output));
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                format!("did not exit within {SHORT_COMMAND_LIMIT:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `program [args_prefix] --version` and returns what it prints.
pub fn worker_version(program: &Path, args_prefix: &[String]) -> std::io::Result<String> {
    let mut child = worker_command(program, args_prefix)
        .arg("--version")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
    let deadline = std::time::Instant::now() + SHORT_COMMAND_LIMIT;
    let (status, stdout) = finish_short_command(&mut child, stdout, deadline)?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "{} --version exited with {status}",
            program.display(),
        )));
    }
    Ok(String::from_utf8_lossy(&stdout).trim().to_string())
}

#[cfg(test)]
#[path = "spawn_tests.rs"]
mod tests;
