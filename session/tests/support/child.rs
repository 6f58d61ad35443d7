//! Child processes for process tests: the test binary runs itself with a
//! role in an environment variable; the child reports lines marked with
//! [`MARK`] on stdout and reads commands from stdin.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// Starts every line a child reports.
pub const MARK: &str = "SDM-CHILD ";

/// A child process, killed if the test ends before it does.
pub struct Kid {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Kid {
    /// Runs the test `entry` of this binary as a child with `env` set.
    pub fn spawn(entry: &str, env: &[(&str, &str)]) -> Kid {
        let exe = std::env::current_exe().expect("test binary");
        let mut command = Command::new(exe);
        command
            .args(["--exact", entry, "--nocapture", "--test-threads=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn child");
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let stdin = child.stdin.take();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { return };
                if let Some(at) = line.find(MARK) {
                    if tx.send(line[at + MARK.len()..].to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        Kid {
            child,
            stdin,
            lines,
        }
    }

    /// The child's next line, waiting at most `limit`.
    pub fn next_within(&self, what: &str, limit: Duration) -> String {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("child gave no {what} within {limit:?}: {e}"))
    }

    /// The child's next line if one comes within `limit` (after the child
    /// ended: the lines it had written, then `None`).
    pub fn try_next(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// The child's next line, waiting at most 30 s.
    pub fn next(&self, what: &str) -> String {
        self.next_within(what, Duration::from_secs(30))
    }

    /// The next line that starts with `prefix` (others are skipped).
    pub fn expect_line(&self, prefix: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.next_within(prefix, left);
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Sends one command line to the child.
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("child stdin");
        writeln!(stdin, "{command}").expect("write to child");
        stdin.flush().expect("flush child stdin");
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`STOP`, `CONT`, `KILL`...) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// kill -9, and reap.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// Waits for the child to end by itself.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reports one line to the parent.
pub fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{MARK}{text}").expect("stdout");
    out.flush().expect("flush");
}
