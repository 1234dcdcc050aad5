//! Genesis state: the raw top storage map of a chain spec (or a side file holding it without
//! `:code`), the runtime blob as `:code`, the dev-key patch, and the genesis header.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use codec::{Decode, Encode};
use sp_core::H256;
use sp_core::storage::{StateVersion, Storage};
use sp_crypto_hashing::{blake2_128, twox_128};
use sp_runtime::traits::{BlakeTwo256, Hash as HashT};
use sp_state_machine::InMemoryBackend;

use crate::Header;

/// Raw top-trie storage: key → value.
pub type TopMap = BTreeMap<Vec<u8>, Vec<u8>>;

/// Live genesis hashes of the corpus runtimes' chains, keyed by (spec name, spec version).
/// An unpatched genesis must reproduce them; that proves the storage file and the root
/// computation are right before anything is built on top.
const LIVE_GENESIS: &[(&str, u32, &str)] = &[
    (
        "coretime-kusama",
        1_002_000,
        "638cd2b9af4b3bb54b8c1f0d22711fc89924ca93300f0caf25a580432b29d050",
    ),
    (
        "collectives",
        9290,
        "46ee89aa2eedd13e988962630ec9fb7565964cf5023bb351f2b6b25c1b68b0b2",
    ),
];

/// The live chain's genesis hash for this runtime, if the tool knows it.
pub fn live_genesis_hash(spec_name: &str, spec_version: u32) -> Option<H256> {
    LIVE_GENESIS
        .iter()
        .find(|(n, v, _)| *n == spec_name && *v == spec_version)
        .map(|(_, _, h)| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out).expect("constant is 32 bytes of hex");
            H256(out)
        })
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .with_context(|| format!("{what} is not hex: {}", &s[..s.len().min(80)]))
}

/// Reads the raw top map from `path`: either a raw chain spec (`genesis.raw.top`) or a file
/// `{"top": {...}}` as written for the corpus runtimes (the spec's map without `:code`).
pub fn load_top(path: &Path) -> Result<TopMap> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the genesis storage file {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let raw = json.pointer("/genesis/raw").unwrap_or(&json);
    let Some(top) = raw.get("top").and_then(|t| t.as_object()) else {
        bail!(
            "{}: expected a raw chain spec (genesis.raw.top) or an object with a \"top\" map; \
             convert a plain spec with `<node> build-spec --raw` first",
            path.display()
        );
    };
    let children = raw.get("childrenDefault").and_then(|c| c.as_object());
    if children.is_some_and(|c| !c.is_empty()) {
        bail!(
            "{}: child tries in the genesis are not supported",
            path.display()
        );
    }
    let mut map = TopMap::new();
    for (k, v) in top {
        let v = v
            .as_str()
            .with_context(|| format!("value of {k} is not a string"))?;
        map.insert(unhex(k, "a storage key")?, unhex(v, "a storage value")?);
    }
    Ok(map)
}

/// `twox_128(pallet) ++ twox_128(item)`: the key of a plain storage value, or the prefix of a map.
pub fn storage_prefix(pallet: &str, item: &str) -> Vec<u8> {
    [twox_128(pallet.as_bytes()), twox_128(item.as_bytes())].concat()
}

/// `System::Account` key of `who` (`Blake2_128Concat` hasher).
pub fn account_key(who: &[u8; 32]) -> Vec<u8> {
    let mut k = storage_prefix("System", "Account");
    k.extend_from_slice(&blake2_128(who));
    k.extend_from_slice(who);
    k
}

/// Replaces the Aura authorities with `aura` (in both `Aura` and `AuraExt`, which the seal
/// check reads) and endows `accounts` with `free` each, keeping `Balances::TotalIssuance`
/// consistent.
pub fn apply_dev_patch(
    top: &mut TopMap,
    aura: &[[u8; 32]],
    accounts: &[[u8; 32]],
    free: u128,
) -> Result<()> {
    for pallet in ["Aura", "AuraExt"] {
        let key = storage_prefix(pallet, "Authorities");
        if !top.contains_key(&key) {
            bail!("the genesis has no {pallet}::Authorities; is this an Aura parachain's storage?");
        }
        top.insert(key, aura.to_vec().encode());
    }
    let layout = AccountLayout::detect(top)?;
    let issuance_key = storage_prefix("Balances", "TotalIssuance");
    let mut issuance = match top.get(&issuance_key) {
        Some(v) => u128::decode(&mut &v[..]).context("Balances::TotalIssuance is not a u128")?,
        None => 0,
    };
    for who in accounts {
        let key = account_key(who);
        let old_free = top.get(&key).map(|v| layout.free_of(v)).unwrap_or(0);
        issuance = issuance.saturating_sub(old_free).saturating_add(free);
        top.insert(key, layout.encode(free));
    }
    top.insert(issuance_key, issuance.encode());
    Ok(())
}

