//! `PrepareError`: the verdict vocabulary of preparation.
//!
//! The codec indices are pinned: pre-checking votes derive from these values. How a job
//! process failed is not spelt here but in [`crate::job::JobFailure`], which the prepare
//! worker maps to these verdicts.

use crate::prepare::PrepareWorkerSuccess;
use parity_scale_codec::{Decode, Encode};

/// What a prepare worker sends back for one job.
pub type PrepareWorkerResult = Result<PrepareWorkerSuccess, PrepareError>;
/// The outcome of a pre-check: `Ok` means the PVF compiled (and instantiated).
pub type PrecheckResult = Result<(), PrepareError>;
/// The outcome of a preparation as seen by the host's caller.
pub type PrepareResult = Result<crate::prepare::PrepareSuccess, PrepareError>;

/// Why a preparation failed. Each variant says who reports it, whether it is deterministic
/// (the same PVF fails the same way on every honest validator), what happens to the worker and
/// whether the host retries.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum PrepareError {
    /// The blob is not a wasm module the parser accepts. Reported by the job; deterministic;
    /// worker kept; never retried.
    #[codec(index = 0)]
    #[error("prepare: prevalidation error: {0}")]
    Prevalidation(String),
    /// Instrumentation or wasmtime compilation failed. Reported by the job; deterministic;
    /// worker kept; never retried.
    #[codec(index = 1)]
    #[error("prepare: preparation error: {0}")]
    Preparation(String),
    /// The compiled artifact could not be instantiated while pre-checking (e.g. an import with
    /// the wrong signature). Reported by the job; not deterministic (could be local); worker
    /// kept; retried after the cooldown for execution requests.
    #[codec(index = 2)]
    #[error("prepare: runtime construction: {0}")]
    RuntimeConstruction(String),
    /// The job panicked or answered nonsense. Reported by the worker; deterministic; worker
    /// kept; never retried.
    #[codec(index = 3)]
    #[error("prepare: job error: {0}")]
    JobError(String),
    /// The job exceeded its CPU-time limit, or the host's wall-clock limit. Reported by the job,
    /// worker or host; not deterministic; worker killed; retried after the cooldown.
    #[codec(index = 4)]
    #[error("prepare: timeout")]
    TimedOut,
    /// Talking to the worker failed (it probably died). Reported by the host or worker; not
    /// deterministic; worker killed; retried after the cooldown.
    #[codec(index = 5)]
    #[error("prepare: io error while receiving response: {0}")]
    IoErr(String),
    /// The host could not create the worker's `tmp-artifact` file. Reported by the host; not
    /// deterministic; worker kept; retried after the cooldown. Check the cache dir's disk.
    #[codec(index = 6)]
    #[error("prepare: error creating tmp file: {0}")]
    CreateTmpFile(String),
    /// The host could not move the finished artifact into the cache dir. Reported by the host;
    /// not deterministic; worker kept; retried after the cooldown. Check that the cache dir is
    /// writable and has space.
    #[codec(index = 7)]
    #[error("prepare: error renaming tmp file ({src:?} -> {dest:?}): {err}")]
    RenameTmpFile {
        /// The OS error.
        err: String,
        /// The tmp file, if the path is valid UTF-8.
        src: Option<String>,
        /// The intended artifact path, if valid UTF-8.
        dest: Option<String>,
    },
    /// The job allocated more than `PrecheckingMaxMemory`. Reported by the job's allocator;
    /// deterministic; worker killed; never retried.
    #[codec(index = 8)]
    #[error("prepare: out of memory")]
    OutOfMemory,
    /// The host could not empty the worker dir after a job, so the next job could see this
    /// one's data. Reported by the host; not deterministic; worker killed; retried later.
    #[codec(index = 9)]
    #[error("prepare: error clearing worker cache: {0}")]
    ClearWorkerDir(String),
    /// The job process was killed by a signal (OOM killer, seccomp, an operator). Reported by
    /// the worker; not deterministic; worker killed; retried after the cooldown.
    #[codec(index = 10)]
    #[error("prepare: prepare job with pid {job_pid} died: {err}")]
    JobDied {
        /// What the wait status said, e.g. "received signal: SIGKILL".
        err: String,
        /// The job's process id.
        job_pid: i32,
    },
    /// A system call failed in the worker (fork, pipe, wait). Reported by the worker; not
    /// deterministic; worker kept; retried after the cooldown.
    #[codec(index = 11)]
    #[error("prepare: error interfacing with the kernel: {0}")]
    Kernel(String),
    /// The code blob failed to decompress, or would exceed the bomb limit. Reported by the job;
    /// deterministic; worker kept; never retried.
    #[codec(index = 12)]
    #[error("prepare: could not decompress code blob: {0}")]
    CouldNotDecompressCodeBlob(String),
}

