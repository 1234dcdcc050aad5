//! The worker sandbox.
//!
//! The worker calls [`apply_before_first_job`] after its handshake and before it reads any
//! PVF, while it is still single-threaded. The layers, in the order applied:
//!
//! | layer | stops | module |
//! |---|---|---|
//! | change-root (unshare + pivot_root) | seeing any file outside the worker dir | [`change_root`] |
//! | `PR_SET_NO_NEW_PRIVS` | regaining privileges through set-uid programs | [`set_no_new_privs`] |
//! | Landlock (ABI V1, + TCP rules where supported) | reading, listing, creating files; writing anything but `tmp-artifact` | [`landlock`] |
//! | seccomp deny-list (KillProcess) | sockets, io_uring, exec, ptrace, process memory access, mounts | [`seccomp`] |
//! | namespaced job clone | seeing or signalling other processes, any network interface | [`clone`] |
//!
//! [`probe`] holds the start-up checks the host runs (each in a throw-away worker process) to
//! learn which layers this machine supports.

pub mod change_root;
pub mod clone;
pub mod landlock;
pub mod probe;
pub mod seccomp;

use pvf_common::{LOG_TARGET, SecurityStatus};
use std::path::{Path, PathBuf};

pub use clone::JobSpawn;

/// Which worker flavour is being sandboxed; the rules differ (a prepare worker may write its
/// `tmp-artifact`, an execute worker may only read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    /// Compiles PVFs.
    Prepare,
    /// Executes compiled artifacts.
    Execute,
}

/// A sandbox step failed.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// One system-call step of a layer failed.
    #[error("{layer}: {step} failed: {source}")]
    Step {
        /// The layer.
        layer: &'static str,
        /// The step within the layer.
        step: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

impl SecurityError {
    pub(crate) fn step(layer: &'static str, step: &'static str, source: std::io::Error) -> Self {
        Self::Step {
            layer,
            step,
            source,
        }
    }
}

/// What the worker must know after the sandbox is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedSandbox {
    /// The worker dir as the worker now sees it (`/` after change-root).
    pub worker_dir: PathBuf,
    /// How to start job processes.
    pub job_spawn: JobSpawn,
}

/// Sets `PR_SET_NO_NEW_PRIVS`, which Landlock and seccomp require of unprivileged processes.
pub fn set_no_new_privs() -> Result<(), SecurityError> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SecurityError::step(
            "no-new-privs",
            "prctl",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Moves the worker into a new, empty network namespace, so that its jobs need not each get
/// one. Works inside the worker's own user namespace (after change-root) or with
/// `CAP_SYS_ADMIN`; returns whether it worked.
fn own_network_namespace_now() -> bool {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_ok()
}

/// Applies the layers that `status` says work here. Change-root failures are always fatal (the
/// worker would be half-isolated); Landlock and seccomp failures are fatal in secure-validator
/// mode and logged otherwise.
pub fn apply_before_first_job(
    status: &SecurityStatus,
    kind: WorkerKind,
    worker_dir: &Path,
) -> Result<AppliedSandbox, SecurityError> {
    let mut applied = AppliedSandbox {
        worker_dir: worker_dir.to_path_buf(),
        job_spawn: JobSpawn::Fork,
    };
    if status.can_unshare_user_namespace_and_change_root {
        change_root::enable(kind, worker_dir)?;
        applied.worker_dir = PathBuf::from("/");
    }
    // Before seccomp, which denies `unshare`.
    let worker_netns = status.can_do_secure_clone && own_network_namespace_now();
    set_no_new_privs()?;
    // Whether the layer is on; a failure is fatal only in secure-validator mode.
    let optional = |result: Result<(), SecurityError>| match result {
        Err(e) if status.secure_validator_mode => Err(e),
        Err(e) => {
            tracing::warn!(target: LOG_TARGET, "continuing without a sandbox layer: {e}");
            Ok(false)
        }
        Ok(()) => Ok(true),
    };
    if status.can_enable_landlock {
        optional(landlock::enable(kind, &applied.worker_dir))?;
    }
    let seccomp_on = status.can_enable_seccomp && optional(seccomp::enable())?;
    if status.can_do_secure_clone {
        applied.job_spawn = JobSpawn::SecureClone {
            worker_has_user_namespace: status.can_unshare_user_namespace_and_change_root,
            worker_has_network_namespace: worker_netns,
            worker_mounts_sealed: status.can_unshare_user_namespace_and_change_root && seccomp_on,
        };
    }
    Ok(applied)
}
