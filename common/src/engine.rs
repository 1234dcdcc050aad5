//! The one wasmtime configuration that preparation and execution share, and the steps that
//! turn a PVF into an artifact.
//!
//! Everything here decides verdicts, so it follows the reference (`sc-executor-wasmtime` as
//! configured by `polkadot-node-core-pvf-common`) knob by knob:
//!
//! | knob | value | why |
//! |---|---|---|
//! | Cranelift opt level | `SpeedAndSize` | the reference's choice |
//! | NaN canonicalisation | on | float results must not depend on the CPU |
//! | compilation threads | one for pre-checks (their timeout decides a vote); all cores for execution-triggered compilation unless configured off | the artifact bytes are identical either way (tested) |
//! | wasm features | MVP + sign-ext + saturating float-to-int + mutable globals; bulk memory only with `WasmExtBulkMemory` | the reference's feature set; newer proposals that wasmtime 48 enables by default are switched off |
//! | deterministic stack | `StackLogicalMax` values (default 65536), injected by `wasm-instrument` | a PVF hits the limit at the same depth on every machine |
//! | native stack | `StackNativeMax` bytes (default 256 MiB) | far above what the logical limit can use |
//! | memory | an imported memory becomes a defined one with no maximum in the module; the limit (`MaxMemoryPages` + 32, default 2080 pages) is a per-store limit at instantiation | as the reference today; so memory size never changes artifact bytes |
//! | missing function imports | linked as traps naming the function (`pvf_worker::host_functions::link`, used by pre-checking and execution alike) | PVFs import storage functions they never call |
//! | host-function set | the sp-io set; plus RFC-163's elliptic-curve functions with `EnabledHostFunction(EccRfc163)` ([`Semantics::host_functions`]) | the reference links `HostFunctionsWithEcc` then, for pre-checks and executions alike |
//!
//! Changing any of these can change verdicts, and those that change compiled bytes must be
//! reflected in [`ExecutorParams::prep_hash`](crate::ExecutorParams::prep_hash).

use crate::{
    ExecutorParams,
    executor_params::ExecutorHostFunction,
    executor_params::{DEFAULT_LOGICAL_STACK_MAX, DEFAULT_NATIVE_STACK_MAX, ExecutorParam},
    host_function_signatures::{self, HostFunctionSet, ValType},
};
use sc_executor_common::runtime_blob::RuntimeBlob;
use std::{fmt, hash::Hash, sync::OnceLock};
use wasmtime::{Engine, FuncType, WasmFeatures};

/// Pages added on top of `MaxMemoryPages` for the stack and static data.
pub const DEFAULT_HEAP_PAGES_ESTIMATE: u32 = 32;
/// Heap pages allowed when the session does not set `MaxMemoryPages`.
pub const EXTRA_HEAP_PAGES: u32 = 2048;

/// The executor parameters that shape compilation and execution, resolved to values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Semantics {
    /// Deterministic value-stack limit injected into the code.
    pub logical_stack_max: u32,
    /// Native stack available to wasm code, in bytes.
    pub native_stack_max: u32,
    /// Maximum linear memory, in wasm pages, enforced per instance.
    pub max_memory_pages: u32,
    /// Whether the bulk-memory extension is enabled.
    pub bulk_memory: bool,
    /// The host functions linked at pre-checking and execution. Linking only: the artifact's
    /// bytes do not depend on it.
    pub host_functions: HostFunctionSet,
}

impl Default for Semantics {
    fn default() -> Self {
        Self {
            logical_stack_max: DEFAULT_LOGICAL_STACK_MAX,
            native_stack_max: DEFAULT_NATIVE_STACK_MAX,
            max_memory_pages: DEFAULT_HEAP_PAGES_ESTIMATE + EXTRA_HEAP_PAGES,
            bulk_memory: false,
            host_functions: HostFunctionSet::BASE,
        }
    }
}

