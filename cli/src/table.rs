//! The result table of `pvf prepare`.

use std::time::Duration;

/// One row.
pub struct Row {
    /// Input name.
    pub name: String,
    /// `0x` + first 8 bytes of the code hash, or "-".
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
                r.code_hash.clone(),
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
