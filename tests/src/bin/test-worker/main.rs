//! The worker binary the integration tests spawn: the production worker entry point with the
//! tracking allocator installed, plus, behind the `attack-jobs` feature, test-only job kinds
//! that try to escape the sandbox, in both prepare and execute job processes, and a garbage
//! mode (`test-worker garbage …`) that answers the host with garbage. The attack code lives
//! only in this binary: `pvf` and `pvf-worker` never link it.

#[cfg(feature = "attack-jobs")]
mod attacks;
mod garbage;

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
    // The chaos suite simulates a full disk with RLIMIT_FSIZE: a write past it must fail
    // with EFBIG, as a write to a full disk fails with ENOSPC, instead of killing the worker.
    // SAFETY: setting a signal's disposition to "ignore" has no handler to be unsafe in.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let normal = |args: &[String]| pvf_worker::entrypoint::run_with(args, prepare_job, execute_job);
    match args.split_first() {
        Some((mode, rest)) if mode == "garbage" => garbage::run(rest, normal),
        _ => normal(&args),
    }
}
