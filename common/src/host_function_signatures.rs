//! The PVF host-function set as data: every `env` function the reference links for a PVF,
//! with its wasm signature.
//!
//! The set is sp-io's `misc`, `crypto`, `hashing`, `allocator`, `logging` and `trie`
//! interfaces (storage, child storage, offchain, tracing and sandbox are left out on purpose;
//! importing those links a trap stub). A PVF that imports one of these names with another
//! signature fails to link, as it does in the reference, so pre-checking must know them.
//!
//! [`RFC163_HOST_FUNCTIONS`] (sp-crypto-ec-utils' `HostFunctionsRfc163`) join the set only for
//! sessions whose executor parameters hold `EnabledHostFunction(EccRfc163)`; a
//! [`HostFunctionSet`] says which sets a session links. Without the parameter those names are
//! ordinary unknown imports.

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

/// Two read buffers in, one buffer written, a `u32` status out: every RFC-163 function but
/// `final_exponentiation` (`PassFatPointerAndRead` ×2, `PassFatPointerAndWrite`,
/// `HostcallResult`).
const EC_IN_IN_OUT: (&[ValType], Option<ValType>) = (&[I64, I64, I64], Some(I32));

/// The RFC-163 elliptic-curve functions (sp-crypto-ec-utils 0.24, interface `HostCalls` in each
/// curve module), linked only with `EnabledHostFunction(EccRfc163)`.
pub const RFC163_HOST_FUNCTIONS: &[HostFunctionSignature] = table![
    // bls12_381
    "ext_host_calls_bls12_381_multi_miller_loop_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_bls12_381_final_exponentiation_version_1" => (&[I64], Some(I32)),
    "ext_host_calls_bls12_381_msm_g1_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_bls12_381_msm_g2_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_bls12_381_mul_g1_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_bls12_381_mul_g2_version_1" => EC_IN_IN_OUT,
    // ed_on_bls12_381_bandersnatch
    "ext_host_calls_ed_on_bls12_381_bandersnatch_msm_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_ed_on_bls12_381_bandersnatch_mul_version_1" => EC_IN_IN_OUT,
    // pallas
    "ext_host_calls_pallas_msm_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_pallas_mul_version_1" => EC_IN_IN_OUT,
    // vesta
    "ext_host_calls_vesta_msm_version_1" => EC_IN_IN_OUT,
    "ext_host_calls_vesta_mul_version_1" => EC_IN_IN_OUT,
];

/// Looks up a host function of the base PVF set by import name.
pub fn find(name: &str) -> Option<&'static HostFunctionSignature> {
    PVF_HOST_FUNCTIONS.iter().find(|f| f.name == name)
}

/// Which host functions a session links: the base set always, the RFC-163 set on request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostFunctionSet {
    /// Whether [`RFC163_HOST_FUNCTIONS`] are linked (`EnabledHostFunction(EccRfc163)`).
    pub ecc_rfc163: bool,
}

impl HostFunctionSet {
    /// The base set only, as for a session without `EnabledHostFunction` parameters.
    pub const BASE: Self = Self { ecc_rfc163: false };
    /// The base set and the RFC-163 functions.
    pub const WITH_ECC_RFC163: Self = Self { ecc_rfc163: true };

    /// Every function of this set, base set first.
    pub fn functions(self) -> impl Iterator<Item = &'static HostFunctionSignature> {
        let ecc: &'static [HostFunctionSignature] = if self.ecc_rfc163 {
            RFC163_HOST_FUNCTIONS
        } else {
            &[]
        };
        PVF_HOST_FUNCTIONS.iter().chain(ecc)
    }

    /// Looks up a function of this set by import name.
    pub fn find(self, name: &str) -> Option<&'static HostFunctionSignature> {
        self.functions().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = HostFunctionSet::WITH_ECC_RFC163
            .functions()
            .map(|f| f.name)
            .collect();
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

    #[test]
    fn the_ecc_functions_belong_to_the_set_only_on_request() {
        let name = "ext_host_calls_bls12_381_msm_g1_version_1";
        assert!(find(name).is_none());
        assert!(HostFunctionSet::BASE.find(name).is_none());
        let f = HostFunctionSet::WITH_ECC_RFC163.find(name).unwrap();
        assert_eq!((f.params, f.result), (&[I64, I64, I64][..], Some(I32)));
        assert_eq!(
            HostFunctionSet::WITH_ECC_RFC163.functions().count(),
            PVF_HOST_FUNCTIONS.len() + RFC163_HOST_FUNCTIONS.len()
        );
        assert_eq!(
            HostFunctionSet::BASE.functions().count(),
            PVF_HOST_FUNCTIONS.len()
        );
    }
}
