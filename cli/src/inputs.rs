//! What `pvf prepare` works on: files given on the command line, or the bundled default set
//! (the project's own WAT test PVFs, a decompression bomb, a non-wasm blob, and the shared
//! corpus when it is present).

use std::path::{Path, PathBuf};

/// One input: a display name, its bytes (or why they could not be read) and, for the
/// bundled set, the verdict the reference's rules give it.
pub struct Input {
    /// What the table shows.
    pub name: String,
    /// The blob, or the reason it could not be loaded.
    pub bytes: Result<Vec<u8>, String>,
    /// Expected verdict for bundled inputs: "ok" or a `PrepareError` variant name.
    pub expected: Option<&'static str>,
}

/// Whether `bytes` look like WebAssembly text rather than a binary module: after blank lines
/// and `;;` comments, `(module`. Validators only ever get binary wasm, so such a file fails
/// prevalidation as the reference fails it; the CLI then says how to assemble it.
pub fn looks_like_wat(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(&bytes[..bytes.len().min(64 * 1024)]) else {
        return false;
    };
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with(";;"))
        .is_some_and(|line| line.starts_with("(module"))
}

/// The note printed on stderr next to the verdict for a WAT file.
pub fn wat_note(path: &Path) -> String {
    format!(
        "note: {} is WebAssembly text (WAT); a PVF is binary wasm, so it fails prevalidation \
         as on chain. Assemble it first, e.g. `wasm-tools parse {0} -o {0}.wasm`",
        path.display()
    )
}

/// Environment variable naming the corpus dir.
pub const CORPUS_ENV: &str = "PVF_CORPUS_DIR";

/// The corpus dir: `$PVF_CORPUS_DIR`, else `../shared/pvf-corpus` next to the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os(CORPUS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pvf-corpus"))
}

/// Reads the given files; a missing or unreadable file becomes an error row, not an abort.
pub fn from_files(files: &[PathBuf]) -> Vec<Input> {
    files
        .iter()
        .map(|path| {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
            if bytes.as_deref().is_ok_and(looks_like_wat) {
                eprintln!("{}", wat_note(path));
            }
            Input {
                name: path.display().to_string(),
                bytes,
                expected: None,
            }
        })
        .collect()
}

/// The bundled default set. `precheck` changes one expectation: a wrong host-function
/// signature only fails when the artifact is instantiated.
pub fn bundled(precheck: bool, bomb_limit: u32) -> Vec<Input> {
    let wat = |name: &str, src: &str| {
        wat::parse_str(src).map_err(|e| format!("bundled {name} does not assemble: {e}"))
    };
    let bomb = pvf_common::blob::compress(&vec![0u8; bomb_limit as usize + 1], bomb_limit + 1)
        .ok_or_else(|| "cannot build the bomb".to_string());
    let mut inputs = vec![
        Input {
            name: "bundled: minimal-pvf.wat".into(),
            bytes: wat(
                "minimal-pvf",
                include_str!("../../tests/pvfs/minimal-pvf.wat"),
            ),
            expected: Some("ok"),
        },
        Input {
            name: "bundled: wrong-host-signature.wat".into(),
            bytes: wat(
                "wrong-host-signature",
                include_str!("../../tests/pvfs/wrong-host-signature.wat"),
            ),
            expected: Some(if precheck {
                "RuntimeConstruction"
            } else {
                "ok"
            }),
        },
        Input {
            name: "bundled: deep-recursion.wat".into(),
            bytes: wat(
                "deep-recursion",
                include_str!("../../tests/pvfs/deep-recursion.wat"),
            ),
            expected: Some("ok"),
        },
        Input {
            name: "bundled: zstd bomb (limit + 1 byte)".into(),
            bytes: bomb,
            expected: Some("CouldNotDecompressCodeBlob"),
        },
        Input {
            name: "bundled: not wasm".into(),
            bytes: Ok(b"this is not a wasm module".to_vec()),
            expected: Some("Prevalidation"),
        },
    ];
    inputs.extend(corpus());
    inputs
}

/// Corpus files with their reference verdicts; empty (with a note on stderr) if absent.
fn corpus() -> Vec<Input> {
    let dir = corpus_dir();
    if !dir.join("manifest.json").is_file() {
        eprintln!(
            "note: no PVF corpus at {} (set {CORPUS_ENV}); using bundled inputs only",
            dir.display()
        );
        return Vec::new();
    }
    CORPUS_VERDICTS
        .iter()
        .map(|(file, expected)| {
            let path = dir.join(file);
            Input {
                name: format!("corpus: {file}"),
                bytes: std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display())),
                expected: Some(expected),
            }
        })
        .collect()
}

include!("../../tests/pvfs/corpus_verdicts.rs");

#[cfg(test)]
mod tests {
    use super::looks_like_wat;

    #[test]
    fn wat_text_is_told_from_binary_wasm_and_other_text() {
        assert!(looks_like_wat(b"(module)"));
        assert!(looks_like_wat(b";; a comment\n\n  (module\n (func))"));
        assert!(!looks_like_wat(b"\0asm\x01\0\0\0"));
        assert!(!looks_like_wat(b"this is not a wasm module"));
        assert!(!looks_like_wat(b""));
        assert!(!looks_like_wat(&[0xff, 0xfe, b'(']));
    }
}
