//! The differential conformance suite (tests/conformance): its inputs, the verdict classes
//! both hosts are compared by, the recorded reference verdicts, and a run through our host.
//! Shared by the `conformance` binary (tools/conformance.sh) and the integration test
//! tests/tests/it/conformance.rs.

use parity_scale_codec::Encode;
use pvf_common::{
    PrecheckResult, PrepareJobKind,
    execute::{BlockData, HeadData, ValidationError, ValidationParams},
};
use pvf_host::{ValidationHost, execute::lanes::PvfExecKind};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

/// The preparation timeout of every pre-check and execution, as refbench uses.
pub const PREP_TIMEOUT: Duration = Duration::from_secs(120);
/// The execution timeout refbench uses.
pub const REFERENCE_EXEC_TIMEOUT: Duration = Duration::from_secs(12);
/// The header line of an execution case that gives its block data.
const BLOCK_DATA_HEADER: &str = ";; block-data-hex:";

/// The committed inputs: tests/conformance.
pub fn inputs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// The recorded reference verdicts.
pub fn expected_path() -> PathBuf {
    inputs_dir().join("expected.json")
}

/// One input: a blob to pre-check, and the candidates to execute it with (execution cases).
pub struct Input {
    /// Unique name: the file stem, `gen-…` for generated blobs, `corpus:…` for corpus blobs.
    pub name: String,
    /// The code as given to the host (possibly compressed).
    pub code: Vec<u8>,
    /// Named candidates to execute; empty for pre-check-only inputs.
    pub vectors: Vec<(String, ValidationParams)>,
}

/// The candidate an execution case runs with: empty head, `block_data`, relay parent 1.
pub fn params(block_data: Vec<u8>) -> ValidationParams {
    ValidationParams {
        parent_head: HeadData(Vec::new()),
        block_data: BlockData(block_data),
        relay_parent_number: 1,
        relay_parent_storage_root: [0; 32],
        extension: None,
    }
}

/// A SCALE-encoded `ValidationParams`, in hex (the vectors format of refbench).
pub type ValidationParamsHex = String;

/// The vectors of an input in the vectors format.
pub fn hex_vectors(vectors: &[(String, ValidationParams)]) -> Vec<(String, ValidationParamsHex)> {
    vectors
        .iter()
        .map(|(name, p)| (name.clone(), hex::encode(p.encode())))
        .collect()
}

/// Decodes vectors in the vectors format.
pub fn params_from_hex(
    vectors: &[(String, ValidationParamsHex)],
) -> Vec<(String, ValidationParams)> {
    use parity_scale_codec::Decode;
    vectors
        .iter()
        .map(|(name, h)| {
            let bytes = hex::decode(h).expect("hex");
            let p = ValidationParams::decode(&mut &bytes[..]).expect("SCALE ValidationParams");
            (name.clone(), p)
        })
        .collect()
}

/// The part of a reference message stable enough to record: the parser's error after
/// "cannot deserialize module: " (parity-wasm's error, e.g. `UnknownOpcode(192)`).
pub fn stable_substring(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("cannot deserialize module: ")?;
    let end = rest.find(['\\', '"']).unwrap_or(rest.len());
    let stable = rest[..end].trim_end_matches('(');
    Some(stable.to_string()).filter(|s| !s.is_empty())
}

/// Every input under `dir`: `*.wat` and `*.wasm` files, recursively; files under a directory
/// named `execute` are execution cases (block data from a `;; block-data-hex:` line). The
/// committed directory also gets the generated blobs of [`generated`].
pub fn load(dir: &Path) -> Vec<Input> {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files.sort();
    let mut inputs = Vec::new();
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let execute = path.parent().is_some_and(|p| p.ends_with("execute"));
        let (code, block_data) = if path.extension().is_some_and(|e| e == "wat") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let code = wat::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (code, block_data_of(&text))
        } else {
            let code = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (code, Vec::new())
        };
        let vectors = if execute {
            vec![(name.clone(), params(block_data))]
        } else {
            Vec::new()
        };
        inputs.push(Input {
            name,
            code,
            vectors,
        });
    }
    let committed = |p: &Path| p.canonicalize().ok();
    if committed(dir) == committed(&inputs_dir()) {
        for (name, code) in generated() {
            inputs.push(Input {
                name: format!("gen-{name}"),
                code,
                vectors: Vec::new(),
            });
        }
    }
    let mut names: Vec<_> = inputs.iter().map(|i| i.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("two inputs are named {}", w[0]);
    }
    inputs
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "wat" || e == "wasm") {
            out.push(path);
        }
    }
}

