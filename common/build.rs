//! Records the exact versions of the crates that turn wasm into artifact bytes, so that the
//! artifact fingerprint changes whenever a `cargo update` could change compiled code.

use std::{env, fs, path::Path};

/// Crates on the compile path: parsing, instrumentation, code generation.
const COMPILE_PATH_CRATES: &[&str] = &[
    "cranelift-codegen",
    "parity-wasm",
    "sc-executor-common",
    "wasm-instrument",
    "wasmparser",
    "wasmtime",
    "wasmtime-environ",
];

fn main() {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock_path = Path::new(&manifest_dir).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let versions = fs::read_to_string(&lock_path)
        .map(|lock| compile_path_versions(&lock))
        .unwrap_or_else(|_| "no Cargo.lock".into());
    println!("cargo:rustc-env=PVF_COMPILE_PATH_CRATE_VERSIONS={versions}");
}

/// `name version` pairs of [`COMPILE_PATH_CRATES`], in lockfile order, joined by `;`.
fn compile_path_versions(lock: &str) -> String {
    let mut found = Vec::new();
    let mut name: Option<&str> = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"'));
        } else if let (Some(n), Some(value)) = (name, line.strip_prefix("version = ")) {
            if COMPILE_PATH_CRATES.contains(&n) {
                found.push(format!("{n} {}", value.trim_matches('"')));
            }
            name = None;
        }
    }
    found.join(";")
}
