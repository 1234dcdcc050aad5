//! The inherent data a collator hands to `BlockBuilder_inherent_extrinsics`.

use std::collections::BTreeMap;

use codec::Encode;
use polkadot_primitives::PersistedValidationData;
use sp_state_machine::StorageProof;

/// `pallet_timestamp`'s identifier; the value is the block's timestamp in ms (u64).
const TIMESTAMP: [u8; 8] = *b"timstap0";
/// Cumulus's parachain-system identifier for the original (v0) inherent, the one every corpus
/// runtime reads. Newer runtimes read `sysi1338` and fall back to nothing, so they would need
/// the v1 layout (with relay-parent descendants) added here.
const PARACHAIN_V0: [u8; 8] = *b"sysi1337";

/// SCALE `InherentData` (a map identifier → encoded value) for one block.
pub fn encode(
    timestamp_ms: u64,
    pvd: &PersistedValidationData,
    relay_proof: &StorageProof,
) -> Vec<u8> {
    // v0 `ParachainInherentData`: validation data, relay state proof, then no downward and
    // no horizontal messages (an empty Vec and an empty BTreeMap both encode as 0x00).
    let mut parachain = pvd.encode();
    parachain.extend(relay_proof.encode());
    parachain.extend([0u8, 0u8]);
    let mut data: BTreeMap<[u8; 8], Vec<u8>> = BTreeMap::new();
    data.insert(TIMESTAMP, timestamp_ms.encode());
    data.insert(PARACHAIN_V0, parachain);
    data.encode()
}
