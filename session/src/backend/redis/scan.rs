//! Listing every live lock ([`Backend::locks`](crate::backend::Backend::locks)):
//! `SCAN` for the lock keys of this prefix (of one data store when named),
//! then their entries, a batch per round trip.
//!
//! The session id is read back from the key `{prefix:name/scope/key}:lock`
//! (or, for a key with a slot tag, `{prefix:name/scope/tag}key:lock`):
//! with a data store name given, the name is that one and the scope runs
//! to the next `/`; without, the name runs to the first `/`. So a name or
//! scope holding `/` may be split at the wrong place (a name holding `/`
//! also lists under the name before it). Without a prefix, keys of every
//! prefix match (`{sdm:Player/...}` reads as data store `sdm:Player`), and
//! a prefix `p` also lists the keys of a prefix `p:x` as data store `x:...`.
//!
//! On a Redis Cluster the scan runs on each master serving slots (as
//! `CLUSTER NODES` lists them when the listing starts), and the entries
//! are read a pipeline per hash slot. Keys of a slot migrating (or failing
//! over) during the listing may be missed.

use std::collections::HashMap;

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::cluster::{masters, Conn, Master};
use super::reply::redis_error;
use super::save::hash_slot;
use super::RedisBackend;
use crate::backend::liveness::parse_entry;
use crate::backend::{BackendError, LockEntry, SessionId};

/// Keys asked of each `SCAN` step, at most (a key listing asks for about
/// a page).
pub(super) const SCAN_COUNT: usize = 1000;

