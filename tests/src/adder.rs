//! The corpus's adder parachain and its executable vectors, for tests and benchmarks that
//! need a PVF with known valid and invalid blocks.

use parity_scale_codec::Decode;
use pvf_common::execute::{PersistedValidationData, PoV, ValidationParams, ValidationResult};
use std::path::Path;

/// The adder PVF with one good block (and its expected result) and one that traps.
pub struct Adder {
    /// The compressed code, as it is on chain.
    pub code: Vec<u8>,
    /// A block that validates.
    pub good: ValidationParams,
    /// The SCALE-encoded `ValidationResult` of `good`.
    pub expected: Vec<u8>,
    /// A block the PVF rejects.
    pub bad: ValidationParams,
}

impl Adder {
    /// Loads the KAGOME build of the adder and its vectors from the corpus dir.
    pub fn load(corpus: &Path) -> Self {
        let vectors: serde_json::Value = serde_json::from_slice(
            &std::fs::read(corpus.join("vectors/adder-vectors.json")).expect("adder vectors"),
        )
        .expect("adder vectors are JSON");
        let decode = |v: &serde_json::Value| {
            let bytes = hex::decode(v["validation_params_scale_hex"].as_str().unwrap()).unwrap();
            ValidationParams::decode(&mut &bytes[..]).unwrap()
        };
        let vectors = vectors["vectors"].as_array().expect("a vector list");
        let good = &vectors[0];
        let bad = vectors
            .iter()
            .find(|v| v["expected_validation_result_scale_hex"].is_null())
            .expect("a trapping vector");
        Self {
            code: std::fs::read(corpus.join("pvf/test-parachain-adder.kagome.compressed.wasm"))
                .expect("adder code"),
            good: decode(good),
            expected: hex::decode(
                good["expected_validation_result_scale_hex"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
            bad: decode(bad),
        }
    }

    /// `expected`, decoded.
    pub fn expected_result(&self) -> ValidationResult {
        ValidationResult::decode(&mut &self.expected[..]).expect("the adder's expected result")
    }
}

/// The validation data and PoV that carry `params` through `execute_pvf`.
pub fn pvd_pov(params: &ValidationParams) -> (PersistedValidationData, PoV) {
    (
        PersistedValidationData {
            parent_head: params.parent_head.clone(),
            relay_parent_number: params.relay_parent_number,
            relay_parent_storage_root: params.relay_parent_storage_root,
            max_pov_size: 5 * 1024 * 1024,
        },
        PoV {
            block_data: params.block_data.clone(),
        },
    )
}
