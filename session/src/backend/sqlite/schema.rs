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
    token INTEGER NOT NULL DEFAULT 0,
    node_id TEXT,
    node_host TEXT,
    node_pid INTEGER,
    since_ms INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    scope TEXT,
    session_key TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    issued INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_released (
    id TEXT PRIMARY KEY NOT NULL,
    token INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    priority REAL NOT NULL,
    value TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0,
    read_id TEXT,
    held_owner TEXT,
    held_token INTEGER,
    pushed_ms INTEGER
);
CREATE INDEX IF NOT EXISTS sdm_queue_order ON sdm_queue (session, priority DESC, item);
CREATE INDEX IF NOT EXISTS sdm_queue_read ON sdm_queue (session, read_id);
CREATE TABLE IF NOT EXISTS sdm_nodes (
    id TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sdm_history (
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    replaced_ms INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    value TEXT NOT NULL,
    metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL,
    token INTEGER NOT NULL,
    data_version INTEGER NOT NULL,
    readable_from INTEGER NOT NULL,
    PRIMARY KEY (id, seq)
);
CREATE TABLE IF NOT EXISTS sdm_user_index (
    user_id INTEGER NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    session_key TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sdm_user_index_id ON sdm_user_index (id);
CREATE TABLE IF NOT EXISTS sdm_requests (
    node_id TEXT NOT NULL,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    session_key TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (node_id, name, scope, session_key)
) WITHOUT ROWID;
";

/// The schema version this code writes (`PRAGMA user_version`): 1 was the
/// first release, 2 added fencing tokens, 3 the data version of records
/// (`data_version`, `readable_from`; 0 for records written before), 4 the
/// node and acquisition time of lock entries (with the session id's parts)
/// and the tables `sdm_nodes` (heartbeats) and `sdm_requests` (release
/// requests), 5 the holder of queue values read by a lock holder
/// (`held_owner`, `held_token` of `sdm_queue`; `NULL` for values read
/// without a holder, as every value read before), 6 version history
/// (`sdm_history`) and the user-id index (`sdm_user_index`, filled from the
/// existing records' user ids when a file is migrated), 7 the push time of
/// queue values (`pushed_ms` of `sdm_queue`, for the queue lag; `NULL` for
/// values pushed before).
pub(super) const SCHEMA_VERSION: i64 = 7;

/// Columns added since the first release: table, column, declaration.
const ADDED: [(&str, &str, &str); 14] = [
    ("sdm_records", "token", "INTEGER NOT NULL DEFAULT 0"),
    ("sdm_locks", "token", "INTEGER NOT NULL DEFAULT 0"),
    ("sdm_records", "data_version", "INTEGER NOT NULL DEFAULT 0"),
    ("sdm_records", "readable_from", "INTEGER NOT NULL DEFAULT 0"),
    ("sdm_locks", "node_id", "TEXT"),
    ("sdm_locks", "node_host", "TEXT"),
    ("sdm_locks", "node_pid", "INTEGER"),
    ("sdm_locks", "since_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("sdm_locks", "name", "TEXT"),
    ("sdm_locks", "scope", "TEXT"),
    ("sdm_locks", "session_key", "TEXT"),
    ("sdm_queue", "held_owner", "TEXT"),
    ("sdm_queue", "held_token", "INTEGER"),
    ("sdm_queue", "pushed_ms", "INTEGER"),
];

/// Brings a file of an earlier schema up to [`SCHEMA_VERSION`] in place
/// (inside the schema transaction, so concurrent openers take turns). The
/// tables new in a version are made by [`SCHEMA`] (`IF NOT EXISTS`).
pub(super) fn migrate(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for (table, column, declaration) in ADDED {
        let has_column: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            params![table, column],
            |r| r.get(0),
        )?;
        if !has_column {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
        }
    }
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 6 {
        // The user-id index of the records written before it existed (ids
        // are `name/scope/key`: split at the first two `/`).
        tx.execute_batch(
            "INSERT OR IGNORE INTO sdm_user_index (user_id, id, name, scope, session_key)
             SELECT j.value, r.id,
               substr(r.id, 1, instr(r.id, '/') - 1),
               substr(substr(r.id, instr(r.id, '/') + 1), 1,
                 instr(substr(r.id, instr(r.id, '/') + 1), '/') - 1),
               substr(substr(r.id, instr(r.id, '/') + 1),
                 instr(substr(r.id, instr(r.id, '/') + 1), '/') + 1)
             FROM sdm_records r, json_each(r.user_ids) j
             WHERE json_valid(r.user_ids) AND instr(r.id, '/') > 0",
        )?;
    }
    if version < SCHEMA_VERSION {
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    Ok(())
}
