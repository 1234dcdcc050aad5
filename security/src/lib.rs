//! The worker sandbox.
//!
//! The worker calls [`apply_before_first_job`] after its handshake and before it reads any
//! PVF. Today that only records which layers the host asked for; the layers themselves
//! (Landlock, seccomp, unshare + pivot_root, namespaced job clones) arrive with the sandbox
//! issue and plug in here without changing the worker.

use pvf_common::SecurityStatus;
use std::path::Path;

/// Which worker flavour is being sandboxed; the rules differ (a prepare worker may write its
/// `tmp-artifact`, an execute worker may only read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    /// Compiles PVFs.
    Prepare,
    /// Executes compiled artifacts.
    Execute,
}

/// A sandbox layer the host asked for could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A layer failed while the host runs in secure-validator mode.
    #[error("could not apply the {layer} sandbox layer: {reason}")]
    Layer {
        /// The layer's name.
        layer: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// Applies the sandbox layers that `status` says work on this machine, in order. Must run
/// while the worker is still single-threaded.
pub fn apply_before_first_job(
    status: &SecurityStatus,
    _worker_kind: WorkerKind,
    _worker_dir: &Path,
) -> Result<(), SecurityError> {
    // No layer is implemented yet, and the host's probes report none as available, so there
    // is nothing to apply. Refuse rather than silently run unprotected if asked for one.
    let asked = [
        ("landlock", status.can_enable_landlock),
        ("seccomp", status.can_enable_seccomp),
        (
            "change-root",
            status.can_unshare_user_namespace_and_change_root,
        ),
        ("secure clone", status.can_do_secure_clone),
    ];
    if let Some((layer, _)) = asked.into_iter().find(|(_, on)| *on) {
        return Err(SecurityError::Layer {
            layer,
            reason: "not built into this worker".into(),
        });
    }
    Ok(())
}
