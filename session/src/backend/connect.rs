//! Choosing a store by URL.

use std::sync::Arc;
use std::time::Duration;

use super::memory::MemoryBackend;
use super::redis::{RedisBackend, Replication, DEFAULT_REPLICATION_TIMEOUT};
use super::sqlite::SqliteBackend;
use super::{Backend, BackendError, HistoryConfig};

/// Options for [`connect_with`] and [`connect_async`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Prefix of every Redis key (`{prefix:name/scope/key}...`), so that
    /// several games or environments can share one Redis. Default `sdm`;
    /// empty for none. Ignored by other stores.
    pub redis_prefix: String,
    /// Redis replication safety: whether lock steps and saves wait for
    /// replicas (default [`Replication::Auto`]: one replica when the server
    /// has any). Ignored by other stores.
    pub redis_replication: Replication,
    /// How long a Redis write waits for its replicas (default 2 s).
    pub redis_replication_timeout: Duration,
    /// How much version history every store keeps per key (default: the
    /// last 30 versions). A URL's `history_keep` and `history_max_age`
    /// parameters override it (see [`split_store_url`](super::split_store_url)).
    pub history: HistoryConfig,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            redis_prefix: RedisBackend::DEFAULT_PREFIX.to_owned(),
            redis_replication: Replication::default(),
            redis_replication_timeout: DEFAULT_REPLICATION_TIMEOUT,
            history: HistoryConfig::default(),
        }
    }
}

impl StoreOptions {
    /// Default options with this Redis key prefix.
    pub fn with_redis_prefix(prefix: impl Into<String>) -> Self {
        StoreOptions {
            redis_prefix: prefix.into(),
            ..StoreOptions::default()
        }
    }

    /// These options with this version history retention.
    ///
    /// ```
    /// use sdm_session::backend::{connect_with, HistoryConfig, StoreOptions};
    /// let options = StoreOptions::default().with_history(HistoryConfig::off());
    /// let store = connect_with("memory://", &options)?;
    /// assert_eq!(store.kind(), "memory");
    /// # Ok::<(), sdm_session::backend::BackendError>(())
    /// ```
    pub fn with_history(mut self, history: HistoryConfig) -> Self {
        self.history = history;
        self
    }

    /// These options with Redis replication safety set.
    pub fn redis_replication(mut self, replication: Replication, timeout: Duration) -> Self {
        self.redis_replication = replication;
        self.redis_replication_timeout = timeout;
        self
    }
}

/// The store a URL names.
enum Target<'a> {
    Memory,
    Sqlite(&'a str),
    Redis,
}

fn parse(url: &str) -> Result<Target<'_>, BackendError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(BackendError::Invalid(format!(
            "store URL {url:?} has no scheme; use memory://, sqlite://path/to/file.db, redis://host:port/db, rediss://... or redis+cluster://host1:port,host2:port"
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "memory" if rest.is_empty() => Ok(Target::Memory),
        "memory" => Err(BackendError::Invalid(format!("store URL {url:?}: memory:// takes nothing after the scheme"))),
        "sqlite" if rest.is_empty() => {
            Err(BackendError::Invalid(format!("store URL {url:?}: sqlite:// needs a file path (sqlite://data/players.db)")))
        }
        "sqlite" => Ok(Target::Sqlite(rest)),
        "redis" | "rediss" | "redis+unix" | "unix" | "redis+cluster" | "rediss+cluster" => {
            Ok(Target::Redis)
        }
        other => Err(BackendError::Invalid(format!(
            "store URL {url:?}: unknown scheme {other:?}; use memory://, sqlite://path/to/file.db, redis://host:port/db, rediss://... or redis+cluster://host1:port,host2:port"
        ))),
    }
}

/// Opens the store a URL names, with default [`StoreOptions`]:
///
/// * `memory://`: a store in this process only (tests, one server);
/// * `sqlite://path/to/file.db` (relative to the working directory) or
///   `sqlite:///abs/path/file.db`: a SQLite file, created if missing;
/// * `redis://[user:password@]host:port/db`, `rediss://...` (TLS): Redis.
/// * `redis+cluster://[user:password@]host1:port,host2:port/`,
///   `rediss+cluster://...` (TLS): a Redis Cluster, found from any of the
///   nodes named (seed nodes; list a few in case one is down). Options
///   after `?` apply to every node. See the [Redis store's
///   documentation](super::redis#redis-cluster).
///
/// Redis is connected on first use (the first call also loads the scripts);
/// use [`connect_async`] to connect and check the server at once.
///
/// ```no_run
/// # fn main() -> Result<(), sdm_session::backend::BackendError> {
/// let store = sdm_session::backend::connect("sqlite://players.db")?;
/// assert_eq!(store.kind(), "sqlite");
/// # Ok(()) }
/// ```
pub fn connect(url: &str) -> Result<Arc<dyn Backend>, BackendError> {
    connect_with(url, &StoreOptions::default())
}

/// [`connect`] with options (a Redis key prefix, replication safety, the
/// version history kept). sdm's own URL parameters (`history_keep`,
/// `redis_prefix` and the others of [`split_store_url`](super::split_store_url))
/// are taken off the URL and override `options`.
pub fn connect_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Backend>, BackendError> {
    let (url, options) = super::split_store_url(url, options)?;
    open(&url, &options)
}

/// [`connect_with`], but a Redis store is connected (and its scripts loaded)
/// before this returns, so an unreachable server fails here.
pub async fn connect_async(
    url: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn Backend>, BackendError> {
    let (url, options) = super::split_store_url(url, options)?;
    Ok(match parse(&url)? {
        Target::Redis => {
            let redis = redis(&url, &options)?;
            redis.ping().await?;
            Arc::new(redis)
        }
        _ => open(&url, &options)?,
    })
}

/// The store at `url`, sdm's parameters already taken off into `options`.
fn open(url: &str, options: &StoreOptions) -> Result<Arc<dyn Backend>, BackendError> {
    Ok(match parse(url)? {
        Target::Memory => Arc::new(MemoryBackend::with_history(options.history)),
        Target::Sqlite(path) => Arc::new(SqliteBackend::open_with(path, options.history)?),
        Target::Redis => Arc::new(redis(url, options)?),
    })
}

/// The Redis store at `url` (sdm's parameters taken off) with `options`,
/// connected on first use.
fn redis(url: &str, options: &StoreOptions) -> Result<RedisBackend, BackendError> {
    let redis = RedisBackend::lazy(url, &options.redis_prefix)?;
    redis.set_replication(options.redis_replication, options.redis_replication_timeout);
    redis.set_history(options.history);
    Ok(redis)
}

#[cfg(test)]
#[path = "tests/connect.rs"]
mod tests;
