//! A scripted [`ValidationBackend`] for the layer's tests: it answers each execution with the
//! next scripted result and records every call it gets.

use crate::retry::{ExecutionInput, ValidationBackend};
use pvf_common::{
    PrepareError, PvfPrepData,
    execute::{HeadData, ValidationError, ValidationResult},
};
use pvf_host::execute::lanes::PvfExecKind;
use std::{cell::RefCell, collections::VecDeque, rc::Rc, time::Duration};

/// One call the fake host got.
#[derive(Clone, Debug)]
pub enum Call {
    /// An execution attempt.
    Execute {
        pvf: PvfPrepData,
        timeout: Duration,
        input: ExecutionInput,
        kind: PvfExecKind,
    },
    /// A pre-check (also a forced re-preparation).
    Precheck(PvfPrepData),
    /// PVFs to prepare ahead.
    HeadsUp(Vec<PvfPrepData>),
    /// A new relay-chain view.
    Leaves {
        activated: Option<[u8; 32]>,
        deactivated: Vec<[u8; 32]>,
        ancestors: Vec<[u8; 32]>,
    },
}

/// The fake host's script and record; clones share them.
#[derive(Clone, Default)]
pub struct ScriptedHost {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    answers: RefCell<VecDeque<Result<ValidationResult, ValidationError>>>,
    precheck: RefCell<Option<Result<(), PrepareError>>>,
    takes: RefCell<Duration>,
    calls: RefCell<Vec<Call>>,
}

impl ScriptedHost {
    /// A host answering executions with `answers`, in order, and pre-checks with `Ok`.
    pub fn new(answers: Vec<Result<ValidationResult, ValidationError>>) -> Self {
        let host = Self::default();
        *host.inner.answers.borrow_mut() = answers.into();
        host
    }

    /// Answer pre-checks with `answer`.
    pub fn precheck_answers(&self, answer: Result<(), PrepareError>) {
        *self.inner.precheck.borrow_mut() = Some(answer);
    }

    /// Make every execution take `takes` (tokio time).
    pub fn executions_take(&self, takes: Duration) {
        *self.inner.takes.borrow_mut() = takes;
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.borrow().clone()
    }

    /// Forgets the calls so far.
    pub fn forget_calls(&self) {
        self.inner.calls.borrow_mut().clear();
    }

    /// The timeouts of the execution attempts so far.
    pub fn attempts(&self) -> Vec<Duration> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Execute { timeout, .. } => Some(timeout),
                _ => None,
            })
            .collect()
    }
}

impl ValidationBackend for ScriptedHost {
    async fn execute(
        &self,
        pvf: PvfPrepData,
        timeout: Duration,
        input: ExecutionInput,
        kind: PvfExecKind,
    ) -> Result<ValidationResult, ValidationError> {
        self.inner.calls.borrow_mut().push(Call::Execute {
            pvf,
            timeout,
            input,
            kind,
        });
        let takes = *self.inner.takes.borrow();
        tokio::time::sleep(takes).await;
        let next = self.inner.answers.borrow_mut().pop_front();
        next.expect("an execution beyond the script")
    }

    async fn precheck(&self, pvf: PvfPrepData) -> Result<(), PrepareError> {
        self.inner.calls.borrow_mut().push(Call::Precheck(pvf));
        self.inner.precheck.borrow().clone().unwrap_or(Ok(()))
    }

    async fn heads_up(&self, pvfs: Vec<PvfPrepData>) -> Result<(), String> {
        self.inner.calls.borrow_mut().push(Call::HeadsUp(pvfs));
        Ok(())
    }

    async fn update_active_leaves(
        &self,
        activated: Option<[u8; 32]>,
        deactivated: Vec<[u8; 32]>,
        ancestors: Vec<[u8; 32]>,
    ) -> Result<(), String> {
        self.inner.calls.borrow_mut().push(Call::Leaves {
            activated,
            deactivated,
            ancestors,
        });
        Ok(())
    }
}

/// A successful execution's result with `head` as the new head.
pub fn valid_result(head: Vec<u8>) -> ValidationResult {
    ValidationResult {
        head_data: HeadData(head),
        new_validation_code: None,
        upward_messages: Vec::new(),
        horizontal_messages: Vec::new(),
        processed_downward_messages: 0,
        hrmp_watermark: 0,
    }
}
