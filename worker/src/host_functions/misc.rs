//! `ext_misc_*`: printing and `runtime_version`.
//!
//! The print functions read their argument (out of bounds traps) and, only with logging on,
//! log it at debug level to [`RUNTIME_LOG_TARGET`]; `print_utf8` skips invalid UTF-8 and
//! `print_hex` formats as sp-core's `HexDisplay`.
//!
//! `runtime_version` is what the reference's PVF executor registers as its
//! `ReadRuntimeVersionExt`: decompress the blob (sc-executor-common's
//! `RuntimeBlob::uncompress_if_needed`, i.e. `sp-maybe-compressed-blob` with its
//! `CODE_BLOB_BOMB_LIMIT` of 50 MiB), parse it with the canonical `RuntimeBlob`, and read the
//! embedded version as sc-executor's `read_embedded_version` does: the `runtime_version` custom
//! section is decoded as a `RuntimeVersion` with the `Core` API version of the `runtime_apis`
//! custom section (12-byte entries: 8-byte id, little-endian `u32`; a clipped entry is an error)
//! as the decoding hint, its `apis` replaced by that section's entries, and re-encoded. The
//! result is SCALE `Option<Vec<u8>>`: `None` when the section is absent or anything fails. The
//! reference never calls into the blob for its version.

use super::{HostResult, HostState, RUNTIME_LOG_TARGET, read_fat, return_encoded};
use parity_scale_codec::{Decode, Encode, Input};
use wasmtime::{Caller, Linker};

/// sp-version's `RuntimeVersion`, field for field (it encodes every field).
#[derive(Encode, Debug, Clone, PartialEq, Eq)]
struct RuntimeVersion {
    spec_name: String,
    impl_name: String,
    authoring_version: u32,
    spec_version: u32,
    impl_version: u32,
    apis: Vec<([u8; 8], u32)>,
    transaction_version: u32,
    system_version: u8,
}

impl RuntimeVersion {
    /// sp-version's `RuntimeVersion::decode_with_version_hint`: the `Core` API version says
    /// which trailing fields are present (≥ 3: `transaction_version`, ≥ 4: `system_version`).
    fn decode_with_version_hint(
        input: &mut impl Input,
        core_version: Option<u32>,
    ) -> Result<Self, parity_scale_codec::Error> {
        let spec_name = String::decode(input)?;
        let impl_name = String::decode(input)?;
        let authoring_version = u32::decode(input)?;
        let spec_version = u32::decode(input)?;
        let impl_version = u32::decode(input)?;
        let apis = Vec::<([u8; 8], u32)>::decode(input)?;
        let core_version = core_version.or_else(|| core_version_from_apis(&apis));
        let transaction_version = if core_version.is_some_and(|v| v >= 3) {
            u32::decode(input)?
        } else {
            1
        };
        let system_version = if core_version.is_some_and(|v| v >= 4) {
            u8::decode(input)?
        } else {
            0
        };
        Ok(Self {
            spec_name,
            impl_name,
            authoring_version,
            spec_version,
            impl_version,
            apis,
            transaction_version,
            system_version,
        })
    }
}

/// The version of the `Core` runtime API in `apis` (its id is the blake2-64 of `Core`).
fn core_version_from_apis(apis: &[([u8; 8], u32)]) -> Option<u32> {
    let id = sp_crypto_hashing::blake2_64(b"Core");
    apis.iter().find(|(i, _)| *i == id).map(|(_, v)| *v)
}

/// sp-api's `RUNTIME_API_INFO_SIZE`.
const RUNTIME_API_INFO_SIZE: usize = 12;

/// sc-executor's `decode_runtime_apis`.
fn decode_runtime_apis(section: &[u8]) -> Result<Vec<([u8; 8], u32)>, String> {
    section
        .chunks(RUNTIME_API_INFO_SIZE)
        .map(|chunk| {
            let chunk: [u8; RUNTIME_API_INFO_SIZE] = chunk
                .try_into()
                .map_err(|_| "a clipped runtime api info declaration".to_string())?;
            let id: [u8; 8] = chunk[..8].try_into().expect("8 bytes");
            let version = u32::from_le_bytes(chunk[8..].try_into().expect("4 bytes"));
            Ok((id, version))
        })
        .collect()
}

