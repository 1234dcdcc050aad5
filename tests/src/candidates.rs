//! Real Cumulus candidates that `tools/candidate-gen` built offline (issue 15), as the
//! integration test and the side-by-side benchmark read them: each set is a directory
//! `$PVF_CORPUS_DIR/candidates/<label>/` with `vectors.json` (the adder vectors' schema plus a
//! `runtime` file name and a `pov_file` per vector) and the PoV files it names. Not in the
//! repository: they derive from third-party runtimes and chain specs.

use parity_scale_codec::Decode;
use pvf_common::execute::ValidationParams;
use std::path::{Path, PathBuf};

/// One generated candidate.
pub struct Candidate {
    /// Its name in the set.
    pub name: String,
    /// The `ValidationParams` the builder encoded.
    pub params: ValidationParams,
    /// The PoV file: SCALE `PoV` then SCALE `PersistedValidationData`.
    pub pov_file: PathBuf,
    /// `Some(result bytes)` for a valid block, `None` for one the PVF must reject.
    pub expected: Option<Vec<u8>>,
    /// The vector as `vectors.json` has it (what `refbench execute-adder --vectors` reads).
    pub json: serde_json::Value,
}

/// The candidates of one runtime.
pub struct CandidateSet {
    /// The set's directory name.
    pub label: String,
    /// The runtime blob's file name, as the set names it.
    pub runtime_name: String,
    /// The runtime blob: in the corpus's `pvf/` or `relay/`, or next to `vectors.json`.
    pub runtime: PathBuf,
    /// The set's `vectors.json`.
    pub vectors_file: PathBuf,
    /// Valid and invalid candidates, in the set's order.
    pub candidates: Vec<Candidate>,
}

/// Every set under `corpus/candidates/`, sorted by label; empty when there are none.
pub fn candidate_sets(corpus: &Path) -> Vec<CandidateSet> {
    let Ok(entries) = std::fs::read_dir(corpus.join("candidates")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path().join("vectors.json")))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().map(|f| load_set(corpus, f)).collect()
}

fn load_set(corpus: &Path, vectors_file: &Path) -> CandidateSet {
    let at = vectors_file.display();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vectors_file).expect("readable vectors.json"))
            .unwrap_or_else(|e| panic!("{at}: not JSON: {e}"));
    let runtime_name = doc["runtime"]
        .as_str()
        .unwrap_or_else(|| panic!("{at}: no \"runtime\""))
        .to_owned();
    let runtime = [
        corpus.join("pvf").join(&runtime_name),
        corpus.join("relay").join(&runtime_name),
        vectors_file.with_file_name(&runtime_name),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("{at}: no runtime file named {runtime_name}"));
    let hex_field = |v: &serde_json::Value, key: &str| {
        v[key]
            .as_str()
            .map(|h| hex::decode(h.trim_start_matches("0x")).expect("hex"))
    };
    let candidates = doc["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{at}: no \"vectors\""))
        .iter()
        .map(|v| {
            let name = v["name"].as_str().expect("a vector name").to_owned();
            let params_bytes = hex_field(v, "validation_params_scale_hex").expect("params");
            let expected = hex_field(v, "expected_validation_result_scale_hex");
            let traps = v["expected"]
                .as_str()
                .is_some_and(|e| e.starts_with("trap"));
            assert!(
                expected.is_some() || traps,
                "{at} {name}: neither an expected result nor a trap"
            );
            Candidate {
                params: ValidationParams::decode(&mut &params_bytes[..])
                    .unwrap_or_else(|e| panic!("{at} {name}: params do not decode: {e}")),
                pov_file: vectors_file
                    .with_file_name(v["pov_file"].as_str().expect("a PoV file name")),
                expected,
                json: v.clone(),
                name,
            }
        })
        .collect();
    CandidateSet {
        label: vectors_file
            .parent()
            .and_then(|d| d.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        runtime_name,
        runtime,
        vectors_file: vectors_file.to_path_buf(),
        candidates,
    }
}
