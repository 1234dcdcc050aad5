//! seccomp: the system calls a worker and its jobs may never make.
//!
//! A default-allow filter with a deny-list, as the reference has, because a PVF compiler and
//! runtime need a wide and version-dependent set of calls (mmap, futex, clock_gettime, …) while
//! the dangerous ones are few and stable. The action is `KillProcess`, in tests as in
//! production: a violation shows up as a job killed by `SIGSYS`, which the host reports as
//! `JobDied`.
//!
//! The filter is installed in the single-threaded worker after the change-root step, so every
//! job process inherits it, and `mount`/`pivot_root` can be denied outright. The worker's
//! connection to the host was made before, so denying `socket`/`connect` does not cut it.

use crate::SecurityError;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use std::collections::BTreeMap;

/// One denied system call and why.
#[derive(Clone, Copy, Debug)]
pub struct DeniedSyscall {
    /// The syscall's name (for reports and tests).
    pub name: &'static str,
    /// Its number on this architecture.
    pub number: i64,
    /// What it would let a hijacked job do.
    pub reason: &'static str,
}

macro_rules! denied {
    ($($name:ident => $reason:literal),* $(,)?) => {
        &[$(DeniedSyscall { name: stringify!($name), number: paste_sys!($name), reason: $reason }),*]
    };
}

macro_rules! paste_sys {
    (socket) => {
        libc::SYS_socket
    };
    (socketpair) => {
        libc::SYS_socketpair
    };
    (connect) => {
        libc::SYS_connect
    };
    (io_uring_setup) => {
        libc::SYS_io_uring_setup
    };
    (io_uring_enter) => {
        libc::SYS_io_uring_enter
    };
    (io_uring_register) => {
        libc::SYS_io_uring_register
    };
    (execve) => {
        libc::SYS_execve
    };
    (execveat) => {
        libc::SYS_execveat
    };
    (ptrace) => {
        libc::SYS_ptrace
    };
    (process_vm_readv) => {
        libc::SYS_process_vm_readv
    };
    (process_vm_writev) => {
        libc::SYS_process_vm_writev
    };
    (bpf) => {
        libc::SYS_bpf
    };
    (userfaultfd) => {
        libc::SYS_userfaultfd
    };
    (perf_event_open) => {
        libc::SYS_perf_event_open
    };
    (keyctl) => {
        libc::SYS_keyctl
    };
    (add_key) => {
        libc::SYS_add_key
    };
    (request_key) => {
        libc::SYS_request_key
    };
    (mount) => {
        libc::SYS_mount
    };
    (open_tree) => {
        libc::SYS_open_tree
    };
    (move_mount) => {
        libc::SYS_move_mount
    };
    (fsopen) => {
        libc::SYS_fsopen
    };
    (fsconfig) => {
        libc::SYS_fsconfig
    };
    (fsmount) => {
        libc::SYS_fsmount
    };
    (fspick) => {
        libc::SYS_fspick
    };
    (mount_setattr) => {
        libc::SYS_mount_setattr
    };
    (umount2) => {
        libc::SYS_umount2
    };
    (pivot_root) => {
        libc::SYS_pivot_root
    };
    (setns) => {
        libc::SYS_setns
    };
    (unshare) => {
        libc::SYS_unshare
    };
}

/// The deny-list: the reference's networking and io_uring calls, plus process, kernel-attack
/// surface and namespace calls that a compiler or a wasm runtime never needs.
pub const DENIED_SYSCALLS: &[DeniedSyscall] = denied![
    socket => "opens network (and unix) sockets",
    socketpair => "opens connected socket pairs",
    connect => "connects sockets, e.g. to the validator's RPC or other hosts",
    io_uring_setup => "io_uring performs I/O that bypasses seccomp's view of syscalls",
    io_uring_enter => "io_uring performs I/O that bypasses seccomp's view of syscalls",
    io_uring_register => "io_uring performs I/O that bypasses seccomp's view of syscalls",
    execve => "runs another program outside the wasm runtime",
    execveat => "runs another program outside the wasm runtime",
    ptrace => "attaches to and controls other processes",
    process_vm_readv => "reads another process's memory",
    process_vm_writev => "writes another process's memory",
    bpf => "loads kernel programs: large kernel attack surface",
    userfaultfd => "a common kernel-exploit primitive",
    perf_event_open => "kernel attack surface and side channels",
    keyctl => "reaches the kernel keyrings",
    add_key => "reaches the kernel keyrings",
    request_key => "reaches the kernel keyrings",
    mount => "changes the file-system view set up by change-root",
    umount2 => "uncovers what change-root hid",
    pivot_root => "changes the root set up by change-root",
    open_tree => "the new mount API: detaches or clones mounts",
    move_mount => "the new mount API: attaches mounts",
    fsopen => "the new mount API: creates a file system to mount",
    fsconfig => "the new mount API: configures a file system to mount",
    fsmount => "the new mount API: makes a mount from a file system",
    fspick => "the new mount API: reconfigures a mounted file system",
    mount_setattr => "changes mount flags, e.g. read-only, set up by change-root",
    setns => "enters other namespaces",
    unshare => "creates namespaces to regain capabilities",
];

fn target_arch() -> Result<TargetArch, SecurityError> {
    if cfg!(target_arch = "x86_64") {
        Ok(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Ok(TargetArch::aarch64)
    } else {
        Err(SecurityError::step(
            "seccomp",
            "unsupported architecture",
            std::io::Error::other("only x86_64 and aarch64"),
        ))
    }
}

/// Compiles the deny-list into a BPF program for this architecture.
pub fn program() -> Result<BpfProgram, SecurityError> {
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = DENIED_SYSCALLS
        .iter()
        .map(|s| (s.number, Vec::new()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::KillProcess,
        target_arch()?,
    )
    .map_err(|e| {
        SecurityError::step(
            "seccomp",
            "build filter",
            std::io::Error::other(e.to_string()),
        )
    })?;
    BpfProgram::try_from(filter).map_err(|e| {
        SecurityError::step(
            "seccomp",
            "compile filter",
            std::io::Error::other(e.to_string()),
        )
    })
}

/// Installs the filter on the calling thread (and so on every process it forks). Requires
/// `PR_SET_NO_NEW_PRIVS` (see [`crate::set_no_new_privs`]).
pub fn enable() -> Result<(), SecurityError> {
    let program = program()?;
    seccompiler::apply_filter(&program).map_err(|e| {
        SecurityError::step(
            "seccomp",
            "install filter",
            std::io::Error::other(e.to_string()),
        )
    })?;
    verify_installed()
}

/// Reads `Seccomp:` from `/proc/thread-self/status`: 2 means a filter is active. Skipped
/// silently when `/proc` is not visible (after change-root), where installation already
/// returned success.
fn verify_installed() -> Result<(), SecurityError> {
    let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else {
        return Ok(());
    };
    match status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
    {
        Some("2") | None => Ok(()),
        Some(mode) => Err(SecurityError::step(
            "seccomp",
            "verify filter",
            std::io::Error::other(format!("kernel reports seccomp mode {mode}, expected 2")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_list_compiles_and_has_no_duplicates() {
        let mut numbers: Vec<i64> = DENIED_SYSCALLS.iter().map(|s| s.number).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), DENIED_SYSCALLS.len());
        assert!(!program().unwrap().is_empty());
    }
}
