//! The `blob` target: maybe-compressed blob decompression with the bomb limit.
//!
//! Input layout: bytes 0–2 pick the bomb limit (`u16 × 16 + byte 2 % 16`, at most about
//! 1 MiB so that bombs stay cheap to fuzz); byte 3 the mode (0: decompress the rest as
//! given; 1: put the substrate magic in front first; 2: compress the rest, then decompress);
//! the rest is the blob.
//!
//! Properties: plain blobs pass through unchanged at any limit; a decompressed blob never
//! exceeds the limit and the limit is exact to the byte (the output's own length succeeds,
//! one byte less is a bomb); `Bomb` stays a bomb at smaller limits and `Invalid` stays
//! invalid at larger ones; compress → decompress returns the input.

use pvf_common::blob::{self, DecompressError};

/// The substrate zstd magic (`sp-maybe-compressed-blob`'s private `ZSTD_PREFIX`).
pub const MAGIC: [u8; 8] = [82, 188, 83, 118, 70, 219, 142, 5];

/// The `blob` fuzz target.
pub fn blob(data: &[u8]) {
    let header = |i: usize| data.get(i).copied().unwrap_or(0);
    let limit =
        u32::from(u16::from_le_bytes([header(0), header(1)])) * 16 + u32::from(header(2) % 16);
    let rest = data.get(4..).unwrap_or(&[]);
    match header(3) % 3 {
        0 => check_decompress(rest, limit),
        1 => check_decompress(&[&MAGIC[..], rest].concat(), limit),
        _ => check_round_trip(rest, limit),
    }
}

fn check_decompress(input: &[u8], limit: u32) {
    let result = blob::decompress(input, limit);
    if !input.starts_with(&MAGIC) {
        // Plain code is not limited: the reference passes it through at any size.
        assert_eq!(result.as_deref(), Ok(input), "a plain blob was altered");
        return;
    }
    match result {
        Ok(out) => {
            let n = u32::try_from(out.len()).expect("output within a u32 limit");
            assert!(
                n <= limit,
                "decompressed {n} bytes past the bomb limit {limit}"
            );
            // The limit is exact: the output's own size passes, one byte less is a bomb.
            assert_eq!(
                blob::decompress(input, n).as_deref(),
                Ok(&out[..]),
                "the output's own size must suffice"
            );
            if n > 0 {
                assert_eq!(
                    blob::decompress(input, n - 1),
                    Err(DecompressError::Bomb { limit: n - 1 }),
                    "one byte under the output size must be a bomb"
                );
            }
        }
        Err(DecompressError::Bomb { limit: reported }) => {
            assert_eq!(reported, limit, "the bomb error reports another limit");
            let smaller = limit / 2;
            assert_eq!(
                blob::decompress(input, smaller),
                Err(DecompressError::Bomb { limit: smaller }),
                "a bomb at {limit} bytes must stay a bomb at {smaller}"
            );
        }
        Err(DecompressError::Invalid(_)) => {
            let larger = limit.saturating_mul(2).saturating_add(1).min(1 << 21);
            assert!(
                matches!(
                    blob::decompress(input, larger),
                    Err(DecompressError::Invalid(_))
                ),
                "a blob invalid at {limit} bytes must stay invalid at {larger}"
            );
        }
    }
}

fn check_round_trip(plain: &[u8], limit: u32) {
    let Some(packed) = blob::compress(plain, limit) else {
        assert!(
            plain.len() > limit as usize,
            "compress refused a blob within the limit"
        );
        return;
    };
    assert!(
        plain.len() <= limit as usize,
        "compressed a blob over the limit"
    );
    assert!(
        packed.starts_with(&MAGIC),
        "compressed blob without the magic"
    );
    assert_eq!(
        blob::decompress(&packed, limit).as_deref(),
        Ok(plain),
        "round trip failed"
    );
    check_decompress(&packed, limit);
}
