//! The `pov_file` target: the decoder of a collator's exported PoV files
//! ([`pvf_validation::pov_file`]), which `pvf validate --pov-file` reads from an operator's
//! disk.
//!
//! Input: the file's bytes. Properties: decoding never panics and allocates at most a
//! constant factor of the input, not what a length prefix announces; the error names the
//! part that failed exactly as decoding the `PoV` and then the `PersistedValidationData` by
//! hand says (with the PoV's length, or the count of bytes left over); whatever decodes
//! re-encodes to exactly the input, stops decoding with one byte added (one byte left over)
//! and with its last byte removed.

use crate::alloc::measure;
use parity_scale_codec::{Decode, Encode};
use pvf_common::execute::{PersistedValidationData, PoV};
use pvf_validation::pov_file::{self, PovFileError};

/// Decoded memory may exceed the input by this factor (see [`crate::decode`]).
const ALLOC_FACTOR: usize = 64;
/// Fixed allowance for error values and small buffers.
const ALLOC_SLACK: usize = 64 * 1024;

/// The `pov_file` fuzz target.
pub fn pov_file(data: &[u8]) {
    let (result, peak) = measure(|| pov_file::decode(data));
    let bound = data.len() * ALLOC_FACTOR + ALLOC_SLACK;
    assert!(
        peak <= bound,
        "decoding {} bytes allocated {peak} bytes (bound {bound})",
        data.len()
    );
    // The same decoding by hand, part by part.
    let mut rest = data;
    let expected = match PoV::decode(&mut rest) {
        Err(_) => None,
        Ok(pov) => {
            let pov_len = data.len() - rest.len();
            match PersistedValidationData::decode(&mut rest) {
                Err(_) => Some(Err(pov_len)),
                Ok(pvd) => Some(Ok((pov, pvd, rest.len()))),
            }
        }
    };
    match (result, expected) {
        (Err(PovFileError::PoV(_)), None) => {}
        (Err(PovFileError::PersistedValidationData { pov_len, .. }), Some(Err(expected))) => {
            assert_eq!(pov_len, expected, "the PoV length in the error is wrong")
        }
        (Err(PovFileError::TrailingBytes(n)), Some(Ok((_, _, left)))) => {
            assert!(n > 0, "trailing bytes reported with none left");
            assert_eq!(n, left, "the left-over count is wrong");
        }
        (Ok((pov, pvd)), Some(Ok((hand_pov, hand_pvd, 0)))) => {
            assert_eq!((&pov, &pvd), (&hand_pov, &hand_pvd), "decoded differently");
            assert_eq!(pov_file::encode(&pov, &pvd), data, "re-encoding differs");
            assert_eq!(
                pov.encoded_size() + pvd.encoded_size(),
                data.len(),
                "encoded sizes do not add up"
            );
            let longer = [data, &[0]].concat();
            assert_eq!(
                pov_file::decode(&longer),
                Err(PovFileError::TrailingBytes(1)),
                "a trailing byte was accepted"
            );
            assert!(
                pov_file::decode(&data[..data.len() - 1]).is_err(),
                "a truncated file decoded"
            );
        }
        (result, expected) => panic!("decode gave {result:?}, by hand {expected:?}"),
    }
}
