//! The PoV export format of a Cumulus collator (`--export-pov-to-path`), which polkadot-sdk's
//! `cumulus-pov-validator` reads: a SCALE `PoV` immediately followed by a SCALE
//! `PersistedValidationData`, and nothing else. The collator names the files
//! `<block hash>_<block number>.pov`.

use parity_scale_codec::{Decode, Encode};
use pvf_common::execute::{PersistedValidationData, PoV};

/// Why a PoV file does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PovFileError {
    /// The leading `PoV` does not decode (the file is empty, truncated or not a PoV file).
    #[error("the PoV at the start of the file does not decode: {0}")]
    PoV(String),
    /// The `PersistedValidationData` after the PoV does not decode (truncated file).
    #[error("the PersistedValidationData after the PoV ({pov_len} bytes) does not decode: {error}")]
    PersistedValidationData {
        /// Bytes the PoV took.
        pov_len: usize,
        /// The codec's reason.
        error: String,
    },
    /// Bytes follow the `PersistedValidationData`.
    #[error("{0} bytes are left over after the PoV and the PersistedValidationData")]
    TrailingBytes(usize),
}

/// Decodes a whole PoV file: the PoV, then the PVD, with no byte left over.
pub fn decode(bytes: &[u8]) -> Result<(PoV, PersistedValidationData), PovFileError> {
    let mut input = bytes;
    let pov = PoV::decode(&mut input).map_err(|e| PovFileError::PoV(e.to_string()))?;
    let pov_len = bytes.len() - input.len();
    let pvd = PersistedValidationData::decode(&mut input).map_err(|e| {
        PovFileError::PersistedValidationData {
            pov_len,
            error: e.to_string(),
        }
    })?;
    if !input.is_empty() {
        return Err(PovFileError::TrailingBytes(input.len()));
    }
    Ok((pov, pvd))
}

/// Encodes a PoV file as a collator writes it.
pub fn encode(pov: &PoV, pvd: &PersistedValidationData) -> Vec<u8> {
    let mut bytes = pov.encode();
    pvd.encode_to(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvf_common::execute::{BlockData, HeadData};

    fn sample() -> (PoV, PersistedValidationData) {
        (
            PoV {
                block_data: BlockData(vec![7; 300]),
            },
            PersistedValidationData {
                parent_head: HeadData(vec![1, 2, 3]),
                relay_parent_number: 42,
                relay_parent_storage_root: [9; 32],
                max_pov_size: 5 * 1024 * 1024,
            },
        )
    }

    #[test]
    fn round_trips_and_is_the_two_encodings_back_to_back() {
        let (pov, pvd) = sample();
        let bytes = encode(&pov, &pvd);
        assert_eq!(bytes, [pov.encode(), pvd.encode()].concat());
        assert_eq!(decode(&bytes), Ok((pov, pvd)));
    }

    #[test]
    fn every_truncation_and_any_trailing_byte_is_refused_with_its_part() {
        let (pov, pvd) = sample();
        let bytes = encode(&pov, &pvd);
        let pov_len = pov.encode().len();
        for len in 0..bytes.len() {
            let error = decode(&bytes[..len]).unwrap_err();
            if len < pov_len {
                assert!(matches!(error, PovFileError::PoV(_)), "{len}: {error}");
            } else {
                assert!(
                    matches!(error, PovFileError::PersistedValidationData { pov_len: p, .. } if p == pov_len),
                    "{len}: {error}"
                );
            }
        }
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(&[0, 0, 0]);
        assert_eq!(decode(&trailing), Err(PovFileError::TrailingBytes(3)));
        assert_eq!(
            PovFileError::TrailingBytes(3).to_string(),
            "3 bytes are left over after the PoV and the PersistedValidationData"
        );
    }

    #[test]
    fn a_length_prefix_larger_than_the_file_is_an_error_not_an_allocation() {
        // Compact length 2^30 - 1 (four-byte mode), then nothing.
        let bytes = [0xfe, 0xff, 0xff, 0xff];
        assert!(matches!(decode(&bytes), Err(PovFileError::PoV(_))));
    }
}
