//! Connections: opening one (WAL, busy timeout, full sync), SQLite's
//! clock, naming errors.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::backend::BackendError;

/// SQLite's clock in ms since the Unix epoch, as an SQL expression.
pub(super) const NOW_MS: &str =
    "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

/// How long a connection waits for another writer before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one connection with WAL, the busy timeout and full sync.
pub(super) fn open_connection(path: &Path) -> Result<Connection, BackendError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, "open", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sql_error(path, "open", e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| sql_error(path, "enable WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(BackendError::Other(format!(
            "sqlite {}: could not enable WAL mode (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| sql_error(path, "set synchronous", e))?;
    Ok(conn)
}

/// Maps an SQLite error, naming the file and the step.
pub(super) fn sql_error(path: &Path, what: &str, e: rusqlite::Error) -> BackendError {
    let message = format!("sqlite {} ({what}): {e}", path.display());
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => BackendError::Timeout(message),
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure,
        ) => BackendError::Unavailable(message),
        _ => BackendError::Other(message),
    }
}
