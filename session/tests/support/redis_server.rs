//! A `redis-server` of the test's own, on a free port, killed on drop; or
//! the server `SDM_TEST_REDIS_URL` names. Neither: the test fails and says
//! how to install Redis (tests never skip silently).
#![allow(dead_code)]

// Both server kinds choose ports alike; a test may load both.
#[allow(clippy::duplicate_mod)]
#[path = "ports.rs"]
mod ports;

use std::collections::HashMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming an existing Redis to test against.
pub const URL_VAR: &str = "SDM_TEST_REDIS_URL";

const INSTALL: &str = "the Redis tests need `redis-server` on PATH (Debian/Ubuntu: `apt-get install redis-server`, \
macOS: `brew install redis`) or SDM_TEST_REDIS_URL=redis://host:port/db naming a server they may write to";

/// A Redis for one test.
pub struct RedisServer {
    url: String,
    port: u16,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    durable: bool,
    /// Extra `redis-server` arguments (a replica's `--replicaof`).
    extra: Vec<String>,
}

impl RedisServer {
    /// `SDM_TEST_REDIS_URL` when set, else a server of our own.
    pub fn start() -> Self {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => RedisServer {
                url,
                port: 0,
                child: None,
                dir: None,
                durable: false,
                extra: Vec::new(),
            },
            _ => Self::start_own(),
        }
    }

    /// Always a server of our own (tests that stop and restart it); it
    /// keeps nothing across a restart.
    pub fn start_own() -> Self {
        Self::own(false)
    }

    /// A server of our own that keeps its data across a restart: an
    /// append-only file fsynced on every write, so every write it
    /// acknowledged (and every key's expiry time) is there after a kill.
    pub fn start_own_durable() -> Self {
        Self::own(true)
    }

    /// A server of our own replicating `master`; answers once the master
    /// counts it as a connected replica in sync.
    pub fn start_replica_of(master: &RedisServer) -> Self {
        let extra = vec![
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master.port.to_string(),
        ];
        let replica = Self::own_with(false, extra);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = master.info("replication");
            let mine = info.lines().any(|l| {
                l.starts_with("slave")
                    && l.contains(&format!("port={}", replica.port))
                    && l.contains("state=online")
            });
            if mine {
                return replica;
            }
            assert!(
                Instant::now() < deadline,
                "the replica never came in sync: {info}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One numeric field of `INFO section` (0 when absent).
    pub fn info_field(&self, section: &str, field: &str) -> u64 {
        let prefix = format!("{field}:");
        self.info(section)
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `INFO section` of this server.
    pub fn info(&self, section: &str) -> String {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut c| redis::cmd("INFO").arg(section).query::<String>(&mut c))
            .unwrap_or_default()
    }

    fn own(durable: bool) -> Self {
        Self::own_with(durable, Vec::new())
    }

    fn own_with(durable: bool, extra: Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for redis-server");
        let mut server = RedisServer {
            url: String::new(),
            port: 0,
            child: None,
            dir: Some(dir),
            durable,
            extra,
        };
        ports::start_retrying(|_| {
            server.port = ports::free_port();
            server.url = format!("redis://127.0.0.1:{}/0", server.port);
            server.spawn()
        });
        server
    }

    /// Starts the server on its port and waits until it answers; `Err`
    /// (the exit status and port) when it exited at once.
    fn spawn(&mut self) -> Result<(), String> {
        let dir = self
            .dir
            .as_ref()
            .expect("own server has a dir")
            .path()
            .to_path_buf();
        let appendonly = if self.durable { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args([
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
                "--bind",
                "127.0.0.1",
                "--port",
            ])
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): {INSTALL}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("{status} on port {}", self.port));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.ping() {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills our server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts our server again on the same port: empty, or for a durable
    /// server with everything it had acknowledged.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.dir.is_some(),
            "restart needs a server of our own, not {URL_VAR}: {INSTALL}"
        );
        if let Err(exit) = self.spawn() {
            panic!("redis-server exited at once on restart: {exit}");
        }
    }

    /// `INFO commandstats` as calls per command name.
    pub fn command_calls(&self) -> HashMap<String, u64> {
        let client = redis::Client::open(self.url.as_str()).expect("url");
        let mut conn = client.get_connection().expect("stats connection");
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut conn)
            .expect("INFO commandstats");
        info.lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("cmdstat_")?;
                let (name, stats) = rest.split_once(':')?;
                let calls = stats
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("calls="))?
                    .parse()
                    .ok()?;
                Some((name.to_owned(), calls))
            })
            .collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