/// The SCALE-encoded `RuntimeVersion` embedded in a (maybe compressed) wasm blob.
pub(crate) fn read_runtime_version(code: &[u8]) -> Result<Vec<u8>, String> {
    let limit = sp_maybe_compressed_blob::CODE_BLOB_BOMB_LIMIT as u32;
    let code = pvf_common::blob::decompress(code, limit)
        .map_err(|e| format!("Failed to read the PVF runtime blob: {e}"))?;
    let blob = sc_executor_common::runtime_blob::RuntimeBlob::new(&code)
        .map_err(|e| format!("Failed to read the PVF runtime blob: {e:?}"))?;
    let Some(mut version_section) = blob.custom_section_contents("runtime_version") else {
        return Err("runtime version section is not found".into());
    };
    let apis = blob
        .custom_section_contents("runtime_apis")
        .map(decode_runtime_apis)
        .transpose()?;
    let core_version = apis.as_deref().and_then(core_version_from_apis);
    let mut version = RuntimeVersion::decode_with_version_hint(&mut version_section, core_version)
        .map_err(|_| "failed to decode version section".to_string())?;
    if let Some(apis) = apis {
        version.apis = apis;
    }
    Ok(version.encode())
}

fn print_num_v1(caller: Caller<'_, HostState>, value: i64) -> HostResult<()> {
    if caller.data().logging_enabled {
        tracing::debug!(target: RUNTIME_LOG_TARGET, "{}", value as u64);
    }
    Ok(())
}

fn print_utf8_v1(caller: Caller<'_, HostState>, utf8: i64) -> HostResult<()> {
    let bytes = read_fat(&caller, utf8)?;
    if caller.data().logging_enabled
        && let Ok(text) = std::str::from_utf8(&bytes)
    {
        tracing::debug!(target: RUNTIME_LOG_TARGET, "{text}");
    }
    Ok(())
}

fn print_hex_v1(caller: Caller<'_, HostState>, data: i64) -> HostResult<()> {
    let bytes = read_fat(&caller, data)?;
    if caller.data().logging_enabled {
        tracing::debug!(
            target: RUNTIME_LOG_TARGET,
            "{}",
            sp_core::hexdisplay::HexDisplay::from(&bytes)
        );
    }
    Ok(())
}

fn runtime_version_v1(mut caller: Caller<'_, HostState>, wasm: i64) -> HostResult<i64> {
    let code = read_fat(&caller, wasm)?;
    let version = match read_runtime_version(&code) {
        Ok(version) => Some(version),
        Err(e) => {
            tracing::debug!(
                target: pvf_common::LOG_TARGET,
                "cannot read version from the given runtime: {e}"
            );
            None
        }
    };
    return_encoded(&mut caller, &version)
}

