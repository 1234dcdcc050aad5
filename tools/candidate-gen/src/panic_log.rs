//! Captures the runtime's panic messages. A Substrate runtime logs its panic message through
//! the `logging` host function (target `runtime`, level error) just before it traps, and the
//! trap itself only says `unreachable`; the message is what tells which check rejected a
//! negative candidate.

use std::sync::Mutex;

/// The last error-level message the runtime logged.
static LAST: Mutex<Option<String>> = Mutex::new(None);

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::Level::Error
    }

    fn log(&self, record: &log::Record) {
        if record.target() == "runtime" && record.level() == log::Level::Error {
            let text = record.args().to_string();
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// Installs the capturing logger; the runtime reads the host's max level, so errors only.
pub fn install() {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
}

/// Takes the last captured runtime error message, clearing it.
pub fn take() -> Option<String> {
    LAST.lock().unwrap_or_else(|e| e.into_inner()).take()
}
