//! Builds one parachain block as a collator does: initialize, inherents, transactions,
//! finalize, all over the parent state with a proof recorder; then seals it, asks the runtime
//! for its collation info, and packs block and proof into the `ParachainBlockData` the
//! runtime's `validate_block` decodes.

use anyhow::{Context, Result, anyhow, bail, ensure};
use codec::{Compact, Decode, Encode};
use polkadot_parachain_primitives::primitives::{BlockData, HeadData, ValidationParams};
use polkadot_primitives::PersistedValidationData;
use sp_core::H256;
use sp_externalities::Extensions;
use sp_runtime::traits::BlakeTwo256;
use sp_runtime::{Digest, DigestItem};
use sp_state_machine::{InMemoryBackend, OverlayedChanges, TrieBackendBuilder};
use sp_trie::CompactProof;
use sp_trie::proof_size_extension::ProofSizeExt;
use sp_trie::recorder::Recorder;

use crate::keys::{self, AURA_ENGINE, DevKey};
use crate::runtime::Runtime;
use crate::{Header, inherents, relay_proof};

/// `max_pov_size` in the persisted validation data, as the relay chains configure it and
/// as the reference harness uses.
pub const MAX_POV_SIZE: u32 = 5 * 1024 * 1024;

/// What distinguishes one block from the next: time, relay parent, and the transactions.
#[derive(Debug, Clone)]
pub struct BlockPlan {
    /// Aura slot, in the pre-runtime digest.
    pub para_slot: u64,
    /// `para_slot × slot_duration`.
    pub timestamp_ms: u64,
    /// Relay-chain slot in the relay proof: `timestamp / 6000`.
    pub relay_slot: u64,
    /// Strictly increasing from block to block (`RelayNumberStrictlyIncreases`).
    pub relay_parent_number: u32,
    /// Signed extrinsics (full, length-prefixed encodings) applied after the inherents.
    pub transactions: Vec<Vec<u8>>,
}

/// A built, sealed block with everything needed to validate it.
#[derive(Clone)]
pub struct BuiltBlock {
    /// The parent's sealed header, SCALE-encoded: the candidate's parent head data.
    pub parent_head: Vec<u8>,
    /// The sealed header; its encoding is the block's head data.
    pub header: Header,
    /// Inherents then transactions, each a full (length-prefixed) extrinsic encoding.
    pub extrinsics: Vec<Vec<u8>>,
    /// Number of leading inherents in `extrinsics`.
    pub inherent_count: usize,
    /// The storage proof recorded while building, compacted against the parent state root.
    pub proof: CompactProof,
    /// Relay parent number and storage root, as in the PVD.
    pub relay_parent_number: u32,
    /// The relay-proof root.
    pub relay_parent_storage_root: H256,
    /// The SCALE `ValidationResult` a validator must compute, from the runtime's own
    /// `CollectCollationInfo` answer while building.
    pub expected_result: Vec<u8>,
}

/// SCALE `ParachainBlockData` in its original (unversioned) layout, the only one the corpus
/// runtimes decode: header, extrinsics, compact proof.
pub fn encode_block_data(header: &[u8], extrinsics: &[Vec<u8>], proof: &CompactProof) -> Vec<u8> {
    let mut out = header.to_vec();
    Compact(extrinsics.len() as u32).encode_to(&mut out);
    for x in extrinsics {
        out.extend_from_slice(x);
    }
    proof.encode_to(&mut out);
    out
}

impl BuiltBlock {
    /// The block data of the candidate's PoV.
    pub fn block_data(&self) -> Vec<u8> {
        encode_block_data(&self.header.encode(), &self.extrinsics, &self.proof)
    }

    /// The `ValidationParams` a validator passes to `validate_block`.
    pub fn params(&self) -> ValidationParams {
        ValidationParams {
            parent_head: HeadData(self.parent_head.clone()),
            block_data: BlockData(self.block_data()),
            relay_parent_number: self.relay_parent_number,
            relay_parent_storage_root: self.relay_parent_storage_root,
        }
    }

