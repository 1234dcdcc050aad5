//! Bounded, length-prefixed SCALE frames.
//!
//! A frame is the payload length as a little-endian `u64` (the reference's `usize` on 64-bit
//! machines), followed by the SCALE-encoded value. Unlike the reference, every reader takes a
//! maximum and rejects a larger prefix **before allocating**, and buffers grow with the bytes
//! actually received (to at most twice those bytes plus one chunk: `read_to_end` doubles a
//! full buffer), so a compromised peer cannot make us allocate what it never sends. The
//! `framing` fuzz target checks that bound.
//! A value must consume its payload exactly.

use parity_scale_codec::{Decode, DecodeAll, Encode};
use std::io::{self, Read, Write};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Host → worker requests carry the code blob. Chain code is at most a few MiB compressed and
/// raw runtimes are under 10 MiB; 256 MiB leaves room while still bounding the worker.
pub const MAX_REQUEST_FRAME_LEN: u64 = 256 * 1024 * 1024;

/// Handshakes and prepare worker → host replies carry stats, a checksum and error messages
/// (truncated to [`MAX_ERROR_MESSAGE_LEN`]), never artifacts: 1 MiB is generous.
pub const MAX_REPLY_FRAME_LEN: u64 = 1024 * 1024;

/// Execute replies (job → worker and worker → host) carry the PVF's `ValidationResult`. The
/// reference bounds neither: new code, head data and messages may fill the instance's linear
/// memory. So the cap is that memory, `memory_pages` (the session's limit; wasm32 has at most
/// 65 536) of 64 KiB, plus 1 MiB for the reply's own fields. A lower cap would turn a valid code
/// upgrade into an ambiguous worker death, a vote against; a higher one would let a hijacked
/// job make its worker and the host buffer what no PVF can return.
pub const fn max_execute_reply_frame_len(memory_pages: u32) -> u64 {
    let pages = if memory_pages > 65_536 {
        65_536
    } else {
        memory_pages
    };
    pages as u64 * 65_536 + (1 << 20)
}

/// Prepare job → worker replies carry the compiled artifact. The bomb limit caps decompressed
/// code at about 30 MiB and artifacts are 4–5× the wasm size, so about 150 MiB; 512 MiB is the
/// cap.
pub const MAX_JOB_REPLY_FRAME_LEN: u64 = 512 * 1024 * 1024;

/// Error strings from untrusted jobs are cut to this many bytes before they travel on.
pub const MAX_ERROR_MESSAGE_LEN: usize = 16 * 1024;

/// The buffer a frame starts with, whatever its prefix announces; it then grows as bytes arrive.
const READ_CHUNK: usize = 64 * 1024;

