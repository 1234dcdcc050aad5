//! Execution wire types.
//!
//! `ValidationParams`, `ValidationResult`, `PersistedValidationData` and `PoV` encode exactly as
//! `polkadot-parachain-primitives` / `polkadot-primitives` do: a PVF decodes the params and
//! the host decodes the result. The request/response between host and execute worker are ours.

use crate::{error::PrepareError, prepare::ArtifactChecksum};
use parity_scale_codec::{Decode, Encode};
use std::time::Duration;

/// A parachain head (opaque bytes).
#[derive(Clone, Debug, Default, Encode, Decode, PartialEq, Eq, Hash)]
pub struct HeadData(pub Vec<u8>);

/// A parachain block (opaque bytes).
#[derive(Clone, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct BlockData(pub Vec<u8>);

/// New validation code a candidate schedules (opaque bytes).
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct ValidationCode(pub Vec<u8>);

/// What `validate_block` receives, SCALE-encoded in its linear memory.
///
/// The four fields encode as the reference's `ValidationParams`; the [`extension`] is appended
/// after them only when present, exactly as the reference's execute worker appends a
/// `TrailingOption<ValidationParamsExtension>`: `None` adds no byte (so a V1/V2 candidate's PVF
/// gets the bytes it always got), `Some` adds the extension's own encoding, with no `Option`
/// tag. Decoding reads an extension only if input remains after the four fields.
///
/// Because of that, this type is not self-delimiting: it must be the whole of what is decoded,
/// never a field of a larger SCALE value (a decoder would take the bytes after it for an
/// extension).
///
/// [`extension`]: ValidationParams::extension
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationParams {
    /// The parent head.
    pub parent_head: HeadData,
    /// The block body (already decompressed).
    pub block_data: BlockData,
    /// The relay-parent block number.
    pub relay_parent_number: u32,
    /// The relay-parent storage root.
    pub relay_parent_storage_root: [u8; 32],
    /// The extension of a V3 candidate descriptor; `None` for V1, V2 and unknown versions.
    pub extension: Option<ValidationParamsExtension>,
}

impl Encode for ValidationParams {
    fn size_hint(&self) -> usize {
        self.parent_head.size_hint()
            + self.block_data.size_hint()
            + self.relay_parent_number.size_hint()
            + self.relay_parent_storage_root.size_hint()
            + self.extension.as_ref().map_or(0, Encode::size_hint)
    }

    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        self.parent_head.encode_to(dest);
        self.block_data.encode_to(dest);
        self.relay_parent_number.encode_to(dest);
        self.relay_parent_storage_root.encode_to(dest);
        // The reference's `TrailingOption`: nothing for `None`, no tag for `Some`.
        if let Some(extension) = &self.extension {
            extension.encode_to(dest);
        }
    }
}

impl parity_scale_codec::EncodeLike for ValidationParams {}

impl Decode for ValidationParams {
    fn decode<I: parity_scale_codec::Input>(
        input: &mut I,
    ) -> Result<Self, parity_scale_codec::Error> {
        let parent_head = HeadData::decode(input)?;
        let block_data = BlockData::decode(input)?;
        let relay_parent_number = u32::decode(input)?;
        let relay_parent_storage_root = <[u8; 32]>::decode(input)?;
        // As the reference's `TrailingOption::decode`: an extension only if input remains (an
        // input of unknown length is tried).
        let extension = match input.remaining_len()? {
            Some(0) => None,
            _ => Some(ValidationParamsExtension::decode(input)?),
        };
        Ok(Self {
            parent_head,
            block_data,
            relay_parent_number,
            relay_parent_storage_root,
            extension,
        })
    }
}

/// The reference's `ValidationParamsExtension` (polkadot-parachain-primitives 24): what a
/// candidate of descriptor version V3 or later adds to the [`ValidationParams`] its PVF
/// receives. It is a consensus input: every validator must hand the PVF the same bytes, so
/// the variant index is the descriptor version (`V3` encodes as `0x03` followed by the two
/// hashes, 65 bytes), exactly as the reference encodes it. A PVF that does not know a variant
/// fails to decode its input, which the reference intends: a parachain upgrades its PVF to
/// use a new descriptor version.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub enum ValidationParamsExtension {
    /// A V3 descriptor's relay parent and scheduling parent.
    #[codec(index = 3)]
    V3 {
        /// The relay-parent block hash.
        relay_parent: [u8; 32],
        /// The scheduling-parent block hash (may differ from the relay parent in V3).
        scheduling_parent: [u8; 32],
    },
}

