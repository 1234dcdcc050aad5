//! The differential harness: the same scenario runs
//!
//! - on our host functions, linked by [`link`] into a real wasmtime instance of a module that
//!   imports every PVF host function and exports a wrapper for each (`call_<name>`), and
//! - on sp-io 49's own host functions (their `sp_wasm_interface::Function`s, marshalling
//!   included), executed inside `sp_io::TestExternalities` over a byte-vector memory with the
//!   same `sc_allocator::FreeingBumpHeapAllocator`;
//!
//! and must give the same result or failure for every call, the same bytes in the whole linear
//! memory, and the same allocator state (checked by allocating after the last call).

use super::*;
use pvf_common::engine::{Semantics, new_engine};
use pvf_common::host_function_signatures::{self, ValType};
use sp_wasm_interface::{Function, FunctionContext, Pointer, Value};
use std::sync::OnceLock;
use wasmtime::{InstancePre, Val};

/// Initial size of the linear memory in both executions.
pub(super) const INITIAL_PAGES: u32 = 20;
/// The memory limit (store limit here, `Memory::max_pages` for the reference allocator).
pub(super) const MAX_PAGES: u32 = 48;
/// Deliberately unaligned: the allocator aligns it up.
pub(super) const HEAP_BASE: u32 = 16 * 65536 + 5;
/// Where scenarios place their inputs (below the heap).
const INPUT_BASE: u32 = 1024;
/// The first byte past the initial memory.
pub(super) const MEMORY_END: u32 = INITIAL_PAGES * 65536;

/// One wasm argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Arg {
    I32(i32),
    I64(i64),
}

/// A sequence of writes into memory and host-function calls.
#[derive(Clone, Debug, Default)]
pub(super) struct Scenario {
    next: u32,
    writes: Vec<(u32, Vec<u8>)>,
    calls: Vec<(&'static str, Vec<Arg>)>,
}

impl Scenario {
    pub(super) fn new() -> Self {
        Self {
            next: INPUT_BASE,
            ..Self::default()
        }
    }

    /// Places `bytes` below the heap; returns their address.
    pub(super) fn put(&mut self, bytes: &[u8]) -> u32 {
        let ptr = self.next;
        self.next = (ptr + bytes.len() as u32 + 7) & !7;
        assert!(
            self.next < HEAP_BASE,
            "scenario inputs overflow into the heap"
        );
        self.writes.push((ptr, bytes.to_vec()));
        ptr
    }

    /// Places `bytes`; returns the pointer as an `i32` argument.
    pub(super) fn ptr(&mut self, bytes: &[u8]) -> Arg {
        Arg::I32(self.put(bytes) as i32)
    }

    /// Places `bytes`; returns the fat pointer as an `i64` argument.
    pub(super) fn fat(&mut self, bytes: &[u8]) -> Arg {
        let ptr = self.put(bytes);
        Arg::I64(pack_fat(ptr, bytes.len() as u32))
    }

    pub(super) fn call(&mut self, name: &'static str, args: Vec<Arg>) -> &mut Self {
        self.calls.push((name, args));
        self
    }
}

/// What one execution of a scenario gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Per call until the first failure: the result, or that it failed.
    pub(super) results: Vec<Result<Option<i64>, ()>>,
    /// The first failure's message (not compared).
    pub(super) error: Option<String>,
    /// The whole linear memory after the calls.
    pub(super) memory: Vec<u8>,
    /// Two allocations after the calls: the allocator's state.
    pub(super) allocations: [Result<u32, ()>; 2],
}

impl Outcome {
    fn compare_with(&self, reference: &Outcome, what: &str) {
        assert_eq!(
            self.results, reference.results,
            "{what}: results differ (ours failed with {:?}, the reference with {:?})",
            self.error, reference.error
        );
        assert_eq!(
            self.memory.len(),
            reference.memory.len(),
            "{what}: memory sizes differ"
        );
        if self.memory != reference.memory {
            let at = (self.memory.iter().zip(&reference.memory)).position(|(a, b)| a != b);
            panic!("{what}: memories differ, first at {at:?}");
        }
        assert_eq!(
            self.allocations, reference.allocations,
            "{what}: allocator states differ"
        );
    }
}

