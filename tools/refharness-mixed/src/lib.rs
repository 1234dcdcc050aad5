//! Constants shared by `refbench-mixed` and its two worker binaries.

/// Version string compiled into both worker binaries and passed to the host as
/// `node_version`; a worker refuses to run if the host's differs. The same string as
/// refharness's, so the worker binaries of either crate work with either driver.
pub const NODE_VERSION: &str = "refharness-pvf36";

/// Stand-in for the commit hash that polkadot's own worker binaries embed.
pub const WORKER_COMMIT: &str = "crates-io-polkadot-node-core-pvf-36.0.0";
