//! What version history costs: fenced save latency and store size with
//! history off and with the default retention (the last 30 versions), on
//! SQLite (a temp file) and Redis (a `redis-server` this example starts on
//! a free port). One caller, `keys` keys saved `saves` times each with a
//! value of about 1 KB.
//!
//! ```sh
//! cargo run --release -p sdm-session --example history_cost [keys] [saves]
//! ```
//!
//! Numbers only, nothing asserted (the tests assert behaviour).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::{
    Backend, DataVersion, Fence, HistoryConfig, LockOutcome, SessionId, Write,
};

type Error = Box<dyn std::error::Error>;

/// Saves `saves` times each of `keys` keys under their locks; mean save
/// latency in µs.
async fn run(b: &dyn Backend, name: &str, keys: usize, saves: usize) -> Result<f64, Error> {
    let filler = "x".repeat(1000);
    let mut total = Duration::ZERO;
    for k in 0..keys {
        let id = SessionId::new(name, None, k.to_string());
        let LockOutcome::Acquired { token } = b.lock(&id, "bench", Duration::from_secs(60)).await?
        else {
            return Err("lock held".into());
        };
        for s in 0..saves {
            let write = Write::Set {
                value: format!("{{\"Coins\":{s},\"Pad\":\"{filler}\"}}"),
                metadata: "{}".into(),
                user_ids: vec![k as i64],
                data_version: DataVersion::default(),
            };
            let fence = Fence {
                owner: "bench",
                token,
                release: s + 1 == saves,
            };
            let start = Instant::now();
            b.set(&id, &write, Some(fence)).await?;
            total += start.elapsed();
        }
    }
    Ok(total.as_secs_f64() * 1e6 / (keys * saves) as f64)
}

fn sqlite_size(path: &std::path::Path) -> Result<u64, Error> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(std::fs::metadata(path)?.len())
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(dir: &std::path::Path) -> Result<(String, Server), Error> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()?;
    let server = Server(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((format!("redis://127.0.0.1:{port}/0"), server));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("redis-server did not start".into())
}

async fn redis_memory(url: &str) -> Result<u64, Error> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no used_memory".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let keys: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let saves: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir()?;
    println!("{keys} keys x {saves} fenced saves each, ~1 KB values, one caller");
    for (label, history) in [
        ("off", HistoryConfig::off()),
        ("keep 30", HistoryConfig::default()),
    ] {
        let path = dir.path().join(format!("h-{}.db", history.keep));
        let store = SqliteBackend::open_with(&path, history)?;
        let mean = run(&store, "Bench", keys, saves).await?;
        drop(store);
        println!(
            "sqlite  history {label:<8} save mean {mean:>8.1} µs   file {:>6.1} MB",
            sqlite_size(&path)? as f64 / 1e6
        );
    }
    let (url, _server) = start_redis(dir.path())?;
    for (label, history) in [
        ("off", HistoryConfig::off()),
        ("keep 30", HistoryConfig::default()),
    ] {
        let before = redis_memory(&url).await?;
        let store = RedisBackend::connect(&url, &format!("h{}", history.keep)).await?;
        store.set_history(history);
        let mean = run(&store, "Bench", keys, saves).await?;
        let after = redis_memory(&url).await?;
        println!(
            "redis   history {label:<8} save mean {mean:>8.1} µs   memory +{:>6.1} MB",
            after.saturating_sub(before) as f64 / 1e6
        );
    }
    Ok(())
}