    /// The persisted validation data, as the collator's PoV export writes it.
    pub fn pvd(&self) -> PersistedValidationData {
        PersistedValidationData {
            parent_head: HeadData(self.parent_head.clone()),
            relay_parent_number: self.relay_parent_number,
            relay_parent_storage_root: self.relay_parent_storage_root,
            max_pov_size: MAX_POV_SIZE,
        }
    }
}

/// `CollationInfo` (version 2 of the `CollectCollationInfo` API), with message types kept
/// opaque: only their encodings matter here.
#[derive(Decode)]
struct CollationInfo {
    upward_messages: Vec<Vec<u8>>,
    horizontal_messages: Vec<(u32, Vec<u8>)>,
    new_validation_code: Option<Vec<u8>>,
    processed_downward_messages: u32,
    hrmp_watermark: u32,
    head_data: Vec<u8>,
}

impl CollationInfo {
    /// The same fields in `ValidationResult` order; bounded vectors encode like plain ones.
    fn to_validation_result(&self) -> Vec<u8> {
        (
            &self.head_data,
            &self.new_validation_code,
            &self.upward_messages,
            &self.horizontal_messages,
            self.processed_downward_messages,
            self.hrmp_watermark,
        )
            .encode()
    }
}

/// Splits the answer of `BlockBuilder_inherent_extrinsics` (a SCALE `Vec<Extrinsic>`, each
/// extrinsic length-prefixed) into full extrinsic encodings.
fn split_extrinsics(raw: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut input = raw;
    let n = Compact::<u32>::decode(&mut input)
        .context("inherent list: bad count")?
        .0;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let before = input;
        let len = Compact::<u32>::decode(&mut input)
            .context("inherent list: bad length")?
            .0 as usize;
        let prefix = before.len() - input.len();
        ensure!(input.len() >= len, "inherent list: truncated extrinsic");
        out.push(before[..prefix + len].to_vec());
        input = &input[len..];
    }
    ensure!(
        input.is_empty(),
        "inherent list: {} trailing bytes",
        input.len()
    );
    Ok(out)
}

/// A chain being extended: the runtime, the current state and the last sealed header.
pub struct Chain<'a> {
    rt: &'a Runtime,
    /// State after the last block.
    pub backend: InMemoryBackend<BlakeTwo256>,
    /// The last block's sealed header (the genesis header at first).
    pub head: Header,
    para_id: u32,
    author: DevKey,
}

impl<'a> Chain<'a> {
    /// Starts from a genesis state; `author` must be the only Aura authority in it.
    pub fn new(
        rt: &'a Runtime,
        backend: InMemoryBackend<BlakeTwo256>,
        genesis: Header,
        para_id: u32,
        author: DevKey,
    ) -> Self {
        Chain {
            rt,
            backend,
            head: genesis,
            para_id,
            author,
        }
    }

