//! `ext_trie_*`: trie roots and proof verification.
//!
//! Implemented with `sp-trie` itself (without its `std` feature, so without its caches,
//! recorder and metrics), i.e. `LayoutV0` / `LayoutV1` over sp-core's `Blake2Hasher` /
//! `KeccakHasher`, `TrieConfiguration::{trie_root, ordered_trie_root}` and
//! `verify_trie_proof`. The lower-level crates (`trie-db`, `trie-root`, `memory-db`,
//! `hash-db`) are generic over the node codec and trie stream; Substrate's codec, node header
//! and stream live only in `sp-trie`, and re-implementing them would be the one way to differ
//! from the reference byte for byte.
//!
//! Marshalling as sp-io: the inputs are `PassFatPointerAndDecode` (a SCALE prefix; trailing
//! bytes are ignored, a decoding failure traps), the state version is `PassAs<StateVersion, u8>`
//! (the `i32` is truncated to `u8`; 0 → V0, 1 and 2 → V1, anything else traps), the root is
//! 32 bytes read at a pointer, and roots are returned in 32 bytes from the host allocator.

use super::{
    HostResult, HostState, from_bool, read_array, read_decoded, read_fat, return_pointer, trap,
};
use sp_core::{Blake2Hasher, H256, Hasher, KeccakHasher, storage::StateVersion};
use sp_trie::{LayoutV0, LayoutV1, TrieConfiguration};
use wasmtime::{Caller, Linker};

/// `PassAs<StateVersion, u8>`.
fn state_version(version: i32) -> HostResult<StateVersion> {
    StateVersion::try_from(version as u32 as u8).map_err(|_| {
        trap("failed to convert 'u8' (passed as 'u32') into 'sp_storage::StateVersion' when marshalling hostcall's arguments through the FFI boundary")
    })
}

/// The trie root of `input` (a list of key-value pairs; for a duplicate key the last value
/// counts) under `version`, hashed with `H`.
pub(crate) fn root<H>(input: Vec<(Vec<u8>, Vec<u8>)>, version: StateVersion) -> H256
where
    H: Hasher<Out = H256>,
{
    match version {
        StateVersion::V0 => LayoutV0::<H>::trie_root(input),
        StateVersion::V1 => LayoutV1::<H>::trie_root(input),
    }
}

/// The trie root of `input` keyed by the compact-encoded index of each item.
pub(crate) fn ordered_root<H>(input: Vec<Vec<u8>>, version: StateVersion) -> H256
where
    H: Hasher<Out = H256>,
{
    match version {
        StateVersion::V0 => LayoutV0::<H>::ordered_trie_root(input),
        StateVersion::V1 => LayoutV1::<H>::ordered_trie_root(input),
    }
}

/// Whether `proof` proves `key` ↦ `value` under `root`.
pub(crate) fn verify_proof<H>(
    root: &[u8; 32],
    proof: &[Vec<u8>],
    key: &[u8],
    value: &[u8],
    version: StateVersion,
) -> bool
where
    H: Hasher<Out = H256>,
{
    let root = H256::from(*root);
    let items = [(key, Some(value))];
    match version {
        StateVersion::V0 => {
            sp_trie::verify_trie_proof::<LayoutV0<H>, _, _, _>(&root, proof, &items).is_ok()
        }
        StateVersion::V1 => {
            sp_trie::verify_trie_proof::<LayoutV1<H>, _, _, _>(&root, proof, &items).is_ok()
        }
    }
}

fn root_fn<H: Hasher<Out = H256>>(
    caller: &mut Caller<'_, HostState>,
    input: i64,
    version: Option<i32>,
) -> HostResult<i32> {
    let input: Vec<(Vec<u8>, Vec<u8>)> = read_decoded(caller, input)?;
    let version = version.map(state_version).transpose()?;
    let root = root::<H>(input, version.unwrap_or(StateVersion::V0));
    return_pointer(caller, root.as_bytes())
}

fn ordered_root_fn<H: Hasher<Out = H256>>(
    caller: &mut Caller<'_, HostState>,
    input: i64,
    version: Option<i32>,
) -> HostResult<i32> {
    let input: Vec<Vec<u8>> = read_decoded(caller, input)?;
    let version = version.map(state_version).transpose()?;
    let root = ordered_root::<H>(input, version.unwrap_or(StateVersion::V0));
    return_pointer(caller, root.as_bytes())
}

