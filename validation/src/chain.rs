//! What the layer asks of the relay chain: the runtime API calls stable2609's candidate
//! validation makes, as one trait the embedding node implements over its client. Each method
//! names the call it stands for; the layer decides what a failure means, as the reference
//! does (a vote is never cast on a failed call: it abstains, or pre-checks `Failed`).

use crate::candidate::{CoreIndex, Hash, ParaId, SessionIndex, ValidationCodeHash};
use pvf_common::ExecutorParams;
use std::{
    collections::{BTreeMap, VecDeque},
    future::Future,
};

/// A runtime API call that did not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("relay-chain runtime call failed: {0}")]
pub struct ChainError(pub String);

/// The answer of the node's relay-parent session check (`check_relay_parent_session`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayParentSession {
    /// The relay parent is in the claimed session.
    Valid,
    /// The runtime cannot tell (old runtimes): the scheduling-session check covers it.
    NotSupported,
    /// The relay parent is not in the claimed session: the candidate is invalid.
    NotFound,
}

/// The relay chain as the layer sees it. Every block hash is a relay-chain block.
pub trait RelayChainView {
    /// `session_index_for_child` at `block`.
    fn session_index_for_child(
        &self,
        block: Hash,
    ) -> impl Future<Output = Result<SessionIndex, ChainError>>;

    /// `validation_code_bomb_limit` at `block` for `session` (the runtime's default when the
    /// API is absent).
    fn validation_code_bomb_limit(
        &self,
        block: Hash,
        session: SessionIndex,
    ) -> impl Future<Output = Result<u32, ChainError>>;

    /// `claim_queue` at `block`: per core, the paras in scheduling order.
    fn claim_queue(
        &self,
        block: Hash,
    ) -> impl Future<Output = Result<BTreeMap<CoreIndex, VecDeque<ParaId>>, ChainError>>;

    /// Whether `relay_parent` is a block of `session`, looked up from `scheduling_parent`.
    fn relay_parent_session(
        &self,
        scheduling_parent: Hash,
        session: SessionIndex,
        relay_parent: Hash,
    ) -> impl Future<Output = Result<RelayParentSession, ChainError>>;

    /// `validation_code_by_hash` at `block`.
    fn validation_code_by_hash(
        &self,
        block: Hash,
        code_hash: ValidationCodeHash,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ChainError>>;

    /// The session's executor parameters at `block` (`session_executor_params`).
    fn executor_params(
        &self,
        block: Hash,
    ) -> impl Future<Output = Result<ExecutorParams, ChainError>>;

    /// Whether the `CandidateReceiptV3` node feature is set for `session` at `block`.
    fn candidate_receipt_v3_enabled(
        &self,
        block: Hash,
        session: SessionIndex,
    ) -> impl Future<Output = Result<bool, ChainError>>;

    /// Whether this node holds an authority key of a past, present or next session but is
    /// not a validator of `session` (the keystore check behind preparing ahead).
    fn is_next_session_authority(
        &self,
        block: Hash,
        session: SessionIndex,
    ) -> impl Future<Output = Result<bool, ChainError>>;

    /// The code hashes of the candidates backed in `block` (`candidate_events`, in order).
    fn backed_code_hashes(
        &self,
        block: Hash,
    ) -> impl Future<Output = Result<Vec<ValidationCodeHash>, ChainError>>;

    /// The ancestors of `leaf` that are still valid scheduling parents (the scheduling
    /// lookahead less one), newest first.
    fn scheduling_ancestors(
        &self,
        leaf: Hash,
    ) -> impl Future<Output = Result<Vec<Hash>, ChainError>>;
}
