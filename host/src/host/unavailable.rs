//! Executions waiting for a preparation that cannot start. While prepare workers are
//! unavailable ([`crate::worker_availability`]) the host drops them, new ones and those
//! already waiting; each caller's handle answers with the reason. The preparation itself
//! stays queued, so the artifact is still made once a worker starts.

use super::HostActor;
use actix::prelude::*;
use pvf_common::LOG_TARGET;

/// Prepare workers became unavailable. Sent by the host actor's own watcher.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct PrepareWorkersUnavailable;

impl HostActor {
    /// Tells this actor each time prepare workers become unavailable.
    pub(super) fn watch_prepare_workers(&self, ctx: &mut Context<Self>) {
        let availability = self.prepare_workers.clone();
        // Weak: the watcher must not keep its own actor alive.
        let host = ctx.address().downgrade();
        ctx.spawn(actix::fut::wrap_future(async move {
            loop {
                availability.unavailable().await;
                match host.upgrade() {
                    Some(host) => host.do_send(PrepareWorkersUnavailable),
                    None => return,
                }
                availability.available().await;
            }
        }));
    }
}

impl Handler<PrepareWorkersUnavailable> for HostActor {
    type Result = ();

    fn handle(&mut self, _: PrepareWorkersUnavailable, _: &mut Self::Context) {
        let dropped: usize = self.awaiting_prepare.drain().map(|(_, w)| w.len()).sum();
        if dropped > 0 {
            tracing::warn!(target: LOG_TARGET, dropped, "prepare workers are unavailable: answering the executions that waited for a preparation");
        }
    }
}
