//! `sdm demo --kill`: one of the demo's servers as a separate process, so
//! that it can really die (SIGKILL, no shutdown, no release).
//!
//! The demo starts this binary as `sdm demo --store URL --child-of SCOPE`.
//! The child prints `ready NODE PID`, then reads commands on standard
//! input: `open P` opens player P's session (waiting for a handoff like
//! the other servers) and answers `opened P TOKEN MICROS` (its fencing
//! token and how long the Open took) or `failed P WHY`. Its sessions never
//! change their values and do not read their gift queue, so killing it
//! loses nothing the demo counts. At end of input it shuts down cleanly.

use sdm_session::{OpenWait, Registry, Response};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the server process may take to start and connect.
const READY_WAIT: Duration = Duration::from_secs(30);

/// Each player's answer to `open`: its fencing token and the Open's time,
/// or why it failed.
pub type Opened = HashMap<u32, Result<(u64, Duration), String>>;

/// The demo's server process, seen from the demo.
pub struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    node: String,
}

impl ChildServer {
    /// Starts the server process on `store` for the run's `scope` and waits
    /// until it is ready.
    pub async fn spawn(
        store: &str,
        scope: &str,
    ) -> Result<ChildServer, Box<dyn std::error::Error>> {
        Self::spawn_with(store, scope, &[]).await
    }

    /// [`spawn`](Self::spawn) with more arguments for the server process.
    pub async fn spawn_with(
        store: &str,
        scope: &str,
        more: &[String],
    ) -> Result<ChildServer, Box<dyn std::error::Error>> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["demo", "--store", store, "--child-of", scope])
            .args(more)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the server process: {e}"))?;
        let stdin = child.stdin.take();
        let Some(out) = child.stdout.take() else {
            return Err("the server process has no standard output".into());
        };
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ChildServer {
            child,
            stdin,
            lines,
            node: String::new(),
        };
        let line = server.next_line(READY_WAIT).await?;
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["ready", node, _pid] => server.node = node.to_owned(),
            _ => return Err(format!("the server process said {line:?}, not ready").into()),
        }
        Ok(server)
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its registry's node id (in its locks and heartbeat).
    pub fn node(&self) -> &str {
        &self.node
    }

    async fn next_line(&mut self, within: Duration) -> Result<String, Box<dyn std::error::Error>> {
        match tokio::time::timeout(within, self.lines.recv()).await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err("the server process exited".into()),
            Err(_) => Err(format!("the server process did not answer within {within:?}").into()),
        }
    }

    /// A line the process printed, if one is waiting.
    pub fn try_line(&mut self) -> Option<String> {
        self.lines.try_recv().ok()
    }

    /// Closes the process's input (it shuts down cleanly), then answers
    /// the lines it prints until it exits, waiting at most `within` (then
    /// it is killed).
    pub async fn finish(&mut self, within: Duration) -> Vec<String> {
        self.stdin = None;
        let mut lines = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(_) => {
                    let _ = self.child.kill();
                    break;
                }
            }
        }
        let _ = self.child.wait();
        lines
    }

    /// Opens `players` on the server process (each by handoff from whoever
    /// holds it) and waits for every answer.
    pub async fn open(&mut self, players: &[u32]) -> Result<Opened, Box<dyn std::error::Error>> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("the server process's input is closed".into());
        };
        for p in players {
            writeln!(stdin, "open {p}")?;
        }
        stdin.flush()?;
        let mut answers = Opened::new();
        while answers.len() < players.len() {
            let line = self
                .next_line(super::OPEN_WAIT + Duration::from_secs(10))
                .await?;
            let mut words = line.splitn(3, ' ');
            let (kind, player) = (words.next(), words.next().and_then(|p| p.parse().ok()));
            let rest = words.next().unwrap_or("");
            let answer = match (kind, player) {
                (Some("opened"), Some(p)) => {
                    let mut nums = rest.split(' ').map(str::parse::<u64>);
                    match (nums.next(), nums.next()) {
                        (Some(Ok(token)), Some(Ok(us))) => {
                            (p, Ok((token, Duration::from_micros(us))))
                        }
                        _ => return Err(format!("the server process said {line:?}").into()),
                    }
                }
                (Some("failed"), Some(p)) => (p, Err(rest.to_owned())),
                _ => return Err(format!("the server process said {line:?}").into()),
            };
            answers.insert(answer.0, answer.1);
        }
        Ok(answers)
    }

    /// Kills the process with SIGKILL (no shutdown: its locks stay, its
    /// heartbeat stops) and reaps it; answers when the signal was sent.
    pub fn kill(&mut self) -> Result<tokio::time::Instant, Box<dyn std::error::Error>> {
        self.child
            .kill()
            .map_err(|e| format!("cannot kill the server process: {e}"))?;
        let at = tokio::time::Instant::now();
        self.child.wait()?;
        Ok(at)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Not killed by the demo (an error on the way): do not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The server process: one registry on `store`, opening the players it is
/// told to (with the demo's handoff wait) until its input ends.
pub fn serve(store: &str, scope: &str) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let registry = Registry::new(super::open_store(store)?);
        registry.set_open_wait(Some(OpenWait::handoff(super::OPEN_WAIT)));
        let (tx, mut commands) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        println!("ready {} {}", registry.node().id, std::process::id());
        while let Some(line) = commands.recv().await {
            let Some(player) = line
                .strip_prefix("open ")
                .and_then(|p| p.trim().parse::<u32>().ok())
            else {
                continue;
            };
            let session = registry.session("Player", Some(scope), player);
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                match session.open(Some(super::template(player))).await {
                    Response::Success => println!(
                        "opened {player} {} {}",
                        session.lock_token(),
                        started.elapsed().as_micros()
                    ),
                    other => println!("failed {player} {other}"),
                }
            });
        }
        registry.shutdown().await;
        Ok(())
    })
}
