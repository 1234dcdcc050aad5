//! Lazy verification of adopted artifacts.
//!
//! Adoption at start reads only file names, so a cache of any size never delays start-up.
//! The first pre-check or prepare request answered from an adopted artifact waits while its
//! bytes are hashed on the blocking pool; requests arriving meanwhile join the wait. A
//! mismatch (torn write, flipped bit, truncation) removes the artifact and the requests are
//! handled again, which prepares it anew. Executions need no host-side check: the execute
//! worker verifies every artifact it loads and reports a mismatch as needing preparation.

use super::HostActor;
use crate::{
    artifacts::{ArtifactId, ArtifactState},
    cache_dir,
    prepare::queue::Priority,
};
use actix::prelude::*;
use pvf_common::{LOG_TARGET, PrecheckResult, PrepareResult, PvfPrepData};
use tokio::sync::oneshot;

/// A request parked until its adopted artifact is verified.
pub(super) enum DeferredRequest {
    /// A pre-check.
    Precheck {
        pvf: PvfPrepData,
        result_tx: oneshot::Sender<PrecheckResult>,
    },
    /// A prepare request.
    Prepare {
        pvf: PvfPrepData,
        priority: Priority,
        result_tx: oneshot::Sender<PrepareResult>,
    },
}

impl HostActor {
    /// Parks `request` until the adopted artifact `id` is verified, starting the check if none
    /// is running.
    pub(super) fn verify_then(
        &mut self,
        id: ArtifactId,
        request: DeferredRequest,
        ctx: &mut Context<Self>,
    ) {
        let waiting = self.verifying.entry(id).or_default();
        waiting.push(request);
        if waiting.len() > 1 {
            return;
        }
        let Some(ArtifactState::Prepared { path, checksum, .. }) =
            self.artifacts.artifact_state(&id)
        else {
            return self.redispatch(id, ctx);
        };
        let (path, checksum) = (path.clone(), *checksum);
        let check_path = path.clone();
        let check = tokio::task::spawn_blocking(move || cache_dir::verify(&check_path, &checksum));
        ctx.spawn(check.into_actor(self).map(move |joined, host, ctx| {
            let intact = match joined {
                Ok(Ok(intact)) => intact,
                Ok(Err(e)) => {
                    tracing::warn!(target: LOG_TARGET, ?path, "cannot read an adopted artifact: {e}");
                    false
                }
                Err(e) => {
                    tracing::error!(target: LOG_TARGET, ?path, "artifact verification panicked: {e}");
                    false
                }
            };
            host.conclude_verification(id, &path, intact);
            host.redispatch(id, ctx);
        }));
    }

    fn conclude_verification(&mut self, id: ArtifactId, checked: &std::path::Path, intact: bool) {
        let Some(ArtifactState::Prepared { path, verified, .. }) =
            self.artifacts.artifact_state_mut(&id)
        else {
            return;
        };
        if path != checked {
            return;
        }
        if intact {
            *verified = true;
            return;
        }
        tracing::warn!(target: LOG_TARGET, ?path, "adopted artifact does not match its checksum; preparing it again");
        self.artifacts.remove(&id);
        super::remove_artifact_file(checked);
        self.report_cache_usage();
    }

    /// Handles the parked requests again, now that the artifact is verified or gone.
    fn redispatch(&mut self, id: ArtifactId, ctx: &mut Context<Self>) {
        for request in self.verifying.remove(&id).unwrap_or_default() {
            match request {
                DeferredRequest::Precheck { pvf, result_tx } => {
                    self.handle_precheck(pvf, result_tx, ctx)
                }
                DeferredRequest::Prepare {
                    pvf,
                    priority,
                    result_tx,
                } => self.handle_prepare(pvf, priority, result_tx, ctx),
            }
        }
    }
}
