//! Maybe-compressed code blobs: the substrate magic prefix plus one zstd frame, or plain
//! bytes. Decompression is the canonical `sp-maybe-compressed-blob`, so a blob is accepted or
//! rejected exactly as the reference does.

use std::borrow::Cow;

/// The chain's typical `max_code_size` (3 MiB) times the runtime's compression-ratio cap of
/// 10: what the relay runtime's `validation_code_bomb_limit` API returns today.
pub const DEFAULT_VALIDATION_CODE_BOMB_LIMIT: u32 = 30 * 1024 * 1024;

/// Why a blob could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// The decompressed size would exceed the limit.
    #[error("decompressed size would exceed the bomb limit of {limit} bytes")]
    Bomb {
        /// The limit in force.
        limit: u32,
    },
    /// The zstd frame is malformed.
    #[error("malformed compressed blob: {0}")]
    Invalid(String),
}

/// Decompresses `blob` if it starts with the substrate magic; otherwise returns it unchanged.
pub fn decompress(blob: &[u8], bomb_limit: u32) -> Result<Cow<'_, [u8]>, DecompressError> {
    sp_maybe_compressed_blob::decompress(blob, bomb_limit as usize).map_err(|e| match e {
        sp_maybe_compressed_blob::Error::PossibleBomb => {
            DecompressError::Bomb { limit: bomb_limit }
        }
        other => DecompressError::Invalid(other.to_string()),
    })
}

/// Compresses `blob` with the substrate magic prefix (for tests and tools).
pub fn compress(blob: &[u8], bomb_limit: u32) -> Option<Vec<u8>> {
    sp_maybe_compressed_blob::compress_weakly(blob, bomb_limit as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_blobs_pass_through_and_compressed_ones_round_trip() {
        let wasm = b"\0asm\x01\0\0\0".repeat(100);
        assert_eq!(decompress(&wasm, 10).unwrap(), &wasm[..]);
        let packed = compress(&wasm, 1 << 20).unwrap();
        assert_ne!(packed, wasm);
        assert_eq!(decompress(&packed, 1 << 20).unwrap(), &wasm[..]);
    }

    #[test]
    fn bomb_limit_is_enforced_to_the_byte() {
        let wasm = vec![7u8; 4096];
        let packed = compress(&wasm, 1 << 20).unwrap();
        assert!(decompress(&packed, 4096).is_ok());
        assert_eq!(
            decompress(&packed, 4095),
            Err(DecompressError::Bomb { limit: 4095 })
        );
    }

    #[test]
    fn corrupt_frames_are_rejected() {
        let mut packed = compress(&[1u8; 1000], 1 << 20).unwrap();
        packed.truncate(12);
        assert!(matches!(
            decompress(&packed, 1 << 20),
            Err(DecompressError::Invalid(_))
        ));
    }
}