/// Runs `scenario` on both sides and asserts they agree; returns our outcome.
pub(super) fn differential(scenario: &Scenario, what: &str) -> Outcome {
    differential_with(scenario, what, |_| {})
}

/// [`differential`] with extensions for the reference's externalities.
pub(super) fn differential_with(
    scenario: &Scenario,
    what: &str,
    setup: impl FnOnce(&mut sp_io::TestExternalities),
) -> Outcome {
    let ours = run_ours(scenario, true);
    let mut ext = sp_io::TestExternalities::default();
    setup(&mut ext);
    let reference = run_reference(scenario, &mut ext);
    ours.compare_with(&reference, what);
    ours
}

// ---- our side ----

fn wasm_type(t: &ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
    }
}

/// The set the harness links: every function we implement, RFC-163's included.
pub(super) const TESTED: HostFunctionSet = HostFunctionSet::WITH_ECC_RFC163;

/// A module importing every function of [`TESTED`] and exporting `call_<name>` for each.
pub(super) fn all_functions_wat() -> String {
    let mut wat = String::from("(module\n");
    for (i, f) in TESTED.functions().enumerate() {
        let params: String = f
            .params
            .iter()
            .map(|t| format!(" {}", wasm_type(t)))
            .collect();
        let result = f
            .result
            .map(|t| format!(" (result {})", wasm_type(&t)))
            .unwrap_or_default();
        wat += &format!(
            "  (import \"env\" \"{}\" (func $f{i} (param{params}){result}))\n",
            f.name
        );
    }
    wat += &format!(
        "  (memory (export \"memory\") {INITIAL_PAGES})\n  (global (export \"__heap_base\") i32 (i32.const {HEAP_BASE}))\n"
    );
    for (i, f) in TESTED.functions().enumerate() {
        let params: String = f
            .params
            .iter()
            .map(|t| format!(" {}", wasm_type(t)))
            .collect();
        let result = f
            .result
            .map(|t| format!(" (result {})", wasm_type(&t)))
            .unwrap_or_default();
        let gets: String = (0..f.params.len())
            .map(|n| format!(" (local.get {n})"))
            .collect();
        wat += &format!(
            "  (func (export \"call_{}\") (param{params}){result} (call $f{i}{gets}))\n",
            f.name
        );
    }
    wat + ")"
}

/// The engine and the linked module, shared by all tests.
pub(super) fn instance_pre() -> &'static (Engine, InstancePre<HostState>) {
    static PRE: OnceLock<(Engine, InstancePre<HostState>)> = OnceLock::new();
    PRE.get_or_init(|| {
        let engine = new_engine(&Semantics::default()).unwrap();
        let wasm = wat::parse_str(all_functions_wat()).unwrap();
        let module = Module::new(&engine, &wasm).unwrap();
        let mut linker = Linker::new(&engine);
        link(&mut linker, &module, TESTED).unwrap();
        let pre = linker.instantiate_pre(&module).unwrap();
        (engine, pre)
    })
}

/// A fresh, attached instance.
pub(super) fn new_instance(logging: bool) -> (Store<HostState>, Instance) {
    let (engine, pre) = instance_pre();
    let mut store = new_store(
        engine,
        HostState::new(Some(MAX_PAGES)).with_logging(logging),
    );
    let instance = pre.instantiate(&mut store).unwrap();
    attach(&mut store, &instance).unwrap();
    (store, instance)
}

