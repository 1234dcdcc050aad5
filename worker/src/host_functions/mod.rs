//! The PVF host functions: what `validate_block` may call, with sp-io 49's semantics byte for
//! byte.
//!
//! The reference (`polkadot-node-core-pvf-common`) links sp-io's `misc`, `crypto`, `hashing`,
//! `allocator`, `logging` and `trie` interfaces through `sp-runtime-interface`, whose host-side
//! marshalling decides many verdicts on its own. We implement the same marshalling here:
//!
//! | sp-runtime-interface type | wasm | host side |
//! |---|---|---|
//! | `u32`, `Pointer<u8>` | `i32` | reinterpreted as `u32` |
//! | `u64` | `i64` | reinterpreted as `u64` |
//! | `u8` (`PassAs<_, u8>`) | `i32` | truncated (`as u8`), then `TryFrom<u8>`; failure traps |
//! | `bool` (result) | `i32` | `1` / `0` |
//! | `PassPointerAndRead<_, N>` | `i32` | read `N` bytes; out of bounds traps |
//! | `PassFatPointerAndRead<&[u8]>` | `i64` | `ptr \| len << 32`; out of bounds traps |
//! | `PassFatPointerAndRead<&str>` | `i64` | as above, and invalid UTF-8 traps |
//! | `PassFatPointerAndDecode<T>` | `i64` | SCALE-decode a prefix (trailing bytes ignored); failure traps |
//! | `AllocateAndReturnPointer<_, N>` | `i32` | allocate `N` bytes with the host allocator, write, return the pointer |
//! | `AllocateAndReturnByCodec<T>` | `i64` | SCALE-encode, allocate, write, return a fat pointer |
//! | `PassFatPointerAndWrite<&mut [u8]>` | `i64` | a zeroed buffer of the given length, written back whole after the call; out of bounds traps |
//! | `PassFatPointerAndReadWrite<&mut [u8]>` | `i64` | read, then written back whole after the call; out of bounds traps |
//!
//! Where the reference panics inside a host function (an allocator error, a keystore call,
//! `finish_batch_verify` without `start_batch_verify`), we trap with a message naming the cause.
//!
//! [`link`] links every import of a module: the PVF set with the implementations of the
//! submodules, anything else in `env` as a trap naming itself, as the reference does with
//! `allow_missing_func_imports`. Which set a session links is a [`HostFunctionSet`]: the sp-io
//! set, plus the RFC-163 elliptic-curve functions ([`ec_utils`]) when the session's executor
//! parameters hold `EnabledHostFunction(EccRfc163)`.

pub mod allocator;
mod crypto;
mod ec_utils;
mod hashing;
mod logging;
mod misc;
mod trie;

#[cfg(test)]
mod docs_tests;
#[cfg(test)]
mod tests;

pub use pvf_common::host_function_signatures::HostFunctionSet;
use sc_allocator::FreeingBumpHeapAllocator;
use std::collections::HashSet;
use wasmtime::{
    AsContext, AsContextMut, Caller, Engine, ExternType, FuncType, Instance, Linker, Memory,
    Module, Store, StoreLimits, StoreLimitsBuilder,
};

pub use allocator::allocate_and_write;

/// Tracing target of the log lines a PVF emits through `ext_logging_log_version_1` and the
/// `ext_misc_print_*` functions.
pub const RUNTIME_LOG_TARGET: &str = "parachain::pvf::runtime";

/// Bytes in a wasm page.
pub const WASM_PAGE_SIZE: u64 = 65536;

/// The `wasmtime::Store` data of one PVF execution.
pub struct HostState {
    /// The instance's linear memory (its `memory` export); set by [`attach`].
    pub memory: Option<Memory>,
    /// The freeing-bump allocator over the heap above `__heap_base`; set by [`attach`].
    pub(crate) allocator: Option<FreeingBumpHeapAllocator>,
    /// The most pages the allocator may grow the memory to, as in the reference.
    pub memory_max_pages: Option<u32>,
    /// Store limits enforcing `memory_max_pages`; install with
    /// `store.limiter(|state| &mut state.limits)`.
    pub limits: StoreLimits,
    /// Whether the PVF's log lines reach `tracing`. Off by default: then nothing is logged.
    /// It does not change what `ext_logging_max_level_version_1` returns (`log::max_level()`).
    pub logging_enabled: bool,
    /// The last message the PVF logged at error level (its panic message, if it panicked).
    pub last_error_log: Option<String>,
    /// The legacy batch-verification accumulator: `Some` between `start_batch_verify` and
    /// `finish_batch_verify` (sp-io's `VerificationExtDeprecated`).
    pub(crate) batch_verify: Option<bool>,
}

