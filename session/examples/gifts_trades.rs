//! The cost of exactly-once gifts and atomic trades, on SQLite (a temp
//! file) and Redis (a `redis-server` this example starts, or
//! `SDM_BENCH_REDIS_URL`):
//!
//! - the latency of one fenced save step with 0, 10 and 100 pending queue
//!   removals riding along (each removal a read id of one value, read by
//!   the lock holder), backend level, one caller;
//! - trades per second: `Registry::trade` of two open sessions (a change
//!   and one save together), one caller and 8 concurrent callers (disjoint
//!   pairs).
//!
//! ```sh
//! cargo run --release -p sdm-session --example gifts_trades [iterations]
//! ```
//!
//! Numbers only, nothing asserted (the tests assert behaviour).

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_server::{start_redis, Error};
use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::{Backend, Fence, LockOutcome, SessionId, Write};
use sdm_session::{Registry, Response, Value};

const LONG: Duration = Duration::from_secs(330);

async fn save_with_acks(
    store: &str,
    backend: &Arc<dyn Backend>,
    pending: usize,
    iterations: usize,
) -> Result<(), Error> {
    let id = SessionId::new("Gifts", None, format!("acks-{pending}"));
    let token = match backend.lock(&id, "bench", LONG).await? {
        LockOutcome::Acquired { token } => token,
        LockOutcome::Held { owner } => return Err(format!("held by {owner}").into()),
    };
    let write = Write::Set {
        value: "{\"Coins\":1,\"Items\":[1,2,3]}".into(),
        metadata: "{}".into(),
        user_ids: vec![1],
        data_version: Default::default(),
    };
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let mut acks = Vec::with_capacity(pending);
        for _ in 0..pending {
            backend.queue_push(&id, "{\"coins\":10}", LONG, 0.0).await?;
            let batch = backend
                .queue_read_held(&id, 1, Duration::ZERO, LONG, ("bench", token))
                .await?
                .ok_or("a pushed value was not read")?;
            acks.push(batch.read_id);
        }
        let fence = Fence {
            owner: "bench",
            token,
            release: false,
        };
        let start = Instant::now();
        backend.save(&id, &write, fence, &acks).await?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    println!("{store:<7} save with {pending:>3} pending removals: mean {mean:>8.1} µs   p50 {:>8.1}   p99 {p99:>8.1}", times[times.len() / 2]);
    Ok(())
}

async fn trades(
    store: &str,
    backend: Arc<dyn Backend>,
    callers: usize,
    seconds: f64,
) -> Result<(), Error> {
    let registry = Registry::new(backend);
    let mut pairs = Vec::new();
    for c in 0..callers {
        let a = registry.session("Trades", Some(store), format!("{callers}-{c}-a"));
        let b = registry.session("Trades", Some(store), format!("{callers}-{c}-b"));
        for s in [&a, &b] {
            if s.open(Some(Value::from(1000))).await != Response::Success {
                return Err("open failed".into());
            }
        }
        pairs.push((a, b));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (a, b) in pairs {
        let registry = registry.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let traded = registry
                    .trade(&[&a, &b], |v| {
                        let (from, to) =
                            (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0));
                        v[0] = Value::from(from - 1.0);
                        v[1] = Value::from(to + 1.0);
                        true
                    })
                    .await;
                if traded != Response::Success {
                    return Err(format!("trade {n} failed"));
                }
                n += 1;
            }
            Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("{store:<7} trades (Registry::trade of 2 sessions), {callers} caller(s): {rate:>8.0} trades/s");
    registry.shutdown().await;
    Ok(())
}

async fn run(store: &str, backend: Arc<dyn Backend>, iterations: usize) -> Result<(), Error> {
    for pending in [0, 10, 100] {
        save_with_acks(store, &backend, pending, iterations).await?;
    }
    for callers in [1, 8] {
        trades(store, backend.clone(), callers, 2.0).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(200);
    println!("{iterations} saves per row, release build recommended\n");
    let dir = tempfile::tempdir()?;
    let sqlite = SqliteBackend::open(dir.path().join("bench.db"))?;
    run("sqlite", Arc::new(sqlite), iterations).await?;
    println!();
    let (url, _server, _dir) = start_redis()?;
    let redis = RedisBackend::connect(&url, "bench").await?;
    run("redis", Arc::new(redis), iterations).await
}
