//! A job process cloned before its request arrives.
//!
//! Cloning a job costs the worker its page-table copy and, with secure clone, new namespaces:
//! about half a millisecond, more than a small PVF's whole `validate_block`. An execute
//! worker therefore clones the next job while the current one runs (the worker only waits
//! then), or after it answered when no job ran. The job waits on a pipe for its request (the
//! CPU-time limit and the job's input), then runs exactly as a job cloned on demand: same
//! sandbox, same CPU-time monitor, same single reply, same reaping and measuring by the worker.
//!
//! The job sees the worker's memory as it was when it was cloned, so it only serves requests
//! whose input it can find there: the execute worker uses it for a module that was already
//! cached, and clones on demand otherwise.

use crate::{
    job::{self, JobReport},
    threads::ThreadCheck,
};
use nix::{
    sys::{
        resource::{UsageWho, getrusage},
        signal::Signal,
        wait::waitpid,
    },
    unistd::{Pid, pipe2},
};
use parity_scale_codec::{Decode, Encode};
use pvf_common::{JobFailure, framing};
use pvf_security::JobSpawn;
use std::{
    fs::File,
    io::Write,
    marker::PhantomData,
    os::fd::{AsRawFd, OwnedFd, RawFd},
    time::Duration,
};

/// The process name (`comm`) of a job while it waits for its request, so that `ps` and tests
/// tell it from a running job; it takes back the worker's name when the request arrives.
pub const READY_JOB_NAME: &str = "pvf-ready-job";

/// A job process waiting for its request of type `R`, to answer with a `T`. Dropped unused, it
/// is killed and reaped.
pub struct PrespawnedJob<R, T> {
    /// The job, until a request was handed over (then [`collect`](job::collect) reaps it).
    pid: Option<Pid>,
    request: Option<File>,
    reply: Option<OwnedFd>,
    _types: PhantomData<fn(R) -> T>,
}

/// Clones a job process that waits for one request, then runs `job` on it under the request's
/// CPU-time limit. `job` receives the request and the reply pipe's write descriptor, as in
/// [`job::run_in_child`]. `running_job_reply` is the reply pipe of a job running meanwhile,
/// which this one must not keep.
///
/// Must be called from a single-threaded process, like [`job::run_in_child`]; `threads` checks
/// that first.
pub fn prespawn<R: Decode, T: Encode>(
    threads: &mut ThreadCheck,
    how: JobSpawn,
    host_socket: Option<RawFd>,
    running_job_reply: Option<RawFd>,
    job: impl FnOnce(R, RawFd) -> T,
) -> Result<PrespawnedJob<R, T>, JobFailure> {
    let kernel = |what: &str, e: nix::Error| JobFailure::Kernel(format!("{what}: {e}"));
    threads.check()?;
    let task_dir_fd = threads.raw_fd();
    let (reply_read, reply_write) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| kernel("pipe2", e))?;
    let (request_read, request_write) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| kernel("pipe2", e))?;
    let (reply_read_fd, request_write_fd) = (reply_read.as_raw_fd(), request_write.as_raw_fd());
    let child_body = move || {
        job::close_inherited(reply_read_fd, host_socket, task_dir_fd);
        // The request pipe's write end belongs to the worker: without it, a read sees
        // end-of-file once the worker drops this job or dies.
        job::close_fds(std::iter::once(request_write_fd).chain(running_job_reply));
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        let worker_name = rename(READY_JOB_NAME);
        let request = framing::recv_blocking::<_, (Duration, R)>(
            &mut File::from(request_read),
            framing::MAX_REQUEST_FRAME_LEN,
        );
        match request {
            Ok((cpu_time_limit, request)) => {
                if let Some(name) = worker_name {
                    rename_back(&name);
                }
                job::child_main(cpu_time_limit, reply_write, move |fd| job(request, fd))
            }
            // Dropped unused, or the worker is gone: nothing to answer.
            Err(_) => pvf_security::clone::exit_now(0),
        }
    };
    // SAFETY: the worker is single-threaded (checked above, unless `/proc` was unavailable).
    let pid = unsafe { pvf_security::clone::spawn_job(how, child_body) }
        .map_err(|e| kernel("fork/clone", e))?;
    Ok(PrespawnedJob {
        pid: Some(pid),
        request: Some(File::from(request_write)),
        reply: Some(reply_read),
        _types: PhantomData,
    })
}

impl<R: Encode, T: Decode> PrespawnedJob<R, T> {
    /// Hands `request` to the job and waits for its result, as [`job::run_in_child_and`]
    /// would, calling `while_running` once the job has its request. `None` if the job could not
    /// take the request (it died while it waited): nothing ran, `while_running` was not called,
    /// and the caller runs the request in a job cloned now.
    pub fn run(
        mut self,
        request: &R,
        cpu_time_limit: Duration,
        host_socket: Option<RawFd>,
        threads: &mut ThreadCheck,
        while_running: &mut job::WhileRunning<'_>,
    ) -> Option<JobReport<T>> {
        let usage_before = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
        let frame = framing::encode_frame(&(cpu_time_limit, request));
        // A dead job's pipe has no reader: the write fails with EPIPE (SIGPIPE is ignored in
        // Rust programs) and the job is reaped on drop. Closed once written, so that no process
        // cloned meanwhile holds it.
        self.request.take()?.write_all(&frame).ok()?;
        let (pid, reply) = (self.pid.take()?, self.reply.take()?);
        while_running(threads, reply.as_raw_fd());
        Some(job::collect(
            pid,
            reply,
            usage_before,
            cpu_time_limit,
            host_socket,
        ))
    }
}

impl<R, T> Drop for PrespawnedJob<R, T> {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

/// Sets this process's name, returning the one it had.
fn rename(name: &str) -> Option<[u8; 16]> {
    let mut old = [0u8; 16];
    let mut new = [0u8; 16];
    let len = name.len().min(15);
    new[..len].copy_from_slice(&name.as_bytes()[..len]);
    // SAFETY: PR_GET_NAME writes at most 16 bytes into `old`; PR_SET_NAME reads a
    // NUL-terminated string of at most 16 bytes from `new`.
    unsafe {
        if libc::prctl(libc::PR_GET_NAME, old.as_mut_ptr(), 0, 0, 0) != 0 {
            return None;
        }
        libc::prctl(libc::PR_SET_NAME, new.as_ptr(), 0, 0, 0);
    }
    Some(old)
}

fn rename_back(name: &[u8; 16]) {
    // SAFETY: `name` came from PR_GET_NAME, NUL-terminated within its 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
}