/// Calls `call_<name>` of `instance`.
pub(super) fn call_ours(
    store: &mut Store<HostState>,
    instance: &Instance,
    name: &str,
    args: &[Arg],
) -> Result<Option<i64>, String> {
    let func = instance
        .get_func(&mut *store, &format!("call_{name}"))
        .unwrap_or_else(|| panic!("{name} is not a PVF host function"));
    let params: Vec<Val> = args
        .iter()
        .map(|a| match *a {
            Arg::I32(v) => Val::I32(v),
            Arg::I64(v) => Val::I64(v),
        })
        .collect();
    let mut results = vec![Val::I32(0); func.ty(&*store).results().len()];
    func.call(&mut *store, &params, &mut results)
        .map_err(|e| format!("{e:#}"))?;
    Ok(results.first().map(|r| match *r {
        Val::I32(v) => i64::from(v),
        Val::I64(v) => v,
        ref other => panic!("unexpected result {other:?}"),
    }))
}

pub(super) fn run_ours(scenario: &Scenario, logging: bool) -> Outcome {
    let (mut store, instance) = new_instance(logging);
    let memory = store.data().memory().unwrap();
    for (ptr, bytes) in &scenario.writes {
        memory.write(&mut store, *ptr as usize, bytes).unwrap();
    }
    let mut results = Vec::new();
    let mut error = None;
    for (name, args) in &scenario.calls {
        match call_ours(&mut store, &instance, name, args) {
            Ok(v) => results.push(Ok(v)),
            Err(e) => {
                results.push(Err(()));
                error = Some(e);
                break;
            }
        }
    }
    let allocations = [1u32, 300].map(|size| {
        allocator::allocate(&mut store, size).map_err(|e| error = error.clone().or(Some(e)))
    });
    Outcome {
        results,
        error,
        memory: memory.data(&store).to_vec(),
        allocations: allocations.map(|a| a.map_err(drop)),
    }
}

// ---- the reference side ----

/// sc-allocator's view of the reference memory; grows up to `MAX_PAGES` like the store limit.
struct RefMemory<'a>(&'a mut Vec<u8>);

impl sc_allocator::Memory for RefMemory<'_> {
    fn with_access_mut<R>(&mut self, run: impl FnOnce(&mut [u8]) -> R) -> R {
        run(self.0)
    }
    fn with_access<R>(&self, run: impl FnOnce(&[u8]) -> R) -> R {
        run(self.0)
    }
    fn grow(&mut self, additional: u32) -> Result<(), ()> {
        let pages = self.pages() + additional;
        if pages > MAX_PAGES {
            return Err(());
        }
        self.0.resize(pages as usize * 65536, 0);
        Ok(())
    }
    fn pages(&self) -> u32 {
        (self.0.len() / 65536) as u32
    }
    fn max_pages(&self) -> Option<u32> {
        Some(MAX_PAGES)
    }
}

/// `FunctionContext` as `sc-executor-wasmtime`'s `HostContext`, over a byte vector.
pub(super) struct RefContext {
    pub(super) memory: Vec<u8>,
    pub(super) allocator: sc_allocator::FreeingBumpHeapAllocator,
}

impl RefContext {
    pub(super) fn new() -> Self {
        Self {
            memory: vec![0; MEMORY_END as usize],
            allocator: sc_allocator::FreeingBumpHeapAllocator::new(HEAP_BASE),
        }
    }
}

impl FunctionContext for RefContext {
    fn read_memory_into(&mut self, address: Pointer<u8>, dest: &mut [u8]) -> Result<(), String> {
        let range = sc_executor_common::util::checked_range(
            u32::from(address) as usize,
            dest.len(),
            self.memory.len(),
        )
        .ok_or("memory read is out of bounds")?;
        dest.copy_from_slice(&self.memory[range]);
        Ok(())
    }
    fn write_memory(&mut self, address: Pointer<u8>, data: &[u8]) -> Result<(), String> {
        let range = sc_executor_common::util::checked_range(
            u32::from(address) as usize,
            data.len(),
            self.memory.len(),
        )
        .ok_or("memory write is out of bounds")?;
        self.memory[range].copy_from_slice(data);
        Ok(())
    }
    fn allocate_memory(&mut self, size: u32) -> Result<Pointer<u8>, String> {
        self.allocator
            .allocate(&mut RefMemory(&mut self.memory), size)
            .map_err(|e| e.to_string())
    }
    fn deallocate_memory(&mut self, ptr: Pointer<u8>) -> Result<(), String> {
        self.allocator
            .deallocate(&mut RefMemory(&mut self.memory), ptr)
            .map_err(|e| e.to_string())
    }
    fn register_panic_error_message(&mut self, _message: &str) {}
}

