//! Records the exact versions of the crates that turn wasm into artifact bytes, and a digest
//! of our own source files on that path, so that the artifact fingerprint changes whenever a
//! `cargo update` or an edit could change compiled code. Also records the build id host and
//! workers compare: a digest of every source a worker is built from.

use std::{
    env, fs,
    path::{Path, PathBuf},
};

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
    let mut digest = FNV_OFFSET;
    for source in COMPILE_PATH_SOURCES {
        let path = Path::new(&manifest_dir).join(source);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = fs::read(&path).unwrap_or_else(|_| b"absent".to_vec());
        digest = fnv1a(digest, source.bytes().chain(bytes));
    }
    println!("cargo:rustc-env=PVF_COMPILE_PATH_SOURCES_DIGEST={digest:016x}");
    println!(
        "cargo:rustc-env=PVF_WORKER_SOURCES_DIGEST={}",
        worker_sources_digest(Path::new(&manifest_dir))
    );
}

/// Source trees a worker binary is built from, relative to this crate; with `Cargo.lock`
/// they make the build id in `BUILD_VERSION`.
const WORKER_SOURCE_TREES: &[&str] = &["src", "../security/src", "../worker/src"];

/// FNV-1a, folded over `bytes`.
fn fnv1a(mut digest: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    for byte in bytes {
        digest = (digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    digest
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Every file under `dir`, sorted, so the digest does not depend on directory order.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The digest of the worker's sources and the lockfile, as 16 hex digits.
fn worker_sources_digest(manifest_dir: &Path) -> String {
    let mut digest = FNV_OFFSET;
    let lock = manifest_dir.join("../Cargo.lock");
    digest = fnv1a(digest, fs::read(&lock).unwrap_or_default());
    for tree in WORKER_SOURCE_TREES {
        let root = manifest_dir.join(tree);
        // A directory: cargo reruns the script when anything beneath it changes.
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        files_under(&root, &mut files);
        for file in files {
            let name = file.strip_prefix(manifest_dir).unwrap_or(&file);
            digest = fnv1a(digest, name.to_string_lossy().bytes());
            digest = fnv1a(digest, fs::read(&file).unwrap_or_default());
        }
    }
    format!("{digest:016x}")
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
