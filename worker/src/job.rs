//! One job, one child process.
//!
//! The worker forks a fresh child for every job, so a job that crashes, leaks or is hijacked
//! cannot touch the next one. The child reports through a pipe, in one bounded frame carrying
//! `Result<T, JobFailure>`: the job's own result, or why there is none. The worker then reaps
//! it and measures its CPU time with `getrusage(RUSAGE_CHILDREN)`.
//!
//! Inside the child, three parties may want to send the single reply: the job itself, the
//! CPU-time monitor and the allocator's out-of-memory hook. [`claim_reply`] lets exactly one
//! of them write.

use crate::{cpu_monitor, threads::ThreadCheck};
use nix::{
    sys::{
        resource::{UsageWho, getrusage},
        signal::Signal,
        wait::{WaitStatus, waitpid},
    },
    unistd::{Pid, pipe2},
};
use parity_scale_codec::{Decode, Encode};
use pvf_common::{
    JobFailure,
    framing::{self, FrameError},
    job::TIMED_OUT_REPLY_FRAME,
};
use pvf_security::JobSpawn;
use std::{
    fs::File,
    os::fd::{AsRawFd, OwnedFd, RawFd},
    panic::AssertUnwindSafe,
    sync::atomic::{AtomicBool, AtomicI32, Ordering},
    time::Duration,
};

static REPLY_CLAIMED: AtomicBool = AtomicBool::new(false);

/// The job's reply pipe, for the CPU-time monitor's signal handler.
static TIMED_OUT_REPLY_FD: AtomicI32 = AtomicI32::new(-1);

/// The CPU-time monitor's signal handler: replies `TimedOut` (unless a reply was sent) and
/// ends the job. Async-signal-safe: an atomic load and swap, `write`, `_exit`.
extern "C" fn reply_timed_out(_signal: libc::c_int) {
    write_reply_if_first(
        TIMED_OUT_REPLY_FD.load(Ordering::SeqCst),
        &TIMED_OUT_REPLY_FRAME,
    );
    // SAFETY: ends the process at once; the reply, if any, is written.
    unsafe { libc::_exit(1) }
}

/// Returns `true` to exactly one caller per job process: the one that may write the reply.
pub fn claim_reply() -> bool {
    !REPLY_CLAIMED.swap(true, Ordering::SeqCst)
}

/// Writes the pre-encoded `frame` to the job's pipe `fd` (if set, ≥ 0) unless another party
/// replied first. Async-signal-safe, allocates nothing, takes no lock: for the CPU-time
/// monitor's signal handler and the allocator's out-of-memory hook.
pub(crate) fn write_reply_if_first(fd: RawFd, frame: &[u8]) {
    if fd >= 0 && claim_reply() {
        // SAFETY: writes a caller-owned buffer to a file descriptor.
        unsafe { libc::write(fd, frame.as_ptr().cast(), frame.len()) };
    }
}

/// Waits until the job's pipe has something to read (or closed), or the host's connection hung
/// up; true for the latter. A poll error counts as the pipe being ready: the blocking read
/// that follows then reports what is wrong.
fn host_hung_up_first(pipe: RawFd, host: RawFd) -> bool {
    // libc directly: nix's `PollFlags` has no POLLRDHUP and drops revents it does not know.
    let mut fds = [
        libc::pollfd {
            fd: pipe,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: host,
            events: libc::POLLRDHUP,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc < 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return false;
        }
        let host_gone = fds[1].revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0;
        return host_gone && fds[0].revents == 0;
    }
}

/// What the worker learnt about a finished job.
#[derive(Debug)]
pub struct JobReport<T> {
    /// The job's own result, or why there is none.
    pub result: Result<T, JobFailure>,
    /// CPU time the job process consumed.
    pub cpu_time: Duration,
    /// Peak resident set size of the job process, in KiB, once it was reaped.
    pub max_rss_kib: Option<u64>,
}