/// The reference's host-function set for PVFs (polkadot-node-core-pvf-common 29).
pub(super) fn reference_functions() -> Vec<&'static dyn Function> {
    <(
        sp_io::misc::HostFunctions,
        sp_io::crypto::HostFunctions,
        sp_io::hashing::HostFunctions,
        sp_io::allocator::HostFunctions,
        sp_io::logging::HostFunctions,
        sp_io::trie::HostFunctions,
    ) as sp_wasm_interface::HostFunctions>::host_functions()
}

/// The reference's RFC-163 functions (`HostFunctionsWithEcc` adds them to the set above).
pub(super) fn reference_ecc_functions() -> Vec<&'static dyn Function> {
    <sp_crypto_ec_utils::HostFunctionsRfc163 as sp_wasm_interface::HostFunctions>::host_functions()
}

fn run_reference(scenario: &Scenario, ext: &mut sp_io::TestExternalities) -> Outcome {
    let mut functions = reference_functions();
    functions.extend(reference_ecc_functions());
    let mut ctx = RefContext::new();
    for (ptr, bytes) in &scenario.writes {
        ctx.write_memory(Pointer::new(*ptr), bytes).unwrap();
    }
    let mut results = Vec::new();
    let mut error = None;
    ext.execute_with(|| {
        for (name, args) in &scenario.calls {
            let function = *functions
                .iter()
                .find(|f| f.name() == *name)
                .unwrap_or_else(|| panic!("sp-io has no {name}"));
            let mut args = args.iter().map(|a| match *a {
                Arg::I32(v) => Value::I32(v),
                Arg::I64(v) => Value::I64(v),
            });
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                function.execute(&mut ctx, &mut args)
            }));
            match run {
                Ok(Ok(value)) => results.push(Ok(value.map(|v| match v {
                    Value::I32(v) => i64::from(v),
                    Value::I64(v) => v,
                    other => panic!("unexpected result {other:?}"),
                }))),
                Ok(Err(e)) => {
                    results.push(Err(()));
                    error = Some(e);
                    break;
                }
                Err(panic) => {
                    results.push(Err(()));
                    error = Some(panic_message(panic));
                    break;
                }
            }
        }
    });
    let allocations = [1u32, 300].map(|size| {
        ctx.allocate_memory(size)
            .map(u32::from)
            .map_err(|e| error = error.clone().or(Some(e)))
    });
    Outcome {
        results,
        error,
        memory: ctx.memory,
        allocations: allocations.map(|a| a.map_err(drop)),
    }
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// A fixed-seed random generator for a test.
pub(super) fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(seed)
}

// ---- tests of the linking and of the harness itself ----

#[test]
fn the_table_is_exactly_the_reference_set_with_the_same_signatures() {
    use sp_wasm_interface::ValueType;
    let reference = reference_functions();
    let mut names: Vec<_> = reference.iter().map(|f| f.name().to_string()).collect();
    names.sort();
    let mut ours: Vec<_> = host_function_signatures::PVF_HOST_FUNCTIONS
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    ours.sort();
    assert_eq!(names, ours);
    let to_ours = |t: &ValueType| match t {
        ValueType::I32 => ValType::I32,
        ValueType::I64 => ValType::I64,
        other => panic!("unexpected type {other:?}"),
    };
    for f in reference {
        let sig = host_function_signatures::find(f.name()).unwrap();
        let reference_sig = f.signature();
        let params: Vec<_> = reference_sig.args.iter().map(to_ours).collect();
        assert_eq!(params, sig.params, "{}", f.name());
        assert_eq!(reference_sig.return_value.as_ref().map(to_ours), sig.result);
    }
}

