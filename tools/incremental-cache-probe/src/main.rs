//! `incremental-cache-probe CORPUS_DIR`: for pairs of PVFs (two runtimes; one runtime under two
//! sets of executor parameters), compiles the first into wasmtime's incremental compilation
//! cache, then the second with and without that cache, single-threaded as pre-checks compile.
//! Prints how many of the second's functions the cache served, the two compile times and
//! whether the artifact bytes are identical. Nothing here is used by the host.

use pvf_common::{
    ExecutorParams,
    engine::{self, Semantics},
    executor_params::ExecutorParam,
};
use std::{
    borrow::Cow,
    collections::HashMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

#[derive(Default)]
struct Store {
    entries: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl wasmtime::CacheStore for Store {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = self.entries.lock().unwrap().get(key).cloned();
        match &found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found.map(Cow::Owned)
    }
    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.entries.lock().unwrap().insert(key.to_vec(), value);
        true
    }
}

fn instrumented(corpus: &Path, file: &str, sem: &Semantics) -> Vec<u8> {
    let blob = std::fs::read(corpus.join(file)).expect("corpus file");
    let code = pvf_common::blob::decompress(&blob, 30 * 1024 * 1024).expect("decompresses");
    let blob = engine::prevalidate(&code).expect("prevalidates");
    engine::instrument(blob, sem).expect("instruments")
}

/// Compiles `wasm` for `sem`, with `store` as incremental cache if given: (bytes, seconds).
fn compile(wasm: &[u8], sem: &Semantics, store: Option<Arc<Store>>) -> (Vec<u8>, f64) {
    let mut config = engine::wasmtime_config(sem);
    if let Some(store) = store {
        config
            .enable_incremental_compilation(store)
            .expect("incremental cache");
    }
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let began = Instant::now();
    let bytes = engine::precompile(&engine, wasm).expect("compiles");
    (bytes, began.elapsed().as_secs_f64())
}

fn main() {
    let corpus = std::env::args()
        .nth(1)
        .expect("usage: incremental-cache-probe CORPUS_DIR");
    let corpus = Path::new(&corpus);
    let default = Semantics::default();
    let other = Semantics::from_executor_params(&ExecutorParams::from(vec![
        ExecutorParam::StackLogicalMax(65536 * 2),
    ]));
    let collectives = "pvf/collectives-polkadot-9290.genesis.compressed.wasm";
    let coretime = "pvf/coretime-kusama-1002000.genesis.compressed.wasm";
    let westend = "relay/westend-9300.compressed.wasm";
    let rococo = "relay/rococo-genesis.raw.wasm";
    let pairs: [(&str, &Semantics, &str, &Semantics, &str); 4] = [
        (
            collectives,
            &default,
            coretime,
            &default,
            "two parachain runtimes",
        ),
        (westend, &default, rococo, &default, "two relay runtimes"),
        (
            collectives,
            &default,
            collectives,
            &other,
            "one runtime, StackLogicalMax changed",
        ),
        (
            collectives,
            &default,
            collectives,
            &default,
            "one runtime, again (upper bound)",
        ),
    ];
    println!("pair\tcache hits / lookups\tcold s\twith cache s\tspeed-up\tidentical bytes");
    for (first, first_sem, second, second_sem, label) in pairs {
        let store = Arc::new(Store::default());
        let first_wasm = instrumented(corpus, first, first_sem);
        compile(&first_wasm, first_sem, Some(store.clone()));
        store.hits.store(0, Ordering::Relaxed);
        store.misses.store(0, Ordering::Relaxed);
        let second_wasm = instrumented(corpus, second, second_sem);
        let (cold_bytes, cold) = compile(&second_wasm, second_sem, None);
        let (warm_bytes, warm) = compile(&second_wasm, second_sem, Some(store.clone()));
        let hits = store.hits.load(Ordering::Relaxed);
        let lookups = hits + store.misses.load(Ordering::Relaxed);
        println!(
            "{label}\t{hits} / {lookups}\t{cold:.2}\t{warm:.2}\t{:.2}×\t{}",
            cold / warm,
            cold_bytes == warm_bytes
        );
    }
}
