//! Writing candidates: PoV files in the collator's export format and one vectors JSON per
//! runtime in the schema of the corpus's `vectors/adder-vectors.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use codec::Encode;
use polkadot_parachain_primitives::primitives::ValidationParams;
use polkadot_primitives::PersistedValidationData;
use serde_json::{Value, json};

/// What a validator must conclude about a candidate.
#[derive(Debug, Clone)]
pub enum Expected {
    /// Valid, with exactly this SCALE `ValidationResult`.
    Valid(Vec<u8>),
    /// Invalid: `validate_block` must trap; the text says why.
    Trap(String),
}

/// One candidate, valid or not.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Unique within the runtime, e.g. `block-3` or `neg-bad-seal-1`.
    pub name: String,
    /// Free text: what the block holds, or what was broken.
    pub note: String,
    /// What `validate_block` receives.
    pub params: ValidationParams,
    /// What the collator's PoV export carries next to the PoV.
    pub pvd: PersistedValidationData,
    /// The verdict.
    pub expected: Expected,
}

/// Writes `<dir>/<name>.pov`: SCALE `PoV { block_data }` followed by SCALE
/// `PersistedValidationData`, the layout Cumulus's `--export-pov-to-path` writes.
pub fn write_pov(dir: &Path, c: &Candidate) -> Result<PathBuf> {
    // `PoV` is a struct with the block data as its only field, so its encoding is the block
    // data's (a length-prefixed byte vector); spelled out to avoid the node-primitives crate.
    let mut bytes = c.params.block_data.encode();
    c.pvd.encode_to(&mut bytes);
    let path = dir.join(format!("{}.pov", c.name));
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn vector(c: &Candidate, pov_file: &str) -> Value {
    let mut v = json!({
        "name": c.name,
        "note": c.note,
        "pov_file": pov_file,
        "parent_head_hex": hex::encode(&c.params.parent_head.0),
        "block_data_hex": hex::encode(&c.params.block_data.0),
        "relay_parent_number": c.params.relay_parent_number,
        "relay_parent_storage_root_hex": hex::encode(c.params.relay_parent_storage_root),
        "validation_params_scale_hex": hex::encode(c.params.encode()),
    });
    match &c.expected {
        Expected::Valid(r) => v["expected_validation_result_scale_hex"] = json!(hex::encode(r)),
        Expected::Trap(why) => v["expected"] = json!(format!("trap: {why}")),
    }
    v
}

/// Writes every candidate's PoV file into `dir` and `dir/vectors.json` listing them all.
pub fn write_all(
    dir: &Path,
    runtime_file: &str,
    description: &str,
    candidates: &[Candidate],
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut vectors = Vec::with_capacity(candidates.len());
    for c in candidates {
        let pov = write_pov(dir, c)?;
        let pov_name = pov
            .file_name()
            .expect("file")
            .to_string_lossy()
            .into_owned();
        vectors.push(vector(c, &pov_name));
    }
    let doc = json!({
        "description": description,
        "runtime": runtime_file,
        "vectors": vectors,
    });
    let path = dir.join("vectors.json");
    let text = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
