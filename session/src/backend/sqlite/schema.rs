//! The tables, created when missing, and the in-place migration of files
//! made by earlier versions (see the module documentation).

use rusqlite::{params, Transaction};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sdm_records (
    id TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL,
    token INTEGER NOT NULL DEFAULT 0,
    data_version INTEGER NOT NULL DEFAULT 0,
    readable_from INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_locks (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    issued INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    priority REAL NOT NULL,
    value TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0,
    read_id TEXT
);
CREATE INDEX IF NOT EXISTS sdm_queue_order ON sdm_queue (session, priority DESC, item);
CREATE INDEX IF NOT EXISTS sdm_queue_read ON sdm_queue (session, read_id);
";

/// The schema version this code writes (`PRAGMA user_version`): 1 was the
/// first release, 2 added fencing tokens, 3 the data version of records
/// (`data_version`, `readable_from`; 0 for records written before).
pub(super) const SCHEMA_VERSION: i64 = 3;

/// Brings a file of an earlier schema up to [`SCHEMA_VERSION`] in place
/// (inside the schema transaction, so concurrent openers take turns).
pub(super) fn migrate(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let added = [
        ("sdm_records", "token"),
        ("sdm_locks", "token"),
        ("sdm_records", "data_version"),
        ("sdm_records", "readable_from"),
    ];
    for (table, column) in added {
        let has_column: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            params![table, column],
            |r| r.get(0),
        )?;
        if !has_column {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
            ))?;
        }
    }
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    Ok(())
}