/// A message to another parachain.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct OutboundHrmpMessage {
    /// The recipient parachain id.
    pub recipient: u32,
    /// The message.
    pub data: Vec<u8>,
}

/// What `validate_block` returns, SCALE-encoded.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct ValidationResult {
    /// The new head.
    pub head_data: HeadData,
    /// A code upgrade, if the block schedules one.
    pub new_validation_code: Option<ValidationCode>,
    /// Messages to the relay chain.
    pub upward_messages: Vec<Vec<u8>>,
    /// Messages to other parachains.
    pub horizontal_messages: Vec<OutboundHrmpMessage>,
    /// How many downward messages were processed.
    pub processed_downward_messages: u32,
    /// The HRMP watermark.
    pub hrmp_watermark: u32,
}

/// The relay chain's view of the candidate's parent (`PersistedValidationData`).
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct PersistedValidationData {
    /// The parent head.
    pub parent_head: HeadData,
    /// The relay-parent block number.
    pub relay_parent_number: u32,
    /// The relay-parent storage root.
    pub relay_parent_storage_root: [u8; 32],
    /// The maximum PoV size.
    pub max_pov_size: u32,
}

/// A proof of validity: the (maybe compressed) block data.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct PoV {
    /// The block data, possibly substrate-compressed.
    pub block_data: BlockData,
}

/// `MAX_POV_SIZE` (10 MiB) × 4: the decompression limit of a PoV.
pub const POV_BOMB_LIMIT: u32 = 40 * 1024 * 1024;

/// The execute worker's second handshake frame: the executor parameters it is bound to for
/// life (its engine is built from them once).
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct ExecuteHandshake {
    /// The session's executor parameters.
    pub executor_params: crate::ExecutorParams,
    /// Whether the PVF's log lines reach the worker's log (off by default: PVFs can spam).
    pub pvf_logging: bool,
    /// Keep deserialised artifacts between jobs, up to this many artifact bytes (the one used
    /// last is always kept); `None` loads the artifact for every job, as the reference does.
    pub module_cache_bytes: Option<u64>,
}

/// One execution, host → execute worker.
#[derive(Clone, Debug, Encode, Decode)]
pub struct ExecuteRequest {
    /// The candidate's persisted validation data.
    pub pvd: PersistedValidationData,
    /// The candidate's PoV.
    pub pov: PoV,
    /// The CPU-time limit.
    pub execution_timeout: Duration,
    /// The checksum the artifact must have.
    pub artifact_checksum: ArtifactChecksum,
    /// Appended to the PVF's [`ValidationParams`] (V3 candidate descriptors only).
    pub params_extension: Option<ValidationParamsExtension>,
}

/// What the job reports about the candidate.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum JobResponse {
    /// `validate_block` returned a result that decodes.
    Ok {
        /// The decoded result.
        result_descriptor: ValidationResult,
    },
    /// The artifact could not be instantiated: possibly local, re-prepare and retry.
    RuntimeConstruction(String),
    /// The PVF trapped or returned garbage: the candidate is invalid.
    InvalidCandidate(String),
    /// The PoV did not decompress within the bomb limit: the candidate is invalid.
    PoVDecompressionFailure,
    /// The artifact's bytes do not match its checksum: remove it, re-prepare, retry.
    CorruptedArtifact,
}

/// Why a job ended without a [`JobResponse`].
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The CPU-time monitor fired.
    #[error("job timed out")]
    TimedOut,
    /// The job panicked.
    #[error("job panicked: {0}")]
    Panic(String),
    /// A system call failed in the job.
    #[error("kernel error in the job: {0}")]
    Kernel(String),
    /// The job could not start its execution thread.
    #[error("could not spawn the execution thread: {0}")]
    CouldNotSpawnThread(String),
    /// The job could not start its CPU-time monitor.
    #[error("could not spawn the CPU-time monitor: {0}")]
    CpuTimeMonitorThread(String),
    /// The job exited with an unexpected status.
    #[error("job exited with unexpected status {0}")]
    UnexpectedExitStatus(i32),
}

