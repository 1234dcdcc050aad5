//! The single-thread rule, checked.
//!
//! A job is forked (or cloned) from the worker, and only the calling thread survives: a lock
//! another thread held stays locked in the child forever, and the `SAFETY` comments of
//! [`crate::job::run_in_child`] assume there is no other thread. So before every job the worker
//! counts its threads and refuses the job if there is more than one.
//!
//! The count reads `/proc/self/task`, one entry per thread. The directory is opened once at
//! worker start, before the sandbox: change-root and Landlock hide `/proc` later, but an
//! already-open directory stays readable, and seccomp's deny-list leaves `getdents64` and
//! `lseek` allowed. Without `/proc` at start the check is skipped.

use nix::{dir::Dir, fcntl::OFlag, sys::stat::Mode};
use pvf_common::{JobFailure, LOG_TARGET};
use std::os::fd::{AsRawFd, RawFd};

/// Counts the worker's threads before each job. See the module documentation.
#[derive(Debug)]
pub struct ThreadCheck {
    /// `/proc/self/task` of the worker, or `None` when it could not be read.
    task_dir: Option<Dir>,
}

impl ThreadCheck {
    /// Opens `/proc/self/task`. Call before the sandbox hides `/proc`; without it, logs once
    /// and every check passes.
    pub fn open() -> Self {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let task_dir = match Dir::open("/proc/self/task", flags, Mode::empty()) {
            Ok(dir) => Some(dir),
            Err(e) => {
                tracing::debug!(target: LOG_TARGET, "cannot open /proc/self/task ({e}); jobs are forked without checking the worker's thread count");
                None
            }
        };
        Self { task_dir }
    }

    /// A check that never refuses, for processes without `/proc`.
    pub fn disabled() -> Self {
        Self { task_dir: None }
    }

    /// The directory's descriptor, which a job process must close: through it, a job could
    /// open its worker's `/proc` files.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.task_dir.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The number of threads of this process now, or `None` if it cannot be read.
    pub fn count(&mut self) -> Option<usize> {
        let dir = self.task_dir.as_mut()?;
        // Dropping the iterator rewinds the directory, so the next count starts afresh.
        let counted = dir.iter().try_fold(0, |threads, entry| {
            let entry = entry?;
            let dots = matches!(entry.file_name().to_bytes(), b"." | b"..");
            Ok::<_, nix::Error>(threads + usize::from(!dots))
        });
        match counted {
            Ok(threads) => Some(threads),
            Err(e) => {
                tracing::warn!(target: LOG_TARGET, "cannot read /proc/self/task ({e}); jobs are forked without checking the worker's thread count");
                self.task_dir = None;
                None
            }
        }
    }

    /// `Ok` if this process has one thread (or the count is unknown); otherwise the failure
    /// that refuses the job, logged as an error.
    pub fn check(&mut self) -> Result<(), JobFailure> {
        match self.count() {
            Some(threads) if threads > 1 => {
                let msg = format!(
                    "worker has {threads} threads; jobs are forked only from a single-threaded worker"
                );
                tracing::error!(target: LOG_TARGET, "{msg}");
                Err(JobFailure::Kernel(msg))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// The count follows threads as they come and go. Test threads run in parallel, so the
    /// test compares counts in one forked, single-threaded child.
    #[test]
    fn counts_threads_in_a_fresh_child() {
        // SAFETY: the child only counts, spawns, and leaves with `_exit`.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let code = std::panic::catch_unwind(child_counts).map_or(101, |c| c);
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).expect("waitpid");
                assert_eq!(
                    status,
                    nix::sys::wait::WaitStatus::Exited(child, 0),
                    "exit code = which assertion failed in the child"
                );
            }
        }
    }

    /// Returns 0 on success, else the number of the failed step.
    fn child_counts() -> i32 {
        let mut check = ThreadCheck::open();
        if check.count() != Some(1) || check.check().is_err() {
            return 1;
        }
        let parked = Arc::new(Barrier::new(2));
        let released = Arc::new(Barrier::new(2));
        let (p, r) = (parked.clone(), released.clone());
        let extra = std::thread::spawn(move || {
            p.wait();
            r.wait();
        });
        parked.wait();
        if check.count() != Some(2) {
            return 2;
        }
        match check.check() {
            Err(JobFailure::Kernel(msg)) if msg.contains("has 2 threads") => {}
            _ => return 3,
        }
        released.wait();
        if extra.join().is_err() {
            return 4;
        }
        // A joined thread leaves the task list a moment after `join` returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while check.count() != Some(1) {
            if std::time::Instant::now() > deadline {
                return 5;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        0
    }

    #[test]
    fn a_disabled_check_never_refuses() {
        let mut check = ThreadCheck::disabled();
        assert_eq!(check.count(), None);
        assert_eq!(check.raw_fd(), None);
        assert_eq!(check.check(), Ok(()));
    }
}
