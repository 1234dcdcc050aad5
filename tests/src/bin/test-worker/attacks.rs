//! The attack jobs: run inside the sandboxed job process (prepare or execute) and try one
//! escape each.

use parity_scale_codec::{Decode, Encode};
use pvf_common::{
    MemoryStats, PrepareError, PvfPrepData,
    engine::{CompilationThreads, Semantics},
    execute::{JobResponse, ValidationParams},
};
use pvf_tests::attack::{ATTACK_MAGIC, ATTACK_OUTCOME_PREFIX, Attack, AttackOutcome};
use pvf_worker::prepare::CompiledArtifact;
use std::io::{self, Write};

/// The prepare job body: an attack if the PVF code asks for one, else a normal compilation.
/// The outcome goes back as the "artifact".
pub fn prepare_job(
    pvf: &PvfPrepData,
    threads: CompilationThreads,
    reply_fd: i32,
) -> Result<CompiledArtifact, PrepareError> {
    let code = pvf.maybe_compressed_code();
    let Some(mut request) = code.strip_prefix(ATTACK_MAGIC) else {
        return pvf_worker::prepare::compile_job(pvf, threads, reply_fd);
    };
    let attack = Attack::decode(&mut request)
        .map_err(|e| PrepareError::JobError(format!("bad attack: {e}")))?;
    let outcome = perform(&attack);
    Ok(CompiledArtifact {
        bytes: outcome.encode(),
        observed_wasm_code_len: 0,
        memory_stats: MemoryStats::default(),
    })
}

/// The execute job body: an attack if the candidate's block data asks for one, else the
/// production `validate_block`. The outcome goes back as an invalid-candidate message,
/// `ATTACK_OUTCOME_PREFIX ++ hex(SCALE(AttackOutcome))`, the one free-text answer that
/// travels unchanged from the job to the caller of `execute_pvf`.
pub fn execute_job(
    engine: &wasmtime::Engine,
    artifact: &pvf_worker::execute::LoadedArtifact,
    semantics: &Semantics,
    params: &ValidationParams,
    logging: bool,
) -> Result<JobResponse, String> {
    let Some(mut request) = params.block_data.0.strip_prefix(ATTACK_MAGIC) else {
        return pvf_worker::execute::validate_block_on_big_stack(
            engine, artifact, semantics, params, logging,
        );
    };
    let attack = Attack::decode(&mut request).map_err(|e| format!("bad attack: {e}"))?;
    let outcome = perform(&attack);
    Ok(JobResponse::InvalidCandidate(format!(
        "{ATTACK_OUTCOME_PREFIX}{}",
        hex::encode(outcome.encode())
    )))
}

fn outcome_of<T>(result: io::Result<T>, success: impl FnOnce(T) -> String) -> AttackOutcome {
    match result {
        Ok(value) => AttackOutcome::Succeeded(success(value)),
        Err(e) => AttackOutcome::Denied {
            errno: e.raw_os_error().unwrap_or(-1),
        },
    }
}

fn syscall_outcome(ret: i64, what: &str) -> AttackOutcome {
    if ret < 0 {
        AttackOutcome::Denied {
            errno: io::Error::last_os_error().raw_os_error().unwrap_or(-1),
        }
    } else {
        AttackOutcome::Succeeded(format!("{what} returned {ret}"))
    }
}

fn perform(attack: &Attack) -> AttackOutcome {
    match attack {
        Attack::ReadFile(path) => {
            outcome_of(std::fs::read(path), |b| format!("read {} bytes", b.len()))
        }
        Attack::ListRoot => outcome_of(
            std::fs::read_dir("/").and_then(|dir| {
                dir.map(|e| e.map(|e| e.file_name()))
                    .collect::<io::Result<Vec<_>>>()
            }),
            |names| format!("listed {names:?}"),
        ),
        Attack::CreateFile(path) => outcome_of(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path),
            |_| format!("created {path}"),
        ),
        Attack::WriteFile(path) => outcome_of(
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(b"pwned")),
            |_| format!("wrote {path}"),
        ),
        Attack::SocketInet => {
            // SAFETY: plain socket call with constant arguments.
            syscall_outcome(
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) }.into(),
                "socket(AF_INET)",
            )
        }
        Attack::SocketUnix => {
            // SAFETY: plain socket call with constant arguments.
            syscall_outcome(
                unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) }.into(),
                "socket(AF_UNIX)",
            )
        }
        Attack::Connect(addr) => outcome_of(std::net::TcpStream::connect(addr), |_| {
            format!("connected to {addr}")
        }),
        Attack::UmountRoot => {
            // SAFETY: umount2 with a NUL-terminated path and integer flags.
            syscall_outcome(
                unsafe { libc::syscall(libc::SYS_umount2, c"/".as_ptr(), libc::MNT_DETACH) },
                "umount2",
            )
        }
        Attack::MountSetattrWritable => {
            // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }: clear RDONLY.
            const MOUNT_ATTR_RDONLY: u64 = 0x1;
            let attr: [u64; 4] = [0, MOUNT_ATTR_RDONLY, 0, 0];
            // SAFETY: mount_setattr(dirfd, path, flags, attr, size) with a live 32-byte struct.
            syscall_outcome(
                unsafe {
                    libc::syscall(
                        libc::SYS_mount_setattr,
                        libc::AT_FDCWD,
                        c"/".as_ptr(),
                        0,
                        attr.as_ptr(),
                        std::mem::size_of_val(&attr),
                    )
                },
                "mount_setattr",
            )
        }
        Attack::IoUringSetup => {
            let mut params = [0u8; 120];
            // SAFETY: io_uring_setup(entries, params) with a zeroed, large-enough params struct.
            syscall_outcome(
                unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) },
                "io_uring_setup",
            )
        }
        Attack::Execve => {
            let sh = c"/bin/sh";
            let argv = [
                sh.as_ptr(),
                c"-c".as_ptr(),
                c"true".as_ptr(),
                std::ptr::null(),
            ];
            // SAFETY: NUL-terminated strings and a NULL-terminated argv; returns only on failure.
            syscall_outcome(
                unsafe { libc::execv(sh.as_ptr(), argv.as_ptr()) }.into(),
                "execv",
            )
        }
        Attack::Ptrace(pid) => {
            // SAFETY: ptrace with integer arguments.
            syscall_outcome(
                unsafe { libc::ptrace(libc::PTRACE_ATTACH, *pid, 0, 0) },
                "ptrace(PTRACE_ATTACH)",
            )
        }
        Attack::Kill(pid) => {
            // SAFETY: kill with integer arguments.
            syscall_outcome(unsafe { libc::kill(*pid, libc::SIGKILL) }.into(), "kill")
        }
        Attack::OpenProcMem(pid) => {
            outcome_of(std::fs::File::open(format!("/proc/{pid}/mem")), |_| {
                format!("opened /proc/{pid}/mem")
            })
        }
    }
}
