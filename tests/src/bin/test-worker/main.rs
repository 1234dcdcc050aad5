//! The worker binary the integration tests spawn: the production worker entry point with the
//! tracking allocator installed, plus, behind the `attack-jobs` feature, test-only job kinds
//! that try to escape the sandbox, in both prepare and execute job processes. The attack code
//! lives only in this binary: `pvf` and `pvf-worker` never link it.

#[cfg(feature = "attack-jobs")]
mod attacks;

#[global_allocator]
static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    #[cfg(feature = "attack-jobs")]
    let (prepare_job, execute_job): (pvf_worker::PrepareJobFn, pvf_worker::ExecuteJobFn) =
        (attacks::prepare_job, attacks::execute_job);
    #[cfg(not(feature = "attack-jobs"))]
    let (prepare_job, execute_job): (pvf_worker::PrepareJobFn, pvf_worker::ExecuteJobFn) = (
        pvf_worker::prepare::compile_job,
        pvf_worker::execute::validate_block_on_big_stack,
    );
    pvf_worker::entrypoint::run_with(&args, prepare_job, execute_job)
}