    /// Builds, seals and imports the next block.
    pub fn build_block(&mut self, plan: &BlockPlan) -> Result<BuiltBlock> {
        let parent_head = self.head.encode();
        let relay = relay_proof::build(self.para_id, plan.relay_slot, &parent_head)?;
        let pvd = PersistedValidationData {
            parent_head: HeadData(parent_head.clone()),
            relay_parent_number: plan.relay_parent_number,
            relay_parent_storage_root: relay.root,
            max_pov_size: MAX_POV_SIZE,
        };
        let recorder = Recorder::<BlakeTwo256>::default();
        let mut overlay = OverlayedChanges::default();
        let mut exts = Extensions::new();
        exts.register(ProofSizeExt::new(recorder.clone()));

        // Everything up to finalize reads through the recorder: those reads are the proof.
        let (header, extrinsics, inherent_count) = {
            let rec = TrieBackendBuilder::wrap(&self.backend)
                .with_recorder(recorder.clone())
                .build();
            let pre = Header {
                parent_hash: self.head.hash(),
                number: self.head.number + 1,
                state_root: H256::zero(),
                extrinsics_root: H256::zero(),
                digest: Digest {
                    logs: vec![DigestItem::PreRuntime(AURA_ENGINE, plan.para_slot.encode())],
                },
            };
            self.rt.call(
                &rec,
                &mut overlay,
                &mut exts,
                "Core_initialize_block",
                &pre.encode(),
            )?;

            let data = inherents::encode(plan.timestamp_ms, &pvd, &relay.proof);
            // Creating inherents must not touch the block's state.
            overlay.start_transaction();
            let raw = self.rt.call(
                &rec,
                &mut overlay,
                &mut exts,
                "BlockBuilder_inherent_extrinsics",
                &data,
            );
            overlay
                .rollback_transaction()
                .map_err(|_| anyhow!("overlay transaction mismatch"))?;
            let inherents = split_extrinsics(&raw?)?;
            let inherent_count = inherents.len();
            let all: Vec<Vec<u8>> = inherents
                .into_iter()
                .chain(plan.transactions.iter().cloned())
                .collect();
            for (i, x) in all.iter().enumerate() {
                let out = self.rt.call(
                    &rec,
                    &mut overlay,
                    &mut exts,
                    "BlockBuilder_apply_extrinsic",
                    x,
                )?;
                check_apply(&out).with_context(|| {
                    format!(
                        "block {}: extrinsic {i} ({}) was not applied",
                        pre.number,
                        hex::encode(x)
                    )
                })?;
            }
            let out = self.rt.call(
                &rec,
                &mut overlay,
                &mut exts,
                "BlockBuilder_finalize_block",
                &[],
            )?;
            let header = Header::decode(&mut &out[..])
                .context("BlockBuilder_finalize_block: not a header")?;
            (header, all, inherent_count)
        };
        let sealed = keys::seal(&header, &self.author)?;
        let proof = recorder
            .drain_storage_proof()
            .into_compact_proof::<BlakeTwo256>(self.head.state_root)
            .map_err(|e| anyhow!("cannot compact the storage proof: {e:?}"))?;

        // The collator's view of the outputs: read on top of the block's changes, unrecorded.
        let info: CollationInfo = {
            let out = self.rt.call(
                &self.backend,
                &mut overlay,
                &mut Extensions::new(),
                "CollectCollationInfo_collect_collation_info",
                &sealed.encode(),
            )?;
            Decode::decode(&mut &out[..])
                .context("cannot decode CollationInfo (API version 2 expected)")?
        };
        ensure!(
            info.head_data == sealed.encode(),
            "CollationInfo.head_data is not the sealed header"
        );

        let changes = overlay
            .drain_storage_changes(&self.backend, self.rt.state_version())
            .map_err(|e| anyhow!("cannot collect the block's storage changes: {e}"))?;
        ensure!(
            changes.transaction_storage_root == header.state_root,
            "state root mismatch: the header says {:?}, the changes give {:?}",
            header.state_root,
            changes.transaction_storage_root
        );
        self.backend
            .apply_transaction(changes.transaction_storage_root, changes.transaction);
        self.head = sealed.clone();

        Ok(BuiltBlock {
            parent_head,
            header: sealed,
            extrinsics,
            inherent_count,
            proof,
            relay_parent_number: plan.relay_parent_number,
            relay_parent_storage_root: relay.root,
            expected_result: info.to_validation_result(),
        })
    }
}

/// `ApplyExtrinsicResult`: `00 00` is applied and dispatched; `00 01 …` applied but the call
/// failed; `01 …` invalid (not includable).
fn check_apply(out: &[u8]) -> Result<()> {
    match out {
        [0, 0] => Ok(()),
        [0, 1, ..] => bail!("dispatch error {}", hex::encode(&out[2..])),
        [1, ..] => bail!("transaction invalid: {}", hex::encode(&out[1..])),
        _ => bail!("unexpected apply result {}", hex::encode(out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_length_prefixed_extrinsics() {
        let a = vec![0x08, 0xaa, 0xbb];
        let b = vec![0x04, 0xcc];
        let mut list = Compact(2u32).encode();
        list.extend(&a);
        list.extend(&b);
        assert_eq!(split_extrinsics(&list).unwrap(), vec![a, b]);
        assert!(split_extrinsics(&list[..list.len() - 1]).is_err());
    }

    #[test]
    fn apply_results() {
        assert!(check_apply(&[0, 0]).is_ok());
        assert!(check_apply(&[0, 1, 3]).is_err());
        assert!(check_apply(&[1, 0, 2]).is_err());
    }
}
