//! The result table of `pvf prepare`.

use std::time::Duration;

/// One row.
pub struct Row {
    /// Input name.
    pub name: String,
    /// The code hash (`0x` + 64 hex digits), or "-"; the table shows its first 8 bytes.
    pub code_hash: String,
    /// Blob size in bytes, if read.
    pub blob_size: Option<usize>,
    /// Decompressed wasm size, if known.
    pub decompressed_size: Option<u32>,
    /// "ok" or the error.
    pub verdict: String,
    /// Whether the verdict is what was expected (bundled inputs), or `None`.
    pub as_expected: Option<bool>,
    /// Job CPU time.
    pub cpu_time: Option<Duration>,
    /// Wall time from submission to answer.
    pub wall_time: Option<Duration>,
    /// Artifact size in bytes.
    pub artifact_size: Option<u64>,
    /// Peak RSS of the job, in KiB.
    pub peak_rss_kib: Option<i64>,
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// Bytes in B, KiB or MiB.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Renders rows as an aligned text table.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "input",
        "code hash",
        "blob",
        "wasm",
        "verdict",
        "cpu",
        "wall",
        "artifact",
        "peak rss",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            let mark = match r.as_expected {
                Some(true) => " (expected)",
                Some(false) => " (UNEXPECTED)",
                None => "",
            };
            let mut verdict = format!("{}{mark}", r.verdict);
            if verdict.len() > 70 {
                let mut end = 67;
                while !verdict.is_char_boundary(end) {
                    end -= 1;
                }
                verdict = format!("{}...{mark}", &verdict[..end]);
            }
            [
                r.name.clone(),
                r.code_hash.chars().take(18).collect(),
                opt(r.blob_size, |s| size(s as u64)),
                opt(r.decompressed_size, |s| size(s as u64)),
                verdict,
                opt(r.cpu_time, secs),
                opt(r.wall_time, secs),
                opt(r.artifact_size, size),
                opt(r.peak_rss_kib, |k| size(k as u64 * 1024)),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: Vec<&str>| {
        cols.iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for c in &cells {
        out.push_str(&line(c.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// The full verdict of every row that is not "ok", one per line, to print under the table:
/// the table cuts long verdicts, and the operator needs the whole reason.
pub fn render_reasons(rows: &[Row]) -> String {
    let failed: Vec<&Row> = rows.iter().filter(|r| r.verdict != "ok").collect();
    if failed.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nreasons:\n");
    for row in failed {
        out.push_str(&format!("  {}: {}\n", row.name, row.verdict));
    }
    out
}

/// The rows as one JSON document (`pvf prepare --json`). Field names are stable: sizes in
/// bytes, times in seconds, memory in KiB, `null` when not known.
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    let inputs: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "code_hash": (r.code_hash != "-").then_some(&r.code_hash),
                "blob_size": r.blob_size,
                "wasm_size": r.decompressed_size,
                "verdict": r.verdict,
                "as_expected": r.as_expected,
                "cpu_time_s": r.cpu_time.map(|d| d.as_secs_f64()),
                "wall_time_s": r.wall_time.map(|d| d.as_secs_f64()),
                "artifact_size": r.artifact_size,
                "peak_rss_kib": r.peak_rss_kib,
            })
        })
        .collect();
    serde_json::json!({ "inputs": inputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, verdict: &str) -> Row {
        Row {
            name: name.into(),
            code_hash: format!("0x{}", "ab".repeat(32)),
            blob_size: Some(10),
            decompressed_size: None,
            verdict: verdict.into(),
            as_expected: None,
            cpu_time: Some(Duration::from_millis(1500)),
            wall_time: None,
            artifact_size: None,
            peak_rss_kib: None,
        }
    }

    #[test]
    fn a_long_reason_is_cut_in_the_table_and_whole_under_it() {
        let reason = format!(
            "Prevalidation: prepare: {} UnknownOpcode(192)",
            "x".repeat(100)
        );
        let rows = [row("good", "ok"), row("bad", &reason)];
        let table = render(&rows);
        assert!(!table.contains("UnknownOpcode(192)"), "{table}");
        assert!(table.contains(&format!("0x{}", "ab".repeat(8))), "{table}");
        let reasons = render_reasons(&rows);
        assert_eq!(reasons, format!("\nreasons:\n  bad: {reason}\n"));
        assert_eq!(render_reasons(&rows[..1]), "");
    }

    #[test]
    fn json_rows_keep_the_whole_hash_and_reason() {
        let json = to_json(&[row("bad", "Preparation: long")]);
        let input = &json["inputs"][0];
        assert_eq!(input["code_hash"], format!("0x{}", "ab".repeat(32)));
        assert_eq!(input["verdict"], "Preparation: long");
        assert_eq!(input["cpu_time_s"], 1.5);
        assert!(input["wall_time_s"].is_null());
    }
}
