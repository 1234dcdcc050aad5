//! The worker binary the integration tests spawn: the production worker entry point with the
//! tracking allocator installed, plus, behind the `attack-jobs` feature, test-only job kinds
//! that try to escape the sandbox, in both prepare and execute job processes, a garbage mode
//! (`test-worker garbage …`) that answers the host with garbage, and an extra-thread mode
//! (`test-worker extra-thread …`) whose workers break the single-thread rule, and a mode
//! (`test-worker other-version V …`) that poses as another build. The test code
//! lives only in this binary: `pvf` and `pvf-worker` never link it.

#[cfg(feature = "attack-jobs")]
mod attacks;
mod garbage;

use pvf_worker::WorkerBodies;

#[global_allocator]
static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;

/// The mode whose workers start a parked thread after the sandbox, before their first job
/// (tests/tests/it/worker_threads.rs).
const EXTRA_THREAD_MODE: &str = "extra-thread";

/// The mode whose worker reports version `V` (its next argument) instead of this build's, as
/// a binary replaced by an upgrade would (tests/tests/it/version_mismatch.rs).
const OTHER_VERSION_MODE: &str = "other-version";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    #[cfg(feature = "attack-jobs")]
    let bodies = WorkerBodies {
        prepare_job: attacks::prepare_job,
        execute_job: attacks::execute_job,
        ..WorkerBodies::PRODUCTION
    };
    #[cfg(not(feature = "attack-jobs"))]
    let bodies = WorkerBodies::PRODUCTION;
    // The chaos suite simulates a full disk with RLIMIT_FSIZE: a write past it must fail
    // with EFBIG, as a write to a full disk fails with ENOSPC, instead of killing the worker.
    // SAFETY: setting a signal's disposition to "ignore" has no handler to be unsafe in.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let normal = |args: &[String]| pvf_worker::entrypoint::run_with(args, bodies);
    match args.split_first() {
        Some((mode, rest)) if mode == "garbage" => garbage::run(rest, normal),
        Some((mode, rest)) if mode == EXTRA_THREAD_MODE => {
            let bodies = WorkerBodies {
                before_first_job: start_parked_thread,
                ..bodies
            };
            pvf_worker::entrypoint::run_with(rest, bodies)
        }
        Some((mode, rest)) if mode == OTHER_VERSION_MODE && !rest.is_empty() => {
            let bodies = WorkerBodies {
                version: String::leak(rest[0].clone()),
                ..bodies
            };
            pvf_worker::entrypoint::run_with(&rest[1..], bodies)
        }
        _ => normal(&args),
    }
}

/// Starts a thread that parks for the rest of the worker's life. After the sandbox, because
/// unsharing a user namespace needs a single-threaded process.
fn start_parked_thread() {
    std::thread::spawn(|| {
        loop {
            std::thread::park();
        }
    });
}
