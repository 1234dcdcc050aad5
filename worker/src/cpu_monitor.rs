//! The CPU-time limit of a job, enforced from inside the job process.
//!
//! CPU time, unlike wall-clock time, barely depends on machine load, so the limit means the
//! same on a busy validator as on an idle one. The worker double-checks with `getrusage` after
//! the job ends and the host keeps a wall-clock backstop.
//!
//! The monitor is the kernel's profiling timer (`ITIMER_PROF`), which counts the CPU time of
//! the whole process, every thread, user and system, exactly like `CLOCK_PROCESS_CPUTIME_ID`:
//! a parallel compilation spends its budget faster, it does not get a bigger one. When it
//! expires the kernel sends `SIGPROF` (within one scheduler tick), and the handler runs
//! `on_timeout`. A monitor thread did the same before, but starting a thread (stack, guard
//! page, glibc arena) and tearing it down cost a job about 0.1 ms, and a multi-threaded job's
//! exit pays for cross-CPU TLB flushes.

use std::time::Duration;

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

/// Calls `on_timeout` from a `SIGPROF` handler once the process has used `limit` of CPU time,
/// counted from its start, as the worker's `getrusage` counts it.
/// `on_timeout` runs in a signal handler: it must only do async-signal-safe things (an atomic
/// swap, `write`, `_exit`) and should end the process. Call once per process, before any
/// other thread starts, so that every thread inherits a signal mask that lets `SIGPROF` in.
pub fn arm(limit: Duration, on_timeout: extern "C" fn(libc::c_int)) -> std::io::Result<()> {
    let last_os_error = || Err(std::io::Error::last_os_error());
    // SAFETY: an all-zero sigaction is a valid value of the plain C struct; the fields set
    // below make it a handler with every signal blocked while it runs.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_timeout as usize;
    // On the alternate stack when the thread has one (wasmtime gives its threads one): the
    // limit may strike a thread whose own stack is nearly used up.
    action.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid sigset_t inside a live local; sigaction reads the
    // struct and installs a handler that is a plain `extern "C" fn`.
    unsafe {
        libc::sigfillset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()) != 0 {
            return last_os_error();
        }
        let mut unblock: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut unblock);
        libc::sigaddset(&mut unblock, libc::SIGPROF);
        if libc::pthread_sigmask(libc::SIG_UNBLOCK, &unblock, std::ptr::null_mut()) != 0 {
            return last_os_error();
        }
    }
    // The timer counts from now. A zero value would disarm it: the least is one microsecond.
    let limit = limit
        .saturating_sub(process_cpu_time())
        .max(Duration::from_micros(1));
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: limit.as_secs() as libc::time_t,
            tv_usec: limit.subsec_micros() as libc::suseconds_t,
        },
    };
    // SAFETY: setitimer reads one itimerval from a live local.
    if unsafe { libc::setitimer(libc::ITIMER_PROF, &timer, std::ptr::null_mut()) } != 0 {
        return last_os_error();
    }
    Ok(())
}
