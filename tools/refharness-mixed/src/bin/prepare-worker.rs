//! Reference PVF prepare worker (crates.io `polkadot-node-core-pvf-prepare-worker`), declared
//! as polkadot's own `polkadot/src/bin/prepare-worker.rs` does.

polkadot_node_core_pvf_common::decl_worker_main!(
    "prepare-worker",
    polkadot_node_core_pvf_prepare_worker::worker_entrypoint,
    refharness_mixed::NODE_VERSION,
    refharness_mixed::WORKER_COMMIT,
);
