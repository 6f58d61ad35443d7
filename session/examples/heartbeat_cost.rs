//! The cost of owner liveness (one heartbeat per process), on SQLite (a
//! temp file) and Redis (a `redis-server` this example starts, or
//! `SDM_BENCH_REDIS_URL`): one process holds 1, then 10,000 open sessions
//! with auto-save off, and for a window shorter than LockInterval (so no
//! renewal falls in it) the example counts the store calls it makes, per
//! method, and the process's CPU time. On SQLite one release-request wait
//! (a backend call of up to 30 s) re-reads the file every 20 ms inside
//! it, so that a hop is handed over quickly without pub/sub: those reads
//! are in the CPU figure, not in the call count.
//!
//! ```sh
//! cargo run --release -p sdm-session --example heartbeat_cost [window_seconds]
//! ```
//!
//! Numbers only, nothing asserted (`session/tests/failover.rs` asserts one
//! heartbeat every 3 s whatever the number of sessions).

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_server::{start_redis, Error};
use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::testing::{CountingBackend, Method};
use sdm_session::backend::Backend;
use sdm_session::{Registry, Response};

/// This process's user + system CPU time so far, from `/proc/self/stat`
/// (clock ticks of 10 ms; zero where there is no `/proc`).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) start at
    // the last ')'; utime and stime are fields 14 and 15 of the line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

async fn measure(
    store: &str,
    inner: Arc<dyn Backend>,
    sessions: u64,
    window: Duration,
) -> Result<(), Error> {
    let counting = Arc::new(CountingBackend::new(inner));
    let registry = Registry::new(counting.clone());
    let mut open = Vec::with_capacity(sessions as usize);
    for key in 0..sessions {
        let s = registry.session("Heartbeat", Some(store), format!("{sessions}-{key}"));
        s.set_save_interval(Duration::ZERO)?;
        if s.open(None).await != Response::Success {
            return Err(format!("open of key {key} failed").into());
        }
        open.push(s);
    }
    counting.reset();
    let (cpu, started) = (cpu_time(), Instant::now());
    tokio::time::sleep(window).await;
    let (cpu, seconds) = (
        (cpu_time() - cpu).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    let per_second = |m: Method| counting.count(m) as f64 / seconds;
    println!(
        "{store:<7} {sessions:>6} open sessions: {:.2} store calls/s in all (heartbeat {:.2}/s, release-request waits {:.2}/s, session calls {:.2}/s), CPU {:.2}% of one core",
        (counting.total() + counting.registry_total()) as f64 / seconds,
        per_second(Method::Heartbeat),
        per_second(Method::ReleaseRequests),
        counting.total() as f64 / seconds,
        cpu / seconds * 100.0,
    );
    registry.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let window = Duration::from_secs(
        std::env::args()
            .nth(1)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(30),
    );
    println!(
        "window {window:?} per row, auto-save off, LockInterval 60 s (no renewal in the window)\n"
    );
    let dir = tempfile::tempdir()?;
    let sqlite: Arc<dyn Backend> = Arc::new(SqliteBackend::open(dir.path().join("hb.db"))?);
    let (url, _server, _redis_dir) = start_redis()?;
    let redis: Arc<dyn Backend> = Arc::new(RedisBackend::connect(&url, "hb").await?);
    for (store, backend) in [("sqlite", sqlite), ("redis", redis)] {
        for sessions in [1, 10_000] {
            measure(store, backend.clone(), sessions, window).await?;
        }
    }
    Ok(())
}
