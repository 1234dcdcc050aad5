//! `conformance`: the binary behind tools/conformance.sh. It turns the inputs of the
//! differential conformance suite (tests/conformance) into wasm files, runs them through our
//! host or through the reference's `refbench`, and compares verdict classes.
//!
//! ```text
//! conformance materialize OUT [--inputs DIR] [--corpus DIR]   write OUT/*.wasm, vectors, manifest
//! conformance ours OUT [--exec-timeout-ms N]                  our verdicts, one line each
//! conformance refbench OUT                                    the reference's ($REFBENCH)
//! conformance compare REFERENCE OURS                          table of differing classes
//! conformance record REFERENCE [EXPECTED]                     write the expected-verdicts file
//! ```
//!
//! Verdict lines are `kind <TAB> name <TAB> class <TAB> message`. Our host uses the
//! `test-worker` next to this binary (or `$PVF_WORKER`).

use pvf_tests::conformance as suite;
use std::{
    collections::BTreeMap,
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Duration,
};
use suite::{Input, Verdict};

const USAGE: &str = "usage: conformance materialize OUT [--inputs DIR] [--corpus DIR]
       conformance ours OUT [--exec-timeout-ms N]
       conformance refbench OUT          (needs REFBENCH=path/to/refbench)
       conformance compare REFERENCE OURS
       conformance record REFERENCE [EXPECTED]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let positional: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--")))
        .map(|(_, a)| a)
        .collect();
    let arg = |i: usize| -> PathBuf {
        positional.get(i).map(PathBuf::from).unwrap_or_else(|| {
            eprintln!("{USAGE}");
            std::process::exit(2)
        })
    };
    match positional.first().map(|s| s.as_str()) {
        Some("materialize") => {
            let inputs = flag("--inputs").map_or_else(suite::inputs_dir, PathBuf::from);
            materialize(&arg(1), &inputs, flag("--corpus").map(PathBuf::from));
        }
        Some("ours") => {
            let timeout = flag("--exec-timeout-ms").map_or(suite::REFERENCE_EXEC_TIMEOUT, |ms| {
                Duration::from_millis(ms.parse().expect("--exec-timeout-ms N"))
            });
            for v in ours(&arg(1), timeout) {
                println!("{}", v.line());
            }
        }
        Some("refbench") => {
            for v in reference(&arg(1)) {
                println!("{}", v.line());
            }
        }
        Some("compare") => return compare(&read_verdicts(&arg(1)), &read_verdicts(&arg(2))),
        Some("record") => {
            let out = positional
                .get(2)
                .map_or_else(suite::expected_path, PathBuf::from);
            record(&read_verdicts(&arg(1)), &out);
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// One entry of OUT/manifest.json.
struct Entry {
    name: String,
    path: PathBuf,
    vectors: Option<PathBuf>,
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A vectors file refbench reads: every vector "expected" to trap, so that refbench prints
/// whatever the reference answers (a result as `got Ok(hex)`, an error as `Err(…)`).
fn vectors_json(pvf: &Path, vectors: &[(String, suite::ValidationParamsHex)]) -> Vec<u8> {
    let list: Vec<_> = vectors
        .iter()
        .map(|(name, hex)| {
            serde_json::json!({
                "name": name,
                "validation_params_scale_hex": hex,
                "expected": "trap (refbench prints the actual answer)",
            })
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({ "pvf": pvf, "vectors": list })).unwrap()
}

fn materialize(out: &Path, inputs_dir: &Path, corpus: Option<PathBuf>) {
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let mut entries = Vec::new();
    for input in suite::load(inputs_dir) {
        let path = out.join(format!("{}.wasm", input.name));
        write(&path, &input.code);
        let vectors = (!input.vectors.is_empty()).then(|| {
            let file = out.join(format!("{}.vectors.json", input.name));
            write(
                &file,
                &vectors_json(&path, &suite::hex_vectors(&input.vectors)),
            );
            file
        });
        entries.push(Entry {
            name: input.name,
            path,
            vectors,
        });
    }
    if let Some(corpus) = corpus.filter(|c| c.join("manifest.json").is_file()) {
        let corpus = corpus.canonicalize().expect("corpus dir");
        // Real blocks from tools/candidate-gen, when the corpus has them: both hosts execute
        // every candidate of a set, after pre-checking its runtime.
        let mut real_blocks: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for set in pvf_tests::candidates::candidate_sets(&corpus) {
            let list = real_blocks.entry(set.runtime_name.clone()).or_default();
            list.extend(set.candidates.iter().map(|c| {
                let hex = c.json["validation_params_scale_hex"].as_str().unwrap();
                (
                    format!("corpus:candidates/{}/{}", set.label, c.name),
                    hex.to_string(),
                )
            }));
        }
        if real_blocks.is_empty() {
            eprintln!(
                "note: no real-block candidate sets under {}/candidates (tools/candidate-gen \
                 writes them); comparing without real blocks",
                corpus.display()
            );
        }
        for sub in ["pvf", "relay", "negative"] {
            let Ok(dir) = std::fs::read_dir(corpus.join(sub)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
            files.sort();
            for path in files {
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                if !(file.ends_with(".wasm") || file.ends_with(".zst")) {
                    continue;
                }
                let adder = file == "test-parachain-adder.kagome.compressed.wasm";
                let vectors = adder.then(|| {
                    let raw = std::fs::read(corpus.join("vectors/adder-vectors.json"))
                        .expect("corpus adder vectors");
                    let json: serde_json::Value = serde_json::from_slice(&raw).expect("JSON");
                    let list: Vec<_> = json["vectors"]
                        .as_array()
                        .expect("a vector list")
                        .iter()
                        .map(|v| {
                            let name = format!("corpus:adder/{}", v["name"].as_str().unwrap());
                            let hex = v["validation_params_scale_hex"].as_str().unwrap();
                            (name, hex.to_string())
                        })
                        .collect();
                    let vectors_file = out.join("corpus-adder.vectors.json");
                    write(&vectors_file, &vectors_json(&path, &list));
                    vectors_file
                });
                let vectors = vectors.or_else(|| {
                    let list = real_blocks.get(&file)?;
                    let vectors_file = out.join(format!("{file}.real-blocks.vectors.json"));
                    write(&vectors_file, &vectors_json(&path, list));
                    Some(vectors_file)
                });
                entries.push(Entry {
                    name: format!("corpus:{sub}/{file}"),
                    path,
                    vectors,
                });
            }
        }
    }
    let manifest: Vec<_> = entries
        .iter()
        .map(|e| serde_json::json!({ "name": e.name, "path": e.path, "vectors": e.vectors }))
        .collect();
    write(
        &out.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest).unwrap(),
    );
    eprintln!("{} inputs written to {}", entries.len(), out.display());
}

fn read_manifest(out: &Path) -> Vec<Entry> {
    let raw = std::fs::read(out.join("manifest.json")).expect("run materialize first");
    let json: Vec<serde_json::Value> = serde_json::from_slice(&raw).expect("manifest is JSON");
    json.iter()
        .map(|e| Entry {
            name: e["name"].as_str().unwrap().to_string(),
            path: e["path"].as_str().unwrap().into(),
            vectors: e["vectors"].as_str().map(PathBuf::from),
        })
        .collect()
}

fn read_vectors(path: &Path) -> Vec<(String, String)> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_slice(&raw).expect("vectors are JSON");
    json["vectors"]
        .as_array()
        .expect("a vector list")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["validation_params_scale_hex"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

fn ours(out: &Path, exec_timeout: Duration) -> Vec<Verdict> {
    let inputs: Vec<Input> = read_manifest(out)
        .into_iter()
        .map(|e| Input {
            code: std::fs::read(&e.path)
                .unwrap_or_else(|err| panic!("{}: {err}", e.path.display())),
            vectors: e
                .vectors
                .map(|v| suite::params_from_hex(&read_vectors(&v)))
                .unwrap_or_default(),
            name: e.name,
        })
        .collect();
    let worker = std::env::var_os("PVF_WORKER").map_or_else(
        || {
            std::env::current_exe()
                .expect("own path")
                .with_file_name("test-worker")
        },
        PathBuf::from,
    );
    assert!(
        worker.is_file(),
        "no worker at {} (cargo build -p pvf-tests --bins, or set PVF_WORKER)",
        worker.display()
    );
    let cache = tempfile::tempdir().expect("a cache dir");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let mut config = pvf_host::Config::new(cache.path().into(), worker);
        config.prepare_workers_soft_max_num = 2;
        config.execute_workers_max_num = 2;
        let host = pvf_tests::start_host_with(config);
        suite::run_ours(&host, &inputs, exec_timeout).await
    })
}

/// Runs `$REFBENCH` over the materialized inputs and turns its output into verdict lines.
fn reference(out: &Path) -> Vec<Verdict> {
    let refbench = std::env::var_os("REFBENCH").expect("set REFBENCH to the refbench binary");
    let entries = read_manifest(out);
    let by_file: BTreeMap<String, &str> = entries
        .iter()
        .map(|e| {
            let file = e.path.file_name().unwrap().to_string_lossy().into_owned();
            (file, e.name.as_str())
        })
        .collect();
    let run = |args: &[&OsStr]| -> String {
        let output = Command::new(&refbench)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("error".into()),
            )
            .output()
            .expect("refbench runs");
        if !output.status.success() {
            eprintln!(
                "refbench {:?} failed ({}):\n{}",
                args,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let mut verdicts = Vec::new();
    let mut args: Vec<&OsStr> = vec![OsStr::new("prepare")];
    args.extend(entries.iter().map(|e| e.path.as_os_str()));
    args.extend([OsStr::new("--reps"), OsStr::new("1")]);
    for line in run(&args).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 4 || fields[3] != "rep=0" {
            continue;
        }
        let name = by_file.get(fields[0]).copied().unwrap_or(fields[0]);
        let result = fields[1];
        let verdict = match result.strip_prefix("Err(") {
            None if result == "Ok" => suite_verdict("precheck", name, "ok", ""),
            Some(inner) => suite_verdict("precheck", name, &suite::class_of(inner), inner),
            None => suite_verdict("precheck", name, "(unparsed)", result),
        };
        verdicts.push(verdict);
    }
    for entry in &entries {
        let Some(vectors) = &entry.vectors else {
            continue;
        };
        eprintln!("reference: executing {}", entry.name);
        let args = [
            OsStr::new("execute-adder"),
            OsStr::new("--pvf"),
            entry.path.as_os_str(),
            OsStr::new("--vectors"),
            vectors.as_os_str(),
            OsStr::new("--reps"),
            OsStr::new("1"),
        ];
        let stdout = run(&args);
        for (name, _) in read_vectors(vectors) {
            let desc = stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("EXEC\t{name}\t")))
                .and_then(|rest| rest.split('\t').next());
            let verdict = match desc {
                Some(d) => match (
                    d.strip_prefix("expected trap, got Ok(")
                        .and_then(|h| h.strip_suffix(')')),
                    d.strip_prefix("Err("),
                ) {
                    (Some(hex), _) => suite_verdict("execute", &name, &format!("valid:{hex}"), ""),
                    (None, Some(inner)) => {
                        suite_verdict("execute", &name, &suite::class_of(inner), inner)
                    }
                    _ => suite_verdict("execute", &name, "(unparsed)", d),
                },
                None => suite_verdict("execute", &name, "(no answer)", ""),
            };
            verdicts.push(verdict);
        }
    }
    verdicts
}

fn suite_verdict(kind: &str, name: &str, class: &str, message: &str) -> Verdict {
    Verdict {
        kind: kind.into(),
        name: name.into(),
        class: class.into(),
        message: message.into(),
    }
}

fn read_verdicts(path: &Path) -> Vec<Verdict> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(Verdict::parse)
        .collect()
}

fn compare(reference: &[Verdict], ours: &[Verdict]) -> ExitCode {
    let (matches, rows) = suite::differences(reference, ours);
    if !rows.is_empty() {
        print!("{}", suite::table(&rows));
        for row in &rows {
            let message = |vs: &[Verdict]| {
                vs.iter()
                    .find(|v| v.kind == row[0] && v.name == row[1])
                    .map_or(String::new(), |v| v.message.chars().take(300).collect())
            };
            println!("\n{} {}:", row[0], row[1]);
            println!("  reference: {}", message(reference));
            println!("  ours:      {}", message(ours));
        }
        println!();
    }
    println!(
        "{} verdicts compared: {matches} match, {} differ",
        matches + rows.len(),
        rows.len()
    );
    if rows.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes the expected-verdicts file from the reference's verdicts (corpus entries left out).
fn record(reference: &[Verdict], out: &Path) {
    let mut verdicts: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    let mut messages: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    for v in reference.iter().filter(|v| !v.name.starts_with("corpus:")) {
        verdicts
            .entry(v.kind.as_str())
            .or_default()
            .insert(v.name.as_str(), v.class.as_str());
        if let Some(stable) = suite::stable_substring(&v.message) {
            messages
                .entry(v.kind.as_str())
                .or_default()
                .insert(v.name.as_str(), stable);
        }
    }
    let json = serde_json::json!({
        "recorded_with": "refbench (shared/tools/refharness: polkadot-node-core-pvf 36.0.0 of \
            polkadot-sdk stable2609, wasmtime 36), default ExecutorParams, exec timeout 12 s, \
            via tools/conformance.sh --record",
        "recorded_on": today(),
        "verdicts": verdicts,
        "message_substrings": messages,
    });
    let mut text = serde_json::to_string_pretty(&json).unwrap();
    text.push('\n');
    write(out, text.as_bytes());
    eprintln!("wrote {}", out.display());
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
