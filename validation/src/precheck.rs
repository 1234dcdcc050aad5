//! Pre-checking a PVF for the pvf-checker vote, as stable2609 does it: with the session's
//! pre-check preparation timeout (60 s by default) and `PrepareJobKind::Prechecking`. A
//! deterministic preparation error is `Invalid`; anything else that goes wrong is `Failed`.
//! The pvf-checker votes against on both; pre-check votes are not slashed.
//!
//! On chain ([`precheck_on_chain`]) the code, the bomb limit and the executor parameters come
//! from the relay parent's state. Code that is not there is `Failed` (the relay chain pins
//! code under vote, so its absence looks like a local bug); executor parameters that cannot
//! be read are `Invalid`, as in the reference.

use crate::{
    candidate::{Hash, ValidationCodeHash},
    chain::RelayChainView,
    policy,
    retry::ValidationBackend,
};
use pvf_common::{ExecutorParams, PrepareError, PrepareJobKind, PvfPrepData, PvfPrepKind};

/// The outcome of a pre-check, with the reason when it is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreCheckOutcome {
    /// The PVF prepared and instantiated.
    Valid,
    /// The PVF failed in a way every validator sees alike.
    Invalid(String),
    /// The pre-check failed for a reason that may be local (a timeout, a dead job, I/O, a
    /// runtime call).
    Failed(String),
}

impl From<Result<(), PrepareError>> for PreCheckOutcome {
    fn from(result: Result<(), PrepareError>) -> Self {
        match result {
            Ok(()) => PreCheckOutcome::Valid,
            Err(e) if e.is_deterministic() => PreCheckOutcome::Invalid(e.to_string()),
            Err(e) => PreCheckOutcome::Failed(e.to_string()),
        }
    }
}

impl PreCheckOutcome {
    /// Whether the pvf-checker votes for the PVF (it votes against on `Invalid` and `Failed`).
    pub fn votes_for(&self) -> bool {
        matches!(self, PreCheckOutcome::Valid)
    }
}

/// Pre-checks `code` under the session's `executor_params`.
pub async fn precheck<B: ValidationBackend>(
    backend: &B,
    code: Vec<u8>,
    executor_params: ExecutorParams,
    validation_code_bomb_limit: u32,
) -> PreCheckOutcome {
    let timeout = policy::prep_timeout(&executor_params, PvfPrepKind::Precheck);
    let pvf = PvfPrepData::from_code(
        code,
        executor_params,
        timeout,
        PrepareJobKind::Prechecking,
        validation_code_bomb_limit,
    );
    backend.precheck(pvf).await.into()
}

/// Pre-checks the code `code_hash` names at `relay_parent` (the reference's `PreCheck`).
pub async fn precheck_on_chain<B: ValidationBackend, V: RelayChainView>(
    backend: &B,
    view: &V,
    relay_parent: Hash,
    code_hash: ValidationCodeHash,
) -> PreCheckOutcome {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(target: crate::LOG_TARGET, ?relay_parent, ?code_hash, "pre-check: {what}: {e}");
        PreCheckOutcome::Failed(format!("{what}: {e}"))
    };
    let session = match view.session_index_for_child(relay_parent).await {
        Ok(session) => session,
        Err(e) => return failed("cannot fetch the session index", &e),
    };
    let bomb_limit = match view.validation_code_bomb_limit(relay_parent, session).await {
        Ok(limit) => limit,
        Err(e) => return failed("cannot fetch the validation code bomb limit", &e),
    };
    let code = match view.validation_code_by_hash(relay_parent, code_hash).await {
        Ok(Some(code)) => code,
        Ok(None) => return failed("the code is not on chain", &code_hash),
        Err(e) => return failed("cannot fetch the code", &e),
    };
    let executor_params = match view.executor_params(relay_parent).await {
        Ok(params) => params,
        Err(e) => {
            tracing::warn!(target: crate::LOG_TARGET, ?relay_parent, "pre-check: no executor params, voting against: {e}");
            return PreCheckOutcome::Invalid(format!("cannot fetch the executor params: {e}"));
        }
    };
    precheck(backend, code, executor_params, bomb_limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_host::{Call, ScriptedHost};
    use std::time::Duration;

    async fn outcome_of(answer: Result<(), PrepareError>) -> (PreCheckOutcome, PvfPrepData) {
        let host = ScriptedHost::new(Vec::new());
        host.precheck_answers(answer);
        let outcome = precheck(&host, vec![0], ExecutorParams::new(), 1 << 20).await;
        match host.calls().as_slice() {
            [Call::Precheck(pvf)] => (outcome, pvf.clone()),
            calls => panic!("one pre-check expected, the host saw {calls:?}"),
        }
    }

    #[tokio::test]
    async fn deterministic_errors_are_invalid_the_rest_failed() {
        assert_eq!(outcome_of(Ok(())).await.0, PreCheckOutcome::Valid);
        let bad = PrepareError::Prevalidation("x".into());
        assert_eq!(
            outcome_of(Err(bad.clone())).await.0,
            PreCheckOutcome::Invalid(bad.to_string())
        );
        for local in [
            PrepareError::TimedOut,
            PrepareError::IoErr("gone".into()),
            PrepareError::RuntimeConstruction("x".into()),
        ] {
            assert_eq!(
                outcome_of(Err(local.clone())).await.0,
                PreCheckOutcome::Failed(local.to_string())
            );
        }
    }

    #[tokio::test]
    async fn a_precheck_uses_the_precheck_timeout_and_kind() {
        let (_, pvf) = outcome_of(Ok(())).await;
        assert_eq!(pvf.prep_timeout(), Duration::from_secs(60));
        assert_eq!(pvf.prep_kind(), PrepareJobKind::Prechecking);
    }
}
