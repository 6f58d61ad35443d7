//! The raw ceiling of a store, measured in the same run as sdm: what the
//! store does with no library in the way, for the step a save is.
//!
//! * Redis: a plain conditional write script (`EVAL`: check a lock key,
//!   then `SET`), from 32 concurrent callers, measured two ways: on one
//!   connection, as sdm's own callers share one (the client pipelines the
//!   callers' requests, so this is the store's best rate), and from 32
//!   connections with one request each in flight, as `redis-benchmark -c
//!   32` measures it (each caller waits for its answer before sending the
//!   next: the yardstick issue 13 set its goal against). On a Redis
//!   Cluster, the cluster client's connections: the callers' keys spread
//!   over the masters.
//! * SQLite: an empty-but-durable write transaction (`BEGIN IMMEDIATE`,
//!   one `UPDATE`, `COMMIT`, WAL with `synchronous = FULL`), back to back:
//!   SQLite has one writer per file.

use std::time::{Duration, Instant};

/// The ceiling: writes per second and what was measured.
pub struct Ceiling {
    /// Writes per second.
    pub per_second: f64,
    /// What one write was.
    pub what: &'static str,
    /// On Redis, the same write from 32 connections with one request each
    /// in flight (as `redis-benchmark -c 32`): writes per second and what
    /// was measured.
    pub one_in_flight: Option<(f64, &'static str)>,
}

/// Measures the ceiling of the store at `url` for about `seconds`; `None`
/// for a store without one (memory).
pub fn measure(url: &str, seconds: f64) -> Result<Option<Ceiling>, Box<dyn std::error::Error>> {
    let span = Duration::from_secs_f64(seconds);
    // sdm's own parameters (the history kept) are not the store's.
    let (url, _) = sdm_session::backend::split_store_url(url, &Default::default())?;
    let url = url.as_str();
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Some(sqlite(path, span)?));
    }
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    };
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let rt = runtime()?;
        return Ok(Some(rt.block_on(async {
            let client = redis::Client::open(url)?;
            both(|| client.get_multiplexed_async_connection(), span).await
        })?));
    }
    if let Some(nodes) = cluster_nodes(url) {
        let rt = runtime()?;
        return Ok(Some(rt.block_on(async {
            let client = redis::cluster::ClusterClient::new(nodes)?;
            both(|| client.get_async_connection(), span).await
        })?));
    }
    Ok(None)
}

/// The node URLs of a `redis+cluster://host1:port,host2:port/` URL (the
/// store's syntax; `None` for another URL).
fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let (scheme, rest) = url.split_once("://")?;
    let node_scheme = match scheme {
        "redis+cluster" => "redis",
        "rediss+cluster" => "rediss",
        _ => return None,
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((user, hosts)) => (format!("{user}@"), hosts),
        None => (String::new(), authority),
    };
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Some(
        hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("{node_scheme}://{userinfo}{h}/{query}"))
            .collect(),
    )
}

fn sqlite(path: &str, span: Duration) -> Result<Ceiling, Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sdm_bench_ceiling (id INTEGER PRIMARY KEY, n INTEGER);
         INSERT OR IGNORE INTO sdm_bench_ceiling VALUES (1, 0);",
    )?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < span {
        conn.execute_batch(
            "BEGIN IMMEDIATE; UPDATE sdm_bench_ceiling SET n = n + 1 WHERE id = 1; COMMIT;",
        )?;
        n += 1;
    }
    conn.execute_batch("DROP TABLE sdm_bench_ceiling")?;
    Ok(Ceiling {
        per_second: n as f64 / started.elapsed().as_secs_f64(),
        what: "an empty durable transaction (BEGIN IMMEDIATE, one UPDATE, COMMIT)",
        one_in_flight: None,
    })
}

/// The conditional write: refuse unless the lock key holds the owner.
const SCRIPT: &str = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1";

/// The concurrent callers of both measures.
const CALLERS: usize = 32;

/// Both Redis measures, one after the other: the callers sharing one
/// connection opened by `connect`, then each on one of its own.
async fn both<C, F>(
    connect: impl Fn() -> F,
    span: Duration,
) -> Result<Ceiling, Box<dyn std::error::Error>>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = redis::RedisResult<C>>,
{
    let shared = connect().await?;
    let pipelined = redis(vec![shared; CALLERS], span).await?;
    let mut own = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        own.push(connect().await?);
    }
    let one_in_flight = redis(own, span).await?;
    Ok(Ceiling {
        per_second: pipelined,
        what: "a conditional write script (EVALSHA: GET the lock, SET) from 32 callers on one connection",
        one_in_flight: Some((
            one_in_flight,
            "the same from 32 connections, one request each in flight, as redis-benchmark -c 32",
        )),
    })
}

/// Writes per second of one caller per connection in `conns` (clones of
/// one multiplexed connection, or each its own), each caller sending its
/// next write once the last is answered.
async fn redis<C>(conns: Vec<C>, span: Duration) -> Result<f64, Box<dyn std::error::Error>>
where
    C: redis::aio::ConnectionLike + Send + Sync + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let deadline = Instant::now() + span;
    let started = Instant::now();
    for (c, mut conn) in conns.into_iter().enumerate() {
        tasks.spawn(async move {
            let (lock, rec) = (
                format!("{{ceiling:{c}}}:lock"),
                format!("{{ceiling:{c}}}:rec"),
            );
            redis::cmd("SET")
                .arg(&lock)
                .arg("me")
                .query_async::<()>(&mut conn)
                .await?;
            let script = redis::Script::new(SCRIPT);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let _: i64 = script
                    .key(&lock)
                    .key(&rec)
                    .arg("me")
                    .arg("value")
                    .invoke_async(&mut conn)
                    .await?;
                n += 1;
            }
            redis::cmd("DEL")
                .arg(&lock)
                .arg(&rec)
                .query_async::<()>(&mut conn)
                .await?;
            Ok::<u64, redis::RedisError>(n)
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