impl Semantics {
    /// Resolves a session's parameters; unset ones keep their defaults.
    pub fn from_executor_params(params: &ExecutorParams) -> Self {
        let mut sem = Self::default();
        for p in params.iter() {
            match p {
                ExecutorParam::MaxMemoryPages(pages) => {
                    sem.max_memory_pages = pages.saturating_add(DEFAULT_HEAP_PAGES_ESTIMATE)
                }
                ExecutorParam::StackLogicalMax(v) => sem.logical_stack_max = *v,
                ExecutorParam::StackNativeMax(v) => sem.native_stack_max = *v,
                ExecutorParam::WasmExtBulkMemory => sem.bulk_memory = true,
                ExecutorParam::EnabledHostFunction(ExecutorHostFunction::EccRfc163) => {
                    sem.host_functions.ecc_rfc163 = true
                }
                ExecutorParam::PrecheckingMaxMemory(_)
                | ExecutorParam::PvfPrepTimeout(..)
                | ExecutorParam::PvfExecTimeout(..) => {}
            }
        }
        sem
    }

    /// The wasm proposals a PVF may use.
    pub fn wasm_features(&self) -> WasmFeatures {
        let mut features = WasmFeatures::MUTABLE_GLOBAL
            | WasmFeatures::SATURATING_FLOAT_TO_INT
            | WasmFeatures::SIGN_EXTENSION
            | WasmFeatures::FLOATS;
        if self.bulk_memory {
            features |= WasmFeatures::BULK_MEMORY;
        }
        features
    }
}

/// Builds the wasmtime configuration for `sem`. Prepare and execute must both use this.
pub fn wasmtime_config(sem: &Semantics) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.cranelift_opt_level(wasmtime::OptLevel::SpeedAndSize);
    config.cranelift_nan_canonicalization(true);
    config.max_wasm_stack(sem.native_stack_max as usize);
    // Wasmtime requires this bound even without async support; it sizes nothing here.
    config.async_stack_size(sem.native_stack_max as usize);
    // Switch every proposal off by name, then on by our list, so that a wasmtime upgrade that
    // enables a new proposal by default cannot widen what PVFs may use.
    let wanted = sem.wasm_features();
    for (_, flag) in WasmFeatures::all().iter_names() {
        config.wasm_features(flag, wanted.contains(flag));
    }
    config.memory_init_cow(true);
    config.memory_guaranteed_dense_image_size(u64::MAX);
    // Off unless a compilation asks for it (`CompilationThreads::AllCores`).
    config.parallel_compilation(false);
    config
}

/// How many threads one compilation may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompilationThreads {
    /// One thread: pre-checks, whose CPU-time limit decides a vote and must not depend on the
    /// machine's core count.
    One,
    /// Cranelift compiles functions on every core. Same artifact bytes, shorter wall time.
    AllCores,
}

/// Creates an engine for `sem`.
pub fn new_engine(sem: &Semantics) -> Result<Engine, String> {
    Engine::new(&wasmtime_config(sem))
        .map_err(|e| format!("cannot create the wasmtime engine: {e:#}"))
}

/// Parses the decompressed code as a wasm module. Failure is `Prevalidation`.
pub fn prevalidate(code: &[u8]) -> Result<RuntimeBlob, String> {
    RuntimeBlob::new(code).map_err(|e| e.to_string())
}

/// Injects deterministic stack metering and turns an imported memory into a defined one
/// without a maximum. Returns the instrumented wasm.
pub fn instrument(blob: RuntimeBlob, sem: &Semantics) -> Result<Vec<u8>, String> {
    let mut blob = blob
        .inject_stack_depth_metering(sem.logical_stack_max)
        .map_err(|e| e.to_string())?;
    blob.convert_memory_import_into_export()
        .map_err(|e| e.to_string())?;
    blob.clear_memory_max_limit().map_err(|e| e.to_string())?;
    Ok(blob.serialize())
}

/// Compiles instrumented wasm to artifact bytes. Failure is `Preparation`.
pub fn precompile(engine: &Engine, instrumented: &[u8]) -> Result<Vec<u8>, String> {
    engine
        .precompile_module(instrumented)
        .map_err(|e| format!("cannot precompile module: {e:#}"))
}

/// `prevalidate`d blob → artifact bytes: instrument, then compile with a fresh engine on
/// `threads`.
pub fn prepare(
    blob: RuntimeBlob,
    sem: &Semantics,
    threads: CompilationThreads,
) -> Result<Vec<u8>, String> {
    let instrumented = instrument(blob, sem)?;
    let mut config = wasmtime_config(sem);
    config.parallel_compilation(threads == CompilationThreads::AllCores);
    let engine =
        Engine::new(&config).map_err(|e| format!("cannot create the wasmtime engine: {e:#}"))?;
    precompile(&engine, &instrumented)
}

