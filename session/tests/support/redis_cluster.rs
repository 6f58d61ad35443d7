//! A Redis Cluster of the test's own: 6 `redis-server` processes on free
//! loopback ports (3 masters with one replica each), made with
//! `redis-cli --cluster create`, with a short `cluster-node-timeout` so a
//! killed master's replica takes over within a few seconds. Dropping it
//! kills every server and removes their directories (also when the test
//! panicked). Without `redis-server` and `redis-cli` on PATH the test fails
//! and says how to install them (tests never skip silently).
#![allow(dead_code)]

// Both server kinds choose ports alike; a test may load both.
#[allow(clippy::duplicate_mod)]
#[path = "ports.rs"]
mod ports;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "the Redis Cluster tests need `redis-server` and `redis-cli` on PATH \
(Debian/Ubuntu: `apt-get install redis-server redis-tools`, or run scripts/setup.sh; macOS: `brew install redis`)";

/// How long a node may be unreachable before the cluster counts it failed
/// (and its replica takes over).
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// One server of the cluster.
struct Node {
    port: u16,
    bus_port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

/// A local Redis Cluster, 3 masters × 1 replica.
pub struct RedisCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// A synchronous connection to one node.
fn node_conn(port: u16, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))?.get_connection_with_timeout(timeout)
}

impl RedisCluster {
    /// Starts 6 servers, makes them a cluster and waits until every node
    /// says `cluster_state:ok` and every master has its replica in sync.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the cluster");
        let ports = ports::free_ports(12);
        let mut nodes: Vec<Node> = (0..6)
            .map(|i| Node {
                port: ports[i],
                bus_port: ports[i + 6],
                dir: dir.path().join(format!("node{i}")),
                child: None,
            })
            .collect();
        for node in &mut nodes {
            std::fs::create_dir_all(&node.dir).expect("node dir");
        }
        let mut cluster = RedisCluster { nodes, _dir: dir };
        for i in 0..cluster.nodes.len() {
            ports::start_retrying(|attempt| {
                if attempt > 0 {
                    let _ = std::fs::remove_file(cluster.nodes[i].dir.join("nodes.conf"));
                    let fresh = ports::free_ports(2);
                    cluster.nodes[i].port = fresh[0];
                    cluster.nodes[i].bus_port = fresh[1];
                }
                cluster.spawn(i)
            });
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): {INSTALL}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_ready(Duration::from_secs(30));
        cluster
    }

    /// Starts node `i` on its ports and waits until it answers; `Err` (the
    /// exit status and ports) when it exited at once.
    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let child = Command::new("redis-server")
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .arg("--port")
            .arg(node.port.to_string())
            .arg("--cluster-enabled")
            .arg("yes")
            .arg("--cluster-port")
            .arg(node.bus_port.to_string())
            .arg("--cluster-config-file")
            .arg(node.dir.join("nodes.conf"))
            .arg("--cluster-node-timeout")
            .arg(NODE_TIMEOUT_MS.to_string())
            // A replica takes over however long its master was away.
            .args(["--cluster-replica-validity-factor", "0"])
            .arg("--dir")
            .arg(&node.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): {INSTALL}"));
        node.child = Some(child);
        let port = node.port;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.nodes[i]
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.nodes[i].child = None;
                return Err(format!(
                    "{status} on port {port} (bus {})",
                    self.nodes[i].bus_port
                ));
            }
            let pong = TcpStream::connect(("127.0.0.1", port)).is_ok()
                && node_conn(port, Duration::from_millis(200))
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok();
            if pong {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every live node says `cluster_state:ok`, knows every
    /// slot, and every master serving slots has a replica in sync.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ready = self.live_ports().iter().all(|&port| {
                let info = self.command(port, &["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            }) && self.masters().len() == 3
                && self.masters().iter().all(|&port| {
                    let info = self.command(port, &["INFO", "replication"]);
                    info.contains("state=online")
                });
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster was not ready within {within:?}: {}",
                self.live_ports()
                    .iter()
                    .map(|&p| format!("{p}: {}", self.command(p, &["CLUSTER", "NODES"])))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A command's reply on one node as text (empty when it fails).
    pub fn command(&self, port: u16, args: &[&str]) -> String {
        node_conn(port, Duration::from_secs(2))
            .and_then(|mut c| {
                let mut cmd = redis::cmd(args[0]);
                for a in &args[1..] {
                    cmd.arg(*a);
                }
                cmd.query::<String>(&mut c)
            })
            .unwrap_or_default()
    }

    /// The ports of the servers still running.
    pub fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// The ports of the masters serving slots, as a live node sees them.
    pub fn masters(&self) -> Vec<u16> {
        let Some(&port) = self.live_ports().first() else {
            return Vec::new();
        };
        let nodes = self.command(port, &["CLUSTER", "NODES"]);
        nodes
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let serving = f.len() > 8
                    && f[2].split(',').any(|x| x == "master")
                    && !f[2].split(',').any(|x| x == "fail" || x == "fail?");
                serving.then(|| {
                    f[1].split(['@', ','])
                        .next()?
                        .rsplit_once(':')?
                        .1
                        .parse()
                        .ok()
                })?
            })
            .collect()
    }

    /// The port of the master serving `slot` (by `CLUSTER SHARDS` of a
    /// live node: `CLUSTER NODES` slot ranges).
    pub fn master_of(&self, slot: u16) -> u16 {
        let port = *self.live_ports().first().expect("a live node");
        let nodes = self.command(port, &["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() <= 8 || !f[2].split(',').any(|x| x == "master") {
                continue;
            }
            let serves = f[8..].iter().any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                match (lo.parse::<u16>(), hi.parse::<u16>()) {
                    (Ok(lo), Ok(hi)) => (lo..=hi).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                return f[1]
                    .split(['@', ','])
                    .next()
                    .and_then(|a| a.rsplit_once(':'))
                    .and_then(|(_, p)| p.parse().ok())
                    .expect("a master's port");
            }
        }
        panic!("no master serves slot {slot}: {nodes}");
    }

    /// The cluster URL naming every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}/", hosts.join(","))
    }

    /// Kills the server on `port` (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self, port: u16) {
        for node in &mut self.nodes {
            if node.port == port {
                if let Some(mut child) = node.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    /// Starts the server on `port` again (killed before): it rejoins the
    /// cluster from its `nodes.conf`, as a replica when its slots were
    /// taken over meanwhile.
    pub fn restart(&mut self, port: u16) {
        let i = self
            .nodes
            .iter()
            .position(|n| n.port == port)
            .expect("a node of this cluster");
        self.kill(port);
        if let Err(exit) = self.spawn(i) {
            panic!("redis-server exited at once on restart: {exit}");
        }
    }

    /// Waits until a live node serves `slot` from a master other than
    /// `old` (its replica was promoted); answers the new master's port.
    pub fn wait_failover(&self, slot: u16, old: u16, within: Duration) -> u16 {
        let deadline = Instant::now() + within;
        loop {
            let port = *self.live_ports().first().expect("a live node");
            let info = self.command(port, &["CLUSTER", "INFO"]);
            if info.contains("cluster_state:ok") {
                let new = self.master_of(slot);
                if new != old {
                    return new;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no replica took over slot {slot} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
