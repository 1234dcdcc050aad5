//! The relay-chain view: which leaves (and their ancestors) are active, and dropping backing
//! jobs whose relay parent left it, both in the execute queue and while still waiting for
//! preparation (the reference misses the latter).

use super::HostActor;
use crate::execute::queue::PruneBacking;
use actix::prelude::*;
use pvf_common::execute::ValidationError;
use std::{collections::HashSet, sync::Arc};

/// The relay-chain view changed; drop backing jobs whose relay parent left it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpdateActiveLeaves {
    /// A new active leaf.
    pub activated: Option<[u8; 32]>,
    /// Leaves no longer active.
    pub deactivated: Vec<[u8; 32]>,
    /// Ancestors of the new leaf within the scheduling lookahead.
    pub ancestors: Vec<[u8; 32]>,
}

impl HostActor {
    pub(super) fn handle_active_leaves(&mut self, update: UpdateActiveLeaves) {
        for leaf in &update.deactivated {
            self.active_leaves.remove(leaf);
        }
        if let Some(leaf) = update.activated {
            self.active_leaves.insert(leaf, update.ancestors);
        }
        let live: HashSet<[u8; 32]> = self
            .active_leaves
            .iter()
            .flat_map(|(leaf, ancestors)| std::iter::once(*leaf).chain(ancestors.iter().copied()))
            .collect();
        // Backing jobs still waiting for preparation: the reference misses these.
        for pending in self.awaiting_prepare.values_mut() {
            let (stale, keep): (Vec<_>, Vec<_>) =
                std::mem::take(pending).into_iter().partition(|p| {
                    p.request
                        .kind
                        .backing_relay_parent()
                        .is_some_and(|relay_parent| !live.contains(&relay_parent))
                });
            *pending = keep;
            for p in stale {
                let _ = p
                    .request
                    .result_tx
                    .send(Err(ValidationError::ExecutionDeadline));
            }
        }
        self.queues.prune_backing.do_send(PruneBacking {
            live: Arc::new(live),
        });
    }
}

impl Handler<UpdateActiveLeaves> for HostActor {
    type Result = ();

    fn handle(&mut self, msg: UpdateActiveLeaves, _: &mut Self::Context) {
        self.handle_active_leaves(msg);
    }
}
