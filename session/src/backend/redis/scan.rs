//! Listing every live lock ([`Backend::locks`](crate::backend::Backend::locks)):
//! `SCAN` for the lock keys of this prefix (of one data store when named),
//! then their entries, a batch per round trip.
//!
//! The session id is read back from the key `{prefix:name/scope/key}:lock`:
//! with a data store name given, the name is that one and the scope runs
//! to the next `/`; without, the name runs to the first `/`. So a name or
//! scope holding `/` may be split at the wrong place (a name holding `/`
//! also lists under the name before it). Without a prefix, keys of every
//! prefix match (`{sdm:Player/...}` reads as data store `sdm:Player`), and
//! a prefix `p` also lists the keys of a prefix `p:x` as data store `x:...`.

use std::collections::HashMap;

use redis::aio::ConnectionLike;

use super::reply::redis_error;
use super::RedisBackend;
use crate::backend::liveness::parse_entry;
use crate::backend::{BackendError, LockEntry, SessionId};

/// Keys asked of each `SCAN` step.
const SCAN_COUNT: usize = 1000;

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
            Some(name) => format!("{open}{}/*}}:lock", glob_escape(name)),
            None => format!("{open}*}}:lock"),
        }
    }

    /// The session id of a lock key (see the [module docs](self)); `None`
    /// for a key not shaped like one.
    fn session_of_lock_key(&self, key: &str, name: Option<&str>) -> Option<SessionId> {
        let inner = key
            .strip_prefix(self.tag_open().as_str())?
            .strip_suffix("}:lock")?;
        let (name, rest) = match name {
            Some(name) => (name, inner.strip_prefix(name)?.strip_prefix('/')?),
            None => inner.split_once('/')?,
        };
        let (scope, key) = rest.split_once('/')?;
        Some(SessionId {
            name: name.to_owned(),
            scope: scope.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// The lock keys matching `pattern` on one server and their entries (a key
/// that expired between the scan and the read is left out; `SCAN` may name
/// a key twice, it is listed once). A cluster version runs this on each
/// master.
async fn scan_server(
    conn: &mut impl ConnectionLike,
    pattern: &str,
) -> Result<HashMap<String, String>, BackendError> {
    let fail = |e: redis::RedisError| redis_error("locks", pattern, &e);
    let mut found = HashMap::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await
            .map_err(fail)?;
        // A key that is not UTF-8 cannot be a session's.
        let keys: Vec<String> = keys
            .into_iter()
            .filter_map(|k| String::from_utf8(k).ok())
            .collect();
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.cmd("GET").arg(key);
            }
            let values: Vec<Option<Vec<u8>>> = pipe.query_async(conn).await.map_err(fail)?;
            for (key, value) in keys.into_iter().zip(values) {
                if let Some(value) = value {
                    // Tolerant: an unreadable entry is listed as best read.
                    found.insert(key, String::from_utf8_lossy(&value).into_owned());
                }
            }
        }
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}

/// [`Backend::locks`](crate::backend::Backend::locks).
pub(super) async fn locks(
    backend: &RedisBackend,
    name: Option<&str>,
) -> Result<Vec<(SessionId, LockEntry)>, BackendError> {
    let pattern = backend.lock_pattern(name);
    let mut conn = backend.conn().await?;
    let found = scan_server(&mut conn, &pattern).await?;
    Ok(found
        .into_iter()
        .filter_map(|(key, text)| {
            let id = backend.session_of_lock_key(&key, name)?;
            Some((id, parse_entry(&text)))
        })
        .collect())
}
