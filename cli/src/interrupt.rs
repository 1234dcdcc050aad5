//! SIGINT and SIGTERM in the CLI: the first stops the work in hand and cleans up (the caller
//! drops the host, which kills and reaps its workers and removes their dirs); a second one
//! exits at once. Exit codes follow the shell's 128 + signal convention.

use tokio::signal::unix::{SignalKind, signal};

/// The signal that interrupted the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM.
    Term,
}

impl Interrupt {
    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
        }
    }

    /// 130 for SIGINT, 143 for SIGTERM.
    pub fn exit_code(self) -> u8 {
        match self {
            Interrupt::Int => 130,
            Interrupt::Term => 143,
        }
    }
}

/// Waits for SIGINT or SIGTERM. A signal whose handler cannot be installed never fires (the
/// default action then still ends the process).
pub async fn first_signal() -> Interrupt {
    let wait = |kind: SignalKind| async move {
        match signal(kind) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot handle signal {kind:?}: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = wait(SignalKind::interrupt()) => Interrupt::Int,
        () = wait(SignalKind::terminate()) => Interrupt::Term,
    }
}

/// From now on, another SIGINT or SIGTERM ends the process at once, without cleaning up.
pub fn exit_on_second_signal() {
    tokio::spawn(async {
        let again = first_signal().await;
        eprintln!("second {}: exiting at once", again.name());
        std::process::exit(again.exit_code().into());
    });
}
