//! Writes the hand-made seeds of every target to `fuzz/corpus/<target>/seed-<name>`.
//!
//! `cargo run -p pvf-fuzz-targets --example gen_corpus`. Overwrites existing seed files and
//! leaves fuzzer-found entries alone; run it again after changing `src/seeds.rs`.

use std::{fs, path::Path};

fn main() -> std::io::Result<()> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut written = 0;
    for seed in pvf_fuzz_targets::seeds::seeds() {
        let dir = corpus.join(seed.target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("seed-{}", seed.name)), &seed.bytes)?;
        written += 1;
    }
    println!("wrote {written} seeds under {}", corpus.display());
    Ok(())
}
