//! The CPU-time limit of a job, enforced from inside the job process.
//!
//! CPU time, unlike wall-clock time, barely depends on machine load, so the limit means the
//! same on a busy validator as on an idle one. The worker double-checks with `getrusage` after
//! the job ends and the host keeps a wall-clock backstop.

use std::time::Duration;

/// Slack added to each sleep so that the monitor wakes just after the limit, not before.
pub const JOB_TIMEOUT_OVERHEAD: Duration = Duration::from_millis(50);

/// CPU time (user + system, all threads) consumed by this process so far.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Spawns a thread that calls `on_timeout` once the process has used `limit` of CPU time,
/// counted over all its threads: a parallel compilation spends its budget faster, it does not
/// get a bigger one. The thread sleeps, rather than spins, between checks; each sleep assumes
/// every core burns CPU time, so the monitor never wakes late by more than the overhead.
pub fn spawn(limit: Duration, on_timeout: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    std::thread::Builder::new()
        .name("cpu-time-monitor".into())
        .spawn(move || {
            loop {
                let used = process_cpu_time();
                if used >= limit {
                    on_timeout();
                    return;
                }
                std::thread::sleep((limit - used) / cores + JOB_TIMEOUT_OVERHEAD);
            }
        })?;
    Ok(())
}
