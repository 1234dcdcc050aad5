//! `ext_allocator_malloc_version_1` and `ext_allocator_free_version_1`, and the host allocator
//! every allocating host function uses: the canonical `sc-allocator` crate's
//! `FreeingBumpHeapAllocator`, starting at the module's `__heap_base`, over the wasmtime
//! memory, growing it up to `HostState::memory_max_pages` as `sc-executor-wasmtime` does.

use super::{HostResult, HostState, trap, write_memory};
use sc_allocator::FreeingBumpHeapAllocator;
use sp_wasm_interface::Pointer;
use wasmtime::{AsContext, AsContextMut, Caller, Linker, Memory};

/// `sc_allocator::Memory` over a wasmtime memory, as `sc-executor-wasmtime`'s `MemoryWrapper`.
struct MemoryWrapper<'a, C> {
    memory: Memory,
    ctx: &'a mut C,
}

impl<C: AsContextMut<Data = HostState>> sc_allocator::Memory for MemoryWrapper<'_, C> {
    fn with_access_mut<R>(&mut self, run: impl FnOnce(&mut [u8]) -> R) -> R {
        run(self.memory.data_mut(&mut *self.ctx))
    }

    fn with_access<R>(&self, run: impl FnOnce(&[u8]) -> R) -> R {
        run(self.memory.data(&*self.ctx))
    }

    fn grow(&mut self, additional: u32) -> Result<(), ()> {
        self.memory
            .grow(&mut *self.ctx, u64::from(additional))
            .map(drop)
            .map_err(|e| {
                tracing::debug!(
                    target: pvf_common::LOG_TARGET,
                    "failed to grow the PVF's memory by {additional} pages: {e}"
                )
            })
    }

    fn pages(&self) -> u32 {
        self.memory.size(&*self.ctx) as u32
    }

    fn max_pages(&self) -> Option<u32> {
        self.ctx.as_context().data().memory_max_pages
    }
}

/// Runs `f` with the allocator taken out of the state (and puts it back whatever happens).
fn with_allocator<C: AsContextMut<Data = HostState>, R>(
    ctx: &mut C,
    f: impl FnOnce(
        &mut FreeingBumpHeapAllocator,
        &mut MemoryWrapper<'_, C>,
    ) -> Result<R, sc_allocator::Error>,
) -> Result<R, String> {
    let memory = ctx.as_context().data().memory()?;
    let mut allocator = ctx
        .as_context_mut()
        .data_mut()
        .allocator
        .take()
        .ok_or("the host allocator is not attached to the host state")?;
    let result = f(
        &mut allocator,
        &mut MemoryWrapper {
            memory,
            ctx: &mut *ctx,
        },
    );
    ctx.as_context_mut().data_mut().allocator = Some(allocator);
    result.map_err(|e| e.to_string())
}

/// Allocates `size` bytes with the host allocator; returns the pointer.
pub(crate) fn allocate(
    ctx: &mut impl AsContextMut<Data = HostState>,
    size: u32,
) -> Result<u32, String> {
    with_allocator(ctx, |allocator, memory| allocator.allocate(memory, size)).map(u32::from)
}

/// Frees an allocation of the host allocator.
pub(crate) fn deallocate(
    ctx: &mut impl AsContextMut<Data = HostState>,
    ptr: u32,
) -> Result<(), String> {
    with_allocator(ctx, |allocator, memory| {
        allocator.deallocate(memory, Pointer::new(ptr))
    })
}

/// Allocates room for `bytes` with the host allocator and writes them there, as the reference
/// places the `validate_block` parameters. Returns the pointer; the guest may free it with
/// `ext_allocator_free_version_1`.
pub fn allocate_and_write(
    mut ctx: impl AsContextMut<Data = HostState>,
    bytes: &[u8],
) -> Result<u32, String> {
    let ptr = allocate(&mut ctx, bytes.len() as u32)?;
    write_memory(&mut ctx, ptr, bytes).map_err(|e| e.to_string())?;
    Ok(ptr)
}

fn malloc(mut caller: Caller<'_, HostState>, size: i32) -> HostResult<i32> {
    allocate(&mut caller, size as u32)
        .map(|ptr| ptr as i32)
        .map_err(|e| trap(format!("Failed to allocate memory: {e}")))
}

fn free(mut caller: Caller<'_, HostState>, ptr: i32) -> HostResult<()> {
    deallocate(&mut caller, ptr as u32)
        .map_err(|e| trap(format!("Failed to deallocate memory: {e}")))
}

