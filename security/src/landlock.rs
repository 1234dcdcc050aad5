//! Landlock: file-system (and, where the kernel has it, TCP) access control that an
//! unprivileged process applies to itself.
//!
//! # ABI choice
//!
//! The file-system ruleset is pinned to **ABI V1** (Linux 5.13), as in the reference: the
//! rights a later ABI adds (rename across dirs in V2, truncate in V3, ioctl in V5) would make
//! validators on newer kernels deny what older ones allow, and a PVF could tell them apart.
//! Under V1 the rules are: a prepare worker may only write files that already exist beneath
//! its worker dir (the host-created `tmp-artifact`); an execute worker may only read them.
//! Everything else — reading, listing, creating, removing, linking, executing — is denied.
//!
//! Where the kernel offers network rules (ABI ≥ V4), a second ruleset denies TCP bind and
//! connect. It is a second layer behind seccomp, not a verdict-relevant one, so it is applied
//! best-effort.
//!
//! [`enable`] is also the probe: it enforces exactly this ruleset and requires it to be fully
//! enforced.

use crate::{SecurityError, WorkerKind};
use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus,
};
use std::path::Path;

/// The pinned file-system ABI.
pub const LANDLOCK_ABI: ABI = ABI::V1;

fn err(what: &'static str, e: impl std::fmt::Display) -> SecurityError {
    SecurityError::step("landlock", what, std::io::Error::other(e.to_string()))
}

/// Restricts the calling thread (and every process it later forks) to the worker's rights on
/// `worker_dir`. Fails unless the ruleset is fully enforced.
pub fn enable(kind: WorkerKind, worker_dir: &Path) -> Result<(), SecurityError> {
    let allowed = match kind {
        WorkerKind::Prepare => AccessFs::WriteFile,
        WorkerKind::Execute => AccessFs::ReadFile,
    };
    // A missing path would silently drop the rule; open it ourselves so that fails loudly.
    let dir_fd = PathFd::new(worker_dir).map_err(|e| err("open worker dir", e))?;
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .map_err(|e| err("handle file-system access", e))?
        .create()
        .map_err(|e| err("create ruleset", e))?
        .add_rule(PathBeneath::new(dir_fd, allowed))
        .map_err(|e| err("add worker-dir rule", e))?
        .restrict_self()
        .map_err(|e| err("restrict self", e))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(err("enforce", format!("ruleset only {:?}", status.ruleset)));
    }
    deny_tcp_where_supported();
    Ok(())
}

/// Denies TCP bind and connect when the kernel supports network rules; does nothing otherwise.
fn deny_tcp_where_supported() {
    let created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessNet::from_all(ABI::V4))
        .and_then(|r| r.create());
    match created.and_then(|r| r.restrict_self()) {
        Ok(status) => {
            tracing::debug!(target: pvf_common::LOG_TARGET, ?status, "landlock network rules")
        }
        Err(e) => {
            tracing::debug!(target: pvf_common::LOG_TARGET, "landlock network rules unavailable: {e}")
        }
    }
}
