//! The fencing tokens in SQL: what the [fencing rule](crate::backend#fencing-tokens)
//! reads (`sdm_locks`, `sdm_tokens`, `sdm_records.token`) and writes.

use rusqlite::{params, Transaction};

use crate::backend::fencing::Tokens;

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
                COALESCE((SELECT token FROM sdm_records WHERE id = ?1), 0)
         FROM (SELECT 1) LEFT JOIN sdm_locks l ON l.id = ?1 AND l.expires_at_ms > ?2",
    )?;
    stmt.query_row(params![key, now], |r| {
        let owner: Option<String> = r.get(0)?;
        let token: Option<i64> = r.get(1)?;
        Ok(Tokens {
            entry: owner.map(|o| (o, from_sql(token.unwrap_or(0)))),
            counter: from_sql(r.get(2)?),
            record: from_sql(r.get(3)?),
        })
    })
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

/// Writes `owner`'s lock entry under `token` with its expiry.
pub(super) fn put_lock(
    tx: &Transaction<'_>,
    key: &str,
    owner: &str,
    token: u64,
    expires: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sdm_locks (id, owner, expires_at_ms, token) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner,
           expires_at_ms = excluded.expires_at_ms, token = excluded.token",
    )?
    .execute(params![key, owner, expires, to_sql(token)])?;
    Ok(())
}
