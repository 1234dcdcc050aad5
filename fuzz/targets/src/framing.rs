//! The `framing` target: `recv_blocking` and the async `recv` over arbitrary byte streams.
//!
//! Input layout (missing header bytes read as zero):
//! - byte 0: bits 0–1 the payload type ([`Opaque`], `Vec<u8>`, `u32`, `PrepareWorkerResult`);
//!   bit 2 the stream ends in an I/O error instead of EOF; bit 3 the reader hiccups
//!   (`Interrupted` for the blocking reader, `Pending` for the async one); bit 4 appends
//!   `byte 3 × 4 KiB + byte 4` filler bytes (value byte 5, at most about 1 MiB) after the
//!   data, so that frames larger than a read chunk cost no input bytes;
//! - byte 1: the frame limit, an index into [`MAXES`];
//! - byte 2: the most bytes one `read` returns within the first 4 KiB (0: no limit);
//! - the rest: the stream, starting with the 8-byte little-endian length prefix.
//!
//! Properties: both readers agree with a model of the wire format (EOF, `Truncated`,
//! `TooLarge` before reading any payload, `Decode` unless the payload decodes exactly), consume
//! exactly the frame, and allocate at most [`GROWTH`] × the payload bytes actually received
//! plus one read chunk, whatever the prefix announces.

use crate::alloc::measure;
use parity_scale_codec::{Decode, DecodeAll, Input};
use pvf_common::{
    PrepareWorkerResult,
    framing::{
        self, FrameError, MAX_JOB_REPLY_FRAME_LEN, MAX_REPLY_FRAME_LEN, MAX_REQUEST_FRAME_LEN,
    },
};
use std::{
    fmt::Debug,
    future::Future,
    io::{self, Read},
    pin::{Pin, pin},
    task::{Context, Poll, Waker},
};
use tokio::io::{AsyncRead, ReadBuf};

/// Frame limits the target picks from: the real ones (execute replies' for the default session
/// and the largest), edge values and "no limit".
pub const MAXES: [u64; 14] = [
    0,
    1,
    4,
    8,
    255,
    4096,
    64 * 1024,
    MAX_REPLY_FRAME_LEN,
    MAX_REQUEST_FRAME_LEN,
    MAX_JOB_REPLY_FRAME_LEN,
    framing::max_execute_reply_frame_len(2080),
    framing::max_execute_reply_frame_len(u32::MAX),
    u64::MAX - 1,
    u64::MAX,
];

/// `framing::READ_CHUNK` (private there): the async reader's first buffer size.
pub const READ_CHUNK: usize = 64 * 1024;

/// Both readers grow their buffer with `read_to_end` (std's and tokio's), which doubles the
/// capacity when it is full: the buffer holds at most twice the bytes received. The stricter
/// "received + one chunk" would need a reallocation per chunk (see fuzz/README.md).
pub const GROWTH: usize = 2;

/// Allowance for the small allocations around a frame (a boxed `io::Error`, its message).
const SLACK: usize = 1024;

/// A payload type whose decoding consumes every byte without allocating, so the target can
/// measure the reader's own allocations. Holds the length and a digest of the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opaque {
    len: u64,
    digest: u64,
}

/// Bytes per step of [`Opaque`]'s decoding. The digest runs over 8-byte words within each
/// step, and [`Opaque::of`] steps the same way, so both see the same words.
const OPAQUE_STEP: usize = 4096;

impl Opaque {
    /// The value a payload of `bytes` decodes to.
    pub fn of(bytes: &[u8]) -> Self {
        let mut this = Self { len: 0, digest: 0 };
        bytes.chunks(OPAQUE_STEP).for_each(|c| this.push(c));
        this
    }

    fn push(&mut self, chunk: &[u8]) {
        // Cheap on purpose (the payload can be a MiB): word-wise multiply-rotate.
        for word in chunk.chunks(8) {
            let mut w = [0u8; 8];
            w[..word.len()].copy_from_slice(word);
            self.digest = (self.digest ^ u64::from_le_bytes(w))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(23);
        }
        self.len += chunk.len() as u64;
    }
}

