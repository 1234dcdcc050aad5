//! Candidate validation over the PVF host: what the reference's `candidate-validation`
//! subsystem decides between a node and its PVF host, so that a node embeds one thing.
//!
//! Work in progress (issue 12). So far:
//! - [`policy`]: the pure decisions that make a vote: timeouts per kind from the session's
//!   executor parameters, the retry budget of approvals and disputes, and the final mapping
//!   of an execution error to invalid or abstain;
//! - [`retry`]: one execution under that policy against any [`retry::ValidationBackend`]
//!   (the host, or a fake in tests);
//! - [`checks`]: a candidate's checks against what its descriptor commits to, before and
//!   after execution;
//! - [`precheck`]: the pvf-checker's pre-check outcome.
//!
//! The actor, descriptor decoding and the CLI's candidate input come next.

pub mod checks;
pub mod policy;
pub mod precheck;
pub mod retry;
