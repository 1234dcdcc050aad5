//! A relay-chain state proof: a tiny relay trie holding only the keys a parachain's
//! `set_validation_data` reads, and a proof of all of it.
//!
//! Written here rather than taken from `cumulus-test-relay-sproof-builder` because that crate
//! pulls in XCM and BABE just to fill in the same few keys; the keys and value types come from
//! `polkadot_primitives::well_known_keys`, as the runtime reads them.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use codec::Encode;
use polkadot_primitives::{
    AbridgedHostConfiguration, AsyncBackingParams, HeadData, Id as ParaId, well_known_keys,
};
use sp_core::H256;
use sp_core::storage::StateVersion;
use sp_runtime::traits::BlakeTwo256;
use sp_state_machine::{InMemoryBackend, StorageProof};

/// The relay parent's storage root and the proof the parachain inherent carries.
pub struct RelayProof {
    /// Goes into the PVD, the inherent, and `ValidationParams.relay_parent_storage_root`.
    pub root: H256,
    /// Every node of the relay trie, so reads of absent keys are provable too.
    pub proof: StorageProof,
}

/// Host configuration values close to Polkadot's; the parachain only checks its own messages
/// and code against them.
fn host_config() -> AbridgedHostConfiguration {
    AbridgedHostConfiguration {
        max_code_size: 3 * 1024 * 1024,
        max_head_data_size: 20 * 1024,
        max_upward_queue_count: 174_762,
        max_upward_queue_size: 1024 * 1024,
        max_upward_message_size: 65_531,
        max_upward_message_num_per_candidate: 16,
        hrmp_max_message_num_per_candidate: 10,
        validation_upgrade_cooldown: 14_400,
        validation_upgrade_delay: 600,
        async_backing_params: AsyncBackingParams {
            max_candidate_depth: 3,
            allowed_ancestry_len: 2,
        },
    }
}

/// Builds the relay state for a block of `para_id` built at relay slot `relay_slot`, with
/// `included_head` (the parent's head data) as the para head the relay chain has included.
///
/// Required by every Cumulus runtime: the active config and the current slot. The included
/// head satisfies consensus hooks with unincluded-segment capacity 1 ("expected parent to be
/// included"). Both the old (`relay_dispatch_queue_size`, 2022) and the new (remaining
/// capacity) queue keys are present so either runtime generation finds its own.
pub fn build(para_id: u32, relay_slot: u64, included_head: &[u8]) -> Result<RelayProof> {
    let para = ParaId::from(para_id);
    let config = host_config();
    let mut kv: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    kv.insert(well_known_keys::ACTIVE_CONFIG.to_vec(), config.encode());
    kv.insert(well_known_keys::CURRENT_SLOT.to_vec(), relay_slot.encode());
    kv.insert(
        well_known_keys::para_head(para),
        HeadData(included_head.to_vec()).encode(),
    );
    kv.insert(
        well_known_keys::relay_dispatch_queue_remaining_capacity(para).key,
        (config.max_upward_queue_count, config.max_upward_queue_size).encode(),
    );
    #[allow(deprecated)] // the 2022 runtimes read this key
    kv.insert(
        well_known_keys::relay_dispatch_queue_size(para),
        (0u32, 0u32).encode(),
    );
    kv.insert(well_known_keys::EPOCH_INDEX.to_vec(), 0u64.encode());
    kv.insert(
        well_known_keys::ONE_EPOCH_AGO_RANDOMNESS.to_vec(),
        H256::zero().encode(),
    );
    let keys: Vec<Vec<u8>> = kv.keys().cloned().collect();
    // V1, as the relay chains have used since 2022; the parachain's proof checker reads both.
    let backend = InMemoryBackend::<BlakeTwo256>::from((kv, StateVersion::V1));
    let root = *backend.root();
    let proof = sp_state_machine::prove_read(backend, keys)
        .map_err(|e| anyhow!("cannot prove the relay-chain state: {e}"))?;
    Ok(RelayProof { root, proof })
}
