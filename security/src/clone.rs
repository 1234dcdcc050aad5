//! Job processes in fresh namespaces.
//!
//! With secure clone, each job starts in new PID, network, IPC, UTS, cgroup and mount
//! namespaces (and a new user namespace if the worker has not made one already): it cannot
//! see or signal other processes, has no network interfaces, and its mounts are its own.
//! Without it, the job is a plain `fork`.

use nix::{
    sched::CloneFlags,
    unistd::{ForkResult, Pid, fork},
};

/// Stack for the cloned child; the job runs its own threads for the heavy work.
pub const CLONE_STACK_SIZE: usize = 2 * 1024 * 1024;

static CLONE_STACK: std::sync::Mutex<Option<Box<[u8]>>> = std::sync::Mutex::new(None);

/// The namespaces a job gets. A new network namespace costs 0.5–1.3 ms per clone, so when
/// the worker already sits in an empty one of its own, jobs inherit it instead: it has no
/// interfaces, and sockets are denied by seccomp, so nothing can pass between jobs there.
pub fn job_namespaces(
    worker_has_user_namespace: bool,
    worker_has_network_namespace: bool,
) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWCGROUP
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS;
    if !worker_has_user_namespace {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if !worker_has_network_namespace {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags
}

/// How job processes are created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobSpawn {
    /// `clone` into fresh namespaces.
    SecureClone {
        /// The worker already unshared a user namespace (change-root), so jobs need no new one.
        worker_has_user_namespace: bool,
        /// The worker already sits in its own empty network namespace.
        worker_has_network_namespace: bool,
    },
    /// Plain `fork`.
    Fork,
}

/// Starts a job process running `child`, which must not return. Returns the child's pid.
///
/// # Safety
///
/// The caller must be single-threaded, as for `fork`: only the calling thread exists in the
/// child.
pub unsafe fn spawn_job(
    how: JobSpawn,
    child: impl FnOnce() -> std::convert::Infallible,
) -> nix::Result<Pid> {
    match how {
        JobSpawn::Fork => {
            // SAFETY: the caller guarantees a single-threaded process.
            match unsafe { fork() }? {
                ForkResult::Child => run_child(child),
                ForkResult::Parent { child } => Ok(child),
            }
        }
        JobSpawn::SecureClone {
            worker_has_user_namespace,
            worker_has_network_namespace,
        } => {
            // One buffer for every clone: each child runs on its own copy-on-write copy and the
            // parent never touches it, so it is never dirtied. A fresh zeroed buffer per job
            // cost a 2 MiB memset and its page faults on every execution.
            let mut stack = CLONE_STACK.lock().unwrap_or_else(|e| e.into_inner());
            let stack = stack.get_or_insert_with(|| vec![0u8; CLONE_STACK_SIZE].into_boxed_slice());
            let mut child = Some(child);
            let callback = Box::new(move || -> isize {
                match child.take() {
                    Some(run) => run_child(run),
                    None => 1,
                }
            });
            // SAFETY: without CLONE_VM the child gets a copy of the address space and runs the
            // callback on its copy of `stack`; the caller guarantees a single-threaded process.
            unsafe {
                nix::sched::clone(
                    callback,
                    stack,
                    job_namespaces(worker_has_user_namespace, worker_has_network_namespace),
                    Some(libc::SIGCHLD),
                )
            }
        }
    }
}

fn run_child(child: impl FnOnce() -> std::convert::Infallible) -> ! {
    match child() {}
}

/// Ends the calling process at once, without destructors or atexit handlers: what a job or
/// probe child must do instead of returning into the parent's code.
pub fn exit_now(code: i32) -> std::convert::Infallible {
    // SAFETY: `_exit` takes an integer and never returns.
    unsafe { libc::_exit(code) }
}