/// Runs `job` in a child process (a namespaced clone or a plain fork, per `how`) with a
/// CPU-time limit and returns its result.
///
/// `reply_limit` bounds the job's answer: the prepare and execute replies differ by far.
/// `host_socket` is the connection to the host: the child does not keep it, so the only way out
/// of the job is its pipe; and the worker watches it while the job runs: if the host hangs up
/// (it stopped, or was interrupted), the job is killed at once instead of running to its end
/// for nobody. `job` receives the pipe's write descriptor, for the allocator's out-of-memory
/// hook.
///
/// Must be called from a single-threaded process: only the calling thread survives `fork`.
/// `threads` checks that first and refuses the job with [`JobFailure::Kernel`] otherwise.
pub fn run_in_child<T: Encode + Decode>(
    threads: &mut ThreadCheck,
    how: JobSpawn,
    cpu_time_limit: Duration,
    reply_limit: u64,
    host_socket: Option<RawFd>,
    job: impl FnOnce(RawFd) -> T,
) -> JobReport<T> {
    let failed = |failure: JobFailure| JobReport {
        result: Err(failure),
        cpu_time: Duration::ZERO,
        max_rss_kib: None,
    };
    let kernel_err = |what: &str, e: nix::Error| failed(JobFailure::Kernel(format!("{what}: {e}")));
    if let Err(refusal) = threads.check() {
        return failed(refusal);
    }
    let task_dir_fd = threads.raw_fd();
    let (read_end, write_end) = match pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => return kernel_err("pipe2", e),
    };
    let usage_before = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => u,
        Err(e) => return kernel_err("getrusage", e),
    };
    let read_fd = read_end.as_raw_fd();
    let child_body = move || {
        // SAFETY: closing descriptors the child inherited and never uses: the pipe's read end
        // and the host socket, so the pipe is the job's only way out.
        unsafe { libc::close(read_fd) };
        for fd in host_socket.iter().chain(task_dir_fd.as_ref()) {
            // SAFETY: as above; the worker's `/proc/self/task` would open its `/proc` files.
            unsafe { libc::close(*fd) };
        }
        child_main(cpu_time_limit, write_end, job)
    };
    // SAFETY: the worker is single-threaded (checked above, unless `/proc` was unavailable), so
    // the child starts with a consistent heap and no locks held by vanished threads.
    match unsafe { pvf_security::clone::spawn_job(how, child_body) } {
        Err(e) => kernel_err("fork/clone", e),
        Ok(child) => {
            if let Some(host) = host_socket
                && host_hung_up_first(read_fd, host)
            {
                // Nobody will read the answer: stop the job now, reap it, and let the worker
                // find the closed connection when it replies.
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                let _ = waitpid(child, None);
                tracing::warn!(target: pvf_common::LOG_TARGET, job_pid = child.as_raw(), "the host is gone: killed the running job");
                return failed(JobFailure::Died {
                    err: "killed by its worker: the host is gone".into(),
                    job_pid: child.as_raw(),
                });
            }
            let reply = framing::recv_blocking::<_, Result<T, JobFailure>>(
                &mut File::from(read_end),
                reply_limit,
            );
            let (status, max_rss_kib) = reap(child);
            let cpu_time = match getrusage(UsageWho::RUSAGE_CHILDREN) {
                Ok(after) => cpu_of(&after).saturating_sub(cpu_of(&usage_before)),
                Err(e) => return kernel_err("getrusage", e),
            };
            let result = match status {
                Err(e) => Err(JobFailure::Kernel(format!("wait4: {e}"))),
                Ok(status) if cpu_time >= cpu_time_limit => {
                    tracing::warn!(target: pvf_common::LOG_TARGET, ?status, ?cpu_time, "job exceeded its CPU time");
                    Err(JobFailure::TimedOut)
                }
                Ok(status) => interpret(child, status, reply),
            };
            JobReport {
                result,
                cpu_time,
                max_rss_kib,
            }
        }
    }
}

/// Waits for `child` and returns its status and its peak resident set size in KiB.
fn reap(child: Pid) -> (nix::Result<WaitStatus>, Option<u64>) {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes one int and one rusage through pointers to live locals.
        let pid = unsafe { libc::wait4(child.as_raw(), &mut status, 0, &mut usage) };
        if pid == child.as_raw() {
            // ru_maxrss is in KiB on Linux.
            let max_rss = u64::try_from(usage.ru_maxrss).ok().filter(|&kib| kib > 0);
            return (WaitStatus::from_raw(child, status), max_rss);
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            errno => return (Err(errno), None),
        }
    }
}

fn cpu_of(usage: &nix::sys::resource::Usage) -> Duration {
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// Combines the wait status and the reply into the job's outcome.
fn interpret<T>(
    child: Pid,
    status: WaitStatus,
    reply: Result<Result<T, JobFailure>, FrameError>,
) -> Result<T, JobFailure> {
    match (status, reply) {
        (WaitStatus::Exited(_, 0), Ok(Ok(value))) => Ok(value),
        (WaitStatus::Exited(_, code), Ok(Ok(_))) => Err(JobFailure::NoValidAnswer(format!(
            "job reported success but exited with status {code}"
        ))),
        (WaitStatus::Exited(..), Ok(Err(err))) => Err(err),
        (WaitStatus::Exited(_, code), Err(e)) => Err(JobFailure::NoValidAnswer(format!(
            "job exited with status {code} without a valid reply: {e}"
        ))),
        (WaitStatus::Signaled(_, signal, _), _) => Err(JobFailure::Died {
            err: format!("received signal: {}", signal_name(signal)),
            job_pid: child.as_raw(),
        }),
        (other, _) => Err(JobFailure::Died {
            err: format!("unexpected status from wait4: {other:?}"),
            job_pid: child.as_raw(),
        }),
    }
}

fn signal_name(signal: Signal) -> &'static str {
    signal.as_str()
}

