//! `ext_logging_log_version_1` and `ext_logging_max_level_version_1`.
//!
//! The arguments are marshalled exactly as sp-io's whether or not logging is on, because
//! marshalling decides verdicts: the level is `PassAs<RuntimeInterfaceLogLevel, u8>` (truncated
//! to `u8`, 0..=4 or a trap), the target must be in bounds and valid UTF-8 (else a trap), the
//! message must be in bounds. With [`HostState::logging_enabled`] off (the default) nothing is
//! logged; with it on, messages that are valid UTF-8 go to `tracing` (target
//! [`RUNTIME_LOG_TARGET`], the PVF's own target as a field).
//!
//! `max_level` returns the `log` crate's maximum level mapped as sp-io maps it, whether or not
//! PVF logging is on: stable2609 links sp-io's `logging` interface unchanged, so its value is
//! the worker's `log::max_level()`, which the worker's tracing set-up derives from `RUST_LOG`
//! (see docs/host-functions.md). A PVF can branch on it, so this is the reference's semantics
//! even though it depends on the operator's log settings. (Later masters return `Off` unless
//! PVF logging is enabled; stable2609 does not.)

use super::{HostResult, HostState, RUNTIME_LOG_TARGET, read_fat, trap};
use sp_core::{LogLevelFilter, RuntimeInterfaceLogLevel};
use wasmtime::{Caller, Linker};

/// Emits one PVF log line.
fn emit(level: RuntimeInterfaceLogLevel, target: &str, message: &str) {
    use RuntimeInterfaceLogLevel::*;
    match level {
        Error => tracing::error!(target: RUNTIME_LOG_TARGET, runtime_target = target, "{message}"),
        Warn => tracing::warn!(target: RUNTIME_LOG_TARGET, runtime_target = target, "{message}"),
        Info => tracing::info!(target: RUNTIME_LOG_TARGET, runtime_target = target, "{message}"),
        Debug => tracing::debug!(target: RUNTIME_LOG_TARGET, runtime_target = target, "{message}"),
        Trace => tracing::trace!(target: RUNTIME_LOG_TARGET, runtime_target = target, "{message}"),
    }
}

fn log_v1(
    mut caller: Caller<'_, HostState>,
    level: i32,
    target: i64,
    message: i64,
) -> HostResult<()> {
    let level = RuntimeInterfaceLogLevel::try_from(level as u32 as u8).map_err(|_| {
        trap("failed to convert 'u8' (passed as 'u32') into 'sp_core::RuntimeInterfaceLogLevel' when marshalling hostcall's arguments through the FFI boundary")
    })?;
    let target = String::from_utf8(read_fat(&caller, target)?).map_err(|_| {
        trap("could not parse '&str' when marshalling hostcall's arguments through the FFI boundary: the string is not valid UTF-8")
    })?;
    let message = read_fat(&caller, message)?;
    if matches!(level, RuntimeInterfaceLogLevel::Error) {
        // A runtime's panic handler logs its message at error level and then traps; keep the
        // last one so the verdict can say why, even with log forwarding off.
        caller.data_mut().last_error_log = Some(String::from_utf8_lossy(&message).into_owned());
    }
    if caller.data().logging_enabled
        && let Ok(message) = std::str::from_utf8(&message)
    {
        emit(level, &target, message);
    }
    Ok(())
}

/// The value `ext_logging_max_level_version_1` returns: `log::max_level()` as sp-io maps it,
/// independent of the PVF-logging switch (stable2609's semantics).
pub(crate) fn max_level() -> i32 {
    u8::from(LogLevelFilter::from(log::max_level())).into()
}

fn max_level_v1(_caller: Caller<'_, HostState>) -> HostResult<i32> {
    Ok(max_level())
}

