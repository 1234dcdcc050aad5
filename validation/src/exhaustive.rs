//! Validating one candidate from exhaustive parameters, as stable2609's candidate validation
//! does it: fetch the code bomb limit, check the inputs against the receipt, for backing
//! check the scheduling session and fetch the claim queue, execute (backing once, approvals
//! and disputes under the retry policy), map the result to a verdict, check the outputs.

use crate::{
    candidate::{
        self, CandidateReceipt, CandidateValidationResult, InvalidCandidate,
        PersistedValidationData, TransposedClaimQueue, ValidationFailed,
    },
    chain::{RelayChainView, RelayParentSession},
    checks,
    policy::{self, FinalOutcome},
    retry::{self, ExecutionInput, ValidationBackend},
};
use polkadot_primitives::transpose_claim_queue;
use pvf_common::{ExecutorParams, PrepareJobKind, PvfPrepData, PvfPrepKind, execute::PoV};
use pvf_host::execute::lanes::PvfExecKind;
use std::time::Duration;

/// A candidate to validate with everything it needs (the reference's `ValidateFromExhaustive`).
#[derive(Clone, Debug)]
pub struct ExhaustiveRequest {
    /// The PVD the candidate runs with.
    pub validation_data: PersistedValidationData,
    /// The para's validation code (maybe compressed).
    pub validation_code: Vec<u8>,
    /// The receipt: the descriptor and the commitments hash.
    pub candidate_receipt: CandidateReceipt,
    /// The proof of validity (maybe compressed).
    pub pov: PoV,
    /// The executor parameters of the candidate's session.
    pub executor_params: ExecutorParams,
    /// Backing, approval or dispute. A backing kind carries the hash the candidate is scheduled
    /// at (the descriptor's scheduling parent: its relay parent before V3): the host drops the
    /// job once that hash is neither an active leaf nor one of their scheduling ancestors.
    pub exec_kind: PvfExecKind,
}

/// Why a candidate is rejected before execution, or why nothing could be decided.
enum PreValidationError {
    Invalid(InvalidCandidate),
    Chain(String),
}

/// What pre-validation hands to execution.
struct PreValidated {
    validation_code_bomb_limit: u32,
    /// Backing only: the claim queue the UMP signals are checked against.
    claim_queue: Option<TransposedClaimQueue>,
}

/// Validates `request`. `v3_ever_seen` is whether the `CandidateReceiptV3` node feature has
/// ever been seen enabled; `retry_delay` is the wait before an approval's retry.
pub async fn validate<B: ValidationBackend, V: RelayChainView>(
    backend: &B,
    view: &V,
    request: ExhaustiveRequest,
    v3_ever_seen: bool,
    retry_delay: Duration,
) -> Result<CandidateValidationResult, ValidationFailed> {
    let pre = match pre_validate(view, &request, v3_ever_seen).await {
        Ok(pre) => pre,
        Err(PreValidationError::Invalid(e)) => return Ok(CandidateValidationResult::Invalid(e)),
        Err(PreValidationError::Chain(e)) => return Err(ValidationFailed(e)),
    };
    let result = execute_and_check(backend, request, pre, v3_ever_seen, retry_delay).await;
    // Only candidates that reached execution are counted, as the reference counts them.
    crate::metrics::on_validation_event(&result);
    result
}