/// The job process: arm the limits, run the job, send one reply, exit. Never returns.
fn child_main<T: Encode>(
    cpu_time_limit: Duration,
    write_end: OwnedFd,
    job: impl FnOnce(RawFd) -> T,
) -> std::convert::Infallible {
    // Die with the worker: a job must not outlive the process that would reap it.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    let fd = write_end.as_raw_fd();
    TIMED_OUT_REPLY_FD.store(fd, Ordering::SeqCst);
    let result: Result<T, JobFailure> = match cpu_monitor::arm(cpu_time_limit, reply_timed_out) {
        Err(e) => Err(JobFailure::Kernel(format!(
            "cannot arm the CPU-time monitor: {e}"
        ))),
        Ok(()) => std::panic::catch_unwind(AssertUnwindSafe(|| job(fd))).map_err(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            JobFailure::NoValidAnswer(framing::truncate_message(format!("panic: {msg}")))
        }),
    };
    let exit_code = if result.is_ok() { 0 } else { 1 };
    let frame = framing::encode_frame(&result);
    if claim_reply() {
        let mut pipe = File::from(write_end);
        let _ = std::io::Write::write_all(&mut pipe, &frame);
    }
    pvf_security::clone::exit_now(exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_encoded_frames_match_the_real_encoding() {
        let timed_out: Result<u8, JobFailure> = Err(JobFailure::TimedOut);
        assert_eq!(framing::encode_frame(&timed_out), TIMED_OUT_REPLY_FRAME);
        let oom: Result<crate::prepare::CompiledArtifact, JobFailure> =
            Err(JobFailure::OutOfMemory);
        assert_eq!(framing::encode_frame(&oom), crate::memory::OOM_REPLY_FRAME);
    }

    #[test]
    fn interpret_maps_every_ending() {
        type Reply = Result<Result<u8, JobFailure>, FrameError>;
        let pid = Pid::from_raw(42);
        let truncated = || -> Reply {
            Err(FrameError::Truncated {
                expected: 8,
                got: 0,
            })
        };
        assert_eq!(interpret(pid, WaitStatus::Exited(pid, 0), Ok(Ok(7))), Ok(7));
        assert!(matches!(
            interpret(pid, WaitStatus::Exited(pid, 3), Ok(Ok(7))),
            Err(JobFailure::NoValidAnswer(_))
        ));
        let oom: Reply = Ok(Err(JobFailure::OutOfMemory));
        assert_eq!(
            interpret(pid, WaitStatus::Exited(pid, 2), oom),
            Err(JobFailure::OutOfMemory)
        );
        assert!(matches!(
            interpret(pid, WaitStatus::Exited(pid, 1), truncated()),
            Err(JobFailure::NoValidAnswer(_))
        ));
        assert_eq!(
            interpret(
                pid,
                WaitStatus::Signaled(pid, Signal::SIGKILL, false),
                truncated()
            ),
            Err(JobFailure::Died {
                err: "received signal: SIGKILL".into(),
                job_pid: 42
            })
        );
    }

    /// A test process has other threads (the harness's, and one parked here): no job may be
    /// forked from it.
    #[test]
    fn a_multi_threaded_process_forks_no_job() {
        let (release, parked) = std::sync::mpsc::channel::<()>();
        let extra = std::thread::spawn(move || parked.recv());
        let mut threads = ThreadCheck::open();
        if threads.raw_fd().is_none() {
            eprintln!("SKIPPED: no /proc/self/task");
            return;
        }
        let report = run_in_child(
            &mut threads,
            JobSpawn::Fork,
            Duration::from_secs(10),
            1024,
            None,
            |_| 7u8,
        );
        drop(release);
        let _ = extra.join();
        match report.result {
            Err(JobFailure::Kernel(msg)) => assert!(msg.contains("single-threaded"), "{msg}"),
            other => panic!("a job was forked from a multi-threaded process: {other:?}"),
        }
    }
}
