//! Fixtures the actors' message-level tests share: test PVFs, a candidate, and an actor that
//! records the messages an actor under test sends to a neighbour.

use actix::prelude::*;
use pvf_common::{
    ExecutorParams, PrepareJobKind, PvfPrepData,
    execute::{BlockData, HeadData, PersistedValidationData, PoV},
};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a test waits for a message that must come.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// How long a test waits to be satisfied that no message comes.
pub const QUIET: Duration = Duration::from_millis(150);

/// PVF `n`: its own one-byte code, so its own artifact, under `params`.
pub fn pvf_with(n: u8, params: ExecutorParams) -> PvfPrepData {
    PvfPrepData::from_code(
        vec![n],
        params,
        Duration::from_secs(1),
        PrepareJobKind::Compilation,
        1024,
    )
}

/// PVF `n` under the default executor parameters.
pub fn pvf(n: u8) -> PvfPrepData {
    pvf_with(n, ExecutorParams::new())
}

/// A candidate for PVF `n`: its validation data and a PoV naming `n`.
pub fn candidate(n: u8) -> (PersistedValidationData, PoV) {
    let pvd = PersistedValidationData {
        parent_head: HeadData(vec![0]),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        max_pov_size: 1024,
    };
    let pov = PoV {
        block_data: BlockData(vec![n]),
    };
    (pvd, pov)
}

/// An actor that forwards every `M` it receives into a channel.
pub struct Recorder<M>(mpsc::UnboundedSender<M>);

impl<M: 'static> Actor for Recorder<M> {
    type Context = Context<Self>;
}

impl<M: Message<Result = ()> + Send + 'static> Handler<M> for Recorder<M> {
    type Result = ();

    fn handle(&mut self, msg: M, _: &mut Self::Context) {
        let _ = self.0.send(msg);
    }
}

/// A started recorder's address and the receiving end of what it records.
pub fn recorder<M>() -> (Addr<Recorder<M>>, mpsc::UnboundedReceiver<M>)
where
    M: Message<Result = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    (Recorder(tx).start(), rx)
}

/// The next recorded message, within [`DEADLINE`].
pub async fn next<M>(rx: &mut mpsc::UnboundedReceiver<M>, what: &str) -> M {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("expected {what}, got nothing"))
        .expect("the recorder is alive")
}

/// Checks nothing is recorded within [`QUIET`].
pub async fn nothing<M>(rx: &mut mpsc::UnboundedReceiver<M>, what: &str) {
    if let Ok(Some(_)) = tokio::time::timeout(QUIET, rx.recv()).await {
        panic!("expected no {what}");
    }
}