/// Binds an artifact to the code that compiled it: the project's version, the exact versions
/// of every crate on the compile path (from `Cargo.lock`), a digest of our own compile-path
/// sources (this file and the worker's compile job), and wasmtime's own compatibility
/// hash of the engine (target triple, CPU features, Cranelift flags, tunables, wasm features,
/// wasmtime version). An artifact whose fingerprint differs from the running binary's is
/// never adopted from the cache, so an upgrade or a moved disk recompiles instead of guessing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineFingerprint(pub [u8; 16]);

impl EngineFingerprint {
    /// The fingerprint of this binary on this machine, computed once.
    pub fn current() -> Self {
        static CURRENT: OnceLock<EngineFingerprint> = OnceLock::new();
        *CURRENT.get_or_init(Self::compute)
    }

    fn compute() -> Self {
        /// Collects everything `Hash` writes, so the digest is ours (BLAKE2), not `SipHash`.
        struct Bytes(Vec<u8>);
        impl std::hash::Hasher for Bytes {
            fn write(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
            fn finish(&self) -> u64 {
                0
            }
        }
        let mut bytes = Bytes(Vec::new());
        "pvf artifact fingerprint v1".hash(&mut bytes);
        env!("CARGO_PKG_VERSION").hash(&mut bytes);
        env!("PVF_COMPILE_PATH_CRATE_VERSIONS").hash(&mut bytes);
        env!("PVF_COMPILE_PATH_SOURCES_DIGEST").hash(&mut bytes);
        let sem = Semantics::default();
        format!("{sem:?}").hash(&mut bytes);
        match new_engine(&sem) {
            Ok(engine) => engine.precompile_compatibility_hash().hash(&mut bytes),
            // No engine, no artifacts: a fingerprint no working engine can share.
            Err(e) => e.hash(&mut bytes),
        }
        let digest = sp_crypto_hashing::blake2_256(&bytes.0);
        let mut fingerprint = [0; 16];
        fingerprint.copy_from_slice(&digest[..16]);
        Self(fingerprint)
    }
}

impl fmt::Display for EngineFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for EngineFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EngineFingerprint({self})")
    }
}

