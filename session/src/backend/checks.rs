//! Argument checks and field encodings shared by the stores.

use std::time::Duration;

use super::{BackendError, SessionId, MAX_QUEUE_EXPIRATION};

/// Milliseconds of a duration, saturating (and at least 1 for a non-zero
/// duration so that a tiny TTL still expires rather than lasting forever).
pub(crate) fn millis(d: Duration) -> i64 {
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    if ms == 0 && !d.is_zero() {
        1
    } else {
        ms
    }
}

/// Checks a lock TTL: it must be positive.
pub(crate) fn check_ttl(id: &SessionId, ttl: Duration) -> Result<i64, BackendError> {
    if ttl.is_zero() {
        return Err(BackendError::Invalid(format!(
            "lock ttl for {id} must be positive"
        )));
    }
    Ok(millis(ttl))
}

/// Checks the arguments of a queue push; answers the expiration in ms.
pub(crate) fn check_push(
    id: &SessionId,
    expiration: Duration,
    priority: f64,
) -> Result<i64, BackendError> {
    if expiration.is_zero() || expiration > MAX_QUEUE_EXPIRATION {
        return Err(BackendError::Invalid(format!(
            "queue expiration for {id} must be positive and at most 45 days (3888000 s), got {expiration:?}"
        )));
    }
    if !priority.is_finite() {
        return Err(BackendError::Invalid(format!(
            "queue priority for {id} must be a finite number, got {priority}"
        )));
    }
    Ok(millis(expiration))
}

/// The count of a queue read for the store; `None` for 0 (nothing to read).
pub(crate) fn read_count(count: usize) -> Option<i64> {
    (count > 0).then(|| i64::try_from(count).unwrap_or(i64::MAX))
}

/// User ids as a JSON array text.
pub(crate) fn user_ids_json(ids: &[i64]) -> String {
    let mut out = String::with_capacity(2 + ids.len() * 8);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// Parses a stored user ids JSON array.
pub(crate) fn parse_user_ids(id: &SessionId, text: &str) -> Result<Vec<i64>, BackendError> {
    serde_json::from_str(text).map_err(|e| BackendError::Corrupt {
        id: id.to_string(),
        message: format!("user_ids is not a JSON array of integers ({e}): {text:.80}"),
    })
}

/// A fresh record version (changes on every write, never repeats).
pub(crate) fn new_version() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A fresh queue read id.
pub(crate) fn new_read_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
