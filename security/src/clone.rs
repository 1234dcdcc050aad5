//! Job processes in fresh namespaces.
//!
//! With secure clone, each job starts in new PID, IPC, UTS and cgroup namespaces, and in new
//! network, mount and user namespaces unless the worker already has sealed ones of its own
//! ([`job_namespaces`]): it cannot see or signal other processes, has no network interfaces,
//! and cannot change the mounts it sees.
//! Without it, the job is a plain `fork`.

use nix::{
    sched::CloneFlags,
    unistd::{ForkResult, Pid, fork},
};

/// Stack for the cloned child unless the worker reserved a larger one
/// ([`reserve_job_stack`]); with this one the job runs its heavy work on threads of its own.
pub const CLONE_STACK_SIZE: usize = 2 * 1024 * 1024;

/// One stack for every clone: each child runs on its own copy-on-write copy and the parent
/// never touches it, so its pages are never populated in the parent, cost nothing to clone,
/// and each child pays only for what it uses. A fresh zeroed buffer per job cost a 2 MiB
/// memset and its page faults on every execution.
static CLONE_STACK: std::sync::Mutex<Option<CloneStack>> = std::sync::Mutex::new(None);

/// In a job process: the size of the stack it started on (0 after a plain `fork`).
static JOB_STACK_SIZE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A private anonymous mapping, never unmapped, with a guard page below it.
struct CloneStack {
    usable: *mut u8,
    len: usize,
}

// SAFETY: the mapping is process-wide memory; the pointer is only turned into a slice under
// the `CLONE_STACK` lock.
unsafe impl Send for CloneStack {}

impl CloneStack {
    fn map(len: usize) -> std::io::Result<Self> {
        let page = 4096;
        let len = len.next_multiple_of(page);
        // SAFETY: a fresh anonymous mapping; nothing else refers to its address range.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len + page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the lowest page of the mapping made above: an overflow faults there instead
        // of running into whatever lies below.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            // SAFETY: `page` bytes into a mapping of `len + page` bytes.
            usable: unsafe { base.cast::<u8>().add(page) },
            len,
        })
    }
}

/// Makes every later secure-clone job start on a stack of at least `len` bytes, so that it can
/// run deep code (a PVF's `validate_block`) without a thread of its own. The mapping costs
/// address space only. Call while single-threaded, before the first job.
pub fn reserve_job_stack(len: usize) -> std::io::Result<()> {
    let mut stack = CLONE_STACK.lock().unwrap_or_else(|e| e.into_inner());
    at_least(&mut stack, len).map(|_| ())
}

/// The clone stack in `slot`, mapped first (never smaller than [`CLONE_STACK_SIZE`]) if it is
/// missing or shorter than `len`. A replaced mapping stays: it is address space only.
fn at_least(slot: &mut Option<CloneStack>, len: usize) -> std::io::Result<&CloneStack> {
    if slot.as_ref().is_none_or(|s| s.len < len) {
        return Ok(slot.insert(CloneStack::map(len.max(CLONE_STACK_SIZE))?));
    }
    slot.as_ref()
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOMEM))
}

/// In a job process: the size of the stack it started on, 0 if it was forked (it then runs on
/// its worker's main-thread stack, whose size it cannot rely on). In any other process: 0.
pub fn job_stack_size() -> usize {
    JOB_STACK_SIZE.load(std::sync::atomic::Ordering::Relaxed)
}

/// The namespaces a job gets. A new network namespace costs 0.5–1.3 ms per clone, so when
/// the worker already sits in an empty one of its own, jobs inherit it instead: it has no
/// interfaces, and sockets are denied by seccomp, so nothing can pass between jobs there.
/// Likewise the mount namespace: tearing one down at every job's exit waits for an expedited
/// RCU grace period (measured: 100 adder jobs at once on 2 workers, 37 → 28 ms), so when the
/// worker's own one is sealed (change-root, and seccomp denies every mount call), jobs share
/// it: they cannot change it, so no job sees another's mounts.
pub fn job_namespaces(
    worker_has_user_namespace: bool,
    worker_has_network_namespace: bool,
    worker_mounts_sealed: bool,
) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWCGROUP
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS;
    if !worker_has_user_namespace {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if !worker_has_network_namespace {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if !worker_mounts_sealed {
        flags |= CloneFlags::CLONE_NEWNS;
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
        /// The worker's mount namespace is its own (change-root) and seccomp denies every mount
        /// call (`mount`, `umount2`, `pivot_root`, the new mount API), so jobs may share it.
        worker_mounts_sealed: bool,
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
            worker_mounts_sealed,
        } => {
            let mut stack = CLONE_STACK.lock().unwrap_or_else(|e| e.into_inner());
            let stack = at_least(&mut stack, CLONE_STACK_SIZE).map_err(io_errno)?;
            // SAFETY: the mapping is readable and writable for `len` bytes from `usable` and
            // lives for the rest of the process; only the child writes to it, on its own copy.
            let stack_slice = unsafe { std::slice::from_raw_parts_mut(stack.usable, stack.len) };
            let stack_len = stack.len;
            let mut child = Some(child);
            let callback = Box::new(move || -> isize {
                JOB_STACK_SIZE.store(stack_len, std::sync::atomic::Ordering::Relaxed);
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
                    stack_slice,
                    job_namespaces(
                        worker_has_user_namespace,
                        worker_has_network_namespace,
                        worker_mounts_sealed,
                    ),
                    Some(libc::SIGCHLD),
                )
            }
        }
    }
}

fn io_errno(e: std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOMEM))
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
