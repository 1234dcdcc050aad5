// Included by `tests/src/lib.rs` and `cli/src/inputs.rs`: one table for tests and the CLI.

/// Every corpus blob and the pre-check verdict the reference gives it ("ok" or a
/// `PrepareError` variant name; see ../shared/reference/baseline.md). The bare zstd frame lacks
/// the substrate magic, so it is taken as raw wasm and fails to parse.
pub const CORPUS_VERDICTS: &[(&str, &str)] = &[
    ("pvf/test-parachain-adder.kagome.compressed.wasm", "ok"),
    ("pvf/test-parachain-adder.gossamer.wasm", "ok"),
    ("pvf/cumulus-shell.zstd-without-magic.wasm.zst", "Prevalidation"),
    ("pvf/collectives-polkadot-9290.genesis.compressed.wasm", "ok"),
    ("pvf/coretime-kusama-1002000.genesis.compressed.wasm", "ok"),
    ("relay/westend-9300.compressed.wasm", "ok"),
    ("relay/rococo-genesis.raw.wasm", "ok"),
    ("negative/polkadot-2019-infinite-loop.wasm", "ok"),
];