pub(super) fn define(linker: &mut Linker<HostState>, name: &str) -> Result<bool, String> {
    match name {
        "ext_misc_print_num_version_1" => super::wrap(linker, name, print_num_v1),
        "ext_misc_print_utf8_version_1" => super::wrap(linker, name, print_utf8_v1),
        "ext_misc_print_hex_version_1" => super::wrap(linker, name, print_hex_v1),
        "ext_misc_runtime_version_version_1" => super::wrap(linker, name, runtime_version_v1),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::logging::tests::capture_tracing;
    use super::super::pack_fat;
    use super::super::tests::{
        Arg, MEMORY_END, Scenario, call_ours, differential, differential_with, new_instance, rng,
    };
    use parity_scale_codec::{Compact, Decode, Encode};
    use rand::{Rng, rngs::StdRng};
    use sc_executor_common::runtime_blob::RuntimeBlob;
    use std::borrow::Cow;

    const RUNTIME_VERSION: &str = "ext_misc_runtime_version_version_1";

    #[test]
    fn prints_marshal_as_sp_io_and_log_only_when_enabled() {
        for (name, data) in [
            ("ext_misc_print_utf8_version_1", &b"text"[..]),
            ("ext_misc_print_utf8_version_1", b"\xff"),
            ("ext_misc_print_hex_version_1", b"\x01\xab"),
            ("ext_misc_print_hex_version_1", &[7; 2000]),
        ] {
            let mut s = Scenario::new();
            let arg = s.fat(data);
            s.call(name, vec![arg]);
            s.call(name, vec![Arg::I64(pack_fat(MEMORY_END - 1, 2))]);
            assert_eq!(differential(&s, name).results, vec![Ok(None), Err(())]);
        }
        let mut s = Scenario::new();
        s.call("ext_misc_print_num_version_1", vec![Arg::I64(-1)]);
        differential(&s, "print_num");

        for enabled in [false, true] {
            let (mut store, instance) = new_instance(enabled);
            let memory = store.data().memory().unwrap();
            memory
                .write(&mut store, 64, b"printed text\x01\xab")
                .unwrap();
            let output = capture_tracing(|| {
                let calls = [
                    ("ext_misc_print_num_version_1", Arg::I64(-1)),
                    ("ext_misc_print_utf8_version_1", Arg::I64(pack_fat(64, 12))),
                    ("ext_misc_print_hex_version_1", Arg::I64(pack_fat(76, 2))),
                ];
                for (name, arg) in calls {
                    call_ours(&mut store, &instance, name, &[arg]).unwrap();
                }
            });
            if enabled {
                for expected in ["18446744073709551615", "printed text", "01ab"] {
                    assert!(output.contains(expected), "{output}");
                }
                assert!(output.contains("DEBUG parachain::pvf::runtime"), "{output}");
            } else {
                assert_eq!(output, "");
            }
        }
    }

    // ---- runtime_version ----

    /// The reference's `ReadRuntimeVersion` for PVFs, transcribed with sp-version's own types:
    /// `RuntimeBlob::uncompress_if_needed`, then sc-executor's `read_embedded_version`.
    struct ReferenceReader;

    impl sp_core::traits::ReadRuntimeVersion for ReferenceReader {
        fn read_runtime_version(
            &self,
            wasm_code: &[u8],
            _ext: &mut dyn sp_externalities::Externalities,
        ) -> Result<Vec<u8>, String> {
            let blob =
                RuntimeBlob::uncompress_if_needed(wasm_code).map_err(|e| format!("{e:?}"))?;
            let Some(mut section) = blob.custom_section_contents("runtime_version") else {
                return Err("runtime version section is not found".into());
            };
            let apis: Option<sp_version::ApisVec> = blob
                .custom_section_contents("runtime_apis")
                .map(|apis| {
                    apis.chunks(12)
                        .map(|c| {
                            let c: [u8; 12] = c.try_into().map_err(|_| "clipped".to_string())?;
                            Ok((
                                c[..8].try_into().unwrap(),
                                u32::from_le_bytes(c[8..].try_into().unwrap()),
                            ))
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
                .transpose()?
                .map(Into::into);
            let core_version = apis.as_ref().and_then(sp_version::core_version_from_apis);
            let mut version =
                sp_version::RuntimeVersion::decode_with_version_hint(&mut section, core_version)
                    .map_err(|e| e.to_string())?;
            if let Some(apis) = apis {
                version.apis = apis;
            }
            Ok(version.encode())
        }
    }

    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// A wasm module with only these custom sections.
    fn wasm_with(sections: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        for (name, payload) in sections {
            let mut body = Vec::new();
            leb128(name.len(), &mut body);
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(payload);
            wasm.push(0);
            leb128(body.len(), &mut wasm);
            wasm.extend(body);
        }
        wasm
    }

    fn core_id() -> [u8; 8] {
        sp_crypto_hashing::blake2_64(b"Core")
    }

    fn random_version(rng: &mut StdRng) -> sp_version::RuntimeVersion {
        let mut apis = vec![([1; 8], 2), (rng.random(), rng.random())];
        if rng.random_bool(0.5) {
            apis.push((core_id(), rng.random_range(1..6)));
        }
        sp_version::RuntimeVersion {
            spec_name: Cow::Owned(["polkadot", "asset-hub", "ü"][rng.random_range(0..3)].into()),
            impl_name: "parity".into(),
            authoring_version: rng.random(),
            spec_version: rng.random(),
            impl_version: rng.random(),
            apis: apis.into(),
            transaction_version: rng.random(),
            system_version: rng.random_range(0..4),
        }
    }

    /// A blob: a version section (well-formed, truncated, padded or with bad UTF-8), a
    /// `runtime_apis` section (with `Core` at versions 1..=5, without it, clipped or absent),
    /// maybe compressed; or not wasm at all.
    fn random_blob(rng: &mut StdRng) -> Vec<u8> {
        let mut version = random_version(rng).encode();
        if rng.random_bool(0.5) {
            // Runtimes embed the section without the `Core`-dependent trailing fields.
            version.truncate(version.len() - [0, 1, 5][rng.random_range(0..3)]);
        }
        match rng.random_range(0..8) {
            0 => version.truncate(rng.random_range(0..version.len())),
            1 => version.extend([9; 7]),
            2 => {
                version = Compact(2u32).encode();
                version.extend([0xff, 0xfe]);
            }
            _ => {}
        }
        let mut apis = Vec::new();
        for _ in 0..rng.random_range(0..4) {
            let id: [u8; 8] = if rng.random_bool(0.6) {
                core_id()
            } else {
                rng.random()
            };
            apis.extend(id);
            apis.extend(rng.random_range(1u32..6).to_le_bytes());
        }
        if rng.random_bool(0.1) {
            apis.push(1);
        }
        let mut sections = vec![("runtime_version", version)];
        match rng.random_range(0..6) {
            0 => sections.clear(),
            1 => {}
            2 => sections.insert(0, ("runtime_version", random_version(rng).encode())),
            _ => sections.push(("runtime_apis", apis)),
        }
        sections.insert(0, ("other", vec![1, 2, 3]));
        let wasm = wasm_with(&sections);
        match rng.random_range(0..10) {
            0 => pvf_common::blob::compress(&wasm, 1 << 20).unwrap(),
            1 => b"PVM\0 not wasm".to_vec(),
            2 => {
                let mut garbage = vec![0u8; rng.random_range(0..64)];
                rng.fill(&mut garbage[..]);
                garbage
            }
            3 => wasm[..rng.random_range(0..wasm.len())].to_vec(),
            _ => wasm,
        }
    }

    fn run_versions(blobs: &[Vec<u8>], what: &str) -> Vec<Option<Vec<u8>>> {
        let mut s = Scenario::new();
        for blob in blobs {
            let arg = s.fat(blob);
            s.call(RUNTIME_VERSION, vec![arg]);
        }
        let ours = differential_with(&s, what, |ext| {
            ext.register_extension(sp_core::traits::ReadRuntimeVersionExt::new(ReferenceReader))
        });
        ours.results
            .iter()
            .map(|r| {
                let fat = r.unwrap().unwrap();
                let (ptr, len) = super::super::unpack_fat(fat);
                let bytes = &ours.memory[ptr as usize..][..len as usize];
                Option::<Vec<u8>>::decode(&mut &bytes[..]).unwrap()
            })
            .collect()
    }

    #[test]
    fn runtime_version_matches_the_reference() {
        let mut rng = rng(11);
        let blobs: Vec<_> = (0..300).map(|_| random_blob(&mut rng)).collect();
        let versions = run_versions(&blobs, "random blobs");
        let found = versions.iter().filter(|v| v.is_some()).count();
        assert!(found > 60 && found < 240, "{found}");
        let mut s = Scenario::new();
        s.call(RUNTIME_VERSION, vec![Arg::I64(pack_fat(MEMORY_END - 3, 4))]);
        assert_eq!(differential(&s, "out of bounds").results, vec![Err(())]);
    }

    /// The reference decompresses with sp-maybe-compressed-blob's `CODE_BLOB_BOMB_LIMIT`
    /// (50 MiB), not the relay chain's validation-code bomb limit.
    #[test]
    fn runtime_version_uses_the_reference_bomb_limit() {
        let version = random_version(&mut rng(12)).encode();
        let blobs: Vec<_> = [40usize << 20, 51 << 20]
            .into_iter()
            .map(|padding| {
                let wasm = wasm_with(&[
                    ("padding", vec![0; padding]),
                    ("runtime_version", version.clone()),
                ]);
                pvf_common::blob::compress(&wasm, 64 << 20).unwrap()
            })
            .collect();
        let versions = run_versions(&blobs, "large blobs");
        assert!(versions[0].is_some());
        assert_eq!(versions[1], None);
    }
}