impl HostState {
    /// State for an execution whose memory may grow to `memory_max_pages` (no limit: `None`).
    pub fn new(memory_max_pages: Option<u32>) -> Self {
        let mut limits = StoreLimitsBuilder::new();
        if let Some(pages) = memory_max_pages {
            limits = limits.memory_size((u64::from(pages) * WASM_PAGE_SIZE) as usize);
        }
        Self {
            memory: None,
            allocator: None,
            memory_max_pages,
            limits: limits.build(),
            logging_enabled: false,
            last_error_log: None,
            batch_verify: None,
        }
    }

    /// Switches forwarding of the PVF's log lines to `tracing` on or off.
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.logging_enabled = enabled;
        self
    }

    /// The linear memory, or an error before [`attach`].
    pub fn memory(&self) -> Result<Memory, String> {
        self.memory
            .ok_or_else(|| "the instance's memory is not attached to the host state".to_string())
    }
}

/// Creates a store for one execution, with the memory limit installed.
pub fn new_store(engine: &Engine, state: HostState) -> Store<HostState> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    store
}

/// Completes the host state after instantiation: takes the `memory` export and starts the
/// allocator at the `__heap_base` global, as `sc-executor-wasmtime` does per call.
pub fn attach(store: &mut Store<HostState>, instance: &Instance) -> Result<(), String> {
    let memory = instance
        .get_export(&mut *store, "memory")
        .ok_or("memory is not exported under `memory` name")?
        .into_memory()
        .ok_or("the `memory` export should have memory type")?;
    let heap_base = instance
        .get_export(&mut *store, "__heap_base")
        .ok_or("__heap_base is not found")?
        .into_global()
        .ok_or("__heap_base is not a global")?
        .get(&mut *store)
        .i32()
        .ok_or("__heap_base is not a i32")? as u32;
    let state = store.data_mut();
    state.memory = Some(memory);
    state.allocator = Some(FreeingBumpHeapAllocator::new(heap_base));
    state.batch_verify = None;
    Ok(())
}

/// Links every import of `module` into `linker`: the functions of `set` (signature-checked
/// against [`pvf_common::host_function_signatures`]) with their implementations, other `env` functions as
/// traps naming themselves. Any non-`env` or non-function import fails. Pre-checking and
/// execution must pass the same `set` (`Semantics::host_functions`).
pub fn link(
    linker: &mut Linker<HostState>,
    module: &Module,
    set: HostFunctionSet,
) -> Result<(), String> {
    // The reference checks every import before linking any, `module` before kind.
    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        if module_name != "env" {
            return Err(format!(
                "host doesn't provide any imports from non-env module: {module_name}:{name}"
            ));
        }
        if !matches!(import.ty(), ExternType::Func(_)) {
            return Err(format!(
                "host doesn't provide any non function imports: {module_name}:{name}"
            ));
        }
    }
    let engine = linker.engine().clone();
    let mut linked = HashSet::new();
    for import in module.imports() {
        let name = import.name();
        let ExternType::Func(func_ty) = import.ty() else {
            unreachable!("checked above")
        };
        let known = set.find(name);
        if let Some(sig) = known {
            let expected = func_type(&engine, sig);
            if !FuncType::eq(&expected, &func_ty) {
                return Err(format!(
                    "signature mismatch for env:{name}: the host provides {expected}, the PVF imports {func_ty}"
                ));
            }
        }
        // A module may import one name twice; the first definition serves both (a second one
        // with another type fails at instantiation, as in the reference).
        if !linked.insert(name.to_string()) {
            continue;
        }
        if known.is_some() {
            if !define(linker, name, &func_ty)? {
                return Err(format!(
                    "no implementation of the PVF host function env:{name}"
                ));
            }
        } else {
            define_trap(
                linker,
                name,
                func_ty,
                format!("call to a missing function env:{name}"),
            )?;
        }
    }
    Ok(())
}

/// Defines the implementation of PVF host function `name` (of type `ty`); `false` if no
/// submodule implements it. Called only for names of the session's set.
fn define(linker: &mut Linker<HostState>, name: &str, ty: &FuncType) -> Result<bool, String> {
    let defined = allocator::define(linker, name)?
        || hashing::define(linker, name)?
        || crypto::define(linker, name, ty)?
        || trie::define(linker, name)?
        || logging::define(linker, name)?
        || misc::define(linker, name)?
        || ec_utils::define(linker, name)?;
    Ok(defined)
}

/// Defines `env:name` of type `ty` as a trap with `message`.
pub(crate) fn define_trap(
    linker: &mut Linker<HostState>,
    name: &str,
    ty: FuncType,
    message: String,
) -> Result<bool, String> {
    linker
        .func_new("env", name, ty, move |_, _, _| {
            Err(wasmtime::Error::msg(message.clone()))
        })
        .map_err(|e| format!("cannot link env:{name}: {e:#}"))?;
    Ok(true)
}

