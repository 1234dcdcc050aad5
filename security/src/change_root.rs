//! Change-root: the worker dir becomes the whole visible file system.
//!
//! Steps, in this order (each failure names its step):
//! 1. `unshare(CLONE_NEWUSER | CLONE_NEWNS)`: a private mount namespace, which an unprivileged
//!    process may create inside its own user namespace;
//! 2. remount `/` recursively private, so nothing below propagates back to the host;
//! 3. bind-mount the worker dir onto itself, then remount it `nosuid,nodev,noexec` (and
//!    read-only for execute workers): a bind mount ignores those flags until remounted. The
//!    atime mode is kept as it is: inside a user namespace the kernel locks it, and changing it
//!    fails with `EPERM`;
//! 4. `chdir` into it and `pivot_root(".", ".")`: the new root is stacked on the old one;
//! 5. detach-unmount the old root, which is now on top of `.`;
//! 6. verify: the cwd is `/` and `..` resolves to `/`.
//!
//! Must run while the process is single-threaded (a user namespace cannot be unshared
//! otherwise).

use crate::{SecurityError, WorkerKind};
use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::{CloneFlags, unshare},
    unistd::{chdir, pivot_root},
};
use std::path::Path;

fn step(what: &'static str) -> impl FnOnce(nix::Error) -> SecurityError {
    move |e| SecurityError::step("change-root", what, std::io::Error::from(e))
}

/// Isolates the calling process's view of the file system to `worker_dir`, which becomes `/`.
pub fn enable(kind: WorkerKind, worker_dir: &Path) -> Result<(), SecurityError> {
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .map_err(step("unshare user and mount namespaces"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(step("make / private"))?;
    mount(
        Some(worker_dir),
        worker_dir,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(step("bind-mount the worker dir"))?;
    let mut flags = MsFlags::MS_REMOUNT
        | MsFlags::MS_BIND
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    flags |= locked_atime_flags(worker_dir)?;
    if kind == WorkerKind::Execute {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, worker_dir, None::<&str>, flags, None::<&str>)
        .map_err(step("remount the worker dir"))?;
    chdir(worker_dir).map_err(step("chdir into the worker dir"))?;
    pivot_root(".", ".").map_err(step("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step("detach the old root"))?;
    verify()
}

/// The atime flags the mount already has; a remount in a user namespace must repeat them.
fn locked_atime_flags(dir: &Path) -> Result<MsFlags, SecurityError> {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let current = statvfs(dir)
        .map_err(step("read the worker dir's mount flags"))?
        .flags();
    let mut flags = MsFlags::empty();
    if current.contains(FsFlags::ST_NOATIME) {
        flags |= MsFlags::MS_NOATIME;
    }
    if current.contains(FsFlags::ST_NODIRATIME) {
        flags |= MsFlags::MS_NODIRATIME;
    }
    if current.contains(FsFlags::ST_RELATIME) {
        flags |= MsFlags::MS_RELATIME;
    }
    Ok(flags)
}

fn verify() -> Result<(), SecurityError> {
    let fail = |what: &'static str, detail: String| {
        SecurityError::step("change-root", what, std::io::Error::other(detail))
    };
    let cwd =
        std::env::current_dir().map_err(|e| SecurityError::step("change-root", "read cwd", e))?;
    if cwd != Path::new("/") {
        return Err(fail(
            "verify cwd",
            format!("cwd is {} after pivot_root", cwd.display()),
        ));
    }
    let parent = std::fs::canonicalize("..")
        .map_err(|e| SecurityError::step("change-root", "resolve ..", e))?;
    if parent != Path::new("/") {
        return Err(fail(
            "verify ..",
            format!(".. escapes to {}", parent.display()),
        ));
    }
    Ok(())
}
