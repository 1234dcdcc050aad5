//! Embedding the host in a node that runs its own multi-thread tokio runtime.
//!
//! ```text
//! cargo build --bin pvf-worker
//! cargo run -p pvf-host --example embed -- target/debug/pvf-worker [CACHE_DIR]
//! ```
//!
//! The host runs its actix system on a dedicated thread; the handle is `Send + Sync` and its
//! methods are plain futures, so any runtime can await them.

use pvf_common::{ExecutorParams, PrepareJobKind, PvfPrepData};
use pvf_host::{Config, Priority};
use std::time::Duration;

// A minimal PVF (see tests/pvfs/minimal-pvf.wat), pre-assembled so the example needs no
// WAT parser: it defines its memory and exports `validate_block`.
const MINIMAL_PVF: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7e, // type: (i32, i32) -> i64
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x05, 0x03, 0x01, 0x00, 0x11, // memory, 17 pages
    0x07, 0x12, 0x01, 0x0e, b'v', b'a', b'l', b'i', b'd', b'a', b't', b'e', b'_', b'b', b'l', b'o',
    b'c', b'k', 0x00, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x00,
    0x0b, // body: i64.const 0
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let worker = args
        .next()
        .ok_or("usage: embed <path to pvf-worker> [cache dir]")?;
    let cache = match args.next() {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::temp_dir().join("pvf-embed-example"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let host = pvf_host::start(Config::new(cache, worker.into()))?;
        // A node watches for the fatal state (a worker binary of another build after an
        // in-place upgrade): from then on every request fails with the same reason.
        let fatal = host.fatal_error_entered();
        tokio::spawn(async move {
            let reason = fatal.await;
            eprintln!("stop validating and tell the operator: {reason}");
        });
        // Several tasks on different runtime threads share the handle.
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let host = host.clone();
                tokio::spawn(async move {
                    let pvf = PvfPrepData::from_code(
                        MINIMAL_PVF.to_vec(),
                        ExecutorParams::new(),
                        Duration::from_secs(60),
                        PrepareJobKind::Prechecking,
                        pvf_common::blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
                    );
                    let priority = if i == 0 {
                        Priority::Critical
                    } else {
                        Priority::Normal
                    };
                    host.prepare(pvf, priority).await
                })
            })
            .collect();
        for task in tasks {
            let success = task
                .await??
                .map_err(|e| format!("preparation failed: {e}"))?;
            println!(
                "artifact {} ({} bytes)",
                success.path.display(),
                success.size
            );
        }
        println!(
            "jobs run: {} (four requests coalesced into one)",
            host.counters().prepare.jobs_started
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
