//! Hand-made seed inputs for every target, built from values this crate constructs (never
//! from third-party data). `examples/gen_corpus.rs` writes them to `fuzz/corpus/<target>/`,
//! and the replay test runs them straight from memory too.

use crate::{
    blob::MAGIC,
    decode::{CompiledArtifactWire, ExecuteJobReply, PrepareJobReply},
    framing::{MAXES, READ_CHUNK},
};
use parity_scale_codec::{Compact, Encode};
use pvf_common::{
    ArtifactChecksum,
    ExecutorParam::*,
    ExecutorParams, JobFailure, MemoryStats, PrepareError, PrepareJobKind, PrepareStats,
    PrepareWorkerResult, PrepareWorkerSuccess, PvfExecTimeoutKind, PvfPrepData, PvfPrepKind,
    SecurityStatus, WorkerHandshake,
    blob::compress,
    execute::{
        BlockData, ExecuteHandshake, ExecuteRequest, HeadData, InternalValidationError, JobError,
        JobResponse, OutboundHrmpMessage, PersistedValidationData, PoV, ValidationCode,
        ValidationParamsExtension, ValidationResult, WorkerResponse,
    },
    executor_params::ExecutorHostFunction,
    framing::{MAX_JOB_REPLY_FRAME_LEN, MAX_REPLY_FRAME_LEN, encode_frame},
};
use std::time::Duration;

/// Named inputs of one target.
type Named = Vec<(String, Vec<u8>)>;

