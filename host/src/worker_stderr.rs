//! A worker's stderr (its log): copied to ours a line at a time, its last lines kept so that a
//! worker that fails to start can be explained by what it said.
//!
//! The worker does not share our stderr: whatever it leaves running would hold it open, and a
//! caller reading our output to its end (a pipeline, a supervisor) would wait for that process
//! too. The copy stops when the host stops, whoever still holds the pipe.

use std::{
    collections::VecDeque,
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt},
    net::unix::pipe,
    sync::watch,
};

/// Lines of a worker's stderr kept for error messages.
const TAIL_LINES: usize = 8;
/// Bytes of one kept line; longer lines are cut (the copy to our stderr is not).
const TAIL_LINE_BYTES: usize = 400;
/// The longest line copied in one piece; a longer one is copied in parts.
const COPY_LINE_MAX: u64 = 64 * 1024;

/// The last lines a worker wrote to stderr, filled while it runs.
#[derive(Debug)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
    closed: watch::Receiver<bool>,
}

impl StderrTail {
    /// The kept lines once the pipe has closed (the worker and everything it started have
    /// exited), or after `wait` if something still holds it; empty if it wrote nothing.
    pub async fn settled(&self, wait: Duration) -> Vec<String> {
        let mut closed = self.closed.clone();
        let _ = tokio::time::timeout(wait, closed.wait_for(|closed| *closed)).await;
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn push(&self, line: &[u8]) {
        let mut text = String::from_utf8_lossy(line).trim_end().to_string();
        if text.len() > TAIL_LINE_BYTES {
            let mut cut = TAIL_LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [...]");
        }
        if text.is_empty() {
            return;
        }
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(text);
    }
}

/// Starts copying `pipe` to our stderr on the current runtime; returns the tail it fills.
pub fn forward(pipe: pipe::Receiver) -> Arc<StderrTail> {
    let (closed_tx, closed) = watch::channel(false);
    let tail = Arc::new(StderrTail {
        lines: Mutex::new(VecDeque::new()),
        closed,
    });
    let filled = tail.clone();
    tokio::spawn(async move {
        let mut reader = tokio::io::BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader)
                .take(COPY_LINE_MAX)
                .read_until(b'\n', &mut line)
                .await
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    filled.push(&line);
                    if line.last() != Some(&b'\n') {
                        line.push(b'\n');
                    }
                    let _ = std::io::stderr().lock().write_all(&line);
                }
            }
        }
        let _ = closed_tx.send(true);
    });
    tail
}

/// `lines` as the end of an error message: what the worker last said, or that it said nothing.
pub fn describe(lines: &[String]) -> String {
    if lines.is_empty() {
        "it wrote nothing to stderr".to_string()
    } else {
        format!("its stderr ended with: {}", lines.join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn stderr_of(script: &str) -> (std::process::Child, Arc<StderrTail>) {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let pipe = pipe::Receiver::from_owned_fd(stderr.into()).unwrap();
        (child, forward(pipe))
    }

    #[tokio::test]
    async fn keeps_the_last_lines_cut_to_size() {
        let (mut child, tail) = stderr_of(
            "i=0; while [ $i -lt 20 ]; do echo line $i >&2; i=$((i+1)); done; printf 'x%.0s' $(seq 1 500) >&2",
        );
        let lines = tail.settled(Duration::from_secs(10)).await;
        child.wait().unwrap();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 13");
        assert_eq!(lines[6], "line 19");
        assert!(lines[7].starts_with("xxxx") && lines[7].ends_with(" [...]"));
        assert_eq!(lines[7].len(), TAIL_LINE_BYTES + " [...]".len());
    }

    #[tokio::test]
    async fn settles_after_the_bound_while_something_holds_the_pipe() {
        let (mut child, tail) = stderr_of("echo started >&2; sleep 5");
        let begun = std::time::Instant::now();
        let lines = tail.settled(Duration::from_millis(300)).await;
        assert!(begun.elapsed() < Duration::from_secs(3));
        assert_eq!(lines, ["started"]);
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn describes_silence_and_speech() {
        assert_eq!(describe(&[]), "it wrote nothing to stderr");
        assert_eq!(
            describe(&["a".into(), "b".into()]),
            "its stderr ended with: a | b"
        );
    }
}