/// An error local to this validator: never a reason to vote against a candidate.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq, thiserror::Error)]
pub enum InternalValidationError {
    /// Talking to the host failed.
    #[error("validation: host communication error: {0}")]
    HostCommunication(String),
    /// The host could not link the artifact into the worker dir.
    #[error("validation: could not create a link to the artifact: {0}")]
    CouldNotCreateLink(String),
    /// The artifact could not be opened.
    #[error("validation: could not open the artifact: {0}")]
    CouldNotOpenFile(String),
    /// The job pipe could not be created.
    #[error("validation: could not create a pipe: {0}")]
    CouldNotCreatePipe(String),
    /// The worker dir could not be cleared.
    #[error("validation: could not clear the worker dir ({path:?}): {err}")]
    CouldNotClearWorkerDir {
        /// The OS error.
        err: String,
        /// The dir, if valid UTF-8.
        path: Option<String>,
    },
    /// A system call failed.
    #[error("validation: kernel error: {0}")]
    Kernel(String),
    /// Preparation failed for a reason that may be local.
    #[error("validation: prepare: {0}")]
    NonDeterministicPrepareError(PrepareError),
}

/// The execute worker's reply.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum WorkerResponse {
    /// The job ran and answered.
    Job {
        /// The job's answer.
        job_response: JobResponse,
        /// CPU time of the job.
        duration: Duration,
        /// Decompressed PoV size.
        pov_size: u32,
        /// Peak resident set size of the job process, in KiB (from `wait4`); `None` if the
        /// kernel did not say.
        max_rss_kib: Option<u64>,
        /// The module was in the worker's cache: no artifact was read or deserialised.
        module_was_cached: bool,
    },
    /// The job exceeded its CPU time.
    JobTimedOut,
    /// The job process was killed.
    JobDied {
        /// The wait status, e.g. "received signal: SIGKILL".
        err: String,
        /// The job's pid.
        job_pid: i32,
    },
    /// The job failed without answering.
    JobError(JobError),
    /// Something local failed.
    InternalError(InternalValidationError),
}

/// The candidate is invalid: vote against.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCandidate {
    /// The PVF trapped, or its result did not decode.
    #[error("invalid: worker reported: {0}")]
    WorkerReportedInvalid(String),
    /// The job exceeded its CPU time (its monitor fired, or it reported more than allowed).
    #[error("invalid: hard timeout")]
    HardTimeout,
    /// The PoV did not decompress within the bomb limit.
    #[error("invalid: PoV decompression failure")]
    PoVDecompressionFailure,
}

/// Possibly invalid: retry once, then vote against.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PossiblyInvalidError {
    /// The worker died mid-job.
    #[error("possibly invalid: ambiguous worker death")]
    AmbiguousWorkerDeath,
    /// The job process died mid-job.
    #[error("possibly invalid: ambiguous job death: {0}")]
    AmbiguousJobDeath(String),
    /// The job failed without answering.
    #[error("possibly invalid: job error: {0}")]
    JobError(String),
    /// The artifact could not be instantiated.
    #[error("possibly invalid: runtime construction: {0}")]
    RuntimeConstruction(String),
    /// The artifact was corrupted on disk.
    #[error("possibly invalid: artifact is corrupted")]
    CorruptedArtifact,
    /// The worker did not answer within the wall-clock allowance (the execution timeout ×
    /// `JOB_TIMEOUT_WALL_CLOCK_FACTOR`) although the job's CPU-time monitor had not fired: the
    /// worker or the machine stalled, which says nothing about the candidate. The reference
    /// calls this a hard timeout and votes invalid.
    #[error("possibly invalid: the execute worker stalled past the wall-clock limit of {0:?}")]
    WorkerStalled(std::time::Duration),
}

/// The outcome classes of a validation, as the reference defines them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A deterministic preparation error: pre-checking should have caught it; abstain.
    #[error("validation: preparation failed: {0}")]
    Preparation(PrepareError),
    /// Vote against.
    #[error(transparent)]
    Invalid(InvalidCandidate),
    /// Retry, then vote against.
    #[error(transparent)]
    PossiblyInvalid(PossiblyInvalidError),
    /// Local problem: never vote against.
    #[error(transparent)]
    Internal(InternalValidationError),
    /// A backing job whose relay parent left the view: abstain.
    #[error("validation: execution deadline passed")]
    ExecutionDeadline,
}

