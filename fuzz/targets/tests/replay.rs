//! Replays the committed fuzz inputs through the target functions on the stable toolchain:
//! every file of `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/` (crash inputs kept as
//! regressions) and every in-memory seed. A target without corpus fails, so the replay
//! cannot pass by finding nothing.

use pvf_fuzz_targets::{TARGETS, seeds::seeds};
use std::{
    collections::BTreeSet,
    fs,
    panic::catch_unwind,
    path::{Path, PathBuf},
};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The regular, non-hidden files of `dir`, sorted; none if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Runs `target` on each file and returns the files it panicked on.
fn failures(target: fn(&[u8]), files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter(|file| {
            let bytes = fs::read(file).expect("readable input");
            catch_unwind(|| target(&bytes)).is_err()
        })
        .map(|file| file.display().to_string())
        .collect()
}

/// Names of the subdirectories of `dir`.
fn subdirs(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_corpus_file_passes() {
    let mut failed = Vec::new();
    for &(name, target) in TARGETS {
        let files = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(
            !files.is_empty(),
            "fuzz/corpus/{name} is missing or empty; run \
             `cargo run -p pvf-fuzz-targets --example gen_corpus`"
        );
        failed.extend(failures(target, &files));
    }
    assert!(failed.is_empty(), "corpus inputs failed: {failed:#?}");
}

#[test]
fn every_crash_input_passes() {
    let artifacts = fuzz_dir().join("artifacts");
    let names: BTreeSet<String> = TARGETS.iter().map(|&(n, _)| n.to_string()).collect();
    let unknown: Vec<_> = subdirs(&artifacts).difference(&names).cloned().collect();
    assert!(
        unknown.is_empty(),
        "fuzz/artifacts has dirs of no target: {unknown:?}"
    );
    let mut failed = Vec::new();
    for &(name, target) in TARGETS {
        failed.extend(failures(target, &inputs(&artifacts.join(name))));
    }
    assert!(failed.is_empty(), "crash inputs failed again: {failed:#?}");
}

#[test]
fn every_seed_passes() {
    let mut failed = Vec::new();
    for seed in seeds() {
        let &(_, target) = TARGETS
            .iter()
            .find(|&&(n, _)| n == seed.target)
            .expect("seed of a listed target");
        if catch_unwind(|| target(&seed.bytes)).is_err() {
            failed.push(format!("{}/{}", seed.target, seed.name));
        }
    }
    assert!(failed.is_empty(), "seeds failed: {failed:#?}");
}

/// The cargo-fuzz crate, the corpus and [`TARGETS`] must list the same targets.
#[test]
fn fuzz_crate_and_corpus_match_the_target_list() {
    let names: BTreeSet<String> = TARGETS.iter().map(|&(n, _)| n.to_string()).collect();
    assert_eq!(
        subdirs(&fuzz_dir().join("corpus")),
        names,
        "fuzz/corpus dirs"
    );
    let sources: BTreeSet<String> = inputs(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_str()?.strip_suffix(".rs")?.to_string()))
        .collect();
    assert_eq!(sources, names, "fuzz/fuzz_targets/*.rs");
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in &names {
        let source = fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs")))
            .expect("target source");
        assert!(
            source.contains(&format!("pvf_fuzz_targets::{name}::{name}"))
                || source.contains(&format!("decode::{name}")),
            "fuzz_targets/{name}.rs does not call its target function"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}
