//! The `roundtrip` target: wire values built from fuzz bytes survive encode → decode.
//!
//! The decoder targets start from bytes and can only reach values whose encodings the fuzzer
//! finds; this one builds any value (long strings, every variant, edge numbers) with
//! `arbitrary::Unstructured` and checks, for each wire type: `decode_all(encode(x)) == x`,
//! `encoded_size` is exact, no proper prefix decodes (the encoding is self-delimiting), a
//! trailing byte is left over, and the value survives both frame readers at a limit of exactly
//! its size while one byte less is `TooLarge`. `ValidationParams`, a PVF's whole input whose
//! extension is appended without a tag, is not self-delimiting and has its own properties
//! ([`check_validation_params`]).

use crate::{
    decode::{CompiledArtifactWire, ExecuteJobReply, PrepareJobReply},
    framing::block_on,
};
use arbitrary::{Result, Unstructured};
use parity_scale_codec::{Decode, DecodeAll, Encode};
use pvf_common::{
    ArtifactChecksum, ExecutorParam, ExecutorParams, JobFailure, MemoryStats, PrepareError,
    PrepareJobKind, PrepareStats, PrepareWorkerResult, PrepareWorkerSuccess, PvfExecTimeoutKind,
    PvfPrepData, PvfPrepKind, SecurityStatus, WorkerHandshake,
    execute::{
        BlockData, ExecuteHandshake, ExecuteRequest, HeadData, InternalValidationError, JobError,
        JobResponse, OutboundHrmpMessage, PersistedValidationData, PoV, ValidationCode,
        ValidationParams, ValidationParamsExtension, ValidationResult, WorkerResponse,
    },
    executor_params::ExecutorHostFunction,
    framing::{self, FrameError},
};
use std::{fmt::Debug, time::Duration};

/// Numbers at the edges of the executor parameters' ranges, and of the integer types.
const EDGES: [u64; 14] = [
    0,
    1,
    1023,
    1024,
    2000,
    12_000,
    60_000,
    65536,
    131_072,
    131_073,
    256 * 1024 * 1024,
    16 * 1024 * 1024 * 1024,
    u32::MAX as u64,
    u64::MAX,
];

fn edge_u64(u: &mut Unstructured<'_>) -> Result<u64> {
    if u.arbitrary()? {
        Ok(*u.choose(&EDGES)?)
    } else {
        u.arbitrary()
    }
}

fn edge_u32(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(edge_u64(u)? as u32)
}

fn duration(u: &mut Unstructured<'_>) -> Result<Duration> {
    Ok(Duration::new(
        u.arbitrary()?,
        u.int_in_range(0..=999_999_999)?,
    ))
}

/// One executor parameter, biased to the edges of its range.
pub fn executor_param(u: &mut Unstructured<'_>) -> Result<ExecutorParam> {
    use ExecutorParam::*;
    Ok(match u.int_in_range(0..=7u8)? {
        0 => MaxMemoryPages(edge_u32(u)?),
        1 => StackLogicalMax(edge_u32(u)?),
        2 => StackNativeMax(edge_u32(u)?),
        3 => PrecheckingMaxMemory(edge_u64(u)?),
        4 => PvfPrepTimeout(
            *u.choose(&[PvfPrepKind::Precheck, PvfPrepKind::Prepare])?,
            edge_u64(u)?,
        ),
        5 => PvfExecTimeout(
            *u.choose(&[PvfExecTimeoutKind::Backing, PvfExecTimeoutKind::Approval])?,
            edge_u64(u)?,
        ),
        6 => WasmExtBulkMemory,
        _ => EnabledHostFunction(ExecutorHostFunction::EccRfc163),
    })
}

/// A set of up to 12 executor parameters, duplicates allowed.
pub fn executor_params(u: &mut Unstructured<'_>) -> Result<ExecutorParams> {
    let n = u.int_in_range(0..=12)?;
    Ok((0..n)
        .map(|_| executor_param(u))
        .collect::<Result<Vec<_>>>()?
        .into())
}

fn prepare_error(u: &mut Unstructured<'_>) -> Result<PrepareError> {
    use PrepareError::*;
    Ok(match u.int_in_range(0..=12u8)? {
        0 => Prevalidation(u.arbitrary()?),
        1 => Preparation(u.arbitrary()?),
        2 => RuntimeConstruction(u.arbitrary()?),
        3 => JobError(u.arbitrary()?),
        4 => TimedOut,
        5 => IoErr(u.arbitrary()?),
        6 => CreateTmpFile(u.arbitrary()?),
        7 => RenameTmpFile {
            err: u.arbitrary()?,
            src: u.arbitrary()?,
            dest: u.arbitrary()?,
        },
        8 => OutOfMemory,
        9 => ClearWorkerDir(u.arbitrary()?),
        10 => JobDied {
            err: u.arbitrary()?,
            job_pid: u.arbitrary()?,
        },
        11 => Kernel(u.arbitrary()?),
        _ => CouldNotDecompressCodeBlob(u.arbitrary()?),
    })
}