impl From<PrepareError> for ValidationError {
    fn from(error: PrepareError) -> Self {
        if error.is_deterministic() {
            Self::Preparation(error)
        } else {
            Self::Internal(InternalValidationError::NonDeterministicPrepareError(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::DecodeAll;

    /// The adder vector `genesis_add_512` from the shared corpus, written down here so the test
    /// needs no corpus: the encoding must match polkadot-parachain-primitives.
    #[test]
    fn validation_params_and_result_match_the_reference_encoding() {
        let parent_head = hex::decode(
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000\
             011b4d03dd8c01f1049143cf9c4c817e4b167f1d1b83e5c6f0f10d89ba1e7bce",
        )
        .unwrap();
        let params = ValidationParams {
            parent_head: HeadData(parent_head),
            block_data: BlockData(hex::decode("00000000000000000002000000000000").unwrap()),
            relay_parent_number: 1,
            relay_parent_storage_root: [0; 32],
            extension: None,
        };
        let golden = concat!(
            "21010000000000000000000000000000000000000000000000000000000000000000000000000000",
            "0000011b4d03dd8c01f1049143cf9c4c817e4b167f1d1b83e5c6f0f10d89ba1e7bce400000000000",
            "00000000020000000000000100000000000000000000000000000000000000000000000000000000",
            "00000000000000",
        );
        assert_eq!(hex::encode(params.encode()), golden);
        assert_eq!(params.encoded_size(), golden.len() / 2);
        assert_eq!(
            ValidationParams::decode_all(&mut &hex::decode(golden).unwrap()[..]),
            Ok(params),
            "no byte after the four fields: no extension"
        );
        let result_hex = concat!(
            "21010100000000000000804df47c526d888b3f52091df4e253c821e9991ec88e342722cc485fda31",
            "747ea88d962ceb769d13dd202a8b8478e3a3f9d762a5702f76db9fd33d9f6af919ea000000000000",
            "0001000000",
        );
        let result = ValidationResult::decode(&mut &hex::decode(result_hex).unwrap()[..]).unwrap();
        assert_eq!(result.processed_downward_messages, 0);
        assert_eq!(result.hrmp_watermark, 1);
        assert!(result.new_validation_code.is_none() && result.upward_messages.is_empty());
        assert_eq!(hex::encode(result.encode()), result_hex);
    }

    /// A V3 candidate's params, written down byte by byte from the reference's layout
    /// (polkadot-parachain-primitives 24 `ValidationParams` then `ValidationParamsExtension::V3`
    /// as a `TrailingOption`): the four fields as ever, then the variant index 3 and the two
    /// hashes, with no `Option` tag.
    #[test]
    fn a_v3_extension_is_appended_after_the_params_as_the_reference_does() {
        let params = ValidationParams {
            parent_head: HeadData(vec![0xaa, 0xbb]),
            block_data: BlockData(vec![0x01]),
            relay_parent_number: 7,
            relay_parent_storage_root: [0x11; 32],
            extension: Some(ValidationParamsExtension::V3 {
                relay_parent: [0x22; 32],
                scheduling_parent: [0x33; 32],
            }),
        };
        let without = concat!(
            "08aabb",   // parent_head: compact length 2, the bytes
            "0401",     // block_data: compact length 1, the byte
            "07000000", // relay_parent_number, u32 little-endian
            "1111111111111111111111111111111111111111111111111111111111111111",
        );
        let golden = [
            without,
            "03", // ValidationParamsExtension::V3
            "2222222222222222222222222222222222222222222222222222222222222222",
            "3333333333333333333333333333333333333333333333333333333333333333",
        ]
        .concat();
        assert_eq!(hex::encode(params.encode()), golden);
        assert_eq!(params.encoded_size(), golden.len() / 2);
        let bytes = hex::decode(&golden).unwrap();
        assert_eq!(
            ValidationParams::decode_all(&mut &bytes[..]),
            Ok(params.clone())
        );

        let legacy = ValidationParams {
            extension: None,
            ..params
        };
        assert_eq!(hex::encode(legacy.encode()), without);
        assert_eq!(
            ValidationParams::decode_all(&mut &hex::decode(without).unwrap()[..]),
            Ok(legacy)
        );
        // Bytes after the four fields must be a whole extension of a known version.
        let base = hex::decode(without).unwrap();
        for trailing in [
            &bytes[base.len()..bytes.len() - 1],
            &[0x00][..],
            &[0x02][..],
        ] {
            let input = [&base[..], trailing].concat();
            assert!(
                ValidationParams::decode(&mut &input[..]).is_err(),
                "{}",
                hex::encode(trailing)
            );
        }
    }

    #[test]
    fn prepare_errors_split_into_preparation_and_internal() {
        assert!(matches!(
            ValidationError::from(PrepareError::Prevalidation("x".into())),
            ValidationError::Preparation(_)
        ));
        assert!(matches!(
            ValidationError::from(PrepareError::TimedOut),
            ValidationError::Internal(InternalValidationError::NonDeterministicPrepareError(
                PrepareError::TimedOut
            ))
        ));
    }
}
