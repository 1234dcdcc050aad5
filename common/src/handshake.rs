//! The first frame a worker receives, and the sandbox features it must apply.

use parity_scale_codec::{Decode, Encode};

/// Which sandbox features the host found working at start-up. The worker applies exactly
/// these. Everything is off by default, so forgetting to probe never claims protection.
#[derive(Clone, Copy, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct SecurityStatus {
    /// The host refuses to run without the required features.
    pub secure_validator_mode: bool,
    /// Landlock file-system rules can be enforced.
    pub can_enable_landlock: bool,
    /// The seccomp filter can be installed.
    pub can_enable_seccomp: bool,
    /// The worker can unshare user and mount namespaces and pivot_root into its worker dir.
    pub can_unshare_user_namespace_and_change_root: bool,
    /// Job processes can be cloned into fresh namespaces.
    pub can_do_secure_clone: bool,
}

/// Sent by the host right after a worker connects.
#[derive(Clone, Copy, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct WorkerHandshake {
    /// The sandbox features to apply before the first job.
    pub security_status: SecurityStatus,
    /// Prepare workers: compile `Compilation` jobs on all cores. Pre-checks always use one.
    pub parallel_compilation: bool,
}