fn block_data_of(text: &str) -> Vec<u8> {
    text.lines()
        .find_map(|l| l.strip_prefix(BLOCK_DATA_HEADER))
        .map(|h| hex::decode(h.trim()).expect("block-data-hex is hex"))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Generated blobs: malformed binaries, compression, and limits too large to commit as text.

const HEADER: &[u8] = b"\0asm\x01\0\0\0";

fn section(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    crate::leb128(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

fn module(sections: &[Vec<u8>]) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    for s in sections {
        out.extend_from_slice(s);
    }
    out
}

/// A PVF following the conventions, with `extra` module fields.
fn pvf_wat(extra: &str) -> Vec<u8> {
    let text = format!(
        "(module (memory (export \"memory\") 17) \
         (global (export \"__heap_base\") i32 (i32.const 65536)) {extra} \
         (func (export \"validate_block\") (param i32 i32) (result i64) (i64.const 0xc00000100)))"
    );
    wat::parse_str(text).expect("generated WAT assembles")
}

/// Blobs built here, deterministically: (name without the `gen-` prefix, bytes).
pub fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let minimal = pvf_wat("");
    let compressed = pvf_common::blob::compress(&minimal, 1 << 20).expect("compresses");
    let zstd_magic = compressed[..8].to_vec();
    let bomb = {
        let mut payload = vec![4, b'b', b'o', b'm', b'b'];
        payload.resize(31 << 20, 0);
        let plain = module(&[section(0, &payload)]);
        pvf_common::blob::compress(&plain, 64 << 20).expect("compresses")
    };
    // type 0 = func () -> (); one function of type 0 whose body declares 2^32 - 1 locals.
    let huge_locals = {
        let mut body = vec![1];
        crate::leb128(u32::MAX as u64, &mut body);
        body.extend_from_slice(&[0x7f, 0x0b]);
        let mut code = vec![1];
        crate::leb128(body.len() as u64, &mut code);
        code.extend_from_slice(&body);
        module(&[
            section(1, &[1, 0x60, 0, 0]),
            section(3, &[1, 0]),
            section(5, &[1, 0, 17]),
            section(7, &[1, 6, b'm', b'e', b'm', b'o', b'r', b'y', 2, 0]),
            section(10, &code),
        ])
    };
    // Exceptions, legacy encoding (the text parser no longer takes it): a tag and
    // `try (throw 0) catch 0 end` in a function of type () -> ().
    let legacy_try = {
        let body = [0, 0x06, 0x40, 0x08, 0, 0x07, 0, 0x0b, 0x0b];
        let mut code = vec![1, body.len() as u8];
        code.extend_from_slice(&body);
        module(&[
            section(1, &[1, 0x60, 0, 0]),
            section(3, &[1, 0]),
            section(5, &[1, 0, 17]),
            section(13, &[1, 0, 0]),
            section(7, &[1, 6, b'm', b'e', b'm', b'o', b'r', b'y', 2, 0]),
            section(10, &code),
        ])
    };
    let locals = |n: usize| pvf_wat(&format!("(func{})", " (local i32)".repeat(n)));
    let params = |n: usize| pvf_wat(&format!("(func{})", " (param i32)".repeat(n)));
    vec![
        ("empty", Vec::new()),
        ("bad-magic", b"\0asn\x01\0\0\0".to_vec()),
        ("bad-version", b"\0asm\x02\0\0\0".to_vec()),
        ("component-header", b"\0asm\x0d\0\x01\0".to_vec()),
        ("header-only", HEADER.to_vec()),
        ("truncated-header", b"\0as".to_vec()),
        ("truncated-module", minimal[..minimal.len() - 3].to_vec()),
        ("trailing-garbage", [&minimal[..], &[0xff]].concat()),
        (
            "sections-out-of-order",
            module(&[section(7, &[0]), section(1, &[0])]),
        ),
        (
            "duplicate-type-section",
            module(&[section(1, &[0]), section(1, &[0])]),
        ),
        ("section-size-past-end", module(&[vec![1, 5, 0]])),
        ("unknown-section-id", module(&[section(0x20, &[0])])),
        (
            "function-without-body",
            module(&[section(1, &[1, 0x60, 0, 0]), section(3, &[1, 0])]),
        ),
        (
            "overlong-leb-section-size",
            module(&[vec![0, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0]]),
        ),
        (
            "custom-section-name-past-end",
            module(&[vec![0, 2, 5, b'a']]),
        ),
        (
            "custom-section-only",
            module(&[section(0, &[4, b'n', b'o', b't', b'e', 1, 2, 3])]),
        ),
        ("local-count-overflow", huge_locals),
        ("exceptions-legacy-try", legacy_try),
        ("locals-50000", locals(50_000)),
        ("locals-50001", locals(50_001)),
        ("params-1000", params(1000)),
        ("params-1001", params(1001)),
        (
            "br-table-100000-targets",
            pvf_wat(&format!(
                "(func (block (br_table{} (i32.const 0))))",
                " 0".repeat(100_000)
            )),
        ),
        (
            "nested-blocks-10000",
            pvf_wat(&format!(
                "(func {}{})",
                "(block ".repeat(10_000),
                ")".repeat(10_000)
            )),
        ),
        (
            "functions-5000",
            pvf_wat(&"(func (result i32) (i32.const 7))".repeat(5000)),
        ),
        ("pvm-magic", [&b"PVM\0"[..], &[0; 16]].concat()),
        ("zstd-minimal-pvf", compressed.clone()),
        ("zstd-bomb-31mib", bomb),
        (
            "zstd-magic-then-garbage",
            [&zstd_magic[..], b"not a zstd frame"].concat(),
        ),
        ("zstd-frame-without-magic", compressed[8..].to_vec()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Verdict classes

/// What one host answered for one input: `kind` is "precheck" or "execute".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// "precheck" or "execute".
    pub kind: String,
    /// The input's (or vector's) name.
    pub name: String,
    /// The class compared: "ok", a `PrepareError` variant, "valid:<result hex>", or the
    /// error's variant path such as "Invalid(WorkerReportedInvalid)".
    pub class: String,
    /// The full answer, for the reader (never compared).
    pub message: String,
}

impl Verdict {
    /// One tab-separated line.
    pub fn line(&self) -> String {
        let message: String = self
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{}\t{}\t{}\t{message}", self.kind, self.name, self.class)
    }

    /// Parses [`Verdict::line`].
    pub fn parse(line: &str) -> Option<Self> {
        let mut fields = line.splitn(4, '\t');
        Some(Self {
            kind: fields.next()?.to_string(),
            name: fields.next()?.to_string(),
            class: fields.next()?.to_string(),
            message: fields.next().unwrap_or("").to_string(),
        })
    }
}

/// The variant path of a `Debug` rendering: `Invalid(WorkerReportedInvalid("…"))` →
/// `Invalid(WorkerReportedInvalid)`; `Prevalidation("…")` → `Prevalidation`; payloads that are
/// not variants (strings, numbers, durations) are dropped.
pub fn class_of(debug: &str) -> String {
    let debug = debug.trim();
    let ident_len = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    let ident = &debug[..ident_len];
    if let Some(inner) = debug[ident_len..].strip_prefix('(')
        && inner.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return format!("{ident}({})", class_of(inner));
    }
    ident.to_string()
}

/// The class of a pre-check answer: "ok" or the `PrepareError` variant.
pub fn precheck_verdict(name: &str, result: &PrecheckResult) -> Verdict {
    let (class, message) = match result {
        Ok(()) => ("ok".to_string(), String::new()),
        Err(e) => (crate::error_kind(e).to_string(), format!("{e:?}")),
    };
    verdict("precheck", name, class, message)
}

/// The class of an execution answer: "valid:<SCALE hex of the ValidationResult>" or the
/// error's variant path.
pub fn execute_verdict(name: &str, result: &Result<Vec<u8>, ValidationError>) -> Verdict {
    let (class, message) = match result {
        Ok(encoded) => (format!("valid:{}", hex::encode(encoded)), String::new()),
        Err(e) => (class_of(&format!("{e:?}")), format!("{e:?}")),
    };
    verdict("execute", name, class, message)
}

fn verdict(kind: &str, name: &str, class: String, message: String) -> Verdict {
    Verdict {
        kind: kind.to_string(),
        name: name.to_string(),
        class,
        message,
    }
}

/// Runs every input through `host`: all pre-checks at once, then every execution case (as
/// refbench does: pre-check, then execute with the Compilation kind).
pub async fn run_ours(
    host: &ValidationHost,
    inputs: &[Input],
    exec_timeout: Duration,
) -> Vec<Verdict> {
    let prechecks = inputs.iter().map(|input| async move {
        let pvf = crate::pvf(
            input.code.clone(),
            PrepareJobKind::Prechecking,
            PREP_TIMEOUT,
        );
        let result = host.precheck_pvf(pvf).await.expect("host alive");
        precheck_verdict(&input.name, &result)
    });
    let mut verdicts = futures::future::join_all(prechecks).await;
    let executions = inputs.iter().flat_map(|input| {
        input.vectors.iter().map(move |(name, params)| async move {
            let pvf = crate::pvf(
                input.code.clone(),
                PrepareJobKind::Compilation,
                PREP_TIMEOUT,
            );
            let (pvd, pov) = crate::adder::pvd_pov(params);
            let result = host
                .execute_pvf(pvf, exec_timeout, pvd, pov, PvfExecKind::Approval)
                .await
                .expect("host alive");
            execute_verdict(name, &result.map(|r| r.encode()))
        })
    });
    verdicts.extend(futures::future::join_all(executions).await);
    verdicts
}

// ---------------------------------------------------------------------------------------------
// The recorded reference verdicts and the comparison

/// The reference's verdict classes, as recorded in tests/conformance/expected.json.
pub struct Expected {
    /// Verdicts keyed by (kind, name).
    pub classes: BTreeMap<(String, String), String>,
    /// Stable substrings of the reference's messages, keyed by (kind, name).
    pub messages: BTreeMap<(String, String), String>,
}

impl Expected {
    /// Reads an expected-verdicts file.
    pub fn load(path: &Path) -> Self {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json: serde_json::Value = serde_json::from_str(&text).expect("expected.json is JSON");
        let table = |key: &str| {
            let mut out = BTreeMap::new();
            for kind in ["precheck", "execute"] {
                if let Some(map) = json[key][kind].as_object() {
                    for (name, value) in map {
                        let value = value.as_str().expect("string values").to_string();
                        out.insert((kind.to_string(), name.clone()), value);
                    }
                }
            }
            out
        };
        Self {
            classes: table("verdicts"),
            messages: table("message_substrings"),
        }
    }

    /// The recorded verdicts as [`Verdict`]s.
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.classes
            .iter()
            .map(|((kind, name), class)| verdict(kind, name, class.clone(), String::new()))
            .collect()
    }
}

/// Rows of inputs whose classes differ (a missing side shows as "(none)"), and the number of
/// matches.
pub fn differences(reference: &[Verdict], ours: &[Verdict]) -> (usize, Vec<[String; 4]>) {
    let key = |v: &Verdict| (v.kind.clone(), v.name.clone());
    let ours_by_key: BTreeMap<_, _> = ours.iter().map(|v| (key(v), v)).collect();
    let reference_by_key: BTreeMap<_, _> = reference.iter().map(|v| (key(v), v)).collect();
    let mut keys: Vec<_> = ours_by_key.keys().chain(reference_by_key.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut matches = 0;
    let mut rows = Vec::new();
    for k in keys {
        let class =
            |m: &BTreeMap<_, &Verdict>| m.get(k).map_or("(none)".into(), |v| v.class.clone());
        let (theirs, mine) = (class(&reference_by_key), class(&ours_by_key));
        if theirs == mine {
            matches += 1;
        } else {
            rows.push([k.0.clone(), k.1.clone(), theirs, mine]);
        }
    }
    (matches, rows)
}

/// The differences as an aligned table.
pub fn table(rows: &[[String; 4]]) -> String {
    let header = [
        "kind".to_string(),
        "input".into(),
        "reference".into(),
        "ours".into(),
    ];
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
