//! What a prepare worker reports about a job, and what the host hands its caller.

use parity_scale_codec::{Decode, Encode};
use std::{fmt, path::PathBuf, time::Duration};

/// xxHash-based 256-bit digest (`twox_256`, as sp-core computes it) of an artifact's bytes.
/// Fast on purpose: artifacts are tens of MiB and the digest only guards against corruption,
/// not against an attacker who can write the cache dir.
#[derive(Clone, Copy, Encode, Decode, PartialEq, Eq, Hash)]
pub struct ArtifactChecksum(pub [u8; 32]);

impl ArtifactChecksum {
    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(sp_crypto_hashing::twox_256(bytes))
    }
}

impl fmt::Debug for ArtifactChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// Memory observed while a prepare job ran.
#[derive(Clone, Copy, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct MemoryStats {
    /// Peak resident set size of the job process, in KiB (`ru_maxrss`), if the OS reports it.
    pub max_rss_kib: Option<i64>,
    /// Peak number of bytes the job had allocated through the tracking allocator.
    pub peak_tracked_alloc: u64,
}

/// Statistics of one successful preparation.
#[derive(Clone, Copy, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct PrepareStats {
    /// CPU time (user + system) the job process consumed.
    pub cpu_time_elapsed: Duration,
    /// Memory figures of the job process.
    pub memory_stats: MemoryStats,
    /// Size of the wasm code after decompression, in bytes.
    pub observed_wasm_code_len: u32,
}

/// A prepare worker's answer when the artifact is in `tmp-artifact`.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub struct PrepareWorkerSuccess {
    /// Digest of the bytes the worker wrote.
    pub checksum: ArtifactChecksum,
    /// How the job went.
    pub stats: PrepareStats,
}

/// A prepared artifact as the host reports it to its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrepareSuccess {
    /// Where the artifact lives in the cache dir.
    pub path: PathBuf,
    /// Size of the artifact file, in bytes.
    pub size: u64,
    /// Digest of the artifact file's bytes.
    pub checksum: ArtifactChecksum,
    /// How the job went.
    pub stats: PrepareStats,
}