/// One seed input: the target it is for, a file name and the bytes.
pub struct Seed {
    /// The target's name, as in [`crate::TARGETS`].
    pub target: &'static str,
    /// The file name under `fuzz/corpus/<target>/` (prefixed `seed-` when written).
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

const WASM_HEADER: &[u8] = b"\0asm\x01\0\0\0";

fn max_index(max: u64) -> u8 {
    MAXES
        .iter()
        .position(|&m| m == max)
        .expect("a listed limit") as u8
}

/// A `framing` input: header fields, then the stream.
fn framing_input(flags: u8, max: u64, max_read: u8, fill: usize, stream: &[u8]) -> Vec<u8> {
    let flags = if fill > 0 { flags | 0x10 } else { flags };
    let (hi, lo) = (fill / 4096, fill % 4096);
    assert!(hi < 256 && lo < 256, "unrepresentable fill {fill}");
    let header = [flags, max_index(max), max_read, hi as u8, lo as u8, 0x5A];
    [&header[..], stream].concat()
}

fn framing_seeds() -> Named {
    let prefix = |len: u64| len.to_le_bytes().to_vec();
    let with = |len: u64, body: &[u8]| [prefix(len), body.to_vec()].concat();
    let reply = MAX_REPLY_FRAME_LEN;
    // Larger than a read chunk; the filler (72 × 4 KiB + 200 bytes) supplies the payload.
    let (big, fill) = (290_000u64, 72 * 4096 + 200);
    let mut vec_header = prefix(big + 4);
    vec_header.extend_from_slice(&Compact(big as u32).encode());
    let two = [encode_frame(&vec![1u8, 2]), encode_frame(&vec![3u8])].concat();
    let ok: PrepareWorkerResult = Ok(success());
    let seeds = [
        ("empty", framing_input(0, reply, 0, 0, &[])),
        ("prefix-cut", framing_input(0, reply, 0, 0, &[5, 0, 0])),
        (
            "opaque-ok",
            framing_input(0, reply, 0, 0, &with(5, &[1, 2, 3, 4, 5])),
        ),
        ("opaque-empty", framing_input(0, reply, 0, 0, &prefix(0))),
        (
            "vec-ok",
            framing_input(1, reply, 0, 0, &encode_frame(&vec![1u8, 2, 3])),
        ),
        (
            "vec-trailing",
            framing_input(1, reply, 0, 0, &with(5, &[12, 1, 2, 3, 9])),
        ),
        ("two-frames", framing_input(1, reply, 0, 0, &two)),
        (
            "u32-ok",
            framing_input(2, reply, 0, 0, &encode_frame(&7u32)),
        ),
        (
            "u32-short",
            framing_input(2, reply, 0, 0, &with(3, &[1, 2, 3])),
        ),
        (
            "prepare-ok",
            framing_input(3, reply, 0, 0, &encode_frame(&ok)),
        ),
        (
            "prepare-timeout",
            framing_input(3, reply, 0, 0, &[2, 0, 0, 0, 0, 0, 0, 0, 1, 4]),
        ),
        (
            "too-large-reply",
            framing_input(0, reply, 0, 0, &prefix(reply + 1)),
        ),
        ("at-limit", framing_input(0, 255, 0, 255, &prefix(255))),
        ("over-limit", framing_input(0, 255, 0, 0, &prefix(256))),
        (
            "lying-max",
            framing_input(0, u64::MAX, 0, 0, &with(u64::MAX, &[7; 10])),
        ),
        (
            "lying-1gib",
            framing_input(0, u64::MAX, 0, 0, &with(1 << 30, &[7; 10])),
        ),
        (
            "lying-job",
            framing_input(0, MAX_JOB_REPLY_FRAME_LEN, 0, 0, &with(1 << 30, &[1])),
        ),
        (
            "truncated",
            framing_input(0, reply, 0, 0, &with(10, &[1, 2, 3])),
        ),
        (
            "truncated-error",
            framing_input(0x04, reply, 0, 0, &with(10, &[1, 2, 3])),
        ),
        (
            "hiccups",
            framing_input(0x09, reply, 1, 0, &encode_frame(&vec![9u8; 20])),
        ),
        ("big-frame", framing_input(0, reply, 0, fill, &prefix(big))),
        (
            "big-truncated",
            framing_input(0, reply, 0, fill, &prefix(1_000_000)),
        ),
        ("big-vec", framing_input(1, reply, 0, fill, &vec_header)),
        (
            "chunk-edge",
            framing_input(0, reply, 0, READ_CHUNK + 1, &prefix(READ_CHUNK as u64 + 1)),
        ),
    ];
    seeds.into_iter().map(|(n, b)| (n.to_string(), b)).collect()
}

/// A `blob` input: limit, mode, then the blob.
fn blob_input(limit: u32, mode: u8, blob: &[u8]) -> Vec<u8> {
    let [lo, hi] = u16::try_from(limit / 16)
        .expect("limit below 1 MiB")
        .to_le_bytes();
    [&[lo, hi, (limit % 16) as u8, mode][..], blob].concat()
}

fn blob_seeds() -> Named {
    let text: Vec<u8> = b"(module (func (export \"validate_block\")))".repeat(20);
    let len = text.len() as u32;
    let packed = compress(&text, 1 << 20).expect("within the limit");
    let bomb = compress(&vec![0u8; 1 << 20], 1 << 20).expect("within the limit");
    let seeds = [
        ("plain-wasm", blob_input(0, 0, WASM_HEADER)),
        ("packed-exact", blob_input(len, 0, &packed)),
        ("packed-one-short", blob_input(len - 1, 0, &packed)),
        (
            "packed-cut",
            blob_input(1 << 16, 0, &packed[..packed.len() - 3]),
        ),
        ("magic-only", blob_input(100, 0, &MAGIC)),
        ("raw-zstd", blob_input(1 << 16, 1, &packed[MAGIC.len()..])),
        ("bomb", blob_input(1000, 0, &bomb)),
        ("round-trip", blob_input(4096, 2, &text[..400])),
        ("round-trip-over", blob_input(10, 2, &text[..400])),
    ];
    seeds.into_iter().map(|(n, b)| (n.to_string(), b)).collect()
}

fn golden_params() -> ExecutorParams {
    ExecutorParams::from(vec![
        MaxMemoryPages(8192),
        StackLogicalMax(65536),
        StackNativeMax(256 * 1024 * 1024),
        PrecheckingMaxMemory(512 * 1024 * 1024),
        PvfPrepTimeout(PvfPrepKind::Prepare, 360_000),
        PvfExecTimeout(PvfExecTimeoutKind::Approval, 12_000),
        WasmExtBulkMemory,
        EnabledHostFunction(ExecutorHostFunction::EccRfc163),
    ])
}

fn executor_params_seeds() -> Named {
    let encoded = |mode: u8, params: Vec<pvf_common::ExecutorParam>| {
        [vec![mode], ExecutorParams::from(params).encode()].concat()
    };
    let seeds = [
        ("golden", [vec![0], golden_params().encode()].concat()),
        ("empty", encoded(0, vec![])),
        (
            "duplicate",
            encoded(0, vec![MaxMemoryPages(1), MaxMemoryPages(2)]),
        ),
        ("out-of-range", encoded(0, vec![StackLogicalMax(1023)])),
        (
            "native-too-small",
            encoded(0, vec![StackNativeMax(128 * 65536 - 1)]),
        ),
        (
            "precheck-late",
            encoded(0, vec![PvfPrepTimeout(PvfPrepKind::Precheck, 360_000)]),
        ),
        (
            "backing-late",
            encoded(0, vec![PvfExecTimeout(PvfExecTimeoutKind::Backing, 12_000)]),
        ),
        (
            "two-kinds",
            encoded(
                0,
                vec![
                    PvfPrepTimeout(PvfPrepKind::Precheck, 1),
                    PvfPrepTimeout(PvfPrepKind::Prepare, 2),
                ],
            ),
        ),
        (
            "built",
            [1, 8, 0, 1, 1, 1, 6, 2, 1, 0, 4, 1, 3, 5, 0, 1, 7].to_vec(),
        ),
    ];
    seeds.into_iter().map(|(n, b)| (n.to_string(), b)).collect()
}

fn success() -> PrepareWorkerSuccess {
    PrepareWorkerSuccess {
        checksum: ArtifactChecksum::of(b"artifact"),
        stats: PrepareStats {
            cpu_time_elapsed: Duration::from_millis(1234),
            memory_stats: MemoryStats {
                max_rss_kib: Some(65536),
                peak_tracked_alloc: 1 << 24,
            },
            observed_wasm_code_len: 4096,
        },
    }
}

fn prepare_errors() -> Vec<PrepareError> {
    use PrepareError::*;
    let s = || "error message".to_string();
    vec![
        Prevalidation(s()),
        Preparation(s()),
        RuntimeConstruction(s()),
        JobError(s()),
        TimedOut,
        IoErr(s()),
        CreateTmpFile(s()),
        RenameTmpFile {
            err: s(),
            src: Some("/tmp/a".into()),
            dest: None,
        },
        OutOfMemory,
        ClearWorkerDir(s()),
        JobDied {
            err: "received signal: SIGKILL".into(),
            job_pid: 4242,
        },
        Kernel(s()),
        CouldNotDecompressCodeBlob(s()),
    ]
}

fn validation_result() -> ValidationResult {
    ValidationResult {
        head_data: HeadData(vec![1; 40]),
        new_validation_code: Some(ValidationCode(WASM_HEADER.to_vec())),
        upward_messages: vec![vec![1, 2], vec![]],
        horizontal_messages: vec![OutboundHrmpMessage {
            recipient: 2000,
            data: vec![3; 5],
        }],
        processed_downward_messages: 1,
        hrmp_watermark: 7,
    }
}

fn job_responses() -> Vec<JobResponse> {
    vec![
        JobResponse::Ok {
            result_descriptor: validation_result(),
        },
        JobResponse::RuntimeConstruction("link error".into()),
        JobResponse::InvalidCandidate("trap".into()),
        JobResponse::PoVDecompressionFailure,
        JobResponse::CorruptedArtifact,
    ]
}

fn tagged(tag: u8, value: &impl Encode) -> Vec<u8> {
    [vec![tag], value.encode()].concat()
}

fn host_decode_seeds() -> Named {
    let mut seeds = vec![(
        "prepare-ok".to_string(),
        tagged(0, &Ok::<_, PrepareError>(success())),
    )];
    for err in prepare_errors() {
        let result: PrepareWorkerResult = Err(err.clone());
        seeds.push((
            format!("prepare-{}", err.variant_name()),
            tagged(0, &result),
        ));
    }
    let mut responses: Vec<WorkerResponse> = job_responses()
        .into_iter()
        .map(|job_response| WorkerResponse::Job {
            job_response,
            duration: Duration::from_millis(250),
            pov_size: 1 << 20,
            max_rss_kib: Some(48 * 1024),
            module_was_cached: true,
        })
        .collect();
    responses.extend([
        WorkerResponse::JobTimedOut,
        WorkerResponse::JobDied {
            err: "received signal: SIGKILL".into(),
            job_pid: 7,
        },
        WorkerResponse::JobError(JobError::UnexpectedExitStatus(3)),
        WorkerResponse::JobError(JobError::Panic("boom".into())),
        WorkerResponse::InternalError(InternalValidationError::CouldNotClearWorkerDir {
            err: "busy".into(),
            path: Some("/w".into()),
        }),
        WorkerResponse::InternalError(InternalValidationError::NonDeterministicPrepareError(
            PrepareError::TimedOut,
        )),
    ]);
    for (i, response) in responses.iter().enumerate() {
        seeds.push((format!("execute-{i}"), tagged(1, response)));
    }
    seeds
}

fn pvf(code: Vec<u8>, params: ExecutorParams) -> PvfPrepData {
    PvfPrepData::from_code(
        code,
        params,
        Duration::from_secs(60),
        PrepareJobKind::Prechecking,
        30 << 20,
    )
}

fn worker_decode_seeds() -> Named {
    let all_on = SecurityStatus {
        secure_validator_mode: true,
        can_enable_landlock: true,
        can_enable_seccomp: true,
        can_unshare_user_namespace_and_change_root: true,
        can_do_secure_clone: true,
    };
    let handshake = ExecuteHandshake {
        executor_params: golden_params(),
        pvf_logging: false,
        module_cache_bytes: Some(256 << 20),
    };
    let packed = compress(&WASM_HEADER.repeat(50), 1 << 20).expect("within the limit");
    let request = ExecuteRequest {
        pvd: PersistedValidationData {
            parent_head: HeadData(vec![0; 32]),
            relay_parent_number: 1,
            relay_parent_storage_root: [9; 32],
            max_pov_size: 5 << 20,
        },
        pov: PoV {
            block_data: BlockData(packed.clone()),
        },
        execution_timeout: Duration::from_secs(2),
        artifact_checksum: ArtifactChecksum::of(b"artifact"),
        params_extension: None,
    };
    let v3_request = ExecuteRequest {
        params_extension: Some(ValidationParamsExtension::V3 {
            relay_parent: [0x22; 32],
            scheduling_parent: [0x33; 32],
        }),
        ..request.clone()
    };
    vec![
        (
            "handshake-off".into(),
            tagged(0, &WorkerHandshake::default()),
        ),
        (
            "handshake-on".into(),
            tagged(
                0,
                &WorkerHandshake {
                    security_status: all_on,
                    parallel_compilation: true,
                },
            ),
        ),
        ("execute-handshake".into(), tagged(1, &handshake)),
        (
            "pvf-plain".into(),
            tagged(2, &pvf(WASM_HEADER.to_vec(), ExecutorParams::new())),
        ),
        (
            "pvf-packed".into(),
            tagged(2, &pvf(packed, golden_params())),
        ),
        ("execute-request".into(), tagged(3, &request)),
        ("execute-request-v3".into(), tagged(3, &v3_request)),
    ]
}

fn job_decode_seeds() -> Named {
    let mut seeds: Named = job_responses()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let reply: ExecuteJobReply = Ok(Ok(r));
            (format!("execute-job-{i}"), tagged(0, &reply))
        })
        .collect();
    let failed: ExecuteJobReply = Ok(Err("bad attack".into()));
    seeds.push(("execute-job-error".into(), tagged(0, &failed)));
    let timed_out: ExecuteJobReply = Err(JobFailure::TimedOut);
    seeds.push(("execute-job-timeout".into(), tagged(0, &timed_out)));
    let artifact = CompiledArtifactWire {
        bytes: b"compiled artifact bytes".to_vec(),
        observed_wasm_code_len: 8,
        memory_stats: MemoryStats::default(),
    };
    let ok: PrepareJobReply = Ok(Ok(artifact));
    seeds.push(("prepare-job-ok".into(), tagged(1, &ok)));
    let verdict: PrepareJobReply = Ok(Err(PrepareError::Prevalidation("not wasm".into())));
    seeds.push(("prepare-job-verdict".into(), tagged(1, &verdict)));
    let oom: PrepareJobReply = Err(JobFailure::OutOfMemory);
    seeds.push(("prepare-job-oom".into(), tagged(1, &oom)));
    let died: PrepareJobReply = Err(JobFailure::Died {
        err: "received signal: SIGKILL".into(),
        job_pid: 4242,
    });
    seeds.push(("prepare-job-died".into(), tagged(1, &died)));
    // The PVF's output is decoded as a prefix: trailing bytes are ignored.
    let mut output = tagged(2, &validation_result());
    output.extend_from_slice(&[0xde, 0xad]);
    seeds.push(("validation-result".into(), output));
    seeds
}

