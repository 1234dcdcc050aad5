//! Start-up probes: does each layer work on this machine?
//!
//! Each probe applies exactly what the worker will apply, in the process that runs it, so the
//! host runs each in a throw-away worker process (`pvf-worker --check-…`) and reads the exit
//! code. A probe returns `Err(reason)` when the layer does not work.

use crate::{WorkerKind, change_root, clone, landlock, seccomp};
use nix::sys::wait::{WaitStatus, waitpid};
use std::path::Path;

/// A probe that failed, and why.
pub type ProbeResult = Result<(), String>;

/// Enforces the prepare worker's Landlock ruleset (on `/`, the path a worker has after
/// change-root).
pub fn can_enable_landlock() -> ProbeResult {
    crate::set_no_new_privs().map_err(|e| e.to_string())?;
    landlock::enable(WorkerKind::Prepare, Path::new("/")).map_err(|e| e.to_string())
}

/// Installs the seccomp filter, then proves it bites: a forked child calling `socket` must be
/// killed by `SIGSYS`.
pub fn can_enable_seccomp() -> ProbeResult {
    crate::set_no_new_privs().map_err(|e| e.to_string())?;
    seccomp::enable().map_err(|e| e.to_string())?;
    let open_socket = || {
        // SAFETY: a raw socket call; the filter must kill us here.
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        clone::exit_now(0)
    };
    // SAFETY: the probe process is single-threaded.
    let child = unsafe { clone::spawn_job(clone::JobSpawn::Fork, open_socket) }
        .map_err(|e| format!("fork: {e}"))?;
    match waitpid(child, None) {
        Ok(WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGSYS, _)) => Ok(()),
        Ok(other) => Err(format!(
            "a denied syscall was not killed by SIGSYS: {other:?}"
        )),
        Err(e) => Err(format!("waitpid: {e}")),
    }
}

/// Unshares user and mount namespaces and pivots into `dir`, read-only.
pub fn can_unshare_user_namespace_and_change_root(dir: &Path) -> ProbeResult {
    change_root::enable(WorkerKind::Execute, dir).map_err(|e| e.to_string())
}

/// Clones a no-op child into every job namespace (including a user namespace) and reaps it.
pub fn can_do_secure_clone() -> ProbeResult {
    let how = clone::JobSpawn::SecureClone {
        worker_has_user_namespace: false,
        worker_has_network_namespace: false,
        worker_mounts_sealed: false,
    };
    // SAFETY: the probe process is single-threaded.
    let child = unsafe { clone::spawn_job(how, || clone::exit_now(0)) }
        .map_err(|e| format!("clone: {e}"))?;
    match waitpid(child, None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(other) => Err(format!("cloned child ended with {other:?}")),
        Err(e) => Err(format!("waitpid: {e}")),
    }
}

/// Runs every probe, each in its own forked child (they change the process), and returns
/// `(name, result)` per probe.
pub fn all(worker_dir: &Path) -> Vec<(&'static str, ProbeResult)> {
    let probes: [(&'static str, &dyn Fn() -> ProbeResult); 4] = [
        ("landlock", &can_enable_landlock),
        ("seccomp", &can_enable_seccomp),
        ("change-root", &|| {
            can_unshare_user_namespace_and_change_root(worker_dir)
        }),
        ("secure clone", &can_do_secure_clone),
    ];
    probes
        .into_iter()
        .map(|(name, probe)| (name, in_child(probe)))
        .collect()
}

fn in_child(probe: &dyn Fn() -> ProbeResult) -> ProbeResult {
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let run_probe = || {
        let code = match probe() {
            Ok(()) => 0,
            Err(reason) => {
                let _ = nix::unistd::write(&write_end, reason.as_bytes());
                1
            }
        };
        clone::exit_now(code)
    };
    // SAFETY: the probe process is single-threaded.
    let child = unsafe { clone::spawn_job(clone::JobSpawn::Fork, run_probe) }
        .map_err(|e| format!("fork: {e}"))?;
    drop(write_end);
    let mut reason = String::new();
    let _ = std::io::Read::read_to_string(&mut std::fs::File::from(read_end), &mut reason);
    match waitpid(child, None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(WaitStatus::Exited(..)) => Err(reason),
        Ok(other) => Err(format!("probe process ended with {other:?}")),
        Err(e) => Err(format!("waitpid: {e}")),
    }
}
