//! Records the exact versions of the crates that turn wasm into artifact bytes, and a digest
//! of our own source files on that path, so that the artifact fingerprint changes whenever a
//! `cargo update` or an edit could change compiled code.

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

/// Our source files that decide artifact bytes: the engine configuration and instrumentation,
/// and the compile job's steps.
const COMPILE_PATH_SOURCES: &[&str] = &["src/engine.rs", "../worker/src/prepare.rs"];

fn main() {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock_path = Path::new(&manifest_dir).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let versions = fs::read_to_string(&lock_path)
        .map(|lock| compile_path_versions(&lock))
        .unwrap_or_else(|_| "no Cargo.lock".into());
    println!("cargo:rustc-env=PVF_COMPILE_PATH_CRATE_VERSIONS={versions}");
    // FNV-1a over the files: any edit, even of a comment, changes the fingerprint; erring
    // towards a recompilation is the safe side.
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for source in COMPILE_PATH_SOURCES {
        let path = Path::new(&manifest_dir).join(source);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = fs::read(&path).unwrap_or_else(|_| b"absent".to_vec());
        for byte in source.bytes().chain(bytes) {
            digest = (digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=PVF_COMPILE_PATH_SOURCES_DIGEST={digest:016x}");
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
