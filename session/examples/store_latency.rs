//! Latency and throughput of the store steps a session makes (lock, get,
//! save, save+release), on SQLite (a temp file) and on Redis (a
//! `redis-server` this example starts on a free port, or the one
//! `SDM_BENCH_REDIS_URL` names), plus the Redis commands each step costs.
//!
//! ```sh
//! cargo run --release -p sdm-session --example store_latency [iterations]
//! ```
//!
//! Numbers only, nothing asserted (the tests assert behaviour).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::{Backend, Fence, LockOutcome, SessionId, Write};

#[path = "common/redis_server.rs"]
mod redis_server;

use redis_server::{start_redis, Error};

/// Latencies of one step, in µs.
struct Stats(Vec<f64>);

impl Stats {
    fn line(&mut self, store: &str, step: &str) {
        self.0.sort_by(f64::total_cmp);
        let n = self.0.len();
        let mean = self.0.iter().sum::<f64>() / n as f64;
        let at = |q: f64| self.0[((n as f64 * q) as usize).min(n - 1)];
        println!(
            "{store:<7} {step:<13} mean {mean:>8.1} µs   p50 {:>8.1}   p99 {:>8.1}   {:>8.0} ops/s (one caller)",
            at(0.5),
            at(0.99),
            1e6 / mean
        );
    }
}

async fn time<T>(f: impl std::future::Future<Output = T>) -> (T, f64) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed().as_secs_f64() * 1e6)
}

