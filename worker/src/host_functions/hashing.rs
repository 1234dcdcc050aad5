//! `ext_hashing_*`: the canonical `sp-crypto-hashing` functions sp-io calls. Input is a fat
//! pointer; the digest goes to memory allocated with the host allocator
//! (`AllocateAndReturnPointer`).

use super::{HostResult, HostState, read_fat, return_pointer};
use wasmtime::{Caller, Linker};

macro_rules! hash_fn {
    ($name:ident, $hash:path) => {
        fn $name(mut caller: Caller<'_, HostState>, data: i64) -> HostResult<i32> {
            let data = read_fat(&caller, data)?;
            let digest = $hash(&data);
            return_pointer(&mut caller, &digest)
        }
    };
}

hash_fn!(keccak_256, sp_crypto_hashing::keccak_256);
hash_fn!(keccak_512, sp_crypto_hashing::keccak_512);
hash_fn!(sha2_256, sp_crypto_hashing::sha2_256);
hash_fn!(blake2_128, sp_crypto_hashing::blake2_128);
hash_fn!(blake2_256, sp_crypto_hashing::blake2_256);
hash_fn!(twox_256, sp_crypto_hashing::twox_256);
hash_fn!(twox_128, sp_crypto_hashing::twox_128);
hash_fn!(twox_64, sp_crypto_hashing::twox_64);

pub(super) fn define(linker: &mut Linker<HostState>, name: &str) -> Result<bool, String> {
    let f: fn(Caller<'_, HostState>, i64) -> HostResult<i32> = match name {
        "ext_hashing_keccak_256_version_1" => keccak_256,
        "ext_hashing_keccak_512_version_1" => keccak_512,
        "ext_hashing_sha2_256_version_1" => sha2_256,
        "ext_hashing_blake2_128_version_1" => blake2_128,
        "ext_hashing_blake2_256_version_1" => blake2_256,
        "ext_hashing_twox_256_version_1" => twox_256,
        "ext_hashing_twox_128_version_1" => twox_128,
        "ext_hashing_twox_64_version_1" => twox_64,
        _ => return Ok(false),
    };
    super::wrap(linker, name, f)
}

#[cfg(test)]
mod tests {
    use super::super::pack_fat;
    use super::super::tests::{Arg, MEMORY_END, Scenario, differential, rng};
    use rand::Rng;

    const HASHES: [&str; 8] = [
        "ext_hashing_keccak_256_version_1",
        "ext_hashing_keccak_512_version_1",
        "ext_hashing_sha2_256_version_1",
        "ext_hashing_blake2_128_version_1",
        "ext_hashing_blake2_256_version_1",
        "ext_hashing_twox_256_version_1",
        "ext_hashing_twox_128_version_1",
        "ext_hashing_twox_64_version_1",
    ];

    #[test]
    fn random_inputs_hash_as_sp_io() {
        let mut rng = rng(2);
        for name in HASHES {
            let mut s = Scenario::new();
            for _ in 0..60 {
                let len = match rng.random_range(0..3) {
                    0 => rng.random_range(0..4),
                    1 => rng.random_range(0..200),
                    _ => rng.random_range(0..5000),
                };
                let mut data = vec![0u8; len];
                rng.fill(&mut data[..]);
                let arg = s.fat(&data);
                s.call(name, vec![arg]);
            }
            let ours = differential(&s, name);
            assert!(ours.results.iter().all(|r| r.is_ok()), "{name}");
        }
    }

    #[test]
    fn out_of_bounds_inputs_trap_in_both() {
        let fats = [
            (MEMORY_END - 5, 10),
            (MEMORY_END, 1),
            (MEMORY_END + 1, 0),
            (u32::MAX, 2),
            (0, u32::MAX),
        ];
        for name in HASHES {
            for (ptr, len) in fats {
                let mut s = Scenario::new();
                s.call(name, vec![Arg::I64(pack_fat(ptr, len))]);
                let ours = differential(&s, name);
                assert_eq!(ours.results, vec![Err(())], "{name} {ptr} {len}");
            }
            // An empty input at the very end of memory is in bounds.
            let mut s = Scenario::new();
            s.call(name, vec![Arg::I64(pack_fat(MEMORY_END, 0))]);
            assert!(differential(&s, name).results[0].is_ok());
        }
    }
}
