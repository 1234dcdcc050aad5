//! Candidate validation over the PVF host: what the reference's `candidate-validation`
//! subsystem decides between a node and its PVF host, so that a node embeds one thing.
//!
//! Work in progress (issue 12). So far: [`policy`], the pure decisions that make a vote —
//! timeouts per kind from the session's executor parameters, the retry policy of approvals
//! and disputes, and the final mapping of an execution error to invalid or abstain — and
//! [`retry`], which runs an execution under that policy against any [`retry::ValidationBackend`]
//! (the host, or a fake in tests), and [`checks`], the checks of a candidate against what
//! its descriptor commits to, before and after execution. The actor, descriptor decoding and
//! the CLI's candidate input come next.

pub mod checks;
pub mod policy;
pub mod retry;