async fn measure(store: &str, backend: Arc<dyn Backend>, iterations: usize) -> Result<(), Error> {
    let ttl = Duration::from_secs(330);
    let value = format!(
        "{{\"coins\":1,\"inventory\":[{}]}}",
        (0..100)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let write = Write::Set {
        value,
        metadata: "{}".into(),
        user_ids: vec![1],
        data_version: Default::default(),
    };
    let (mut lock, mut get, mut save, mut close) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..iterations {
        let id = SessionId::new("Bench", None, format!("player-{}", i % 64));
        let (r, t) = time(backend.lock(&id, "bench", ttl)).await;
        let token = token_of(r?)?;
        lock.push(t);
        let (r, t) = time(backend.get(&id)).await;
        r?;
        get.push(t);
        let (r, t) = time(backend.set(
            &id,
            &write,
            Some(Fence {
                owner: "bench",
                token,
                release: false,
            }),
        ))
        .await;
        r?;
        save.push(t);
        let (r, t) = time(backend.set(
            &id,
            &write,
            Some(Fence {
                owner: "bench",
                token,
                release: true,
            }),
        ))
        .await;
        r?;
        close.push(t);
    }
    Stats(lock).line(store, "lock");
    Stats(get).line(store, "get");
    Stats(save).line(store, "save");
    Stats(close).line(store, "save+release");

    // Many sessions at once: saves from 32 concurrent callers.
    let callers = 32;
    let per = iterations.max(callers) / callers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let (backend, write) = (Arc::clone(&backend), write.clone());
        tasks.push(tokio::spawn(async move {
            let id = SessionId::new("Bench", Some("concurrent"), format!("player-{c}"));
            let owner = format!("caller-{c}");
            let lock = backend.lock(&id, &owner, Duration::from_secs(330)).await?;
            let LockOutcome::Acquired { token } = lock else {
                return Err(sdm_session::backend::BackendError::Other(format!(
                    "{lock:?}"
                )));
            };
            let fence = Fence {
                owner: &owner,
                token,
                release: false,
            };
            for _ in 0..per {
                backend.set(&id, &write, Some(fence.clone())).await?;
            }
            Ok::<_, sdm_session::backend::BackendError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let ops = (callers * per) as f64 / start.elapsed().as_secs_f64();
    println!(
        "{store:<7} {:<13} {ops:>8.0} saves/s ({callers} concurrent callers)",
        "save"
    );
    engine(store, backend, iterations).await
}

/// Session open / save / close through the engine (a Registry).
async fn engine(store: &str, backend: Arc<dyn Backend>, iterations: usize) -> Result<(), Error> {
    let registry = sdm_session::Registry::new(Arc::clone(&backend));
    let (mut open, mut save, mut close) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..iterations {
        let session = registry.session("Bench", Some("engine"), i);
        let (r, t) = time(session.open(None)).await;
        if !r.is_success() {
            return Err(format!("open answered {r:?}").into());
        }
        open.push(t);
        session.set_value(sdm_session::Value::from(i as i64));
        let (r, t) = time(session.save()).await;
        if !r.is_saved() {
            return Err(format!("save answered {r:?}").into());
        }
        save.push(t);
        let (r, t) = time(session.close()).await;
        if !r.is_saved() {
            return Err(format!("close answered {r:?}").into());
        }
        close.push(t);
        session.destroy().await;
    }
    Stats(open).line(store, "session open");
    Stats(save).line(store, "session save");
    Stats(close).line(store, "session close");

    // Players joining at once: 32 callers, each open + save + close.
    let callers = 32;
    let per = iterations.max(callers) / callers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let registry = registry.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..per {
                let session = registry.session("Bench", Some("engine-concurrent"), c * per + n);
                let opened = session.open(None).await;
                session.set_value(sdm_session::Value::from(n as i64));
                let saved = session.save().await;
                let closed = session.close().await;
                session.destroy().await;
                if !(opened.is_success() && saved.is_saved() && closed.is_saved()) {
                    return Err(format!("{opened:?} {saved:?} {closed:?}"));
                }
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let ops = (callers * per) as f64 / start.elapsed().as_secs_f64();
    println!(
        "{store:<7} {:<13} {ops:>8.0} sessions/s open+save+close ({callers} concurrent)",
        "session"
    );
    Ok(())
}

fn command_calls(url: &str) -> Result<HashMap<String, u64>, Error> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut conn)?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect())
}

/// Round trips of one call: the commands a backend call sends itself.
fn trips(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> u64 {
    ["evalsha", "eval", "hgetall", "script|load"]
        .iter()
        .map(|n| after.get(*n).copied().unwrap_or(0) - before.get(*n).copied().unwrap_or(0))
        .sum()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2000);
    println!("{iterations} iterations per step, release build recommended\n");

    let dir = tempfile::tempdir()?;
    let sqlite = SqliteBackend::open(dir.path().join("bench.db"))?;
    measure("sqlite", Arc::new(sqlite), iterations).await?;
    println!();

    let (url, _server, _dir) = start_redis()?;
    let redis = RedisBackend::connect(&url, "bench").await?;
    measure("redis", Arc::new(redis.clone()), iterations).await?;

    println!("\nredis round trips per call (INFO commandstats):");
    let id = SessionId::new("Bench", Some("count"), "one");
    let ttl = Duration::from_secs(330);
    let write = Write::Set {
        value: "1".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    let mut counts = Vec::new();
    let (lock, b) = before_after(&url, redis.lock(&id, "counter", ttl)).await?;
    let token = token_of(lock)?;
    let fence = |release| {
        Some(Fence {
            owner: "counter",
            token,
            release,
        })
    };
    counts.push(("lock (open)", b));
    counts.push(("get (open)", before_after(&url, redis.get(&id)).await?.1));
    counts.push((
        "save",
        before_after(&url, redis.set(&id, &write, fence(false)))
            .await?
            .1,
    ));
    counts.push((
        "renewal",
        before_after(&url, redis.renew(&id, "counter", token, ttl))
            .await?
            .1,
    ));
    counts.push((
        "save+release (close)",
        before_after(&url, redis.set(&id, &write, fence(true)))
            .await?
            .1,
    ));
    for (step, n) in counts {
        println!("  {step:<22} {n}");
    }
    Ok(())
}

/// A call's answer and the round trips it cost.
async fn before_after<T, E: std::error::Error + 'static>(
    url: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(T, u64), Error> {
    let before = command_calls(url)?;
    let out = call.await.map_err(|e| Box::new(e) as Error)?;
    Ok((out, trips(&before, &command_calls(url)?)))
}

/// The token of a lock that must have been free.
fn token_of(outcome: LockOutcome) -> Result<u64, Error> {
    match outcome {
        LockOutcome::Acquired { token } => Ok(token),
        LockOutcome::Held { owner } => Err(format!("lock held by {owner}").into()),
    }
}
