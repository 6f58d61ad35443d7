//! Redis Cluster: the `redis+cluster://` URL, the connection that is either
//! one server's or a cluster's, and what the cluster says about its
//! masters and replicas (`CLUSTER NODES`).
//!
//! On a cluster the backend talks through the redis crate's async cluster
//! client: it learns the slot map from the nodes the URL names, sends each
//! command (and each pipeline: a script run with its `WAIT`) to the master
//! of its keys' slot, follows `MOVED` and `ASK` redirects, and reconnects
//! and re-reads the slot map when a node fails. A script the new master of
//! a slot never loaded (after a failover: scripts are not replicated)
//! answers `NOSCRIPT`, and the call loads it on every master and runs it
//! again.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, Pipeline, RedisFuture, Value};

use super::reply::redact;
use super::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT};
use crate::backend::BackendError;

/// How many times the cluster client retries a command that met a
/// redirect, a failed node or a slot map change before answering the
/// error (the engine retries a failed step again later).
const CLUSTER_RETRIES: u32 = 6;
/// The shortest and longest wait between such retries, in milliseconds.
const CLUSTER_RETRY_WAIT_MS: (u64, u64) = (50, 1000);

/// Whether `url` names a Redis Cluster (`redis+cluster://` or
/// `rediss+cluster://`).
pub(super) fn is_cluster_url(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        let scheme = scheme.to_ascii_lowercase();
        scheme == "redis+cluster" || scheme == "rediss+cluster"
    })
}

/// The URL of each seed node of a cluster URL:
/// `redis+cluster://[user:pass@]host1:port,host2:port[/][?query]` gives
/// `redis://[user:pass@]host1:port/?query` and so on (`rediss` for
/// `rediss+cluster`). A cluster has one database: a path other than
/// empty, `/` or `/0` is refused.
pub(super) fn node_urls(url: &str) -> Result<Vec<String>, BackendError> {
    let bad =
        |why: &str| BackendError::Invalid(format!("redis cluster URL {:?}: {why}", redact(url)));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let node_scheme = match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" => "redis",
        "rediss+cluster" => "rediss",
        _ => {
            return Err(bad(
                "the scheme must be redis+cluster:// or rediss+cluster://",
            ))
        }
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if !matches!(path, "" | "/" | "/0") {
        return Err(bad("a cluster has only database 0"));
    }
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((user, hosts)) => (format!("{user}@"), hosts),
        None => (String::new(), authority),
    };
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    let urls: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.trim().is_empty())
        .map(|host| format!("{node_scheme}://{userinfo}{}/{query}", host.trim()))
        .collect();
    if urls.is_empty() {
        return Err(bad("name at least one node (host:port)"));
    }
    Ok(urls)
}

/// Where the backend connects: one server, or a cluster by its seed nodes.
pub(super) enum Endpoint {
    /// One Redis server (perhaps with replicas).
    Single(Client),
    /// A Redis Cluster: its client and the seed node URLs (for the pub/sub
    /// client, made on the first wait).
    Cluster {
        client: ClusterClient,
        nodes: Vec<String>,
    },
}

impl Endpoint {
    /// The endpoint a URL names.
    pub(super) fn open(url: &str) -> Result<Self, BackendError> {
        let invalid = |e: redis::RedisError| {
            BackendError::Invalid(format!("redis URL {:?}: {e}", redact(url)))
        };
        if is_cluster_url(url) {
            let nodes = node_urls(url)?;
            let client = cluster_builder(&nodes).build().map_err(invalid)?;
            Ok(Endpoint::Cluster { client, nodes })
        } else {
            Client::open(url).map(Endpoint::Single).map_err(invalid)
        }
    }

    /// For messages: the server's address, or the seed nodes.
    pub(super) fn describe(&self) -> String {
        match self {
            Endpoint::Single(client) => client.get_connection_info().addr.to_string(),
            Endpoint::Cluster { nodes, .. } => {
                let hosts: Vec<String> = nodes.iter().map(|n| redact(n)).collect();
                format!("cluster {}", hosts.join(","))
            }
        }
    }
}