impl Decode for Opaque {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        let mut this = Self::of(&[]);
        let mut left = input.remaining_len()?.ok_or("Opaque needs a sized input")?;
        let mut buf = [0u8; OPAQUE_STEP];
        while left > 0 {
            let n = left.min(buf.len());
            input.read(&mut buf[..n])?;
            this.push(&buf[..n]);
            left -= n;
        }
        Ok(this)
    }
}

/// The in-memory stream: `data`, then `fill` copies of `fill_byte`, then EOF or an error.
struct Stream<'a> {
    data: &'a [u8],
    fill: usize,
    fill_byte: u8,
    pos: usize,
    max_read: usize,
    end_in_error: bool,
    hiccup: bool,
    calls: u64,
}

impl Stream<'_> {
    fn total(&self) -> usize {
        self.data.len() + self.fill
    }

    /// One read: `None` for a hiccup, else the bytes copied or the stream's end.
    fn step(&mut self, out: &mut [u8]) -> Option<io::Result<usize>> {
        self.calls += 1;
        if self.hiccup && self.calls.is_multiple_of(3) {
            return None;
        }
        let left = self.total() - self.pos;
        if left == 0 && !out.is_empty() {
            return Some(if self.end_in_error {
                Err(io::Error::new(io::ErrorKind::ConnectionReset, "peer reset"))
            } else {
                Ok(0)
            });
        }
        // Short reads only near the start, where the prefix and small payloads are: a
        // 1-byte read size over a MiB of filler would only make the target slow.
        let max_read = if self.pos < 4096 {
            self.max_read
        } else {
            usize::MAX
        };
        let n = out.len().min(left).min(max_read);
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let from_data = rest.len().min(n);
        out[..from_data].copy_from_slice(&rest[..from_data]);
        out[from_data..n].fill(self.fill_byte);
        self.pos += n;
        Some(Ok(n))
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.step(out)
            .unwrap_or_else(|| Err(io::ErrorKind::Interrupted.into()))
    }
}

