//! sdm's own parameters in a store URL's query: the [`StoreOptions`] that
//! a program configured only by a URL (the `sdm` command, a C engine
//! through `sdm_context_new`) must be able to set.
//!
//! * `history_keep=N`: keep the newest N versions of each key (0: no
//!   history at all; default 30), see [`HistoryConfig::keep`](super::HistoryConfig::keep);
//! * `history_max_age=AGE`: drop versions replaced longer than AGE ago: a
//!   whole number with a unit, `ms`, `s`, `m`, `h` or `d` (seconds without
//!   one), e.g. `7d`, `36h`, `1500ms` (0 or absent: whatever their age),
//!   see [`HistoryConfig::max_age`](super::HistoryConfig::max_age);
//! * `redis_prefix=P`: the prefix of every Redis key (default `sdm`;
//!   empty for none; no `{`, `}`, `&` or `=`), see
//!   [`StoreOptions::redis_prefix`];
//! * `redis_replication=auto|off|N`: Redis replication safety (wait for one
//!   replica when the server has any, never wait, or always wait for N),
//!   see [`StoreOptions::redis_replication`];
//! * `redis_replication_timeout=AGE`: how long a write waits for its
//!   replicas (default `2s`).
//!
//! [`connect`](super::connect) and its siblings read them and take them off
//! the URL before the store reads it; other parameters stay for the store
//! (Redis's own, such as `protocol`). The Redis ones are accepted, and
//! ignored, on other stores' URLs. On a `sqlite://` URL, whose path may
//! itself hold a `?`, the query is sdm's only when every parameter in it
//! is one of these.

use std::time::Duration;

use super::redis::Replication;
use super::{BackendError, StoreOptions};

/// The query parameter setting [`HistoryConfig::keep`](super::HistoryConfig::keep).
pub const HISTORY_KEEP: &str = "history_keep";
/// The query parameter setting
/// [`HistoryConfig::max_age`](super::HistoryConfig::max_age): a whole
/// number with a unit (`ms`, `s`, `m`, `h`, `d`; seconds without one).
pub const HISTORY_MAX_AGE: &str = "history_max_age";
/// The query parameter setting [`StoreOptions::redis_prefix`].
pub const REDIS_PREFIX: &str = "redis_prefix";
/// The query parameter setting [`StoreOptions::redis_replication`]:
/// `auto`, `off` or a number of replicas (0 is `off`).
pub const REDIS_REPLICATION: &str = "redis_replication";
/// The query parameter setting [`StoreOptions::redis_replication_timeout`]:
/// a whole number with a unit, as [`HISTORY_MAX_AGE`].
pub const REDIS_REPLICATION_TIMEOUT: &str = "redis_replication_timeout";

/// Every parameter of sdm's.
const OURS: [&str; 5] = [
    HISTORY_KEEP,
    HISTORY_MAX_AGE,
    REDIS_PREFIX,
    REDIS_REPLICATION,
    REDIS_REPLICATION_TIMEOUT,
];

/// Splits sdm's parameters off `url`: the URL the store itself reads, and
/// `options` with those parameters applied (a parameter in the URL wins
/// over the same setting in `options`).
///
/// ```
/// use sdm_session::backend::{split_store_url, StoreOptions};
/// use std::time::Duration;
/// let (url, options) = split_store_url(
///     "redis://127.0.0.1:6379/0?history_keep=5&history_max_age=7d",
///     &StoreOptions::default(),
/// )?;
/// assert_eq!(url, "redis://127.0.0.1:6379/0");
/// assert_eq!(options.history.keep, 5);
/// assert_eq!(options.history.max_age, Some(Duration::from_secs(7 * 86_400)));
/// # Ok::<(), sdm_session::backend::BackendError>(())
/// ```
pub fn split_store_url(
    url: &str,
    options: &StoreOptions,
) -> Result<(String, StoreOptions), BackendError> {
    let mut options = options.clone();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), options));
    };
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    let ours = |key: &str| OURS.contains(&key);
    let sqlite = base
        .get(.."sqlite://".len())
        .is_some_and(|s| s.eq_ignore_ascii_case("sqlite://"));
    if sqlite && !pairs.iter().all(|(key, _)| ours(key)) {
        return Ok((url.to_owned(), options));
    }
    let mut kept = Vec::new();
    for (key, value) in pairs {
        match key {
            HISTORY_KEEP => options.history.keep = whole(key, value, "versions")?,
            HISTORY_MAX_AGE => {
                let age = age(key, value)?;
                options.history.max_age = (!age.is_zero()).then_some(age);
            }
            REDIS_PREFIX => options.redis_prefix = prefix(key, value)?,
            REDIS_REPLICATION => options.redis_replication = replication(key, value)?,
            REDIS_REPLICATION_TIMEOUT => options.redis_replication_timeout = age(key, value)?,
            _ if value.is_empty() => kept.push(key.to_owned()),
            _ => kept.push(format!("{key}={value}")),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, options))
}

/// A parameter's value as a whole number of `unit`.
fn whole<T: std::str::FromStr>(key: &str, value: &str, unit: &str) -> Result<T, BackendError> {
    value.parse().map_err(|_| {
        BackendError::Invalid(format!(
            "store URL parameter {key}={value:?}: expected a whole number of {unit} (0 or more)"
        ))
    })
}

/// A key prefix: any text but the hash tag's braces (a `}` would end the
/// tag early and scatter a session's keys over a cluster's slots).
fn prefix(key: &str, value: &str) -> Result<String, BackendError> {
    if value.contains(['{', '}']) {
        return Err(BackendError::Invalid(format!(
            "store URL parameter {key}={value:?}: a key prefix cannot hold `{{` or `}}`"
        )));
    }
    Ok(value.to_owned())
}

/// Replication safety: `auto`, `off` or a number of replicas.
fn replication(key: &str, value: &str) -> Result<Replication, BackendError> {
    match value {
        "auto" => Ok(Replication::Auto),
        "off" | "0" => Ok(Replication::Off),
        n => n.parse().map(Replication::Require).map_err(|_| {
            BackendError::Invalid(format!(
                "store URL parameter {key}={value:?}: expected auto, off or a whole number of replicas"
            ))
        }),
    }
}

/// A parameter's value as an age: a whole number and a unit.
fn age(key: &str, value: &str) -> Result<Duration, BackendError> {
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let ms_per_unit: Option<u64> = match unit {
        "ms" => Some(1),
        "" | "s" => Some(1_000),
        "m" => Some(60_000),
        "h" => Some(3_600_000),
        "d" => Some(86_400_000),
        _ => None,
    };
    let n: Option<u64> = number.parse().ok();
    n.zip(ms_per_unit)
        .and_then(|(n, ms)| n.checked_mul(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            BackendError::Invalid(format!(
                "store URL parameter {key}={value:?}: expected a whole number with a unit: ms, s, m, h or d (e.g. 7d)"
            ))
        })
}

#[cfg(test)]
#[path = "tests/url_options.rs"]
mod tests;
