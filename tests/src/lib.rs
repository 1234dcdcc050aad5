//! Shared helpers of the integration tests and benchmarks.

use std::path::{Path, PathBuf};

/// Environment variable naming the corpus dir.
pub const CORPUS_ENV: &str = "PVF_CORPUS_DIR";

/// The corpus dir (`$PVF_CORPUS_DIR`, default `../shared/pvf-corpus` next to the repo), or
/// `None` with a skip message. Under `CI=true` a missing corpus is a failure.
pub fn corpus_dir_or_skip(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(CORPUS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pvf-corpus"));
    if dir.join("manifest.json").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: the PVF corpus is missing at {} and CI=true; set {CORPUS_ENV}",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: no PVF corpus at {} (set {CORPUS_ENV})",
        dir.display()
    );
    None
}

/// Assembles one of the project's WAT test PVFs from `tests/pvfs/`.
pub fn test_pvf(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pvfs")
        .join(name);
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A valid module with `functions` large functions: compiling it takes long enough to hit
/// small timeouts, to be killed mid-job, and to be overtaken in the queue.
pub fn slow_to_compile_pvf(functions: usize, seed: u32) -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 17)\n");
    for f in 0..functions {
        wat.push_str(&format!(
            "(func $f{f} (param i32) (result i32) (local i32)\n"
        ));
        for i in 0..200 {
            wat.push_str(&format!(
                "(local.set 1 (i32.add (i32.mul (local.get 0) (i32.const {})) (local.get 1)))\n",
                seed.wrapping_add(i as u32 * 7 + f as u32)
            ));
            wat.push_str("(if (i32.gt_u (local.get 1) (i32.const 1000)) (then (local.set 0 (i32.rotl (local.get 0) (local.get 1)))))\n");
        }
        wat.push_str("(local.get 1))\n");
    }
    wat.push_str("(func (export \"validate_block\") (param i32 i32) (result i64) (i64.extend_i32_u (call $f0 (local.get 0)))))");
    wat::parse_str(&wat).expect("generated WAT assembles")
}