#[test]
fn every_pvf_host_function_links_with_its_table_signature() {
    // `instance_pre` links a module importing the whole table; wasmtime checks each type.
    let (_, pre) = instance_pre();
    assert_eq!(pre.module().imports().len(), TESTED.functions().count());
}

fn link_wat(wat: &str) -> Result<InstancePre<HostState>, String> {
    let (engine, _) = instance_pre();
    let module = Module::new(engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut linker = Linker::new(engine);
    link(&mut linker, &module, HostFunctionSet::BASE)?;
    linker
        .instantiate_pre(&module)
        .map_err(|e| format!("{e:#}"))
}

#[test]
fn link_rejects_what_the_reference_rejects() {
    let link_err = |wat: &str| link_wat(wat).err().expect("linking must fail");
    let err = link_err(
        r#"(module (import "env" "ext_hashing_blake2_256_version_1" (func (param i32) (result i32))))"#,
    );
    assert!(
        err.starts_with("signature mismatch for env:ext_hashing_blake2_256_version_1"),
        "{err}"
    );
    let err = link_err(r#"(module (import "other" "f" (func)))"#);
    assert_eq!(
        err,
        "host doesn't provide any imports from non-env module: other:f"
    );
    let err = link_err(r#"(module (import "env" "t" (table 1 funcref)))"#);
    assert_eq!(err, "host doesn't provide any non function imports: env:t");
    // Duplicate imports of one name link once.
    link_wat(r#"(module (import "env" "f" (func)) (import "env" "f" (func)))"#).unwrap();
}

#[test]
fn missing_and_keystore_functions_trap_with_their_names() {
    let wat = r#"(module
        (import "env" "ext_storage_get_version_1" (func $get (param i64) (result i64)))
        (import "env" "ext_crypto_sr25519_sign_version_1" (func $sign (param i32 i32 i64) (result i64)))
        (memory (export "memory") 1)
        (global (export "__heap_base") i32 (i32.const 1024))
        (func (export "get") (result i64) (call $get (i64.const 0)))
        (func (export "sign") (result i64) (call $sign (i32.const 0) (i32.const 0) (i64.const 0))))"#;
    let pre = link_wat(wat).unwrap();
    let (engine, _) = instance_pre();
    let mut store = new_store(engine, HostState::new(None));
    let instance = pre.instantiate(&mut store).unwrap();
    attach(&mut store, &instance).unwrap();
    let get = instance
        .get_typed_func::<(), i64>(&mut store, "get")
        .unwrap();
    let err = format!("{:#}", get.call(&mut store, ()).unwrap_err());
    assert!(
        err.contains("call to a missing function env:ext_storage_get_version_1"),
        "{err}"
    );
    let sign = instance
        .get_typed_func::<(), i64>(&mut store, "sign")
        .unwrap();
    let err = format!("{:#}", sign.call(&mut store, ()).unwrap_err());
    assert!(
        err.contains("ext_crypto_sr25519_sign_version_1: no keystore in PVF execution"),
        "{err}"
    );
}

#[test]
fn keystore_functions_fail_in_both() {
    for (name, args) in [
        (
            "ext_crypto_ed25519_public_keys_version_1",
            vec![Arg::I32(0)],
        ),
        (
            "ext_crypto_sr25519_generate_version_1",
            vec![Arg::I32(0), Arg::I64(0)],
        ),
        (
            "ext_crypto_ecdsa_sign_version_1",
            vec![Arg::I32(0), Arg::I32(0), Arg::I64(0)],
        ),
        (
            "ext_crypto_ecdsa_sign_prehashed_version_1",
            vec![Arg::I32(0); 3],
        ),
    ] {
        let mut s = Scenario::new();
        s.call(name, args);
        let ours = differential(&s, name);
        assert_eq!(ours.results, vec![Err(())]);
    }
}