/// Wraps `linker.func_wrap("env", name, f)` with an error naming the function.
pub(crate) fn wrap<Params, Results>(
    linker: &mut Linker<HostState>,
    name: &str,
    f: impl wasmtime::IntoFunc<HostState, Params, Results>,
) -> Result<bool, String> {
    linker
        .func_wrap("env", name, f)
        .map_err(|e| format!("cannot link env:{name}: {e:#}"))?;
    Ok(true)
}

pub use pvf_common::engine::func_type;

/// The host-function result type.
pub(crate) type HostResult<T> = wasmtime::Result<T>;

/// A trap with `message`.
pub(crate) fn trap(message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::msg(message.into())
}

/// Splits a fat pointer `ptr | len << 32`.
pub(crate) fn unpack_fat(fat: i64) -> (u32, u32) {
    let fat = fat as u64;
    (fat as u32, (fat >> 32) as u32)
}

/// Builds a fat pointer `ptr | len << 32`.
pub(crate) fn pack_fat(ptr: u32, len: u32) -> i64 {
    ((u64::from(len) << 32) | u64::from(ptr)) as i64
}

fn memory_of(ctx: &impl AsContext<Data = HostState>) -> HostResult<Memory> {
    ctx.as_context().data().memory().map_err(trap)
}

/// Reads `len` bytes at `ptr`; out of bounds traps.
pub(crate) fn read_memory(
    ctx: &impl AsContext<Data = HostState>,
    ptr: u32,
    len: u32,
) -> HostResult<Vec<u8>> {
    let data = memory_of(ctx)?.data(ctx);
    let range = sc_executor_common::util::checked_range(ptr as usize, len as usize, data.len())
        .ok_or_else(|| trap("memory read is out of bounds"))?;
    Ok(data[range].to_vec())
}

/// Reads the bytes a fat pointer designates.
pub(crate) fn read_fat(ctx: &impl AsContext<Data = HostState>, fat: i64) -> HostResult<Vec<u8>> {
    let (ptr, len) = unpack_fat(fat);
    read_memory(ctx, ptr, len)
}

/// Reads `N` bytes at `ptr` (`PassPointerAndRead<_, N>`).
pub(crate) fn read_array<const N: usize>(
    ctx: &impl AsContext<Data = HostState>,
    ptr: i32,
) -> HostResult<[u8; N]> {
    let bytes = read_memory(ctx, ptr as u32, N as u32)?;
    Ok(bytes.try_into().expect("read exactly N bytes"))
}

/// Writes `bytes` at `ptr`; out of bounds traps.
pub(crate) fn write_memory(
    ctx: &mut impl AsContextMut<Data = HostState>,
    ptr: u32,
    bytes: &[u8],
) -> HostResult<()> {
    let memory = memory_of(ctx)?;
    let data = memory.data_mut(&mut *ctx);
    let range = sc_executor_common::util::checked_range(ptr as usize, bytes.len(), data.len())
        .ok_or_else(|| trap("memory write is out of bounds"))?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

/// `AllocateAndReturnPointer`: allocate `bytes.len()` bytes, write, return the pointer.
pub(crate) fn return_pointer(caller: &mut Caller<'_, HostState>, bytes: &[u8]) -> HostResult<i32> {
    let ptr = allocator::allocate(caller, bytes.len() as u32).map_err(trap)?;
    write_memory(caller, ptr, bytes)?;
    Ok(ptr as i32)
}

/// `AllocateAndReturnByCodec`: SCALE-encode, allocate, write, return a fat pointer.
pub(crate) fn return_encoded(
    caller: &mut Caller<'_, HostState>,
    value: &impl parity_scale_codec::Encode,
) -> HostResult<i64> {
    let bytes = value.encode();
    let ptr = allocator::allocate(caller, bytes.len() as u32).map_err(trap)?;
    write_memory(caller, ptr, &bytes)?;
    Ok(pack_fat(ptr, bytes.len() as u32))
}

/// `PassFatPointerAndDecode<T>`: decode a SCALE prefix of the designated bytes.
pub(crate) fn read_decoded<T: parity_scale_codec::Decode>(
    ctx: &impl AsContext<Data = HostState>,
    fat: i64,
) -> HostResult<T> {
    let bytes = read_fat(ctx, fat)?;
    T::decode(&mut &bytes[..]).map_err(|e| {
        trap(format!(
            "could not SCALE-decode '{}' when marshalling hostcall's arguments through the FFI boundary: {e}",
            std::any::type_name::<T>()
        ))
    })
}

/// `bool` as sp-runtime-interface returns it.
pub(crate) fn from_bool(value: bool) -> i32 {
    i32::from(value)
}
