//! The PVF host-function set as data: every `env` function the reference links for a PVF,
//! with its wasm signature.
//!
//! The set is sp-io's `misc`, `crypto`, `hashing`, `allocator`, `logging` and `trie`
//! interfaces (storage, child storage, offchain, tracing and sandbox are left out on purpose;
//! importing those links a trap stub). A PVF that imports one of these names with another
//! signature fails to link, as it does in the reference, so pre-checking must know them.

/// A wasm value type in a host-function signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    /// 32-bit integer: pointers, `u32`, `bool`, small enums.
    I32,
    /// 64-bit integer: fat pointers (`ptr | len << 32`) and `u64`.
    I64,
}

use ValType::{I32, I64};

/// One host function: full import name, parameters, optional result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFunctionSignature {
    /// The import name in module `env`, e.g. `ext_hashing_blake2_256_version_1`.
    pub name: &'static str,
    /// Parameter types in order.
    pub params: &'static [ValType],
    /// The result type, if any.
    pub result: Option<ValType>,
}

const fn sig(
    name: &'static str,
    shape: (&'static [ValType], Option<ValType>),
) -> HostFunctionSignature {
    HostFunctionSignature {
        name,
        params: shape.0,
        result: shape.1,
    }
}

/// Fat pointer in, 32-byte (or smaller) result pointer out: the hashing shape.
const HASH: (&[ValType], Option<ValType>) = (&[I64], Some(I32));
/// Signature, fat-pointer message, public key → bool: the verify shape.
const VERIFY: (&[ValType], Option<ValType>) = (&[I32, I64, I32], Some(I32));
/// Trie root of an encoded list, optionally with a state version.
const ROOT_V1: (&[ValType], Option<ValType>) = (&[I64], Some(I32));
const ROOT_V2: (&[ValType], Option<ValType>) = (&[I64, I32], Some(I32));
const PROOF_V1: (&[ValType], Option<ValType>) = (&[I32, I64, I64, I64], Some(I32));
const PROOF_V2: (&[ValType], Option<ValType>) = (&[I32, I64, I64, I64, I32], Some(I32));

macro_rules! table {
    ($($name:literal => $shape:expr),* $(,)?) => {
        &[$(sig($name, $shape)),*]
    };
}

/// Every function of the PVF host-function set (sp-io 49 without experimental features).
pub const PVF_HOST_FUNCTIONS: &[HostFunctionSignature] = table![
    // misc
    "ext_misc_print_num_version_1" => (&[I64], None),
    "ext_misc_print_utf8_version_1" => (&[I64], None),
    "ext_misc_print_hex_version_1" => (&[I64], None),
    "ext_misc_runtime_version_version_1" => (&[I64], Some(I64)),
    // crypto: keystore functions are linked but fail when called (no keystore in a PVF)
    "ext_crypto_ed25519_public_keys_version_1" => (&[I32], Some(I64)),
    "ext_crypto_ed25519_generate_version_1" => (&[I32, I64], Some(I32)),
    "ext_crypto_ed25519_sign_version_1" => (&[I32, I32, I64], Some(I64)),
    "ext_crypto_ed25519_verify_version_1" => VERIFY,
    "ext_crypto_ed25519_batch_verify_version_1" => VERIFY,
    "ext_crypto_sr25519_public_keys_version_1" => (&[I32], Some(I64)),
    "ext_crypto_sr25519_generate_version_1" => (&[I32, I64], Some(I32)),
    "ext_crypto_sr25519_sign_version_1" => (&[I32, I32, I64], Some(I64)),
    "ext_crypto_sr25519_verify_version_1" => VERIFY,
    "ext_crypto_sr25519_verify_version_2" => VERIFY,
    "ext_crypto_sr25519_batch_verify_version_1" => VERIFY,
    "ext_crypto_start_batch_verify_version_1" => (&[], None),
    "ext_crypto_finish_batch_verify_version_1" => (&[], Some(I32)),
    "ext_crypto_ecdsa_public_keys_version_1" => (&[I32], Some(I64)),
    "ext_crypto_ecdsa_generate_version_1" => (&[I32, I64], Some(I32)),
    "ext_crypto_ecdsa_sign_version_1" => (&[I32, I32, I64], Some(I64)),
    "ext_crypto_ecdsa_sign_prehashed_version_1" => (&[I32, I32, I32], Some(I64)),
    "ext_crypto_ecdsa_verify_version_1" => VERIFY,
    "ext_crypto_ecdsa_verify_version_2" => VERIFY,
    "ext_crypto_ecdsa_verify_prehashed_version_1" => (&[I32, I32, I32], Some(I32)),
    "ext_crypto_ecdsa_batch_verify_version_1" => VERIFY,
    "ext_crypto_secp256k1_ecdsa_recover_version_1" => (&[I32, I32], Some(I64)),
    "ext_crypto_secp256k1_ecdsa_recover_version_2" => (&[I32, I32], Some(I64)),
    "ext_crypto_secp256k1_ecdsa_recover_compressed_version_1" => (&[I32, I32], Some(I64)),
    "ext_crypto_secp256k1_ecdsa_recover_compressed_version_2" => (&[I32, I32], Some(I64)),
    // hashing
    "ext_hashing_keccak_256_version_1" => HASH,
    "ext_hashing_keccak_512_version_1" => HASH,
    "ext_hashing_sha2_256_version_1" => HASH,
    "ext_hashing_blake2_128_version_1" => HASH,
    "ext_hashing_blake2_256_version_1" => HASH,
    "ext_hashing_twox_256_version_1" => HASH,
    "ext_hashing_twox_128_version_1" => HASH,
    "ext_hashing_twox_64_version_1" => HASH,
    // allocator
    "ext_allocator_malloc_version_1" => (&[I32], Some(I32)),
    "ext_allocator_free_version_1" => (&[I32], None),
    // logging
    "ext_logging_log_version_1" => (&[I32, I64, I64], None),
    "ext_logging_max_level_version_1" => (&[], Some(I32)),
    // trie
    "ext_trie_blake2_256_root_version_1" => ROOT_V1,
    "ext_trie_blake2_256_root_version_2" => ROOT_V2,
    "ext_trie_blake2_256_ordered_root_version_1" => ROOT_V1,
    "ext_trie_blake2_256_ordered_root_version_2" => ROOT_V2,
    "ext_trie_keccak_256_root_version_1" => ROOT_V1,
    "ext_trie_keccak_256_root_version_2" => ROOT_V2,
    "ext_trie_keccak_256_ordered_root_version_1" => ROOT_V1,
    "ext_trie_keccak_256_ordered_root_version_2" => ROOT_V2,
    "ext_trie_blake2_256_verify_proof_version_1" => PROOF_V1,
    "ext_trie_blake2_256_verify_proof_version_2" => PROOF_V2,
    "ext_trie_keccak_256_verify_proof_version_1" => PROOF_V1,
    "ext_trie_keccak_256_verify_proof_version_2" => PROOF_V2,
];

/// Looks up a host function of the PVF set by import name.
pub fn find(name: &str) -> Option<&'static HostFunctionSignature> {
    PVF_HOST_FUNCTIONS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = PVF_HOST_FUNCTIONS.iter().map(|f| f.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn shapes_match_imports_seen_in_real_pvfs() {
        // Signatures as the corpus manifest lists them for real Cumulus PVFs.
        let seen = [
            ("ext_logging_log_version_1", &[I32, I64, I64][..], None),
            (
                "ext_crypto_ed25519_verify_version_1",
                &[I32, I64, I32][..],
                Some(I32),
            ),
            (
                "ext_crypto_secp256k1_ecdsa_recover_compressed_version_1",
                &[I32, I32][..],
                Some(I64),
            ),
            ("ext_hashing_blake2_256_version_1", &[I64][..], Some(I32)),
            ("ext_allocator_malloc_version_1", &[I32][..], Some(I32)),
            ("ext_misc_runtime_version_version_1", &[I64][..], Some(I64)),
            (
                "ext_trie_blake2_256_ordered_root_version_2",
                &[I64, I32][..],
                Some(I32),
            ),
        ];
        for (name, params, result) in seen {
            let f = find(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((f.params, f.result), (params, result), "{name}");
        }
        assert!(find("ext_storage_get_version_1").is_none());
    }
}
