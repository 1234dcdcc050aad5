//! The worker binary the integration tests spawn: the production worker entry point with the
//! tracking allocator installed, plus, behind the `attack-jobs` feature, a test-only job kind
//! that tries to escape the sandbox. The attack code lives only in this binary: `pvf` and
//! `pvf-worker` never link it.

#[cfg(feature = "attack-jobs")]
mod attacks;

#[global_allocator]
static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    #[cfg(feature = "attack-jobs")]
    let job: pvf_worker::PrepareJobFn = attacks::job;
    #[cfg(not(feature = "attack-jobs"))]
    let job: pvf_worker::PrepareJobFn = pvf_worker::prepare::compile_job;
    pvf_worker::entrypoint::run_with(&args, job)
}