fn verify_proof_fn<H: Hasher<Out = H256>>(
    caller: &Caller<'_, HostState>,
    (root, proof, key, value): (i32, i64, i64, i64),
    version: Option<i32>,
) -> HostResult<i32> {
    let root = read_array::<32>(caller, root)?;
    // `PassFatPointerAndDecodeSlice<&[Vec<u8>]>`: a SCALE `Vec<Vec<u8>>` prefix.
    let proof: Vec<Vec<u8>> = read_decoded(caller, proof)?;
    let key = read_fat(caller, key)?;
    let value = read_fat(caller, value)?;
    let version = version.map(state_version).transpose()?;
    Ok(from_bool(verify_proof::<H>(
        &root,
        &proof,
        &key,
        &value,
        version.unwrap_or(StateVersion::V0),
    )))
}

macro_rules! root_fns {
    ($v1:ident, $v2:ident, $inner:ident, $hasher:ty) => {
        fn $v1(mut caller: Caller<'_, HostState>, input: i64) -> HostResult<i32> {
            $inner::<$hasher>(&mut caller, input, None)
        }
        fn $v2(mut caller: Caller<'_, HostState>, input: i64, version: i32) -> HostResult<i32> {
            $inner::<$hasher>(&mut caller, input, Some(version))
        }
    };
}

root_fns!(
    blake2_256_root_v1,
    blake2_256_root_v2,
    root_fn,
    Blake2Hasher
);
root_fns!(
    keccak_256_root_v1,
    keccak_256_root_v2,
    root_fn,
    KeccakHasher
);
root_fns!(
    blake2_256_ordered_root_v1,
    blake2_256_ordered_root_v2,
    ordered_root_fn,
    Blake2Hasher
);
root_fns!(
    keccak_256_ordered_root_v1,
    keccak_256_ordered_root_v2,
    ordered_root_fn,
    KeccakHasher
);

macro_rules! proof_fns {
    ($v1:ident, $v2:ident, $hasher:ty) => {
        fn $v1(
            caller: Caller<'_, HostState>,
            root: i32,
            proof: i64,
            key: i64,
            value: i64,
        ) -> HostResult<i32> {
            verify_proof_fn::<$hasher>(&caller, (root, proof, key, value), None)
        }
        fn $v2(
            caller: Caller<'_, HostState>,
            root: i32,
            proof: i64,
            key: i64,
            value: i64,
            version: i32,
        ) -> HostResult<i32> {
            verify_proof_fn::<$hasher>(&caller, (root, proof, key, value), Some(version))
        }
    };
}

proof_fns!(
    blake2_256_verify_proof_v1,
    blake2_256_verify_proof_v2,
    Blake2Hasher
);
proof_fns!(
    keccak_256_verify_proof_v1,
    keccak_256_verify_proof_v2,
    KeccakHasher
);