pub(super) fn define(linker: &mut Linker<HostState>, name: &str) -> Result<bool, String> {
    match name {
        "ext_allocator_malloc_version_1" => super::wrap(linker, name, malloc),
        "ext_allocator_free_version_1" => super::wrap(linker, name, free),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{
        Arg, MAX_PAGES, MEMORY_END, RefContext, Scenario, call_ours, differential, new_instance,
        rng,
    };
    use rand::Rng;
    use sp_wasm_interface::{FunctionContext, Pointer};

    const MALLOC: &str = "ext_allocator_malloc_version_1";
    const FREE: &str = "ext_allocator_free_version_1";

    /// Random malloc/free sequences; frees target live allocations (found by driving
    /// sc-allocator directly), and the differential run then checks our pointers, memory and
    /// allocator state against sp-io's allocator functions.
    #[test]
    fn malloc_free_sequences_match_sc_allocator() {
        let mut rng = rng(1);
        for round in 0..40 {
            let mut model = RefContext::new();
            let mut live = Vec::new();
            let mut s = Scenario::new();
            for _ in 0..rng.random_range(1..120) {
                if !live.is_empty() && rng.random_bool(0.4) {
                    let ptr: u32 = live.swap_remove(rng.random_range(0..live.len()));
                    model.deallocate_memory(Pointer::new(ptr)).unwrap();
                    s.call(FREE, vec![Arg::I32(ptr as i32)]);
                } else {
                    let size = match rng.random_range(0..4) {
                        0 => rng.random_range(0..16),
                        1 => rng.random_range(0..300),
                        2 => rng.random_range(0..70_000),
                        _ => rng.random_range(0..400_000),
                    };
                    s.call(MALLOC, vec![Arg::I32(size as i32)]);
                    match model.allocate_memory(size) {
                        Ok(ptr) => live.push(u32::from(ptr)),
                        Err(_) => break,
                    }
                }
            }
            differential(&s, &format!("round {round}"));
        }
    }

    #[test]
    fn invalid_frees_and_oversized_mallocs_fail_in_both() {
        let cases: Vec<Vec<(&'static str, i32)>> = vec![
            vec![(FREE, 0)],
            vec![(FREE, 8)],
            vec![(FREE, MEMORY_END as i32 + 16)],
            vec![(FREE, -1)],
            vec![(MALLOC, 10), (FREE, 1_048_592), (FREE, 1_048_592)],
            vec![(MALLOC, 32 * 1024 * 1024 + 1)],
            vec![(MALLOC, -1)],
            // Beyond the memory limit: the allocator is poisoned afterwards.
            vec![(MALLOC, (MAX_PAGES * 65536) as i32)],
            vec![(MALLOC, 1 << 20), (MALLOC, 1 << 20), (MALLOC, 1 << 21)],
        ];
        for (i, calls) in cases.into_iter().enumerate() {
            let mut s = Scenario::new();
            for (name, arg) in calls {
                s.call(name, vec![Arg::I32(arg)]);
            }
            differential(&s, &format!("case {i}"));
        }
    }

    /// What the executor does with the `validate_block` parameters: written with the host
    /// allocator, freeable by the guest, and placed exactly where sc-allocator puts them.
    #[test]
    fn allocate_and_write_is_freeable_by_the_guest() {
        for len in [0usize, 1, 7, 8, 9, 1000, 70_000, 1_000_000] {
            let params: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let (mut store, instance) = new_instance(false);
            let ptr = super::allocate_and_write(&mut store, &params).unwrap();
            let memory = store.data().memory().unwrap();
            assert_eq!(&memory.data(&store)[ptr as usize..][..len], &params[..]);

            let mut model = RefContext::new();
            let expected = model.allocate_memory(len as u32).unwrap();
            assert_eq!(ptr, u32::from(expected), "len {len}");
            assert_eq!(memory.data(&store).len(), model.memory.len(), "len {len}");

            call_ours(&mut store, &instance, FREE, &[Arg::I32(ptr as i32)]).unwrap();
            model.deallocate_memory(expected).unwrap();
            let again = call_ours(&mut store, &instance, MALLOC, &[Arg::I32(len as i32)]).unwrap();
            let expected = model.allocate_memory(len as u32).unwrap();
            assert_eq!(again, Some(i64::from(u32::from(expected))));
            assert_eq!(again, Some(i64::from(ptr)), "a freed block is reused");
        }
    }

    #[test]
    fn allocation_before_attach_is_an_error() {
        let (engine, _) = super::super::tests::instance_pre();
        let mut store = super::super::new_store(engine, super::HostState::new(None));
        assert!(super::allocate_and_write(&mut store, b"x").is_err());
    }
}
