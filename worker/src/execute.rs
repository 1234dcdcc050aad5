//! Executing `validate_block` on a prepared artifact, with the reference's error classes.
//!
//! The order of steps and which failure lands in which class follow `sc-executor-wasmtime` as
//! the reference drives it: a failure to deserialise, link or instantiate is
//! `RuntimeConstruction` (possibly local: the host re-prepares and retries); everything after —
//! a missing `memory` or `__heap_base` export, a missing or mistyped `validate_block`, a trap, a
//! result out of bounds or one that does not decode — is `InvalidCandidate`.
//!
//! This module runs in-process; the execute worker calls it inside a job process, on a thread
//! whose stack holds `StackNativeMax`.

use crate::host_functions::{self, HostFunctionSet, HostState};
use parity_scale_codec::{Decode, Encode};
use pvf_common::{
    engine::Semantics,
    execute::{JobResponse, ValidationParams, ValidationResult},
    framing::truncate_message,
    prepare::ArtifactChecksum,
};
use wasmtime::{Engine, InstancePre, Linker, Module};

/// Extra stack for the execution thread on top of `StackNativeMax`: room for the host-side
/// frames around the wasm code (wasmtime runs guest code on the caller's stack).
pub const EXECUTE_THREAD_STACK_SLACK: usize = 2 * 1024 * 1024;

/// The stack `validate_block` needs under `semantics`.
pub fn execute_stack_size(semantics: &Semantics) -> usize {
    semantics.native_stack_max as usize + EXECUTE_THREAD_STACK_SLACK
}

/// Why an artifact could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The bytes do not match the checksum the host recorded: the file was damaged.
    #[error("artifact corrupted: checksum mismatch")]
    Corrupted,
    /// wasmtime refused the bytes.
    #[error("cannot deserialize the artifact: {0}")]
    Deserialize(String),
}

/// A deserialised artifact, linked and kept across jobs so that a warm worker pays nothing per
/// job.
pub struct LoadedArtifact {
    /// The checksum the bytes had when loaded.
    pub checksum: ArtifactChecksum,
    /// The compiled module.
    pub module: Module,
    /// The module linked with the worker's host functions, ready to instantiate, or why it
    /// does not link (each job then answers `RuntimeConstruction` with it, as when it linked
    /// per job). Linking once here spares every job building a `Linker` of some hundred host
    /// functions on copy-on-write heap pages: about half of a small PVF's job time.
    pub instance_pre: Result<InstancePre<HostState>, String>,
}

/// Checks `bytes` against `expected`, deserialises them with `engine` and links the module
/// with the host functions of `host_functions`.
pub fn load_artifact(
    engine: &Engine,
    bytes: &[u8],
    expected: ArtifactChecksum,
    host_functions: HostFunctionSet,
) -> Result<LoadedArtifact, LoadError> {
    if ArtifactChecksum::of(bytes) != expected {
        return Err(LoadError::Corrupted);
    }
    // The module lives in a sealed memfd rather than anonymous memory: a job process is a
    // clone of its worker, and the kernel copies the page tables of anonymous memory at every
    // clone but not of a file mapping nobody wrote to, so a worker holding many modules would
    // otherwise pay for all of them at every job (measured: 1.3 ms → 3.5 ms per adder job with
    // 20 runtimes held).
    let module = match sealed_copy(bytes) {
        // SAFETY: the bytes match the checksum the prepare worker computed over what
        // `engine::precompile` produced, with the same engine configuration (the worker's
        // engine is built from the same executor parameters); the memfd is sealed, so they
        // cannot change while the module maps them.
        Ok(file) => unsafe { Module::deserialize_open_file(engine, file) },
        // SAFETY: as above, for the bytes in memory.
        Err(_) => unsafe { Module::deserialize(engine, bytes) },
    }
    .map_err(|e| LoadError::Deserialize(format!("{e:#}")))?;
    // Build the copy-on-write memory image now, once: otherwise every job process builds
    // it again (and throws it away) on instantiation. This runs no guest code.
    module
        .initialize_copy_on_write_image()
        .map_err(|e| LoadError::Deserialize(format!("cannot build the memory image: {e:#}")))?;
    let instance_pre = link_and_pre_instantiate(engine, &module, host_functions);
    Ok(LoadedArtifact {
        checksum: expected,
        module,
        instance_pre,
    })
}