/// The `AccountInfo` layout, read off an account the genesis already has, since it changed
/// across releases (`sufficients` added in 2021; `flags` replacing `fee_frozen` in 2023).
struct AccountLayout {
    /// Bytes before `free`: nonce, consumers, providers (and sufficients), each u32.
    header_len: usize,
    /// The last u128 is `flags` with the "new logic" bit set (1 << 127).
    new_flags: bool,
}

impl AccountLayout {
    fn detect(top: &TopMap) -> Result<Self> {
        let prefix = storage_prefix("System", "Account");
        let sample = top
            .iter()
            .find(|(k, _)| k.starts_with(&prefix) && k.len() == prefix.len() + 48)
            .map(|(_, v)| v);
        let Some(v) = sample else {
            // No account to copy from: assume the layout current since 2023.
            return Ok(AccountLayout {
                header_len: 16,
                new_flags: true,
            });
        };
        if v.len() != 76 && v.len() != 80 {
            bail!(
                "System::Account values are {} bytes; expected 76 or 80",
                v.len()
            );
        }
        Ok(AccountLayout {
            header_len: v.len() - 64,
            new_flags: v[v.len() - 1] == 0x80,
        })
    }

    fn free_of(&self, v: &[u8]) -> u128 {
        v.get(self.header_len..self.header_len + 16)
            .map(|b| u128::from_le_bytes(b.try_into().expect("16 bytes")))
            .unwrap_or(0)
    }

    fn encode(&self, free: u128) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.header_len + 64);
        v.extend_from_slice(&0u32.encode()); // nonce
        v.extend_from_slice(&0u32.encode()); // consumers
        v.extend_from_slice(&1u32.encode()); // providers: the account exists on its own
        if self.header_len == 16 {
            v.extend_from_slice(&0u32.encode()); // sufficients
        }
        v.extend_from_slice(&free.encode());
        v.extend_from_slice(&0u128.encode()); // reserved
        v.extend_from_slice(&0u128.encode()); // frozen / misc_frozen
        let last: u128 = if self.new_flags { 1 << 127 } else { 0 };
        v.extend_from_slice(&last.encode());
        v
    }
}

/// The genesis state as a trie backend, with its header.
pub struct Genesis {
    /// The full state, `:code` included.
    pub backend: InMemoryBackend<BlakeTwo256>,
    /// Block 0's header: number 0, zero parent, empty digest.
    pub header: Header,
}

/// Builds the genesis trie from `top` plus `code` under `:code`, in `state_version`, and its
/// header (as a node does: empty extrinsics root, zero parent hash, no digest).
pub fn build(mut top: TopMap, code: &[u8], state_version: StateVersion) -> Genesis {
    if let Some(old) = top.get(sp_core::storage::well_known_keys::CODE)
        && old.as_slice() != code
    {
        eprintln!(
            "warning: the genesis storage's :code differs from the runtime blob; using the blob \
             (the genesis hash will not match the live chain's)"
        );
    }
    top.insert(
        sp_core::storage::well_known_keys::CODE.to_vec(),
        code.to_vec(),
    );
    let storage = Storage {
        top,
        children_default: Default::default(),
    };
    let backend = InMemoryBackend::<BlakeTwo256>::from((storage, state_version));
    let state_root = *backend.root();
    let extrinsics_root = BlakeTwo256::ordered_trie_root(Vec::new(), state_version);
    let header = Header {
        parent_hash: H256::zero(),
        number: 0,
        state_root,
        extrinsics_root,
        digest: Default::default(),
    };
    Genesis { backend, header }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_keeps_layout_and_issuance() {
        let mut top = TopMap::new();
        top.insert(
            storage_prefix("Aura", "Authorities"),
            Vec::<[u8; 32]>::new().encode(),
        );
        top.insert(
            storage_prefix("AuraExt", "Authorities"),
            Vec::<[u8; 32]>::new().encode(),
        );
        let mut existing = vec![0u8; 80];
        existing[16] = 7; // free = 7
        existing[79] = 0x80; // new-logic flags
        top.insert(account_key(&[9; 32]), existing);
        top.insert(storage_prefix("Balances", "TotalIssuance"), 7u128.encode());
        apply_dev_patch(&mut top, &[[1; 32]], &[[9; 32], [2; 32]], 100).unwrap();
        let v = &top[&account_key(&[2; 32])];
        assert_eq!(v.len(), 80);
        assert_eq!(v[79], 0x80);
        assert_eq!(v[8], 1); // providers
        let issuance =
            u128::decode(&mut &top[&storage_prefix("Balances", "TotalIssuance")][..]).unwrap();
        assert_eq!(issuance, 200);
        assert_eq!(
            top[&storage_prefix("Aura", "Authorities")],
            vec![[1u8; 32]].encode()
        );
    }
}