impl PrepareError {
    /// The variant's name, e.g. `"Prevalidation"`: how verdict tables and the CLI spell it.
    pub fn variant_name(&self) -> &'static str {
        use PrepareError::*;
        match self {
            Prevalidation(_) => "Prevalidation",
            Preparation(_) => "Preparation",
            RuntimeConstruction(_) => "RuntimeConstruction",
            JobError(_) => "JobError",
            TimedOut => "TimedOut",
            IoErr(_) => "IoErr",
            CreateTmpFile(_) => "CreateTmpFile",
            RenameTmpFile { .. } => "RenameTmpFile",
            OutOfMemory => "OutOfMemory",
            ClearWorkerDir(_) => "ClearWorkerDir",
            JobDied { .. } => "JobDied",
            Kernel(_) => "Kernel",
            CouldNotDecompressCodeBlob(_) => "CouldNotDecompressCodeBlob",
        }
    }

    /// Whether every honest validator would see the same error for this PVF. Deterministic
    /// errors are final; the others may be transient and can be retried.
    pub fn is_deterministic(&self) -> bool {
        use PrepareError::*;
        match self {
            Prevalidation(_)
            | Preparation(_)
            | JobError(_)
            | OutOfMemory
            | CouldNotDecompressCodeBlob(_) => true,
            IoErr(_)
            | JobDied { .. }
            | CreateTmpFile(_)
            | RenameTmpFile { .. }
            | ClearWorkerDir(_)
            | Kernel(_) => false,
            // The PVF may be slow, or the machine may be loaded.
            TimedOut => false,
            // The PVF may be at fault, or something local.
            RuntimeConstruction(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant with its pinned wire bytes; adding a variant without a row fails the
    /// exhaustive match below.
    #[test]
    fn wire_indices_are_pinned() {
        use PrepareError::*;
        let s = || "x".to_string();
        let cases = [
            (Prevalidation(s()), "000478"),
            (Preparation(s()), "010478"),
            (RuntimeConstruction(s()), "020478"),
            (JobError(s()), "030478"),
            (TimedOut, "04"),
            (IoErr(s()), "050478"),
            (CreateTmpFile(s()), "060478"),
            (
                RenameTmpFile {
                    err: s(),
                    src: None,
                    dest: Some(s()),
                },
                "07047800010478",
            ),
            (OutOfMemory, "08"),
            (ClearWorkerDir(s()), "090478"),
            (
                JobDied {
                    err: s(),
                    job_pid: 7,
                },
                "0a047807000000",
            ),
            (Kernel(s()), "0b0478"),
            (CouldNotDecompressCodeBlob(s()), "0c0478"),
        ];
        for (err, golden) in cases {
            match err {
                Prevalidation(_)
                | Preparation(_)
                | RuntimeConstruction(_)
                | JobError(_)
                | TimedOut
                | IoErr(_)
                | CreateTmpFile(_)
                | RenameTmpFile { .. }
                | OutOfMemory
                | ClearWorkerDir(_)
                | JobDied { .. }
                | Kernel(_)
                | CouldNotDecompressCodeBlob(_) => {}
            }
            assert_eq!(hex::encode(err.encode()), golden, "{err:?}");
            assert_eq!(PrepareError::decode(&mut &err.encode()[..]).unwrap(), err);
        }
    }

    #[test]
    fn determinism_classification_matches_the_reference() {
        use PrepareError::*;
        let s = String::new;
        for e in [
            Prevalidation(s()),
            Preparation(s()),
            JobError(s()),
            OutOfMemory,
        ] {
            assert!(e.is_deterministic(), "{e:?}");
        }
        assert!(CouldNotDecompressCodeBlob(s()).is_deterministic());
        for e in [
            TimedOut,
            RuntimeConstruction(s()),
            IoErr(s()),
            Kernel(s()),
            CreateTmpFile(s()),
        ] {
            assert!(!e.is_deterministic(), "{e:?}");
        }
        assert!(
            !JobDied {
                err: s(),
                job_pid: 1
            }
            .is_deterministic()
        );
        assert!(!ClearWorkerDir(s()).is_deterministic());
    }
}