/// Why a frame could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream failed or the peer hung up before a frame began.
    #[error("frame i/o failed: {0}")]
    Io(#[from] io::Error),
    /// The peer announced more bytes than this stream may carry; nothing was allocated.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes; the peer is misbehaving")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The limit of this stream.
        max: u64,
    },
    /// The stream ended inside a frame.
    #[error("frame truncated: expected {expected} bytes, got {got}; the peer died mid-frame")]
    Truncated {
        /// The announced length (or 8 for the prefix).
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// The payload is not a valid encoding of the expected type.
    #[error("frame payload does not decode: {0}")]
    Decode(#[from] parity_scale_codec::Error),
}

/// Encodes `value` as one frame, prefix included.
pub fn encode_frame<T: Encode>(value: &T) -> Vec<u8> {
    let payload_len = value.encoded_size();
    let mut buf = Vec::with_capacity(8 + payload_len);
    buf.extend_from_slice(&(payload_len as u64).to_le_bytes());
    value.encode_to(&mut buf);
    buf
}

/// Cuts an untrusted error message to [`MAX_ERROR_MESSAGE_LEN`] bytes on a char boundary.
pub fn truncate_message(mut msg: String) -> String {
    if msg.len() > MAX_ERROR_MESSAGE_LEN {
        let mut end = MAX_ERROR_MESSAGE_LEN;
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        msg.truncate(end);
        msg.push_str("… (truncated)");
    }
    msg
}

fn check_len(prefix: [u8; 8], max: u64) -> Result<u64, FrameError> {
    let len = u64::from_le_bytes(prefix);
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

fn decode_payload<T: Decode>(payload: &[u8]) -> Result<T, FrameError> {
    Ok(T::decode_all(&mut &payload[..])?)
}

/// Writes one frame to a blocking stream.
pub fn send_blocking<W: Write, T: Encode>(w: &mut W, value: &T) -> Result<(), FrameError> {
    w.write_all(&encode_frame(value))?;
    w.flush()?;
    Ok(())
}

/// Reads one frame of at most `max` payload bytes from a blocking stream.
pub fn recv_blocking<R: Read, T: Decode>(r: &mut R, max: u64) -> Result<T, FrameError> {
    let mut prefix = [0u8; 8];
    read_exact_or_truncated(r, &mut prefix, 8)?;
    let len = check_len(prefix, max)?;
    // Sized up front, as the async reader does: from empty, `read_to_end` reads a small frame
    // in several system calls (32, 32, 64 bytes …).
    let mut payload = Vec::with_capacity((len as usize).min(READ_CHUNK));
    let got = r.take(len).read_to_end(&mut payload)? as u64;
    if got < len {
        return Err(FrameError::Truncated { expected: len, got });
    }
    decode_payload(&payload)
}

fn read_exact_or_truncated<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    expected: u64,
) -> Result<(), FrameError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => {
                return Err(FrameError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the stream",
                )));
            }
            Ok(0) => {
                return Err(FrameError::Truncated {
                    expected,
                    got: filled as u64,
                });
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes one frame to an async stream.
pub async fn send<W: AsyncWrite + Unpin, T: Encode>(
    w: &mut W,
    value: &T,
) -> Result<(), FrameError> {
    w.write_all(&encode_frame(value)).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame of at most `max` payload bytes from an async stream.
pub async fn recv<R: AsyncRead + Unpin, T: Decode>(r: &mut R, max: u64) -> Result<T, FrameError> {
    let mut prefix = [0u8; 8];
    let mut filled = 0;
    while filled < 8 {
        let n = r.read(&mut prefix[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Err(FrameError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the stream",
                )));
            }
            return Err(FrameError::Truncated {
                expected: 8,
                got: filled as u64,
            });
        }
        filled += n;
    }
    let len = check_len(prefix, max)?;
    let mut payload = Vec::with_capacity((len as usize).min(READ_CHUNK));
    let got = r.take(len).read_to_end(&mut payload).await? as u64;
    if got < len {
        return Err(FrameError::Truncated { expected: len, got });
    }
    decode_payload(&payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_blocking() {
        let mut buf = Vec::new();
        send_blocking(&mut buf, &(7u32, b"abc".to_vec())).unwrap();
        assert_eq!(&buf[..8], &8u64.to_le_bytes());
        let v: (u32, Vec<u8>) = recv_blocking(&mut &buf[..], 100).unwrap();
        assert_eq!(v, (7, b"abc".to_vec()));
    }

    #[test]
    fn oversized_prefix_is_rejected_before_allocating() {
        let mut buf = u64::MAX.to_le_bytes().to_vec();
        buf.extend_from_slice(&[0; 4]);
        let err = recv_blocking::<_, Vec<u8>>(&mut &buf[..], 1024).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::TooLarge {
                    len: u64::MAX,
                    max: 1024
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn truncated_payload_and_prefix_are_errors() {
        let mut buf = 10u64.to_le_bytes().to_vec();
        buf.extend_from_slice(&[1, 2, 3]);
        let err = recv_blocking::<_, Vec<u8>>(&mut &buf[..], 1024).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    expected: 10,
                    got: 3
                }
            ),
            "{err}"
        );
        let err = recv_blocking::<_, Vec<u8>>(&mut &[1u8, 2][..], 1024).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    expected: 8,
                    got: 2
                }
            ),
            "{err}"
        );
        let err = recv_blocking::<_, Vec<u8>>(&mut &[][..], 1024).unwrap_err();
        assert!(matches!(err, FrameError::Io(_)), "{err}");
    }

    #[test]
    fn garbage_and_trailing_bytes_do_not_decode() {
        let mut buf = 1u64.to_le_bytes().to_vec();
        buf.push(0xff);
        assert!(matches!(
            recv_blocking::<_, Vec<u8>>(&mut &buf[..], 1024).unwrap_err(),
            FrameError::Decode(_)
        ));
        let mut buf = 5u64.to_le_bytes().to_vec();
        buf.extend_from_slice(&[1, 0, 0, 0, 9]);
        assert!(matches!(
            recv_blocking::<_, u32>(&mut &buf[..], 1024).unwrap_err(),
            FrameError::Decode(_)
        ));
    }

    #[tokio::test]
    async fn async_matches_blocking() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            send(&mut a, &vec![5u8; 1000]).await.unwrap();
            let mut huge = (MAX_REPLY_FRAME_LEN + 1).to_le_bytes().to_vec();
            huge.push(0);
            a.write_all(&huge).await.unwrap();
        });
        let v: Vec<u8> = recv(&mut b, 2000).await.unwrap();
        assert_eq!(v, vec![5u8; 1000]);
        let err = recv::<_, Vec<u8>>(&mut b, MAX_REPLY_FRAME_LEN)
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        writer.await.unwrap();
    }

    #[test]
    fn long_messages_are_truncated_on_char_boundaries() {
        let msg = "é".repeat(MAX_ERROR_MESSAGE_LEN);
        let cut = truncate_message(msg);
        assert!(cut.len() <= MAX_ERROR_MESSAGE_LEN + "… (truncated)".len());
        assert!(cut.ends_with("(truncated)"));
        assert_eq!(truncate_message("short".into()), "short");
    }

    #[test]
    fn an_execute_reply_may_carry_the_sessions_whole_memory() {
        let default_session = crate::engine::Semantics::default().max_memory_pages;
        assert_eq!(
            max_execute_reply_frame_len(default_session),
            2080 * 65_536 + (1 << 20)
        );
        // wasm32 memory ends at 4 GiB whatever the session allows.
        assert_eq!(max_execute_reply_frame_len(u32::MAX), (1 << 32) + (1 << 20));
    }
}