/// The wasmtime type of a host function from the PVF table.
pub fn func_type(
    engine: &Engine,
    sig: &host_function_signatures::HostFunctionSignature,
) -> FuncType {
    let to_wasm = |t: &ValType| match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
    };
    FuncType::new(
        engine,
        sig.params.iter().map(to_wasm),
        sig.result.iter().map(to_wasm),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(wat: &str, sem: &Semantics) -> Result<Vec<u8>, String> {
        let wasm = wat::parse_str(wat).unwrap();
        prepare(prevalidate(&wasm)?, sem, CompilationThreads::One)
    }

    const SMALL: &str = r#"(module
        (import "env" "memory" (memory 1))
        (import "env" "ext_storage_get_version_1" (func $get (param i64) (result i64)))
        (func (export "validate_block") (param i32 i32) (result i64)
            (i64.extend_i32_u (i32.add (local.get 0) (local.get 1)))))"#;

    #[test]
    fn compiling_twice_gives_identical_bytes() {
        let sem = Semantics::default();
        assert_eq!(compile(SMALL, &sem).unwrap(), compile(SMALL, &sem).unwrap());
    }

    /// Many functions, so that parallel compilation really splits the work.
    fn many_functions(count: usize) -> Vec<u8> {
        let mut wat = String::from("(module (memory 1)");
        for i in 0..count {
            wat.push_str(&format!(
                "(func $f{i} (param i32) (result i32) (local i32)
                    (local.set 1 (i32.mul (local.get 0) (i32.const {i})))
                    (if (result i32) (i32.gt_u (local.get 1) (i32.const 100))
                        (then (i32.add (local.get 1) (i32.const 7)))
                        (else (i32.sub (local.get 1) (i32.const 3)))))"
            ));
        }
        wat.push_str(
            "(func (export \"validate_block\") (param i32 i32) (result i64)
                (i64.extend_i32_u (call $f1 (local.get 0)))))",
        );
        wat::parse_str(&wat).unwrap()
    }

    #[test]
    fn parallel_and_single_threaded_compilation_give_identical_bytes() {
        let wasm = many_functions(400);
        for sem in [
            Semantics::default(),
            Semantics {
                logical_stack_max: 2048,
                bulk_memory: true,
                ..Semantics::default()
            },
        ] {
            let compile = |threads| prepare(prevalidate(&wasm).unwrap(), &sem, threads).unwrap();
            let one = compile(CompilationThreads::One);
            for _ in 0..3 {
                assert!(compile(CompilationThreads::AllCores) == one, "{sem:?}");
            }
        }
    }

    #[test]
    fn the_engine_fingerprint_is_stable_and_ignores_compilation_threads() {
        assert_eq!(EngineFingerprint::current(), EngineFingerprint::compute());
        let compat = |parallel| {
            let mut config = wasmtime_config(&Semantics::default());
            config.parallel_compilation(parallel);
            let mut bytes = std::collections::hash_map::DefaultHasher::new();
            Engine::new(&config)
                .unwrap()
                .precompile_compatibility_hash()
                .hash(&mut bytes);
            std::hash::Hasher::finish(&bytes)
        };
        assert_eq!(compat(true), compat(false));
        assert!(env!("PVF_COMPILE_PATH_CRATE_VERSIONS").contains("wasmtime 48."));
    }

    #[test]
    fn proposals_outside_the_reference_set_are_rejected() {
        let sem = Semantics::default();
        let simd = r#"(module (func (result v128) (v128.const i64x2 0 0)))"#;
        let multi_value = r#"(module (func (result i32 i32) (i32.const 1) (i32.const 2)))"#;
        let bulk =
            r#"(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))"#;
        for wat in [simd, multi_value, bulk] {
            assert!(compile(wat, &sem).is_err(), "{wat}");
        }
        // With `WasmExtBulkMemory` wasmtime would accept the module, but the canonical
        // `wasm-instrument` parser (parity-wasm without its `bulk` feature) rejects bulk opcodes
        // at prevalidation; we keep the canonical crates' behaviour rather than guess.
        // Wasmtime always accepts sign-extension ops, but the canonical prevalidation parser
        // (parity-wasm as `sc-executor-common` configures it) does not: a verdict of the
        // reference's crates that we keep.
        let sign_ext =
            wat::parse_str(r#"(module (func (result i32) (i32.extend8_s (i32.const 1))))"#)
                .unwrap();
        assert!(prevalidate(&sign_ext).is_err());
    }

    /// The prep-hash must change exactly when the artifact bytes change.
    #[test]
    fn prep_hash_matches_artifact_effect_of_executor_params() {
        use crate::executor_params::ExecutorParam::*;
        use crate::{PvfExecTimeoutKind, PvfPrepKind};
        let wat = r#"(module (memory 1)
            (func $f (param i32) (result i32) (local i64 i64) (local.get 0))
            (func (export "validate_block") (param i32 i32) (result i64)
                (i64.extend_i32_u (call $f (local.get 0)))))"#;
        let artifact = |params: &ExecutorParams| {
            compile(wat, &Semantics::from_executor_params(params)).unwrap()
        };
        let base = ExecutorParams::new();
        let base_bytes = artifact(&base);
        for param in [
            MaxMemoryPages(100),
            StackLogicalMax(2048),
            StackNativeMax(128 * 1024 * 1024),
            PrecheckingMaxMemory(512 * 1024 * 1024),
            PvfPrepTimeout(PvfPrepKind::Precheck, 1000),
            PvfExecTimeout(PvfExecTimeoutKind::Backing, 1000),
            WasmExtBulkMemory,
            EnabledHostFunction(ExecutorHostFunction::EccRfc163),
        ] {
            let params = ExecutorParams::from(vec![param.clone()]);
            let bytes_changed = artifact(&params) != base_bytes;
            let hash_changed = params.prep_hash() != base.prep_hash();
            assert_eq!(
                bytes_changed, hash_changed,
                "{param:?}: bytes changed {bytes_changed}"
            );
        }
    }

    #[test]
    fn the_ecc_parameter_selects_the_rfc163_host_functions() {
        use crate::executor_params::ExecutorParam::*;
        assert_eq!(Semantics::default().host_functions, HostFunctionSet::BASE);
        let ecc = ExecutorParams::from(vec![
            StackLogicalMax(2048),
            EnabledHostFunction(ExecutorHostFunction::EccRfc163),
        ]);
        let sem = Semantics::from_executor_params(&ecc);
        assert_eq!(sem.host_functions, HostFunctionSet::WITH_ECC_RFC163);
        assert_eq!(sem.logical_stack_max, 2048);
    }
}