fn job_failure(u: &mut Unstructured<'_>) -> Result<JobFailure> {
    Ok(match u.int_in_range(0..=4u8)? {
        0 => JobFailure::TimedOut,
        1 => JobFailure::OutOfMemory,
        2 => JobFailure::NoValidAnswer(u.arbitrary()?),
        3 => JobFailure::Died {
            err: u.arbitrary()?,
            job_pid: u.arbitrary()?,
        },
        _ => JobFailure::Kernel(u.arbitrary()?),
    })
}

fn prepare_worker_result(u: &mut Unstructured<'_>) -> Result<PrepareWorkerResult> {
    if u.arbitrary()? {
        return Ok(Err(prepare_error(u)?));
    }
    Ok(Ok(PrepareWorkerSuccess {
        checksum: ArtifactChecksum(u.arbitrary()?),
        stats: PrepareStats {
            cpu_time_elapsed: duration(u)?,
            memory_stats: memory_stats(u)?,
            observed_wasm_code_len: u.arbitrary()?,
        },
    }))
}

fn memory_stats(u: &mut Unstructured<'_>) -> Result<MemoryStats> {
    Ok(MemoryStats {
        max_rss_kib: u.arbitrary()?,
        peak_tracked_alloc: u.arbitrary()?,
    })
}

fn validation_result(u: &mut Unstructured<'_>) -> Result<ValidationResult> {
    let hrmp = |u: &mut Unstructured<'_>| -> Result<OutboundHrmpMessage> {
        Ok(OutboundHrmpMessage {
            recipient: u.arbitrary()?,
            data: u.arbitrary()?,
        })
    };
    Ok(ValidationResult {
        head_data: HeadData(u.arbitrary()?),
        new_validation_code: u.arbitrary::<Option<Vec<u8>>>()?.map(ValidationCode),
        upward_messages: u.arbitrary()?,
        horizontal_messages: (0..u.arbitrary_len::<[u8; 5]>()?)
            .map(|_| hrmp(u))
            .collect::<Result<_>>()?,
        processed_downward_messages: u.arbitrary()?,
        hrmp_watermark: u.arbitrary()?,
    })
}

fn job_response(u: &mut Unstructured<'_>) -> Result<JobResponse> {
    Ok(match u.int_in_range(0..=4u8)? {
        0 => JobResponse::Ok {
            result_descriptor: validation_result(u)?,
        },
        1 => JobResponse::RuntimeConstruction(u.arbitrary()?),
        2 => JobResponse::InvalidCandidate(u.arbitrary()?),
        3 => JobResponse::PoVDecompressionFailure,
        _ => JobResponse::CorruptedArtifact,
    })
}

fn job_error(u: &mut Unstructured<'_>) -> Result<JobError> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => JobError::TimedOut,
        1 => JobError::Panic(u.arbitrary()?),
        2 => JobError::Kernel(u.arbitrary()?),
        3 => JobError::CouldNotSpawnThread(u.arbitrary()?),
        4 => JobError::CpuTimeMonitorThread(u.arbitrary()?),
        _ => JobError::UnexpectedExitStatus(u.arbitrary()?),
    })
}

fn internal_error(u: &mut Unstructured<'_>) -> Result<InternalValidationError> {
    use InternalValidationError::*;
    Ok(match u.int_in_range(0..=6u8)? {
        0 => HostCommunication(u.arbitrary()?),
        1 => CouldNotCreateLink(u.arbitrary()?),
        2 => CouldNotOpenFile(u.arbitrary()?),
        3 => CouldNotCreatePipe(u.arbitrary()?),
        4 => CouldNotClearWorkerDir {
            err: u.arbitrary()?,
            path: u.arbitrary()?,
        },
        5 => Kernel(u.arbitrary()?),
        _ => NonDeterministicPrepareError(prepare_error(u)?),
    })
}

fn worker_response(u: &mut Unstructured<'_>) -> Result<WorkerResponse> {
    Ok(match u.int_in_range(0..=4u8)? {
        0 => WorkerResponse::Job {
            job_response: job_response(u)?,
            duration: duration(u)?,
            pov_size: u.arbitrary()?,
            max_rss_kib: u.arbitrary()?,
            module_was_cached: u.arbitrary()?,
        },
        1 => WorkerResponse::JobTimedOut,
        2 => WorkerResponse::JobDied {
            err: u.arbitrary()?,
            job_pid: u.arbitrary()?,
        },
        3 => WorkerResponse::JobError(job_error(u)?),
        _ => WorkerResponse::InternalError(internal_error(u)?),
    })
}

