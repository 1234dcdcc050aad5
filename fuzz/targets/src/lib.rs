//! Fuzz targets of the PVF host's trust boundaries.
//!
//! Every target is a plain `fn(&[u8])` that panics when a property fails, so the same code
//! runs under cargo-fuzz (`fuzz/fuzz_targets/<name>.rs`, nightly) and in the stable replay
//! test (`tests/replay.rs`), which feeds it every committed corpus and crash file.
//!
//! - [`framing`]: the blocking and async frame readers over arbitrary byte streams;
//! - [`blob`]: maybe-compressed blob decompression and its bomb limit;
//! - [`executor_params`]: `ExecutorParams` consistency, `hash` and `prep_hash`;
//! - [`decode`]: every decoder on a trust boundary (host, worker and job side);
//! - [`roundtrip`]: `decode(encode(x)) == x` for values built from fuzz bytes;
//! - [`pov_file`]: the decoder of a collator's exported PoV files;
//! - [`seeds`]: the hand-made seed inputs that `examples/gen_corpus.rs` writes.

pub mod alloc;
pub mod blob;
pub mod decode;
pub mod executor_params;
pub mod framing;
pub mod pov_file;
pub mod roundtrip;
pub mod seeds;

/// One fuzz target: its name (the cargo-fuzz target and corpus directory) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order the README lists them. The replay test requires a non-empty
/// corpus directory for each entry, so a target added here without seeds fails loudly.
pub const TARGETS: &[Target] = &[
    ("framing", framing::framing),
    ("blob", blob::blob),
    ("executor_params", executor_params::executor_params),
    ("host_decode", decode::host_decode),
    ("worker_decode", decode::worker_decode),
    ("job_decode", decode::job_decode),
    ("roundtrip", roundtrip::roundtrip),
    ("pov_file", pov_file::pov_file),
];