impl AsyncRead for Stream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.step(buf.initialize_unfilled()) {
            None => {
                // The executor below polls again at once; waking keeps the contract anyway.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

/// A reader's verdict, comparable across readers and with the model.
#[derive(Debug, PartialEq, Eq)]
enum Outcome<T> {
    Io(io::ErrorKind),
    TooLarge { len: u64, max: u64 },
    Truncated { expected: u64, got: u64 },
    Decode,
    Ok(T),
}

fn outcome<T>(r: Result<T, FrameError>) -> Outcome<T> {
    match r {
        Ok(v) => Outcome::Ok(v),
        Err(FrameError::Io(e)) => Outcome::Io(e.kind()),
        Err(FrameError::TooLarge { len, max }) => Outcome::TooLarge { len, max },
        Err(FrameError::Truncated { expected, got }) => Outcome::Truncated { expected, got },
        Err(FrameError::Decode(_)) => Outcome::Decode,
    }
}

/// Polls a future that never waits on anything outside the in-memory stream.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// The `framing` fuzz target.
pub fn framing(data: &[u8]) {
    let header = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = header(0);
    let stream = Stream {
        data: data.get(6..).unwrap_or(&[]),
        fill: if flags & 0x10 != 0 {
            usize::from(header(3)) * 4096 + usize::from(header(4))
        } else {
            0
        },
        fill_byte: header(5),
        pos: 0,
        max_read: match header(2) {
            0 => usize::MAX,
            n => n.into(),
        },
        end_in_error: flags & 0x04 != 0,
        hiccup: flags & 0x08 != 0,
        calls: 0,
    };
    let max = MAXES[usize::from(header(1)) % MAXES.len()];
    match flags & 0x03 {
        0 => check::<Opaque>(stream, max, Some(0)),
        1 => check::<Vec<u8>>(stream, max, Some(1)),
        2 => check::<u32>(stream, max, None),
        _ => check::<PrepareWorkerResult>(stream, max, None),
    }
}

/// Runs both readers on copies of `stream` and checks them against the model. With
/// `decode_copies = Some(k)`, the allocation bound allows `k` extra copies of the payload for
/// the decoded value.
fn check<T: Decode + PartialEq + Debug>(
    stream: Stream<'_>,
    max: u64,
    decode_copies: Option<usize>,
) {
    let total = stream.total();
    let byte_at = |i: usize| stream.data.get(i).copied().unwrap_or(stream.fill_byte);
    // Where the stream ends, a reader sees the stream's error if it has one.
    let end_error = stream
        .end_in_error
        .then_some(io::ErrorKind::ConnectionReset);
    let truncated = |expected: u64, got: usize| match end_error {
        Some(kind) => Outcome::Io(kind),
        None => Outcome::Truncated {
            expected,
            got: got as u64,
        },
    };
    // The model: what a correct reader answers and how many bytes it consumes.
    let (expected, consumed): (Outcome<T>, usize) = if total == 0 {
        let kind = end_error.unwrap_or(io::ErrorKind::UnexpectedEof);
        (Outcome::Io(kind), 0)
    } else if total < 8 {
        (truncated(8, total), total)
    } else {
        let len = u64::from_le_bytes(std::array::from_fn(byte_at));
        if len > max {
            (Outcome::TooLarge { len, max }, 8)
        } else if ((total - 8) as u64) < len {
            (truncated(len, total - 8), total)
        } else {
            let len = len as usize;
            let mut payload = stream.data.get(8..).unwrap_or(&[]).to_vec();
            payload.resize(len, stream.fill_byte);
            let decoded = match T::decode_all(&mut &payload[..]) {
                Ok(v) => Outcome::Ok(v),
                Err(_) => Outcome::Decode,
            };
            (decoded, 8 + len)
        }
    };
    let received = consumed.saturating_sub(8);
    let bound = decode_copies.map(|k| received * (GROWTH + k) + READ_CHUNK + SLACK);

    let mut blocking = Stream { ..stream };
    let (got, peak) = measure(|| outcome(framing::recv_blocking::<_, T>(&mut blocking, max)));
    assert_eq!(got, expected, "recv_blocking disagrees with the model");
    assert_eq!(
        blocking.pos, consumed,
        "recv_blocking consumed the wrong number of bytes"
    );
    if let Some(bound) = bound {
        assert!(
            peak <= bound,
            "recv_blocking allocated {peak} bytes for {received} payload bytes received (bound {bound})"
        );
    }

    let mut nonblocking = Stream {
        pos: 0,
        calls: 0,
        ..blocking
    };
    let (got, peak) = measure(|| outcome(block_on(framing::recv::<_, T>(&mut nonblocking, max))));
    assert_eq!(got, expected, "async recv disagrees with the model");
    assert_eq!(
        nonblocking.pos, consumed,
        "async recv consumed the wrong number of bytes"
    );
    if let Some(bound) = bound {
        assert!(
            peak <= bound,
            "async recv allocated {peak} bytes for {received} payload bytes received (bound {bound})"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_consumes_and_digests_everything() {
        let bytes = [1u8, 2, 3, 4, 5];
        let v = Opaque::decode_all(&mut &bytes[..]).unwrap();
        assert_eq!(v, Opaque::of(&bytes));
        assert_eq!(v.len, 5);
    }

    #[test]
    fn lying_prefixes_are_cheap() {
        // A prefix of 1 GiB with 10 bytes behind it, under the "no limit" limit.
        let mut input = vec![0x00, 11, 0, 0, 0, 0];
        input.extend_from_slice(&(1u64 << 30).to_le_bytes());
        input.extend_from_slice(&[7; 10]);
        framing(&input);
    }
}
