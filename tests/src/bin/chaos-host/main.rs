//! A validation host in a process of its own, for the chaos suite's "SIGTERM the host" fault:
//! `chaos-host WORKER CACHE_DIR` prepares slow PVFs one after another on `CACHE_DIR` until it
//! is signalled. It installs no signal handler, so SIGTERM ends it at once, with no cleanup,
//! as it ends a node that has none: what is left is for its workers and the next host on the
//! dir to deal with.

use pvf_common::PrepareJobKind;
use pvf_host::{Config, Priority};
use std::{path::PathBuf, process::ExitCode, time::Duration};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [worker, cache] = args.as_slice() else {
        eprintln!("usage: chaos-host WORKER CACHE_DIR");
        return ExitCode::from(2);
    };
    let host = match pvf_host::start(Config::new(cache.clone(), worker.clone())) {
        Ok(host) => host,
        Err(e) => {
            eprintln!("chaos-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for seed in 0u32.. {
            let code = pvf_tests::slow_to_compile_pvf(400, seed);
            let pvf = pvf_tests::pvf(code, PrepareJobKind::Compilation, Duration::from_secs(60));
            let _ = host.prepare(pvf, Priority::Normal).await;
        }
    });
    ExitCode::SUCCESS
}
