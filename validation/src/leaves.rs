//! The relay chain's view, as stable2609's candidate validation follows it on each active
//! leaves update: the host learns the new leaves (and their scheduling ancestors), the session
//! is tracked, the `CandidateReceiptV3` feature is looked for at each new session (once seen,
//! for good), and a node that will be an authority of the next session but is not one of this
//! session prepares the PVFs of newly backed candidates ahead of need, a few per block.

use crate::{
    candidate::{Hash, SessionIndex, ValidationCodeHash},
    chain::RelayChainView,
    policy,
    retry::ValidationBackend,
};
use pvf_common::{PrepareJobKind, PvfPrepData, PvfPrepKind};
use std::collections::HashSet;

/// How many newly backed PVFs each block sends to prepare ahead, as in the reference.
pub const DEFAULT_PREPARE_AHEAD_PER_BLOCK: usize = 1;

/// What the layer remembers between leaves.
#[derive(Debug, Default)]
pub struct LeavesState {
    /// The newest session seen.
    pub session_index: Option<SessionIndex>,
    /// Whether the `CandidateReceiptV3` node feature has ever been seen enabled.
    pub v3_ever_seen: bool,
    /// Whether this node is an authority of the next session only.
    pub is_next_session_authority: bool,
    /// The code hashes already sent ahead this session.
    pub already_prepared: HashSet<ValidationCodeHash>,
}

/// Follows one active leaves update: `activated` (if any) and `deactivated` leaves.
pub async fn update<B: ValidationBackend, V: RelayChainView>(
    backend: &B,
    view: &V,
    state: &mut LeavesState,
    activated: Option<Hash>,
    deactivated: Vec<Hash>,
    per_block_limit: usize,
) {
    let ancestors = match activated {
        Some(leaf) => view.scheduling_ancestors(leaf).await.unwrap_or_else(|e| {
            tracing::warn!(target: crate::LOG_TARGET, ?leaf, "no scheduling ancestors: {e}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    if let Err(e) = backend
        .update_active_leaves(
            activated.map(|h| h.0),
            deactivated.iter().map(|h| h.0).collect(),
            ancestors.iter().map(|h| h.0).collect(),
        )
        .await
    {
        tracing::warn!(target: crate::LOG_TARGET, "cannot update the host's active leaves: {e}");
    }
    let Some(leaf) = activated else { return };
    let session = view.session_index_for_child(leaf).await.ok();
    let new_session = match (state.session_index, session) {
        (Some(old), Some(new)) => (new > old).then_some(new),
        (None, Some(new)) => Some(new),
        _ => None,
    };
    state.session_index = new_session.or(state.session_index);
    if let Some(session) = new_session {
        if !state.v3_ever_seen && view.candidate_receipt_v3_enabled(leaf, session).await == Ok(true)
        {
            tracing::info!(target: crate::LOG_TARGET, session, "CandidateReceiptV3 node feature seen: V3 descriptors are validated as V3 from now on");
            state.v3_ever_seen = true;
        }
        state.already_prepared.clear();
        state.is_next_session_authority = view
            .is_next_session_authority(leaf, session)
            .await
            .unwrap_or(false);
    }
    if state.is_next_session_authority {
        let sent = prepare_ahead(
            backend,
            view,
            leaf,
            &state.already_prepared,
            per_block_limit,
        )
        .await;
        state.already_prepared.extend(sent);
    }
}

/// Sends up to `limit` PVFs of candidates backed in `leaf` and not sent before; returns the
/// hashes sent.
async fn prepare_ahead<B: ValidationBackend, V: RelayChainView>(
    backend: &B,
    view: &V,
    leaf: Hash,
    already_prepared: &HashSet<ValidationCodeHash>,
    limit: usize,
) -> Vec<ValidationCodeHash> {
    let Ok(backed) = view.backed_code_hashes(leaf).await else {
        return Vec::new();
    };
    let code_hashes: Vec<_> = backed
        .into_iter()
        .filter(|h| !already_prepared.contains(h))
        .take(limit)
        .collect();
    if code_hashes.is_empty() {
        return Vec::new();
    }
    let Ok(executor_params) = view.executor_params(leaf).await else {
        tracing::warn!(target: crate::LOG_TARGET, ?leaf, "cannot prepare ahead: no executor params");
        return Vec::new();
    };
    let timeout = policy::prep_timeout(&executor_params, PvfPrepKind::Prepare);
    let (mut pvfs, mut sent) = (Vec::new(), Vec::new());
    for code_hash in code_hashes {
        let Ok(Some(code)) = view.validation_code_by_hash(leaf, code_hash).await else {
            continue;
        };
        let Ok(session) = view.session_index_for_child(leaf).await else {
            continue;
        };
        let Ok(bomb_limit) = view.validation_code_bomb_limit(leaf, session).await else {
            continue;
        };
        pvfs.push(PvfPrepData::from_code(
            code,
            executor_params.clone(),
            timeout,
            PrepareJobKind::Prechecking,
            bomb_limit,
        ));
        sent.push(code_hash);
    }
    if pvfs.is_empty() {
        return Vec::new();
    }
    match backend.heads_up(pvfs).await {
        Ok(()) => sent,
        Err(e) => {
            tracing::warn!(target: crate::LOG_TARGET, ?leaf, "cannot prepare ahead: {e}");
            Vec::new()
        }
    }
}
