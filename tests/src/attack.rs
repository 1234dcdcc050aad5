//! The protocol of the test-only attack jobs: what the test asks a sandboxed job to try, and
//! what the job reports.
//!
//! Prepare flavour: a test sends `ATTACK_MAGIC ++ SCALE(Attack)` as the "code" of a PVF. The
//! test worker recognises the prefix, performs the attack inside the real, sandboxed prepare
//! job process, and returns `SCALE(AttackOutcome)` as the "artifact", which the host stores
//! like any other: the test reads it back from the artifact file. A job killed by seccomp
//! never reports; the host answers `JobDied { "received signal: SIGSYS" }` instead.
//!
//! Execute flavour: a test executes a valid PVF with `ATTACK_MAGIC ++ SCALE(Attack)` as the
//! (uncompressed) block data of the PoV. The test worker's execute job performs the attack
//! inside the real, sandboxed execute job process and answers an invalid candidate whose
//! message is [`ATTACK_OUTCOME_PREFIX`]` ++ hex(SCALE(AttackOutcome))`. A job killed by seccomp
//! makes the host answer `AmbiguousJobDeath("received signal: SIGSYS")`.

use parity_scale_codec::{Decode, Encode};

/// Prefix that turns a PVF blob into an attack request (test worker only).
pub const ATTACK_MAGIC: &[u8] = b"pvf-tests-attack\0";

/// Prefix of the invalid-candidate message that carries an execute job's [`AttackOutcome`],
/// hex-encoded.
pub const ATTACK_OUTCOME_PREFIX: &str = "attack-outcome:";

/// Something a hijacked job might try.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum Attack {
    /// Read a file by absolute path.
    ReadFile(String),
    /// List the entries of `/`.
    ListRoot,
    /// Create a new file.
    CreateFile(String),
    /// Open an existing file for writing and write to it.
    WriteFile(String),
    /// `socket(AF_INET, SOCK_STREAM)`.
    SocketInet,
    /// `socket(AF_UNIX, SOCK_STREAM)`.
    SocketUnix,
    /// TCP connect to `addr`.
    Connect(String),
    /// `io_uring_setup`.
    IoUringSetup,
    /// `execve("/bin/sh")`.
    Execve,
    /// `ptrace(PTRACE_ATTACH, pid)`.
    Ptrace(i32),
    /// `kill(pid, SIGKILL)`.
    Kill(i32),
    /// Open `/proc/<pid>/mem`.
    OpenProcMem(i32),
    /// `umount2("/", MNT_DETACH)`: uncover or drop the mounts later jobs share.
    UmountRoot,
    /// `mount_setattr("/")` clearing read-only: make the shared root writable.
    MountSetattrWritable,
}

/// What happened when the job tried.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum AttackOutcome {
    /// The kernel refused with this errno.
    Denied {
        /// The errno.
        errno: i32,
    },
    /// The attack worked; the text says what the job got.
    Succeeded(String),
}

/// The blob that asks for `attack`.
pub fn attack_blob(attack: &Attack) -> Vec<u8> {
    let mut blob = ATTACK_MAGIC.to_vec();
    attack.encode_to(&mut blob);
    blob
}
