//! The fencing tokens in SQL: what the [fencing rule](crate::backend#fencing-tokens)
//! reads (`sdm_locks`, `sdm_tokens`, `sdm_records.token`) and writes, and
//! the lock entry they guard.

use rusqlite::{params, Transaction};

use crate::backend::fencing::Tokens;
use crate::backend::{LockEntry, SessionId};

/// A token as SQLite stores it (tokens stay far below `i64::MAX`).
pub(super) fn to_sql(token: u64) -> i64 {
    i64::try_from(token).unwrap_or(i64::MAX)
}

/// A stored token (a negative one, which this code never writes, reads as 0).
pub(super) fn from_sql(token: i64) -> u64 {
    u64::try_from(token).unwrap_or(0)
}

/// What the fencing rule needs to know about `key`, in one statement.
pub(super) fn tokens(tx: &Transaction<'_>, key: &str, now: i64) -> rusqlite::Result<Tokens> {
    let mut stmt = tx.prepare_cached(
        "SELECT l.owner, l.token,
                COALESCE((SELECT issued FROM sdm_tokens WHERE id = ?1), 0),
                COALESCE((SELECT token FROM sdm_records WHERE id = ?1), 0),
                COALESCE((SELECT token FROM sdm_released WHERE id = ?1), 0)
         FROM (SELECT 1) LEFT JOIN sdm_locks l ON l.id = ?1 AND l.expires_at_ms > ?2",
    )?;
    stmt.query_row(params![key, now], |r| {
        let owner: Option<String> = r.get(0)?;
        let token: Option<i64> = r.get(1)?;
        Ok(Tokens {
            entry: owner.map(|o| (o, from_sql(token.unwrap_or(0)))),
            counter: from_sql(r.get(2)?),
            record: from_sql(r.get(3)?),
            released: from_sql(r.get(4)?),
        })
    })
}

/// Remembers that the owner of `key`'s entry under `token` released it (a
/// renewal landing after the release must not write it again).
pub(super) fn mark_released(tx: &Transaction<'_>, key: &str, token: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sdm_released (id, token) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET token = MAX(token, excluded.token)",
    )?
    .execute(params![key, to_sql(token)])?;
    Ok(())
}

/// Raises `key`'s counter to `token` when it is below (a lost counter is
/// repaired by the next write or renewal).
pub(super) fn issue(
    tx: &Transaction<'_>,
    key: &str,
    known: &Tokens,
    token: u64,
) -> rusqlite::Result<()> {
    if known.counter >= token {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO sdm_tokens (id, issued) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET issued = MAX(issued, excluded.issued)",
    )?
    .execute(params![key, to_sql(token)])?;
    Ok(())
}

/// Writes `id`'s lock entry (owner, token, node, acquisition time) with
/// its expiry, and the session id's parts (for listing the locks of one
/// data store).
pub(super) fn put_lock(
    tx: &Transaction<'_>,
    id: &SessionId,
    entry: &LockEntry,
    expires: i64,
) -> rusqlite::Result<()> {
    let node = entry.node.as_ref();
    tx.prepare_cached(
        "INSERT INTO sdm_locks (id, owner, expires_at_ms, token, node_id, node_host, node_pid,
           since_ms, name, scope, session_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner,
           expires_at_ms = excluded.expires_at_ms, token = excluded.token,
           node_id = excluded.node_id, node_host = excluded.node_host,
           node_pid = excluded.node_pid, since_ms = excluded.since_ms,
           name = excluded.name, scope = excluded.scope, session_key = excluded.session_key",
    )?
    .execute(params![
        id.to_string(),
        entry.owner,
        expires,
        to_sql(entry.token),
        node.map(|n| n.id.as_str()),
        node.map(|n| n.host.as_str()),
        node.map(|n| i64::from(n.pid)),
        entry.since_ms,
        id.name,
        id.scope,
        id.key,
    ])?;
    Ok(())
}
