//! `JobFailure`: how a job process failed, in a vocabulary of its own, shared by every kind
//! of job.
//!
//! A worker runs each job in a child process, which answers with one frame on a pipe:
//! `Result<T, JobFailure>`. `T` is the job's own result (a prepare job sends
//! `Result<CompiledArtifact, PrepareError>`, an execute job `Result<JobResponse, String>`);
//! `JobFailure` says why there is no such result. Each worker then maps a failure to its own
//! reply to the host, so a new prepare verdict never changes what an execute job means.
//!
//! The codec indices are pinned: a job process's CPU-time monitor and out-of-memory hook send
//! [`TIMED_OUT_REPLY_FRAME`] and [`OUT_OF_MEMORY_REPLY_FRAME`], pre-encoded because they can
//! neither allocate nor lock.

use parity_scale_codec::{Decode, Encode};

/// Why a job produced no result of its own.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum JobFailure {
    /// The job exceeded its CPU-time limit: its monitor said so, or the worker measured it.
    #[codec(index = 0)]
    #[error("job timed out")]
    TimedOut,
    /// The job allocated more than its memory limit; its allocator's hook said so.
    #[codec(index = 1)]
    #[error("job out of memory")]
    OutOfMemory,
    /// The job gave no valid answer: it panicked (the message starts with `panic:`), or its
    /// process exited without a decodable reply, or with a failure status after a success
    /// reply.
    #[codec(index = 2)]
    #[error("job gave no valid answer: {0}")]
    NoValidAnswer(String),
    /// The job process was killed by a signal (OOM killer, seccomp, an operator).
    #[codec(index = 3)]
    #[error("job with pid {job_pid} died: {err}")]
    Died {
        /// What the wait status said, e.g. "received signal: SIGKILL".
        err: String,
        /// The job's process id.
        job_pid: i32,
    },
    /// A system call around the job failed (pipe, fork, wait, arming the CPU-time monitor), or the
    /// worker refused to fork it (see the message).
    #[codec(index = 4)]
    #[error("error interfacing with the kernel: {0}")]
    Kernel(String),
}

/// `Err(failure)` of any `Result<T, JobFailure>` as a job-pipe frame, for a failure without
/// fields: the 8-byte little-endian length 2, the `Result::Err` tag 1, the variant's index.
const fn fieldless_failure_frame(index: u8) -> [u8; 10] {
    [2, 0, 0, 0, 0, 0, 0, 0, 1, index]
}

/// The job reply `Err(JobFailure::TimedOut)` as a frame, sent by a job's CPU-time monitor.
pub const TIMED_OUT_REPLY_FRAME: [u8; 10] = fieldless_failure_frame(0);

/// The job reply `Err(JobFailure::OutOfMemory)` as a frame, sent by a job's allocator hook.
pub const OUT_OF_MEMORY_REPLY_FRAME: [u8; 10] = fieldless_failure_frame(1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::encode_frame;

    /// Every variant with its pinned wire bytes; adding a variant without a row fails the
    /// exhaustive match below.
    #[test]
    fn wire_indices_are_pinned() {
        use JobFailure::*;
        let s = || "x".to_string();
        let cases = [
            (TimedOut, "00"),
            (OutOfMemory, "01"),
            (NoValidAnswer(s()), "020478"),
            (
                Died {
                    err: s(),
                    job_pid: 7,
                },
                "03047807000000",
            ),
            (Kernel(s()), "040478"),
        ];
        for (failure, golden) in cases {
            match failure {
                TimedOut | OutOfMemory | NoValidAnswer(_) | Died { .. } | Kernel(_) => {}
            }
            assert_eq!(hex::encode(failure.encode()), golden, "{failure:?}");
            assert_eq!(
                JobFailure::decode(&mut &failure.encode()[..]).unwrap(),
                failure
            );
        }
    }

    #[test]
    fn pre_encoded_frames_match_the_real_encoding_whatever_the_result_type() {
        let timed_out: Result<Vec<u8>, JobFailure> = Err(JobFailure::TimedOut);
        assert_eq!(encode_frame(&timed_out), TIMED_OUT_REPLY_FRAME);
        let oom: Result<(), JobFailure> = Err(JobFailure::OutOfMemory);
        assert_eq!(encode_frame(&oom), OUT_OF_MEMORY_REPLY_FRAME);
    }
}
