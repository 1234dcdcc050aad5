//! A relay chain of fixed answers, for tools that validate outside a node (the CLI) and for
//! tests: clones share the answers, and each can be changed or made to fail. The defaults
//! describe session 7 with the reference's default bomb limit, default executor parameters,
//! para 2000 alone on core 0, and every relay parent in its session.

use crate::{
    candidate::{CoreIndex, Hash, ParaId, SessionIndex, ValidationCodeHash},
    chain::{ChainError, RelayChainView, RelayParentSession},
};
use pvf_common::ExecutorParams;
use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap, VecDeque},
    rc::Rc,
};

/// The answers, whatever block is asked about; `None` makes the call fail.
#[derive(Clone, Debug)]
pub struct Answers {
    /// `session_index_for_child`.
    pub session: Option<SessionIndex>,
    /// `validation_code_bomb_limit`.
    pub bomb_limit: Option<u32>,
    /// `claim_queue`.
    pub claim_queue: Option<BTreeMap<CoreIndex, VecDeque<ParaId>>>,
    /// The relay-parent session check.
    pub relay_parent_session: Option<RelayParentSession>,
    /// `validation_code_by_hash`.
    pub code: HashMap<ValidationCodeHash, Vec<u8>>,
    /// `session_executor_params`.
    pub executor_params: Option<ExecutorParams>,
    /// The `CandidateReceiptV3` node feature.
    pub v3_enabled: bool,
    /// The keystore check behind preparing ahead.
    pub next_session_authority: bool,
    /// Per block, the code hashes of the candidates backed in it.
    pub backed: HashMap<Hash, Vec<ValidationCodeHash>>,
    /// The scheduling ancestors of any leaf.
    pub ancestors: Vec<Hash>,
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            session: Some(7),
            bomb_limit: Some(pvf_common::blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT),
            claim_queue: Some(BTreeMap::from([(
                CoreIndex(0),
                VecDeque::from([ParaId::new(2000)]),
            )])),
            relay_parent_session: Some(RelayParentSession::Valid),
            code: HashMap::new(),
            executor_params: Some(ExecutorParams::new()),
            v3_enabled: false,
            next_session_authority: false,
            backed: HashMap::new(),
            ancestors: Vec::new(),
        }
    }
}

/// A [`RelayChainView`] answering from [`Answers`].
#[derive(Clone, Default)]
pub struct FixedChain {
    answers: Rc<RefCell<Answers>>,
}

impl FixedChain {
    /// A chain answering `answers`.
    pub fn new(answers: Answers) -> Self {
        Self {
            answers: Rc::new(RefCell::new(answers)),
        }
    }

    /// The answers now.
    pub fn answers(&self) -> Answers {
        self.answers.borrow().clone()
    }

    /// Changes the answers.
    pub fn set(&self, change: impl FnOnce(&mut Answers)) {
        change(&mut self.answers.borrow_mut());
    }
}

fn answer<T: Clone>(value: &Option<T>, what: &str) -> Result<T, ChainError> {
    value
        .clone()
        .ok_or_else(|| ChainError(format!("no {what}")))
}

impl RelayChainView for FixedChain {
    async fn session_index_for_child(&self, _: Hash) -> Result<SessionIndex, ChainError> {
        answer(&self.answers.borrow().session, "session")
    }

    async fn validation_code_bomb_limit(
        &self,
        _: Hash,
        _: SessionIndex,
    ) -> Result<u32, ChainError> {
        answer(&self.answers.borrow().bomb_limit, "bomb limit")
    }

    async fn claim_queue(
        &self,
        _: Hash,
    ) -> Result<BTreeMap<CoreIndex, VecDeque<ParaId>>, ChainError> {
        answer(&self.answers.borrow().claim_queue, "claim queue")
    }

    async fn relay_parent_session(
        &self,
        _: Hash,
        _: SessionIndex,
        _: Hash,
    ) -> Result<RelayParentSession, ChainError> {
        answer(
            &self.answers.borrow().relay_parent_session,
            "relay parent session",
        )
    }

    async fn validation_code_by_hash(
        &self,
        _: Hash,
        code_hash: ValidationCodeHash,
    ) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self.answers.borrow().code.get(&code_hash).cloned())
    }

    async fn executor_params(&self, _: Hash) -> Result<ExecutorParams, ChainError> {
        answer(&self.answers.borrow().executor_params, "executor params")
    }

    async fn candidate_receipt_v3_enabled(
        &self,
        _: Hash,
        _: SessionIndex,
    ) -> Result<bool, ChainError> {
        Ok(self.answers.borrow().v3_enabled)
    }

    async fn is_next_session_authority(
        &self,
        _: Hash,
        _: SessionIndex,
    ) -> Result<bool, ChainError> {
        Ok(self.answers.borrow().next_session_authority)
    }

    async fn backed_code_hashes(&self, block: Hash) -> Result<Vec<ValidationCodeHash>, ChainError> {
        Ok(self
            .answers
            .borrow()
            .backed
            .get(&block)
            .cloned()
            .unwrap_or_default())
    }

    async fn scheduling_ancestors(&self, _: Hash) -> Result<Vec<Hash>, ChainError> {
        Ok(self.answers.borrow().ancestors.clone())
    }
}