/// Escapes the glob characters of `MATCH` patterns.
pub(super) fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisBackend {
    /// What starts every session key of this prefix: `{prefix:` (or `{`).
    pub(super) fn tag_open(&self) -> String {
        if self.inner.prefix.is_empty() {
            "{".to_owned()
        } else {
            format!("{{{}:", self.inner.prefix)
        }
    }

    /// The `MATCH` pattern of the lock keys (of data store `name`).
    fn lock_pattern(&self, name: Option<&str>) -> String {
        let open = glob_escape(&self.tag_open());
        match name {
            Some(name) => format!("{open}{}/*}}*:lock", glob_escape(name)),
            None => format!("{open}*}}*:lock"),
        }
    }

    /// The session id of a lock key (see the [module docs](self)); `None`
    /// for a key not shaped like one.
    fn session_of_lock_key(&self, key: &str, name: Option<&str>) -> Option<SessionId> {
        self.session_of_key(key, ":lock", name)
    }

    /// The session id of one of a session's keys ending in `suffix`
    /// (`:lock`, `:rec`); `None` for a key not shaped like one.
    pub(super) fn session_of_key(
        &self,
        key: &str,
        suffix: &str,
        name: Option<&str>,
    ) -> Option<SessionId> {
        let body = key
            .strip_prefix(self.tag_open().as_str())?
            .strip_suffix(suffix)?;
        // `name/scope/key}`, or with a slot tag `name/scope/tag}key`.
        let (inner, tagged_key) = match body.strip_suffix('}') {
            Some(inner) if !inner.contains('}') => (inner, None),
            _ => {
                let (inner, key) = body.split_once('}')?;
                (inner, Some(key))
            }
        };
        let (name, rest) = match name {
            Some(name) => (name, inner.strip_prefix(name)?.strip_prefix('/')?),
            None => inner.split_once('/')?,
        };
        let (scope, key) = match tagged_key {
            Some(key) => (rest.rsplit_once('/')?.0, key),
            None => rest.split_once('/')?,
        };
        Some(SessionId {
            name: name.to_owned(),
            scope: scope.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// One `SCAN` step on the server `at` routes to (`None`: the connection's
/// own server).
pub(super) async fn scan_step(
    conn: &mut Conn,
    at: Option<&Master>,
    cursor: u64,
    pattern: &str,
    count: usize,
) -> Result<(u64, Vec<String>), redis::RedisError> {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count);
    let reply = match (conn, at) {
        (Conn::Cluster(cluster), Some(master)) => {
            let route = SingleNodeRoutingInfo::ByAddress {
                host: master.host.clone(),
                port: master.port,
            };
            cluster
                .route_command(&cmd, RoutingInfo::SingleNode(route))
                .await?
        }
        (conn, _) => cmd.query_async(conn).await?,
    };
    let (next, keys): (u64, Vec<Vec<u8>>) = redis::from_redis_value(&reply)?;
    // A key that is not UTF-8 cannot be a session's.
    let keys = keys
        .into_iter()
        .filter_map(|k| String::from_utf8(k).ok())
        .collect();
    Ok((next, keys))
}

/// The entries of `keys`, a pipeline per hash slot (a cluster routes a
/// pipeline to one slot's master; on one server they are all one slot's
/// as far as it cares, but grouping costs nothing).
async fn entries(
    conn: &mut Conn,
    keys: Vec<String>,
    found: &mut HashMap<String, String>,
) -> Result<(), redis::RedisError> {
    let mut by_slot: HashMap<u16, Vec<String>> = HashMap::new();
    match conn {
        Conn::Single(_) => {
            by_slot.insert(0, keys);
        }
        Conn::Cluster(_) => {
            for key in keys {
                by_slot.entry(hash_slot(&key)).or_default().push(key);
            }
        }
    }
    for keys in by_slot.into_values() {
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("GET").arg(key);
        }
        let values: Vec<Option<Vec<u8>>> = pipe.query_async(conn).await?;
        for (key, value) in keys.into_iter().zip(values) {
            if let Some(value) = value {
                // Tolerant: an unreadable entry is listed as best read.
                found.insert(key, String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
    Ok(())
}

/// The lock keys matching `pattern` on one server (the one `at` names on
/// a cluster) and their entries, added to `found` (a key that expired
/// between the scan and the read is left out; `SCAN` may name a key
/// twice, it is listed once).
async fn scan_server(
    conn: &mut Conn,
    at: Option<&Master>,
    pattern: &str,
    found: &mut HashMap<String, String>,
) -> Result<(), BackendError> {
    let fail = |e: redis::RedisError| redis_error("locks", pattern, &e);
    let mut cursor: u64 = 0;
    loop {
        let (next, keys) = scan_step(conn, at, cursor, pattern, SCAN_COUNT)
            .await
            .map_err(fail)?;
        if !keys.is_empty() {
            entries(conn, keys, found).await.map_err(fail)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// The servers to scan: the connection's own, or every master of a
/// cluster in a fixed order (by address: `CLUSTER NODES` lists them in
/// another order on each node, and a key cursor names a master by its
/// place).
pub(super) async fn servers(conn: &mut Conn) -> Result<Vec<Option<Master>>, redis::RedisError> {
    Ok(match conn {
        Conn::Single(_) => vec![None],
        Conn::Cluster(cluster) => {
            let mut all = masters(cluster).await?;
            all.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
            all.dedup_by(|a, b| (&a.host, a.port) == (&b.host, b.port));
            all.into_iter().map(Some).collect()
        }
    })
}

/// [`Backend::locks`](crate::backend::Backend::locks): on a cluster, the
/// scan runs on every master serving slots (asked of the cluster first).
pub(super) async fn locks(
    backend: &RedisBackend,
    name: Option<&str>,
) -> Result<Vec<(SessionId, LockEntry)>, BackendError> {
    let pattern = backend.lock_pattern(name);
    let mut conn = backend.conn().await?;
    let mut found = HashMap::new();
    let servers = servers(&mut conn)
        .await
        .map_err(|e| redis_error("locks", &pattern, &e))?;
    for server in &servers {
        scan_server(&mut conn, server.as_ref(), &pattern, &mut found).await?;
    }
    Ok(found
        .into_iter()
        .filter_map(|(key, text)| {
            let id = backend.session_of_lock_key(&key, name)?;
            Some((id, parse_entry(&text)))
        })
        .collect())
}
