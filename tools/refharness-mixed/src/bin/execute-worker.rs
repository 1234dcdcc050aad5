//! Reference PVF execute worker (crates.io `polkadot-node-core-pvf-execute-worker`), declared
//! as polkadot's own `polkadot/src/bin/execute-worker.rs` does.

polkadot_node_core_pvf_common::decl_worker_main!(
    "execute-worker",
    polkadot_node_core_pvf_execute_worker::worker_entrypoint,
    refharness_mixed::NODE_VERSION,
    refharness_mixed::WORKER_COMMIT,
);