pub(super) fn define(linker: &mut Linker<HostState>, name: &str) -> Result<bool, String> {
    match name {
        "ext_logging_log_version_1" => super::wrap(linker, name, log_v1),
        "ext_logging_max_level_version_1" => super::wrap(linker, name, max_level_v1),
        _ => Ok(false),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::pack_fat;
    use super::super::tests::{Arg, MEMORY_END, Scenario, call_ours, differential, new_instance};
    use std::sync::{Arc, Mutex};

    const LOG: &str = "ext_logging_log_version_1";
    const MAX_LEVEL: &str = "ext_logging_max_level_version_1";

    /// Runs `f` with a `tracing` subscriber on this thread; returns what it printed.
    pub(in super::super) fn capture_tracing(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn log_marshalling_matches_sp_io() {
        let targets: [&[u8]; 4] = [
            b"runtime::test",
            b"",
            b"\xff\xfe bad utf-8",
            "ünï".as_bytes(),
        ];
        let messages: [&[u8]; 4] = [b"hello", b"", b"\xc3\x28 invalid", &[b'x'; 3000]];
        let levels = [0, 1, 2, 3, 4, 5, 255, 256, 260, -1, -256];
        for level in levels {
            for target in targets {
                for message in messages {
                    let mut s = Scenario::new();
                    let args = vec![Arg::I32(level), s.fat(target), s.fat(message)];
                    s.call(LOG, args);
                    differential(&s, &format!("level {level}"));
                }
            }
        }
        for (target, message) in [
            (Arg::I64(pack_fat(MEMORY_END - 1, 2)), Arg::I64(0)),
            (Arg::I64(0), Arg::I64(pack_fat(MEMORY_END, 1))),
            (Arg::I64(-1), Arg::I64(0)),
        ] {
            let mut s = Scenario::new();
            s.call(LOG, vec![Arg::I32(1), target, message]);
            assert_eq!(differential(&s, "out of bounds").results, vec![Err(())]);
        }
    }

    #[test]
    fn max_level_is_the_log_crates_whether_or_not_pvf_logging_is_on() {
        // stable2609: sp-io's `log::max_level()`, mapped; the PVF-logging switch only decides
        // whether lines are printed. (Returning `Off` with logging off is a later master's.)
        let mut s = Scenario::new();
        s.call(MAX_LEVEL, vec![]);
        for (filter, expected) in [
            (log::LevelFilter::Off, 0),
            (log::LevelFilter::Error, 1),
            (log::LevelFilter::Warn, 2),
            (log::LevelFilter::Info, 3),
            (log::LevelFilter::Debug, 4),
            (log::LevelFilter::Trace, 5),
        ] {
            log::set_max_level(filter);
            // `differential` runs ours with logging on.
            let ours = differential(&s, &format!("{filter}"));
            assert_eq!(ours.results, vec![Ok(Some(expected))]);
            let off = super::super::tests::run_ours(&s, false);
            assert_eq!(
                off.results,
                vec![Ok(Some(expected))],
                "{filter}, logging off"
            );
            let (mut store, instance) = new_instance(false);
            assert_eq!(
                call_ours(&mut store, &instance, MAX_LEVEL, &[]),
                Ok(Some(expected)),
                "{filter}"
            );
        }
        log::set_max_level(log::LevelFilter::Off);
    }

    #[test]
    fn log_lines_reach_tracing_only_when_enabled() {
        for enabled in [false, true] {
            let (mut store, instance) = new_instance(enabled);
            let memory = store.data().memory().unwrap();
            memory.write(&mut store, 100, b"my::target").unwrap();
            memory.write(&mut store, 200, b"a runtime message").unwrap();
            memory.write(&mut store, 300, b"\xff not utf-8").unwrap();
            let output = capture_tracing(|| {
                for (level, message) in [(1, pack_fat(200, 17)), (4, pack_fat(300, 12))] {
                    let args = [
                        Arg::I32(level),
                        Arg::I64(pack_fat(100, 10)),
                        Arg::I64(message),
                    ];
                    call_ours(&mut store, &instance, LOG, &args).unwrap();
                }
                // Marshalling still traps when logging is off.
                let args = [Arg::I32(9), Arg::I64(pack_fat(100, 10)), Arg::I64(0)];
                assert!(call_ours(&mut store, &instance, LOG, &args).is_err());
            });
            if enabled {
                assert!(output.contains("WARN parachain::pvf::runtime"), "{output}");
                assert!(output.contains("a runtime message"), "{output}");
                assert!(output.contains("runtime_target=\"my::target\""), "{output}");
                assert!(!output.contains("not utf-8"), "{output}");
            } else {
                assert_eq!(output, "");
            }
        }
    }
}