fn roundtrip_seeds() -> Named {
    (0..12u8)
        .flat_map(|which| {
            let pattern: Vec<u8> = (0..96u32)
                .map(|i| (i * 37 + u32::from(which) * 11) as u8)
                .collect();
            [
                (format!("type-{which}-defaults"), vec![which]),
                (
                    format!("type-{which}-pattern"),
                    [vec![which], pattern].concat(),
                ),
            ]
        })
        .collect()
}

/// Small synthetic PoV files: a plain and a compressed block, then the plain one truncated
/// inside its PVD and with a byte left over.
fn pov_file_seeds() -> Named {
    let pvd = PersistedValidationData {
        parent_head: HeadData(vec![0xAB; 8]),
        relay_parent_number: 7,
        relay_parent_storage_root: [3; 32],
        max_pov_size: 5 * 1024 * 1024,
    };
    let pov = |block: Vec<u8>| PoV {
        block_data: BlockData(block),
    };
    let plain = pvf_validation::pov_file::encode(&pov(vec![1, 2, 3, 4]), &pvd);
    let packed = compress(&[5u8; 256], 1024).expect("a small blob compresses");
    vec![
        ("plain".into(), plain.clone()),
        (
            "compressed".into(),
            pvf_validation::pov_file::encode(&pov(packed), &pvd),
        ),
        ("truncated".into(), plain[..plain.len() - 3].to_vec()),
        ("trailing".into(), [&plain[..], &[0]].concat()),
    ]
}

/// Every seed of every target.
pub fn seeds() -> Vec<Seed> {
    let groups: [(&'static str, Named); 8] = [
        ("framing", framing_seeds()),
        ("blob", blob_seeds()),
        ("executor_params", executor_params_seeds()),
        ("host_decode", host_decode_seeds()),
        ("worker_decode", worker_decode_seeds()),
        ("job_decode", job_decode_seeds()),
        ("roundtrip", roundtrip_seeds()),
        ("pov_file", pov_file_seeds()),
    ];
    groups
        .into_iter()
        .flat_map(|(target, list)| {
            list.into_iter().map(move |(name, bytes)| Seed {
                target,
                name,
                bytes,
            })
        })
        .collect()
}
