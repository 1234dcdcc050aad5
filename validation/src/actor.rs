//! The candidate-validation actor a node embeds: it takes the messages a node's subsystems
//! send (validate a candidate, pre-check a PVF, follow the relay chain) and answers with the
//! reference's verdicts, over any [`ValidationBackend`] (the PVF host) and
//! [`RelayChainView`] (the node's runtime API).
//!
//! Validations run concurrently, at most [`Config::task_limit`] at once (the reference's 30);
//! more wait for a slot. An active leaves update is handled alone, in arrival order, so each
//! validation sees the view of the leaves sent before it. Unlike the reference, an update that
//! arrives while the task limit is reached is not dropped: it waits its turn.

use crate::{
    candidate::{CandidateValidationResult, Hash, ValidationCodeHash, ValidationFailed},
    chain::RelayChainView,
    exhaustive::{self, ExhaustiveRequest},
    leaves::{self, DEFAULT_PREPARE_AHEAD_PER_BLOCK, LeavesState},
    metrics,
    policy::DEFAULT_RETRY_DELAY,
    precheck::{self, PreCheckOutcome},
    retry::ValidationBackend,
};
use actix::prelude::*;
use std::{rc::Rc, sync::Arc, time::Duration};
use tokio::sync::Semaphore;

/// The reference's limit on validations in flight.
pub const DEFAULT_TASK_LIMIT: usize = 30;

/// How the actor behaves where the reference has constants.
#[derive(Clone, Debug)]
pub struct Config {
    /// The wait before an approval's or dispute's retry (3 s; shorter in tests).
    pub retry_delay: Duration,
    /// Validations in flight at once.
    pub task_limit: usize,
    /// PVFs sent to prepare ahead per relay block.
    pub prepare_ahead_per_block: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retry_delay: DEFAULT_RETRY_DELAY,
            task_limit: DEFAULT_TASK_LIMIT,
            prepare_ahead_per_block: DEFAULT_PREPARE_AHEAD_PER_BLOCK,
        }
    }
}

/// Validate a candidate from exhaustive parameters. The answer is the verdict, or
/// [`ValidationFailed`] when no vote should be cast.
#[derive(Message)]
#[rtype(result = "Result<CandidateValidationResult, ValidationFailed>")]
pub struct ValidateFromExhaustive(pub ExhaustiveRequest);

/// Pre-check the code `validation_code_hash` names at `relay_parent`.
#[derive(Message)]
#[rtype(result = "PreCheckOutcome")]
pub struct PreCheck {
    /// The relay block whose state holds the code and the session's parameters.
    pub relay_parent: Hash,
    /// The code to pre-check.
    pub validation_code_hash: ValidationCodeHash,
}

/// The relay chain's leaves changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ActiveLeavesUpdate {
    /// The new leaf, if any.
    pub activated: Option<Hash>,
    /// Leaves that are no longer active.
    pub deactivated: Vec<Hash>,
}

/// The candidate-validation actor.
pub struct CandidateValidator<B, V> {
    backend: Rc<B>,
    view: Rc<V>,
    config: Config,
    slots: Arc<Semaphore>,
    leaves: LeavesState,
}

impl<B: ValidationBackend + 'static, V: RelayChainView + 'static> CandidateValidator<B, V> {
    /// An actor over `backend` (usually the [`pvf_host::ValidationHost`]) and `view`.
    pub fn new(backend: B, view: V, config: Config) -> Self {
        let slots = Arc::new(Semaphore::new(config.task_limit.max(1)));
        Self {
            backend: Rc::new(backend),
            view: Rc::new(view),
            config,
            slots,
            leaves: LeavesState::default(),
        }
    }
}

impl<B: ValidationBackend + 'static, V: RelayChainView + 'static> Actor
    for CandidateValidator<B, V>
{
    type Context = Context<Self>;
}

impl<B: ValidationBackend + 'static, V: RelayChainView + 'static> Handler<ValidateFromExhaustive>
    for CandidateValidator<B, V>
{
    type Result = ResponseFuture<Result<CandidateValidationResult, ValidationFailed>>;

    fn handle(&mut self, msg: ValidateFromExhaustive, _: &mut Self::Context) -> Self::Result {
        let (backend, view, slots) = (self.backend.clone(), self.view.clone(), self.slots.clone());
        let (v3_ever_seen, retry_delay) = (self.leaves.v3_ever_seen, self.config.retry_delay);
        Box::pin(async move {
            let _slot = slots.acquire_owned().await;
            let _timer = metrics::Timer::validate_from_exhaustive();
            exhaustive::validate(&*backend, &*view, msg.0, v3_ever_seen, retry_delay).await
        })
    }
}

impl<B: ValidationBackend + 'static, V: RelayChainView + 'static> Handler<PreCheck>
    for CandidateValidator<B, V>
{
    type Result = ResponseFuture<PreCheckOutcome>;

    fn handle(&mut self, msg: PreCheck, _: &mut Self::Context) -> Self::Result {
        let (backend, view, slots) = (self.backend.clone(), self.view.clone(), self.slots.clone());
        Box::pin(async move {
            let _slot = slots.acquire_owned().await;
            precheck::precheck_on_chain(
                &*backend,
                &*view,
                msg.relay_parent,
                msg.validation_code_hash,
            )
            .await
        })
    }
}

impl<B: ValidationBackend + 'static, V: RelayChainView + 'static> Handler<ActiveLeavesUpdate>
    for CandidateValidator<B, V>
{
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: ActiveLeavesUpdate, _: &mut Self::Context) -> Self::Result {
        let (backend, view) = (self.backend.clone(), self.view.clone());
        let per_block = self.config.prepare_ahead_per_block;
        // No other message is handled until this one is done, so the state can leave the
        // actor for the update's duration.
        let mut state = std::mem::take(&mut self.leaves);
        let update = async move {
            leaves::update(
                &*backend,
                &*view,
                &mut state,
                msg.activated,
                msg.deactivated,
                per_block,
            )
            .await;
            state
        };
        AtomicResponse::new(Box::pin(
            update
                .into_actor(self)
                .map(|state, actor, _| actor.leaves = state),
        ))
    }
}

#[cfg(test)]
mod tests;