fn pvf_prep_data(u: &mut Unstructured<'_>) -> Result<PvfPrepData> {
    Ok(PvfPrepData::from_code(
        u.arbitrary()?,
        executor_params(u)?,
        duration(u)?,
        *u.choose(&[PrepareJobKind::Compilation, PrepareJobKind::Prechecking])?,
        edge_u32(u)?,
    ))
}

fn security_status(u: &mut Unstructured<'_>) -> Result<SecurityStatus> {
    Ok(SecurityStatus {
        secure_validator_mode: u.arbitrary()?,
        can_enable_landlock: u.arbitrary()?,
        can_enable_seccomp: u.arbitrary()?,
        can_unshare_user_namespace_and_change_root: u.arbitrary()?,
        can_do_secure_clone: u.arbitrary()?,
    })
}

fn params_extension(u: &mut Unstructured<'_>) -> Result<Option<ValidationParamsExtension>> {
    Ok(if u.arbitrary()? {
        Some(ValidationParamsExtension::V3 {
            relay_parent: u.arbitrary()?,
            scheduling_parent: u.arbitrary()?,
        })
    } else {
        None
    })
}

fn execute_request(u: &mut Unstructured<'_>) -> Result<ExecuteRequest> {
    Ok(ExecuteRequest {
        pvd: PersistedValidationData {
            parent_head: HeadData(u.arbitrary()?),
            relay_parent_number: u.arbitrary()?,
            relay_parent_storage_root: u.arbitrary()?,
            max_pov_size: u.arbitrary()?,
        },
        pov: PoV {
            block_data: BlockData(u.arbitrary()?),
        },
        execution_timeout: duration(u)?,
        artifact_checksum: ArtifactChecksum(u.arbitrary()?),
        params_extension: params_extension(u)?,
    })
}

/// Checks every round-trip property of `value`; `same` compares two values of `T`.
pub fn check_round_trip<T: Encode + Decode + Debug>(value: &T, same: fn(&T, &T) -> bool) {
    let enc = value.encode();
    assert_eq!(value.encoded_size(), enc.len(), "encoded_size of {value:?}");
    let back = T::decode_all(&mut &enc[..]).expect("decode(encode(x)) failed");
    assert!(
        same(&back, value),
        "decode(encode(x)) != x: {back:?} vs {value:?}"
    );
    // Self-delimiting: a trailing byte stays unread and no proper prefix is a whole value.
    let mut longer = [&enc[..], &[0xA5]].concat();
    let mut input = &longer[..];
    let back = T::decode(&mut input).expect("decoding with a trailing byte");
    assert!(
        same(&back, value) && input == [0xA5],
        "the trailing byte was consumed"
    );
    assert!(
        T::decode_all(&mut &longer[..]).is_err(),
        "decode_all ignored a trailing byte"
    );
    longer.truncate(enc.len().saturating_sub(1));
    if !enc.is_empty() {
        assert!(
            T::decode_all(&mut &longer[..]).is_err(),
            "a proper prefix decoded"
        );
    }
    check_framed(value, same);
}

/// The value survives both frame readers at a limit of exactly its size; one byte less is
/// `TooLarge`.
fn check_framed<T: Encode + Decode + Debug>(value: &T, same: fn(&T, &T) -> bool) {
    let frame = framing::encode_frame(value);
    let len = value.encoded_size() as u64;
    let back: T = framing::recv_blocking(&mut &frame[..], len).expect("framed value");
    assert!(same(&back, value), "framed (blocking) value differs");
    let back: T = block_on(framing::recv(&mut &frame[..], len)).expect("framed value (async)");
    assert!(same(&back, value), "framed (async) value differs");
    if len > 0 {
        let err = framing::recv_blocking::<_, T>(&mut &frame[..], len - 1).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }
}

fn same_pvf(a: &PvfPrepData, b: &PvfPrepData) -> bool {
    a.maybe_compressed_code() == b.maybe_compressed_code()
        && a.code_hash() == b.code_hash()
        && a.executor_params() == b.executor_params()
        && a.prep_timeout() == b.prep_timeout()
        && a.prep_kind() == b.prep_kind()
        && a.validation_code_bomb_limit() == b.validation_code_bomb_limit()
}

fn same_request(a: &ExecuteRequest, b: &ExecuteRequest) -> bool {
    a.pvd == b.pvd
        && a.pov == b.pov
        && a.execution_timeout == b.execution_timeout
        && a.artifact_checksum == b.artifact_checksum
        && a.params_extension == b.params_extension
}

