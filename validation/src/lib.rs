//! Candidate validation over the PVF host: what the reference's `candidate-validation`
//! subsystem decides between a node and its PVF host, so that a node embeds one thing.
//!
//! - [`actor`]: the actor a node embeds, with its messages (`ValidateFromExhaustive`,
//!   `PreCheck`, `ActiveLeavesUpdate`);
//! - [`exhaustive`]: one candidate's validation, start to verdict;
//! - [`checks`]: a candidate's checks against its receipt, before and after execution;
//! - [`policy`]: the pure decisions that make a vote: timeouts per kind, the retry budget,
//!   the final mapping of an execution error to invalid or abstain;
//! - [`retry`]: one execution under that policy against any [`retry::ValidationBackend`];
//! - [`pov_file`]: the PoV files a Cumulus collator exports (`--export-pov-to-path`);
//! - [`precheck`]: the pvf-checker's pre-check outcome;
//! - [`leaves`]: the relay chain's view, the V3 transition flag and preparing ahead;
//! - [`chain`]: the runtime API calls the layer needs, as a trait the node implements;
//!   [`fixed_chain`] answers them from fixed values, for tools and tests;
//! - [`candidate`], [`receipt`]: the relay chain's candidate types, the verdict types, and
//!   receipts built for given inputs;
//! - [`metrics`]: the reference's candidate-validation metrics.

pub mod actor;
pub mod candidate;
pub mod chain;
pub mod checks;
pub mod exhaustive;
pub mod fixed_chain;
pub mod leaves;
pub mod metrics;
pub mod policy;
pub mod pov_file;
pub mod precheck;
pub mod receipt;
pub mod retry;

#[cfg(test)]
mod fake_host;
#[cfg(test)]
mod test_candidate;

/// The log target of the layer, the reference's.
pub const LOG_TARGET: &str = "parachain::candidate-validation";