/// Executes a pre-validated candidate (backing once, approvals and disputes under the retry
/// policy), maps a failure to a vote, and checks a result's outputs.
async fn execute_and_check<B: ValidationBackend>(
    backend: &B,
    request: ExhaustiveRequest,
    pre: PreValidated,
    v3_ever_seen: bool,
    retry_delay: Duration,
) -> Result<CandidateValidationResult, ValidationFailed> {
    let _timer = crate::metrics::Timer::validate_candidate_exhaustive();
    let ExhaustiveRequest {
        validation_data,
        validation_code,
        candidate_receipt,
        pov,
        executor_params,
        exec_kind,
    } = request;
    let descriptor = &candidate_receipt.descriptor;
    let exec_timeout = policy::exec_timeout(&executor_params, retry::timeout_kind(exec_kind));
    let pvf = PvfPrepData::from_code(
        validation_code,
        executor_params.clone(),
        policy::prep_timeout(&executor_params, PvfPrepKind::Prepare),
        PrepareJobKind::Compilation,
        pre.validation_code_bomb_limit,
    );
    let input = ExecutionInput {
        pvd: candidate::host_pvd(&validation_data),
        pov,
        params_extension: candidate::params_extension(descriptor, v3_ever_seen),
    };
    let result = match exec_kind.backing_relay_parent() {
        // One attempt: a retry could back a candidate others would not (polkadot-sdk #2182).
        Some(_) => backend.execute(pvf, exec_timeout, input, exec_kind).await,
        None => {
            retry::execute_with_retry(backend, pvf, exec_timeout, input, exec_kind, retry_delay)
                .await
        }
    };
    match result {
        Ok(result) => Ok(checks::after_execution(
            &candidate_receipt,
            &validation_data,
            &result,
            pre.claim_queue.as_ref(),
        )),
        Err(error) => {
            tracing::info!(target: crate::LOG_TARGET, para_id = ?descriptor.para_id(), "failed to validate a candidate: {error}");
            match policy::final_outcome(error) {
                FinalOutcome::Abstain(reason) => Err(ValidationFailed(reason)),
                FinalOutcome::Invalid(invalidity) => {
                    Ok(CandidateValidationResult::Invalid(invalidity.into()))
                }
            }
        }
    }
}

/// The checks that need no execution, in the reference's order.
async fn pre_validate<V: RelayChainView>(
    view: &V,
    request: &ExhaustiveRequest,
    v3_ever_seen: bool,
) -> Result<PreValidated, PreValidationError> {
    let descriptor = &request.candidate_receipt.descriptor;
    let scheduling_parent = descriptor.scheduling_parent_for_candidate_validation(v3_ever_seen);
    // The limit is read at the scheduling parent, in the scheduling session.
    let scheduling_session =
        match descriptor.scheduling_session_for_candidate_validation(v3_ever_seen) {
            Some(session) => session,
            None => view
                .session_index_for_child(scheduling_parent)
                .await
                .map_err(|e| chain_error("cannot fetch the session index", e))?,
        };
    let validation_code_bomb_limit = view
        .validation_code_bomb_limit(scheduling_parent, scheduling_session)
        .await
        .map_err(|e| chain_error("cannot fetch the validation code bomb limit", e))?;

    checks::before_execution(
        descriptor,
        &request.validation_data,
        &request.pov,
        &checks::code_hash(&request.validation_code),
        request.exec_kind.backing_relay_parent().is_some(),
    )
    .map_err(PreValidationError::Invalid)?;

    if request.exec_kind.backing_relay_parent().is_none() {
        // Approvals and disputes skip what the runtime checked at backing.
        return Ok(PreValidated {
            validation_code_bomb_limit,
            claim_queue: None,
        });
    }
    let expected_session = view
        .session_index_for_child(scheduling_parent)
        .await
        .map_err(|e| chain_error("scheduling session index not found", e))?;
    if let Some(claimed) = descriptor.scheduling_session_for_candidate_validation(v3_ever_seen)
        && claimed != expected_session
    {
        return Err(PreValidationError::Invalid(
            InvalidCandidate::InvalidSchedulingSession,
        ));
    }
    if let Some(session) = descriptor.session_index_for_candidate_validation(v3_ever_seen) {
        let relay_parent = descriptor.relay_parent();
        match view
            .relay_parent_session(scheduling_parent, session, relay_parent)
            .await
            .map_err(|e| chain_error("cannot check the relay parent's session", e))?
        {
            RelayParentSession::Valid | RelayParentSession::NotSupported => {}
            RelayParentSession::NotFound => {
                return Err(PreValidationError::Invalid(
                    InvalidCandidate::InvalidRelayParentSession,
                ));
            }
        }
    }
    let claim_queue = view
        .claim_queue(scheduling_parent)
        .await
        .map_err(|e| chain_error("claim queue not available", e))?;
    Ok(PreValidated {
        validation_code_bomb_limit,
        claim_queue: Some(transpose_claim_queue(claim_queue)),
    })
}

fn chain_error(what: &str, e: crate::chain::ChainError) -> PreValidationError {
    PreValidationError::Chain(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests;