/// `ValidationParams` is a PVF's whole input, not a self-delimiting value: its extension is
/// appended as the reference's `TrailingOption` (no byte for `None`, no tag for `Some`), so
/// bytes after the four fields are read as an extension. Checked instead of the self-delimiting
/// properties: the encoding is the four fields' then the extension's, `encoded_size` is exact,
/// it decodes back whole, a trailing byte after an extension stays unread, one after the four
/// fields alone is never taken for an extension, no proper prefix of it decodes whole, and the
/// frame readers return it.
fn check_validation_params(params: &ValidationParams) {
    let enc = params.encode();
    let fields = (
        &params.parent_head,
        &params.block_data,
        params.relay_parent_number,
        params.relay_parent_storage_root,
    )
        .encode();
    let extension = params.extension.map(|e| e.encode()).unwrap_or_default();
    assert_eq!(enc, [fields, extension].concat(), "layout of {params:?}");
    assert_eq!(
        params.encoded_size(),
        enc.len(),
        "encoded_size of {params:?}"
    );
    let back = ValidationParams::decode_all(&mut &enc[..]).expect("decode(encode(x)) failed");
    assert_eq!(&back, params, "decode(encode(x)) != x");
    let longer = [&enc[..], &[0xA5]].concat();
    let mut input = &longer[..];
    let decoded = ValidationParams::decode(&mut input);
    match params.extension {
        Some(_) => assert!(
            matches!(&decoded, Ok(back) if back == params) && input == [0xA5],
            "the trailing byte after an extension was consumed: {decoded:?}"
        ),
        None => assert!(
            decoded.is_err(),
            "a trailing byte was taken for an extension: {decoded:?}"
        ),
    }
    assert!(
        ValidationParams::decode_all(&mut &enc[..enc.len() - 1]).is_err(),
        "a proper prefix decoded"
    );
    check_framed(params, PartialEq::eq);
}

/// Builds one value of the type byte 0 picks from the rest and checks it.
fn build_and_check(which: u8, u: &mut Unstructured<'_>) -> Result<()> {
    match which % 12 {
        0 => check_round_trip(&executor_params(u)?, PartialEq::eq),
        1 => check_round_trip(&pvf_prep_data(u)?, same_pvf),
        2 => check_round_trip(&prepare_worker_result(u)?, PartialEq::eq),
        3 => check_round_trip(&worker_response(u)?, PartialEq::eq),
        4 => check_round_trip(&execute_request(u)?, same_request),
        5 => check_round_trip(
            &WorkerHandshake {
                security_status: security_status(u)?,
                parallel_compilation: u.arbitrary()?,
            },
            PartialEq::eq,
        ),
        6 => check_round_trip(
            &ExecuteHandshake {
                executor_params: executor_params(u)?,
                pvf_logging: u.arbitrary()?,
                module_cache_bytes: u.arbitrary()?,
            },
            PartialEq::eq,
        ),
        7 => {
            let reply: ExecuteJobReply = match u.int_in_range(0..=2u8)? {
                0 => Ok(Ok(job_response(u)?)),
                1 => Ok(Err(u.arbitrary()?)),
                _ => Err(job_failure(u)?),
            };
            check_round_trip(&reply, PartialEq::eq)
        }
        8 => {
            let reply: PrepareJobReply = match u.int_in_range(0..=2u8)? {
                0 => Ok(Ok(CompiledArtifactWire {
                    bytes: u.arbitrary()?,
                    observed_wasm_code_len: u.arbitrary()?,
                    memory_stats: memory_stats(u)?,
                })),
                1 => Ok(Err(prepare_error(u)?)),
                _ => Err(job_failure(u)?),
            };
            check_round_trip(&reply, PartialEq::eq)
        }
        9 => check_round_trip(&validation_result(u)?, PartialEq::eq),
        10 => check_validation_params(&ValidationParams {
            parent_head: HeadData(u.arbitrary()?),
            block_data: BlockData(u.arbitrary()?),
            relay_parent_number: u.arbitrary()?,
            relay_parent_storage_root: u.arbitrary()?,
            extension: params_extension(u)?,
        }),
        _ => check_round_trip(&internal_error(u)?, PartialEq::eq),
    }
    Ok(())
}

/// The `roundtrip` fuzz target.
pub fn roundtrip(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    // `Unstructured` yields defaults once the bytes run out, so construction fails only on
    // inconsistent bytes; such an input is skipped.
    let _ = build_and_check(which, &mut Unstructured::new(rest));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_params_pass_their_checks_with_and_without_an_extension() {
        let mut params = ValidationParams {
            parent_head: HeadData(vec![1, 2, 3]),
            block_data: BlockData(vec![4; 70]),
            relay_parent_number: 9,
            relay_parent_storage_root: [5; 32],
            extension: None,
        };
        check_validation_params(&params);
        params.extension = Some(ValidationParamsExtension::V3 {
            relay_parent: [6; 32],
            scheduling_parent: [7; 32],
        });
        check_validation_params(&params);
    }
}