pub(super) fn define(linker: &mut Linker<HostState>, name: &str) -> Result<bool, String> {
    use super::wrap;
    match name {
        "ext_trie_blake2_256_root_version_1" => wrap(linker, name, blake2_256_root_v1),
        "ext_trie_blake2_256_root_version_2" => wrap(linker, name, blake2_256_root_v2),
        "ext_trie_blake2_256_ordered_root_version_1" => {
            wrap(linker, name, blake2_256_ordered_root_v1)
        }
        "ext_trie_blake2_256_ordered_root_version_2" => {
            wrap(linker, name, blake2_256_ordered_root_v2)
        }
        "ext_trie_keccak_256_root_version_1" => wrap(linker, name, keccak_256_root_v1),
        "ext_trie_keccak_256_root_version_2" => wrap(linker, name, keccak_256_root_v2),
        "ext_trie_keccak_256_ordered_root_version_1" => {
            wrap(linker, name, keccak_256_ordered_root_v1)
        }
        "ext_trie_keccak_256_ordered_root_version_2" => {
            wrap(linker, name, keccak_256_ordered_root_v2)
        }
        "ext_trie_blake2_256_verify_proof_version_1" => {
            wrap(linker, name, blake2_256_verify_proof_v1)
        }
        "ext_trie_blake2_256_verify_proof_version_2" => {
            wrap(linker, name, blake2_256_verify_proof_v2)
        }
        "ext_trie_keccak_256_verify_proof_version_1" => {
            wrap(linker, name, keccak_256_verify_proof_v1)
        }
        "ext_trie_keccak_256_verify_proof_version_2" => {
            wrap(linker, name, keccak_256_verify_proof_v2)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Arg, MEMORY_END, Scenario, differential, rng};
    use super::*;
    use parity_scale_codec::{Compact, Encode};
    use rand::{Rng, rngs::StdRng};
    use sp_trie::{MemoryDB, TrieDBMutBuilder, TrieLayout, TrieMut};

    /// Version arguments: valid, truncating to valid (256 → V0, 257 → V1), and invalid.
    const VERSIONS: [i32; 9] = [0, 1, 2, 3, 255, 256, 257, 258, -1];

    fn bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
        let mut b = vec![0u8; rng.random_range(0..=max)];
        rng.fill(&mut b[..]);
        b
    }

    /// Key-value pairs with shared prefixes, duplicate keys, empty keys and values, and values
    /// on both sides of V1's 33-byte inline threshold.
    fn pairs(rng: &mut StdRng) -> Vec<(Vec<u8>, Vec<u8>)> {
        let n = [0, 1, 2, 5, 30, 120][rng.random_range(0..6)];
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for _ in 0..n {
            let key = match rng.random_range(0..4) {
                0 if !pairs.is_empty() => pairs[rng.random_range(0..pairs.len())].0.clone(),
                1 if !pairs.is_empty() => {
                    let mut k = pairs[rng.random_range(0..pairs.len())].0.clone();
                    k.extend(bytes(rng, 3));
                    k
                }
                _ => bytes(rng, 40),
            };
            let value = match rng.random_range(0..3) {
                0 => bytes(rng, 8),
                1 => bytes(rng, 40),
                _ => bytes(rng, 200),
            };
            pairs.push((key, value));
        }
        pairs
    }

    /// Malformed SCALE: truncated, or a length prefix far beyond the data.
    fn malformed(rng: &mut StdRng, encoded: &[u8]) -> Vec<u8> {
        if encoded.len() > 1 && rng.random_bool(0.5) {
            encoded[..rng.random_range(1..encoded.len())].to_vec()
        } else {
            let mut e = Compact(u32::MAX).encode();
            e.extend_from_slice(encoded);
            e
        }
    }

    #[test]
    fn roots_match_sp_io() {
        let mut rng = rng(8);
        for round in 0..40 {
            let mut s = Scenario::new();
            for _ in 0..6 {
                let pairs = pairs(&mut rng);
                let values: Vec<Vec<u8>> = pairs.iter().map(|(_, v)| v.clone()).collect();
                for (hasher, list) in [("blake2_256", true), ("keccak_256", true)]
                    .into_iter()
                    .chain([("blake2_256", false), ("keccak_256", false)])
                {
                    let (name, mut encoded) = if list {
                        ("root", pairs.encode())
                    } else {
                        ("ordered_root", values.encode())
                    };
                    if rng.random_bool(0.2) {
                        // Trailing bytes are ignored by the reference's decoding.
                        encoded.extend(bytes(&mut rng, 5));
                    }
                    let input = s.fat(&encoded);
                    let v1 = leak(format!("ext_trie_{hasher}_{name}_version_1"));
                    let v2 = leak(format!("ext_trie_{hasher}_{name}_version_2"));
                    s.call(v1, vec![input]);
                    for version in [0, 1, 2] {
                        s.call(v2, vec![input, Arg::I32(version)]);
                    }
                }
            }
            let ours = differential(&s, &format!("round {round}"));
            assert!(ours.results.iter().all(Result::is_ok), "round {round}");
        }
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    #[test]
    fn root_marshalling_failures_match_sp_io() {
        let mut rng = rng(9);
        let names = [
            "ext_trie_blake2_256_root_version_2",
            "ext_trie_keccak_256_ordered_root_version_2",
        ];
        for (i, version) in VERSIONS.into_iter().enumerate() {
            for name in names {
                let mut s = Scenario::new();
                let input = s.fat(&pairs(&mut rng).encode());
                s.call(name, vec![input, Arg::I32(version)]);
                differential(&s, &format!("{name} version {version}"));
            }
            let mut s = Scenario::new();
            let pairs = pairs(&mut rng);
            let encoded = if i % 2 == 0 {
                pairs.encode()
            } else {
                pairs
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
                    .encode()
            };
            let input = s.fat(&malformed(&mut rng, &encoded));
            s.call(names[i % 2], vec![input, Arg::I32(0)]);
            assert_eq!(differential(&s, "malformed").results, vec![Err(())]);
            let mut s = Scenario::new();
            s.call(
                names[i % 2],
                vec![
                    Arg::I64(super::super::pack_fat(MEMORY_END - 2, 3)),
                    Arg::I32(1),
                ],
            );
            assert_eq!(differential(&s, "out of bounds").results, vec![Err(())]);
        }
    }

    fn build<L: TrieLayout<Hash = H>, H: Hasher<Out = H256>>(
        pairs: &[(Vec<u8>, Vec<u8>)],
    ) -> (MemoryDB<H>, H256) {
        let mut db = MemoryDB::<H>::default();
        let mut root = H256::default();
        {
            let mut trie = TrieDBMutBuilder::<L>::new(&mut db, &mut root).build();
            for (k, v) in pairs {
                trie.insert(k, v).unwrap();
            }
        }
        (db, root)
    }

    /// A proof for one key of a random trie, then the verification arguments: correct, with a
    /// wrong value or key, with a mutated, dropped or extra node, or malformed.
    fn proof_case<L, H>(rng: &mut StdRng, s: &mut Scenario) -> Vec<Arg>
    where
        L: TrieConfiguration<Hash = H>,
        H: Hasher<Out = H256>,
    {
        let mut pairs = pairs(rng);
        pairs.push((bytes(rng, 40), bytes(rng, 80)));
        let (db, root) = build::<L, H>(&pairs);
        let mut key = pairs[rng.random_range(0..pairs.len())].0.clone();
        // The last insertion of a key wins.
        let mut value = pairs
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .unwrap()
            .1
            .clone();
        let mut proof = sp_trie::generate_trie_proof::<L, _, _, _>(&db, root, &[&key]).unwrap();
        let mut root = root.0;
        match rng.random_range(0..10) {
            0..4 => {}
            4 => value = bytes(rng, 40),
            5 => key.push(1),
            6 if !proof.is_empty() => {
                let node = rng.random_range(0..proof.len());
                let len = proof[node].len();
                if len > 0 {
                    proof[node][rng.random_range(0..len)] ^= 1 << rng.random_range(0..8);
                }
            }
            7 if !proof.is_empty() => {
                proof.remove(rng.random_range(0..proof.len()));
            }
            8 => proof.push(bytes(rng, 50)),
            _ => root[rng.random_range(0..32)] ^= 1,
        }
        let mut encoded = proof.encode();
        if rng.random_bool(0.05) {
            encoded = malformed(rng, &encoded);
        }
        vec![s.ptr(&root), s.fat(&encoded), s.fat(&key), s.fat(&value)]
    }

    #[test]
    fn proof_verification_matches_sp_io() {
        let mut rng = rng(10);
        let mut accepted = 0;
        for round in 0..25 {
            let mut s = Scenario::new();
            for _ in 0..8 {
                let (hasher, layout) = (rng.random_range(0..2), rng.random_range(0..2));
                let args = match (hasher, layout) {
                    (0, 0) => proof_case::<LayoutV0<Blake2Hasher>, _>(&mut rng, &mut s),
                    (0, _) => proof_case::<LayoutV1<Blake2Hasher>, _>(&mut rng, &mut s),
                    (_, 0) => proof_case::<LayoutV0<KeccakHasher>, _>(&mut rng, &mut s),
                    _ => proof_case::<LayoutV1<KeccakHasher>, _>(&mut rng, &mut s),
                };
                let hasher = ["blake2_256", "keccak_256"][hasher];
                // Verify with v1 (V0) and with v2 under several versions, matching or not.
                s.call(
                    leak(format!("ext_trie_{hasher}_verify_proof_version_1")),
                    args.clone(),
                );
                for version in [0, 1, 2, 256] {
                    let mut args = args.clone();
                    args.push(Arg::I32(version));
                    s.call(
                        leak(format!("ext_trie_{hasher}_verify_proof_version_2")),
                        args,
                    );
                }
            }
            let ours = differential(&s, &format!("round {round}"));
            accepted += ours.results.iter().filter(|r| **r == Ok(Some(1))).count();
            if round % 5 == 0 {
                // Invalid versions trap after the other arguments are read.
                let mut t = Scenario::new();
                let mut args = proof_case::<LayoutV1<Blake2Hasher>, _>(&mut rng, &mut t);
                args.push(Arg::I32([3, 255, -1][round % 3]));
                t.call("ext_trie_blake2_256_verify_proof_version_2", args);
                assert_eq!(differential(&t, "bad version").results, vec![Err(())]);
            }
        }
        assert!(accepted > 200, "{accepted}");
    }
}