/// `bytes` in a memfd sealed against every change, including by this process.
fn sealed_copy(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::{io::Write, os::fd::FromRawFd};
    // SAFETY: memfd_create takes a NUL-terminated name and flags and returns a new descriptor
    // or -1.
    let fd = unsafe {
        libc::memfd_create(
            c"pvf-artifact".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

/// Links every import of `module` with the host functions of `set` (other `env` functions as
/// named traps) and prepares instantiation. Pre-checking and execution both use this with the
/// session's `Semantics::host_functions`, so a PVF that pre-checks also links when executed.
/// Failure is `RuntimeConstruction`.
pub fn link_and_pre_instantiate(
    engine: &Engine,
    module: &Module,
    set: HostFunctionSet,
) -> Result<InstancePre<HostState>, String> {
    let mut linker = Linker::new(engine);
    host_functions::link(&mut linker, module, set)?;
    linker
        .instantiate_pre(module)
        .map_err(|e| format!("cannot instantiate: {e:#}"))
}

/// Runs `validate_block(params)` once on a fresh instance of `module`.
pub fn validate_block(
    engine: &Engine,
    module: &Module,
    semantics: &Semantics,
    params: &ValidationParams,
    logging: bool,
) -> JobResponse {
    let instance_pre = link_and_pre_instantiate(engine, module, semantics.host_functions);
    validate_block_linked(engine, &instance_pre, semantics, params, logging)
}

/// [`validate_block`] on a module already linked ([`LoadedArtifact::instance_pre`]).
pub fn validate_block_linked(
    engine: &Engine,
    instance_pre: &Result<InstancePre<HostState>, String>,
    semantics: &Semantics,
    params: &ValidationParams,
    logging: bool,
) -> JobResponse {
    let invalid = |msg: String| JobResponse::InvalidCandidate(truncate_message(msg));
    let construction = |msg: String| JobResponse::RuntimeConstruction(truncate_message(msg));
    let instance_pre = match instance_pre {
        Ok(pre) => pre,
        Err(e) => return construction(e.clone()),
    };
    let state = HostState::new(Some(semantics.max_memory_pages)).with_logging(logging);
    let mut store = host_functions::new_store(engine, state);
    let instance = match instance_pre.instantiate(&mut store) {
        Ok(instance) => instance,
        Err(e) => {
            return construction(format!(
                "failed to instantiate a new WASM module instance: {e:#}"
            ));
        }
    };
    if let Err(e) = host_functions::attach(&mut store, &instance) {
        return invalid(e);
    }
    let entrypoint = match instance.get_export(&mut store, "validate_block") {
        None => return invalid("Exported method validate_block is not found".into()),
        Some(export) => match export.into_func() {
            None => return invalid("Export validate_block is not a function".into()),
            Some(func) => match func.typed::<(u32, u32), u64>(&store) {
                Ok(typed) => typed,
                Err(_) => {
                    return invalid(
                        "Exported function 'validate_block' has invalid signature.".into(),
                    );
                }
            },
        },
    };
    let encoded = params.encode();
    let ptr = match host_functions::allocate_and_write(&mut store, &encoded) {
        Ok(ptr) => ptr,
        Err(e) => return invalid(format!("cannot place the parameters: {e}")),
    };
    let packed = match entrypoint.call(&mut store, (ptr, encoded.len() as u32)) {
        Ok(packed) => packed,
        Err(e) => {
            // The panic text first: the backtrace after it may be cut.
            let panic = store
                .data_mut()
                .last_error_log
                .take()
                .map(|m| format!("runtime error log: {m}; "))
                .unwrap_or_default();
            return invalid(format!("{panic}Execution aborted due to trap: {e:#}"));
        }
    };
    let (out_ptr, out_len) = (packed as u32, (packed >> 32) as u32);
    let memory = match store.data().memory() {
        Ok(memory) => memory,
        Err(e) => return invalid(e),
    };
    let data = memory.data(&store);
    let Some(output) = (out_ptr as usize)
        .checked_add(out_len as usize)
        .and_then(|end| data.get(out_ptr as usize..end))
    else {
        return invalid("Output exceeds bounds of wasm memory".into());
    };
    match ValidationResult::decode(&mut &output[..]) {
        Ok(result_descriptor) => JobResponse::Ok { result_descriptor },
        Err(e) => invalid(format!("validation result decoding failed: {e}")),
    }
}

/// [`validate_block_linked`] on a stack of `StackNativeMax` + slack: wasmtime does not check
/// that the native stack limit it enforces really exists. A job cloned on a stack that large
/// (the execute worker reserves it, [`pvf_security::clone::reserve_job_stack`]) runs it right
/// there; anything else (a forked job, a test, a benchmark) on a thread of that stack size.
pub fn validate_block_on_big_stack(
    engine: &Engine,
    artifact: &LoadedArtifact,
    semantics: &Semantics,
    params: &ValidationParams,
    logging: bool,
) -> Result<JobResponse, String> {
    let stack_size = execute_stack_size(semantics);
    let run = || validate_block_linked(engine, &artifact.instance_pre, semantics, params, logging);
    if pvf_security::clone::job_stack_size() >= stack_size {
        return Ok(run());
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("execute".into())
            .stack_size(stack_size)
            .spawn_scoped(scope, run)
            .map_err(|e| format!("cannot spawn the execute thread: {e}"))?;
        handle
            .join()
            .map_err(|_| "the execute thread panicked".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(wat: &str) -> (Engine, Module) {
        let sem = Semantics::default();
        let wasm = wat::parse_str(wat).unwrap();
        let artifact = pvf_common::engine::prepare(
            pvf_common::engine::prevalidate(&wasm).unwrap(),
            &sem,
            pvf_common::engine::CompilationThreads::One,
        )
        .unwrap();
        let engine = pvf_common::engine::new_engine(&sem).unwrap();
        let loaded = load_artifact(
            &engine,
            &artifact,
            ArtifactChecksum::of(&artifact),
            HostFunctionSet::BASE,
        )
        .unwrap();
        (engine, loaded.module)
    }

    #[test]
    fn imported_memory_and_missing_functions_link() {
        let (engine, module) = module(
            r#"(module
                (import "env" "memory" (memory 1))
                (import "env" "ext_storage_get_version_1" (func $get (param i64) (result i64)))
                (func (export "validate_block") (param i32 i32) (result i64)
                    (i64.extend_i32_u (i32.add (local.get 0) (local.get 1)))))"#,
        );
        link_and_pre_instantiate(&engine, &module, HostFunctionSet::BASE).unwrap();
    }

    #[test]
    fn known_host_function_with_wrong_signature_fails_to_link() {
        let (engine, module) = module(
            r#"(module (import "env" "ext_hashing_blake2_256_version_1" (func (param i32) (result i32))))"#,
        );
        let Err(err) = link_and_pre_instantiate(&engine, &module, HostFunctionSet::BASE) else {
            panic!("linking must fail")
        };
        assert!(err.contains("signature mismatch"), "{err}");
    }

    #[test]
    fn non_function_and_foreign_imports_fail_to_link() {
        for wat in [
            r#"(module (import "env" "table" (table 1 funcref)))"#,
            r#"(module (import "other" "f" (func)))"#,
        ] {
            let (engine, module) = module(wat);
            assert!(
                link_and_pre_instantiate(&engine, &module, HostFunctionSet::BASE).is_err(),
                "{wat}"
            );
        }
    }

    #[test]
    fn ecc_functions_are_checked_only_when_the_session_enables_them() {
        // The right shape is `(i64 i64 i64) -> i32`.
        let (engine, module) = module(
            r#"(module (import "env" "ext_host_calls_pallas_mul_version_1" (func (param i32))))"#,
        );
        link_and_pre_instantiate(&engine, &module, HostFunctionSet::BASE).unwrap();
        let Err(err) = link_and_pre_instantiate(&engine, &module, HostFunctionSet::WITH_ECC_RFC163)
        else {
            panic!("linking must fail")
        };
        assert!(
            err.starts_with("signature mismatch for env:ext_host_calls_pallas_mul_version_1"),
            "{err}"
        );
    }
}