/// A cluster client builder for `nodes` with this backend's timeouts and
/// retries.
pub(super) fn cluster_builder(nodes: &[String]) -> ClusterClientBuilder {
    ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(CLUSTER_RETRY_WAIT_MS.0)
        .max_retry_wait(CLUSTER_RETRY_WAIT_MS.1)
}

/// A command connection: one server's (multiplexed, reconnecting) or a
/// cluster's (routing each command to its slot's master). Cheap to clone.
#[derive(Clone)]
pub(super) enum Conn {
    /// One server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A master serving slots, as `CLUSTER NODES` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Master {
    /// Its host (as the cluster announces it).
    pub(super) host: String,
    /// Its port.
    pub(super) port: u16,
    /// Its replicas not marked failed.
    pub(super) replicas: u32,
}

/// The masters serving slots in a `CLUSTER NODES` reply (failed ones left
/// out), with their live replicas.
pub(super) fn parse_masters(nodes: &str) -> Vec<Master> {
    struct Line<'a> {
        id: &'a str,
        addr: &'a str,
        flags: &'a str,
        master: &'a str,
        slots: usize,
    }
    let lines: Vec<Line<'_>> = nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 8).then(|| Line {
                id: fields[0],
                addr: fields[1],
                flags: fields[2],
                master: fields[3],
                slots: fields.len() - 8,
            })
        })
        .collect();
    let failed = |flags: &str| {
        flags
            .split(',')
            .any(|f| f == "fail" || f == "fail?" || f == "noaddr")
    };
    lines
        .iter()
        .filter(|l| l.flags.split(',').any(|f| f == "master") && !failed(l.flags) && l.slots > 0)
        .filter_map(|m| {
            // `ip:port@cport[,hostname]`
            let addr = m.addr.split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            let port = port.parse().ok()?;
            let replicas = lines
                .iter()
                .filter(|r| r.master == m.id && !failed(r.flags))
                .count();
            Some(Master {
                host: host.to_owned(),
                port,
                replicas: u32::try_from(replicas).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// The masters of the cluster behind `conn` (asked of any node).
pub(super) async fn masters(
    conn: &mut ClusterConnection,
) -> Result<Vec<Master>, redis::RedisError> {
    let text: String = redis::cmd("CLUSTER").arg("NODES").query_async(conn).await?;
    Ok(parse_masters(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_each_seed_node() {
        assert!(is_cluster_url("redis+cluster://a:1"));
        assert!(is_cluster_url("REDISS+CLUSTER://a:1"));
        assert!(!is_cluster_url("redis://a:1"));
        assert_eq!(
            node_urls("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").unwrap(), // ok: cfg(test), fixed input
            ["redis://127.0.0.1:7000/", "redis://127.0.0.1:7001/"]
        );
        assert_eq!(
            node_urls("rediss+cluster://u:p@h1:1,h2:2/0?insecure").unwrap(), // ok: cfg(test), fixed input
            ["rediss://u:p@h1:1/?insecure", "rediss://u:p@h2:2/?insecure"]
        );
        for bad in ["redis+cluster://h:1/3", "redis+cluster://", "redis://h:1"] {
            assert!(
                matches!(node_urls(bad), Err(BackendError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn masters_and_their_live_replicas_are_read_from_cluster_nodes() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:7002@17002,host3 master - 0 0 3 connected 10923-16383
b1 127.0.0.1:7003@17003 slave a1 0 0 1 connected
b2 127.0.0.1:7004@17004 slave,fail a2 0 0 2 disconnected
b3 127.0.0.1:7005@17005 slave a3 0 0 3 connected
old 127.0.0.1:7006@17006 master,fail - 0 0 0 disconnected
";
        let masters = parse_masters(nodes);
        let summary: Vec<(u16, u32)> = masters.iter().map(|m| (m.port, m.replicas)).collect();
        assert_eq!(summary, [(7000, 1), (7001, 0), (7002, 1)]);
        assert_eq!(masters[0].host, "127.0.0.1");
    }
}
