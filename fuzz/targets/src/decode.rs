//! The decoder targets: every type a process decodes from a less trusted peer.
//!
//! - `host_decode`: what the host reads from workers (`framing::recv`): `PrepareWorkerResult`
//!   (1 MiB frames, host/src/prepare/exchange.rs) and the execute `WorkerResponse` (the
//!   session's linear memory plus 1 MiB, host/src/execute/exchange.rs);
//! - `worker_decode`: what a worker reads from the host (`recv_blocking`): `WorkerHandshake`
//!   and `ExecuteHandshake` (1 MiB), `PvfPrepData` and `ExecuteRequest` (256 MiB);
//! - `job_decode`: what a worker reads from its job process: [`ExecuteJobReply`] (the
//!   session's linear memory plus 1 MiB) and [`PrepareJobReply`] (512 MiB), plus the
//!   `ValidationResult` that the execute job decodes (not exactly) from the PVF's own memory.
//!
//! Byte 0 picks the type, the rest is the payload. Properties ([`check_codec`]): decoding
//! never panics and allocates at most a constant factor of the payload, not what a length
//! prefix announces; whatever decodes re-encodes to exactly the bytes it consumed (SCALE is
//! canonical for these types), `decode_all` succeeds exactly when nothing is left over, and
//! the framed value reads back.

use crate::alloc::measure;
use parity_scale_codec::{Decode, DecodeAll, Encode};
use pvf_common::{
    JobFailure, MemoryStats, PrepareError, PrepareWorkerResult, PvfPrepData, WorkerHandshake,
    execute::{ExecuteHandshake, ExecuteRequest, JobResponse, ValidationResult, WorkerResponse},
    framing,
};
use std::fmt::Debug;

/// The wire shape of `pvf_worker::prepare::CompiledArtifact`, which this crate cannot depend
/// on (the worker crate pulls in the sandbox). Field types and order must match it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CompiledArtifactWire {
    /// The artifact bytes.
    pub bytes: Vec<u8>,
    /// Size of the decompressed wasm.
    pub observed_wasm_code_len: u32,
    /// Memory figures of the job.
    pub memory_stats: MemoryStats,
}

/// What an execute worker reads from its job process (worker/src/execute_worker.rs).
pub type ExecuteJobReply = Result<Result<JobResponse, String>, JobFailure>;

/// What a prepare worker reads from its job process (worker/src/lib.rs).
pub type PrepareJobReply = Result<Result<CompiledArtifactWire, PrepareError>, JobFailure>;

/// Decoded memory may exceed the payload by this factor: an empty `Vec<u8>` is one byte on
/// the wire and 24 in memory, and growing a vector can double its capacity.
const ALLOC_FACTOR: usize = 64;
/// Fixed allowance for error values and small buffers.
const ALLOC_SLACK: usize = 64 * 1024;

/// Decodes `payload` as `T` both exactly and as a prefix, checks the codec properties and
/// returns the exact decoding, if any.
pub fn check_codec<T: Decode + Encode>(payload: &[u8]) -> Option<T> {
    let mut rest = payload;
    let (partial, peak) = measure(|| T::decode(&mut rest));
    let bound = payload.len() * ALLOC_FACTOR + ALLOC_SLACK;
    assert!(
        peak <= bound,
        "decoding {} bytes allocated {peak} bytes (bound {bound})",
        payload.len()
    );
    let exact = T::decode_all(&mut &payload[..]);
    let Ok(value) = partial else {
        assert!(exact.is_err(), "decode_all accepted what decode rejects");
        return None;
    };
    let used = payload.len() - rest.len();
    let encoded = value.encode();
    assert_eq!(
        encoded,
        payload[..used],
        "re-encoding differs from the bytes decoded"
    );
    assert_eq!(value.encoded_size(), used, "encoded_size is wrong");
    assert_eq!(
        exact.is_ok(),
        rest.is_empty(),
        "decode_all vs leftover bytes"
    );
    let frame = framing::encode_frame(&value);
    let reread: T = framing::recv_blocking(&mut &frame[..], used as u64).expect("framed value");
    assert_eq!(
        reread.encode(),
        encoded,
        "the framed value reads back differently"
    );
    exact.ok()
}

/// [`check_codec`] for types with `PartialEq`: the re-decoded value must also be equal.
pub fn check_eq<T: Decode + Encode + PartialEq + Debug>(payload: &[u8]) -> Option<T> {
    let value = check_codec::<T>(payload)?;
    let again = T::decode_all(&mut &value.encode()[..]).expect("re-decoding own encoding");
    assert_eq!(again, value, "decode(encode(x)) != x");
    Some(value)
}

/// The `host_decode` fuzz target.
pub fn host_decode(data: &[u8]) {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 2 {
        0 => {
            if let Some(Err(err)) = check_eq::<PrepareWorkerResult>(payload) {
                // What the host does with an error before reporting it.
                let _ = (err.is_deterministic(), err.variant_name(), err.to_string());
            }
        }
        _ => {
            if let Some(response) = check_eq::<WorkerResponse>(payload) {
                let _ = format!("{response:?}");
            }
        }
    }
}

/// The `worker_decode` fuzz target.
pub fn worker_decode(data: &[u8]) {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            check_eq::<WorkerHandshake>(payload);
        }
        1 => {
            if let Some(handshake) = check_eq::<ExecuteHandshake>(payload) {
                let params = &handshake.executor_params;
                let _ = (
                    params.check_consistency(),
                    params.hash(),
                    params.prep_hash(),
                );
            }
        }
        2 => {
            // No structural `PartialEq` (it compares hashes only): the byte checks cover it.
            if let Some(pvf) = check_codec::<PvfPrepData>(payload) {
                let _ = format!("{pvf:?}");
                let _ = pvf.executor_params().check_consistency();
                let same = pvf.with_kind_and_timeout(pvf.prep_kind(), pvf.prep_timeout());
                assert_eq!(
                    same.encode(),
                    pvf.encode(),
                    "with_kind_and_timeout changed more"
                );
            }
        }
        _ => {
            if let Some(request) = check_codec::<ExecuteRequest>(payload) {
                let _ = format!("{request:?}");
            }
        }
    }
}

/// The `job_decode` fuzz target.
pub fn job_decode(data: &[u8]) {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            check_eq::<ExecuteJobReply>(payload);
        }
        1 => {
            if let Some(Err(failure)) = check_eq::<PrepareJobReply>(payload) {
                // What the prepare worker logs on the way to its verdict.
                let _ = failure.to_string();
            }
        }
        _ => {
            // The execute job decodes the PVF's output as a prefix, as the reference does;
            // `check_codec` covers the prefix decoding too.
            check_eq::<ValidationResult>(payload);
        }
    }
}
