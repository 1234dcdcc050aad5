//! A tracking global allocator: counts the bytes a prepare job has allocated, records the
//! peak, and enforces `PrecheckingMaxMemory`.
//!
//! On overrun the allocator cannot allocate, unwind or lock, so it writes a pre-encoded
//! `Err(JobFailure::OutOfMemory)` job reply straight to the job's pipe with `write(2)` and
//! ends the process with `_exit(2)`. Every binary that can run prepare jobs installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;
//! ```

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering},
};

static TRACKING: AtomicBool = AtomicBool::new(false);
static CURRENT: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);
static LIMIT: AtomicU64 = AtomicU64::new(u64::MAX);
static OOM_REPLY_FD: AtomicI32 = AtomicI32::new(-1);

/// The job reply `Err(JobFailure::OutOfMemory)` as a frame (see
/// [`pvf_common::job::OUT_OF_MEMORY_REPLY_FRAME`]). A test checks it against the real
/// encoding.
pub const OOM_REPLY_FRAME: [u8; 10] = pvf_common::job::OUT_OF_MEMORY_REPLY_FRAME;

/// The system allocator with byte counting while a job tracks memory.
pub struct TrackingAllocator;

impl TrackingAllocator {
    #[inline]
    fn on_alloc(size: usize) {
        if !TRACKING.load(Ordering::Relaxed) {
            return;
        }
        let now = CURRENT.fetch_add(size as i64, Ordering::Relaxed) + size as i64;
        PEAK.fetch_max(now, Ordering::Relaxed);
        if now > 0 && now as u64 > LIMIT.load(Ordering::Relaxed) {
            report_oom_and_exit();
        }
    }

    #[inline]
    fn on_dealloc(size: usize) {
        if TRACKING.load(Ordering::Relaxed) {
            CURRENT.fetch_sub(size as i64, Ordering::Relaxed);
        }
    }
}

fn report_oom_and_exit() -> ! {
    crate::job::write_reply_if_first(OOM_REPLY_FD.load(Ordering::Relaxed), &OOM_REPLY_FRAME);
    // SAFETY: `_exit` ends the process without running destructors or allocating.
    unsafe { libc::_exit(2) }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches only atomics and never allocates.
unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::on_alloc(layout.size());
        // SAFETY: forwarded from the caller, who upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::on_alloc(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::on_dealloc(layout.size());
        // SAFETY: `ptr` was allocated by `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            Self::on_alloc(new_size - layout.size());
        } else {
            Self::on_dealloc(layout.size() - new_size);
        }
        // SAFETY: forwarded from the caller, who upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting from zero with `limit` bytes allowed (`None`: count only). On overrun the
/// OOM reply goes to `reply_fd`. Call in the job process only.
pub fn start_tracking(limit: Option<u64>, reply_fd: i32) {
    CURRENT.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    LIMIT.store(limit.unwrap_or(u64::MAX), Ordering::SeqCst);
    OOM_REPLY_FD.store(reply_fd, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
}

/// Stops counting and returns the peak number of bytes allocated since [`start_tracking`].
pub fn end_tracking() -> u64 {
    TRACKING.store(false, Ordering::SeqCst);
    PEAK.load(Ordering::SeqCst).max(0) as u64
}

/// Whether this binary's global allocator is the [`TrackingAllocator`]; without it memory
/// limits cannot be enforced.
pub fn is_installed() -> bool {
    let was = TRACKING.swap(true, Ordering::SeqCst);
    let before = CURRENT.load(Ordering::SeqCst);
    let probe = std::hint::black_box(Box::new([0u8; 64]));
    let counted = CURRENT.load(Ordering::SeqCst) != before;
    drop(probe);
    TRACKING.store(was, Ordering::SeqCst);
    counted
}
