//! SIGINT and SIGTERM in the CLI: the first stops the work in hand and cleans up (the caller
//! drops the host, which kills and reaps its workers and removes their dirs); a second one
//! exits at once. Exit codes follow the shell's 128 + signal convention.
//!
//! `pvf prepare` uses [`first_signal`] and [`exit_on_second_signal`]; `pvf validate` and
//! `pvf bench` a [`Listener`], which handles both from the start and keeps handling the second
//! while the caller's thread blocks dropping its host.

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

/// SIGINT and SIGTERM handled from the moment [`Listener::new`] returns, for commands that run
/// a host on a runtime of their own (`pvf validate`, `pvf bench`). The first signal is handed
/// to [`Listener::wait`]; a second one exits at once, even while the caller is busy dropping
/// its host. Needs a multi-threaded runtime: the listening task must run while the caller's
/// thread blocks.
pub struct Listener {
    first: tokio::sync::watch::Receiver<Option<Interrupt>>,
}

impl Listener {
    /// Installs the handlers now (a signal from here on is never lost) and listens in a task.
    /// Must be called inside the runtime.
    pub fn new() -> Self {
        let install = |kind: SignalKind| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::warn!("cannot handle signal {kind:?}: {e}");
                None
            }
        };
        let (mut int, mut term) = (
            install(SignalKind::interrupt()),
            install(SignalKind::terminate()),
        );
        let (tx, first) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let signal = next(&mut int, &mut term).await;
            let _ = tx.send(Some(signal));
            let again = next(&mut int, &mut term).await;
            eprintln!("second {}: exiting at once", again.name());
            std::process::exit(again.exit_code().into());
        });
        Self { first }
    }

    /// The first signal, once it came.
    pub async fn wait(&mut self) -> Interrupt {
        match self.first.wait_for(Option::is_some).await {
            Ok(signal) => signal.expect("waited for Some"),
            // The task is gone (the runtime shuts down): no signal will come.
            Err(_) => std::future::pending().await,
        }
    }
}

type Stream = Option<tokio::signal::unix::Signal>;

/// The next SIGINT or SIGTERM on the streams that could be installed.
async fn next(int: &mut Stream, term: &mut Stream) -> Interrupt {
    async fn recv(stream: &mut Stream) {
        match stream {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        () = recv(int) => Interrupt::Int,
        () = recv(term) => Interrupt::Term,
    }
}

/// Prints the one line saying what a signal interrupted and what is cleaned up now.
pub fn announce(signal: Interrupt, what: &str, temporary_cache_dir: bool) {
    eprintln!(
        "interrupted by {}: {what}; stopping the workers and removing the worker dirs{}",
        signal.name(),
        if temporary_cache_dir {
            " and the temporary cache dir"
        } else {
            ""
        },
    );
}
