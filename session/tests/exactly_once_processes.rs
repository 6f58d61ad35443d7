//! Exactly-once gifts and atomic trades with real OS processes killed
//! with SIGKILL, on SQLite (a temp file) and on Redis (a redis-server of
//! the test's own):
//!
//! - **crash matrix**: a child process owns a key and applies three gifts
//!   in ProcessQueue, removing them there; it is killed (a) after the
//!   gifts were applied and removed but before any save, and (b) right
//!   after its save step answered. Another registry then takes the key
//!   over (the child's heartbeat expired), drains the queue the same way
//!   and saves: each gift is applied exactly once (coins and item ids
//!   counted from the store), and the queue is empty;
//! - **trades**: a child trades coins and items between ten players with
//!   `Registry::trade` and is killed at a random moment, three
//!   times over (each new child takes the keys over from the dead one):
//!   the total coins and the multiset of item ids in the store are
//!   exactly what they were at the start.
//!
//! The test binary runs itself as the child (`exactly_once_child`, driven
//! by the environment and by commands on its stdin).

#[path = "support/child.rs"]
mod child;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use child::{say, Kid};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{LivenessConfig, OpenWait, Registry, Response, Session, Value};
use serde_json::json;

const STORE: &str = "SDM_EO_STORE";
const ROLE: &str = "SDM_EO_ROLE";
const NAME: &str = "Player";
const PLAYERS: u32 = 10;

/// Short heartbeats, so a killed child's keys are taken over in ~2 s.
fn liveness() -> LivenessConfig {
    LivenessConfig {
        heartbeat_ttl: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(500),
        ..LivenessConfig::default()
    }
}

fn registry(url: &str) -> Registry {
    let registry = Registry::new(sdm_session::backend::connect(url).expect("connect"));
    registry.set_liveness_config(liveness());
    registry.set_open_wait(Some(OpenWait::wait(Duration::from_secs(20))));
    registry
}

fn js(v: &Value) -> serde_json::Value {
    serde_json::Value::from(v.clone())
}

/// Applies each gift (`{"coins": n, "item": id}`) and removes the batch,
/// in the listener; reports `APPLIED <count>` when `report`.
fn apply_gifts(s: &Session, report: bool) {
    s.on_process_queue(move |read_id, values, s| {
        s.with_value(|value| {
            let mut j = js(value);
            for gift in values {
                let gift = js(gift);
                let coins = j["Coins"].as_i64().unwrap_or(0) + gift["coins"].as_i64().unwrap_or(0);
                j["Coins"] = json!(coins);
                items_of(&mut j).push(gift["item"].clone());
            }
            *value = Value::from(j);
        });
        drop(s.remove(read_id));
        if report {
            say(&format!("APPLIED {}", values.len()));
        }
    });
}

/// The value's `Items` as a JSON array (an empty table reads back as `{}`).
fn items_of(j: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    if !j["Items"].is_array() {
        j["Items"] = json!([]);
    }
    j["Items"].as_array_mut().expect("an array")
}

fn template(coins: i64, items: &[String]) -> Value {
    Value::from(json!({"Coins": coins, "Items": items}))
}

// ---------------------------------------------------------------------------
// The child process.

/// The child side; a no-op in a normal test run.
#[test]
fn exactly_once_child() {
    let (Ok(store), Ok(role)) = (std::env::var(STORE), std::env::var(ROLE)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let registry = registry(&store);
        match role.as_str() {
            "gifts" => gifts_child(&registry).await,
            "trades" => trades_child(&registry).await,
            other => panic!("unknown role {other}"),
        }
    });
}

/// Owns key `gift`, applies gifts; `save` saves and answers `SAVED`.
async fn gifts_child(registry: &Registry) {
    let s = registry.session(NAME, None, "gift");
    s.set_save_interval(Duration::ZERO).expect("auto-save off");
    apply_gifts(&s, true);
    let r = s.open(Some(template(0, &[]))).await;
    say(&format!("OPEN {}", r.name()));
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    while let Ok(Some(line)) = lines.next_line().await {
        if line == "save" {
            let r = s.save().await;
            say(&format!("SAVED {}", r.name()));
        }
    }
}

/// Opens every player and trades between them with `save_together` until
/// killed, reporting `TRADES <n>` now and then.
/// Player `p`'s key: every trader shares one slot tag, so their trades
/// are one store step on a Redis Cluster too.
fn trader(p: u32) -> String {
    format!("{{traders}}-{p}")
}

async fn trades_child(registry: &Registry) {
    let mut players = Vec::new();
    for p in 0..PLAYERS {
        let s = registry.session(NAME, None, trader(p));
        s.set_save_interval(Duration::ZERO).expect("auto-save off");
        let r = s.open(None).await;
        assert_eq!(r, Response::Success, "open {}", trader(p));
        players.push(s);
    }
    say("OPEN");
    let mut seed = u64::from(std::process::id()) | 1;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut trades = 0u64;
    loop {
        let a = next(u64::from(PLAYERS)) as usize;
        let b = (a + 1 + next(u64::from(PLAYERS) - 1) as usize) % PLAYERS as usize;
        let (pick, cut) = (next(1 << 20), next(2));
        let traded = registry
            .trade(&[&players[a], &players[b]], |values| {
                let (mut ja, mut jb) = (js(&values[0]), js(&values[1]));
                let coins = ja["Coins"].as_i64().unwrap_or(0);
                let give = if coins > 0 {
                    pick as i64 % (coins + 1)
                } else {
                    0
                };
                ja["Coins"] = json!(coins - give);
                jb["Coins"] = json!(jb["Coins"].as_i64().unwrap_or(0) + give);
                if cut == 0 {
                    if let Some(item) = items_of(&mut ja).pop() {
                        items_of(&mut jb).push(item);
                    }
                }
                values[0] = Value::from(ja);
                values[1] = Value::from(jb);
                true
            })
            .await;
        // Anything but Success: nothing was written, and the values were
        // put back. Only the trades that were saved count.
        if traded != Response::Success {
            continue;
        }
        trades += 1;
        if trades.is_multiple_of(20) {
            say(&format!("TRADES {trades}"));
        }
    }
}

// ---------------------------------------------------------------------------
// The parent's side.

fn spawn(url: &str, role: &str) -> Kid {
    let kid = Kid::spawn("exactly_once_child", &[(STORE, url), (ROLE, role)]);
    let open = kid.expect_line("OPEN", Duration::from_secs(60));
    assert!(open == "OPEN" || open == "OPEN Success", "{open}");
    kid
}

fn stored(
    runtime: &tokio::runtime::Runtime,
    backend: &Arc<dyn Backend>,
    key: &str,
) -> serde_json::Value {
    let id = SessionId::new(NAME, None, key);
    let record = runtime
        .block_on(backend.get(&id))
        .expect("get")
        .expect("a record");
    serde_json::from_str(&record.value).expect("json")
}

fn gifts_case(url: &str, save_first: bool) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let backend = sdm_session::backend::connect(url).expect("connect");
    // A previous case's key.
    let id = SessionId::new(NAME, None, "gift");
    runtime.block_on(async {
        let _ = sdm_session::admin::unlock(&*backend, &id).await;
        let _ = backend
            .set(&id, &sdm_session::backend::Write::Remove, None)
            .await;
        while let Some(b) = backend
            .queue_read(&id, 100, Duration::ZERO, Duration::from_secs(60))
            .await
            .expect("read")
        {
            backend.queue_remove(&id, &b.read_id).await.expect("remove");
        }
    });
    let mut kid = spawn(url, "gifts");
    let sender = Registry::new(backend.clone());
    let to = sender.session(NAME, None, "gift");
    for i in 0..3 {
        let gift = Value::from(json!({"coins": 10, "item": format!("gift-{i}")}));
        assert_eq!(
            runtime.block_on(to.queue(gift, None, None)),
            Response::Success
        );
    }
    let mut applied = 0;
    while applied < 3 {
        let line = kid.expect_line("APPLIED", Duration::from_secs(30));
        applied += line["APPLIED ".len()..].parse::<usize>().expect("count");
    }
    if save_first {
        kid.send("save");
        let saved = kid.expect_line("SAVED", Duration::from_secs(30));
        assert_eq!(saved, "SAVED Saved");
    }
    kid.kill9();
    // The next owner: takes the key over once the child's heartbeat
    // expired, drains the queue the same way, saves.
    let next = registry(url);
    let s = next.session(NAME, None, "gift");
    apply_gifts(&s, false);
    runtime.block_on(async {
        assert_eq!(s.open(Some(template(0, &[]))).await, Response::Success);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(s.close().await.is_saved());
    });
    let mut value = stored(&runtime, &backend, "gift");
    let mut items: Vec<String> = items_of(&mut value)
        .iter()
        .map(|i| i.as_str().unwrap_or("?").to_owned())
        .collect();
    items.sort();
    assert_eq!(value["Coins"], 30, "each gift's coins once: {value}");
    assert_eq!(items, ["gift-0", "gift-1", "gift-2"], "each gift once");
    let left = runtime
        .block_on(backend.queue_read(&id, 100, Duration::ZERO, Duration::from_secs(60)))
        .expect("read");
    assert_eq!(left, None, "the queue is empty");
}

fn trades_case(url: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let backend = sdm_session::backend::connect(url).expect("connect");
    // The starting state: 100 coins and three items a player.
    let mut all_items = Vec::new();
    runtime.block_on(async {
        let setup = Registry::new(backend.clone());
        for p in 0..PLAYERS {
            let items: Vec<String> = (0..3).map(|i| format!("item-{p}-{i}")).collect();
            all_items.extend(items.iter().cloned());
            let s = setup.session(NAME, None, trader(p));
            assert_eq!(s.open(None).await, Response::Success);
            s.set_value(template(100, &items));
            assert!(s.close().await.is_saved());
        }
    });
    all_items.sort();
    let mut rng = u64::from(std::process::id()) | 1;
    let mut total_trades = 0;
    for round in 0..3 {
        let kid = spawn(url, "trades");
        let mut kid = kid;
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let run = Duration::from_millis(300 + (rng >> 33) % 700);
        std::thread::sleep(run);
        let mut trades = 0;
        while let Some(line) = kid.try_next(Duration::ZERO) {
            if let Some(n) = line.strip_prefix("TRADES ") {
                trades = n.parse().unwrap_or(trades);
            }
        }
        kid.kill9();
        total_trades += trades;
        eprintln!("FIGURE round {round}: killed after {run:?}, {trades}+ trades");
    }
    assert!(total_trades > 0, "some trades were made");
    // Recovery: open every player (after the last child's heartbeat
    // expired) and count from the store.
    let check = registry(url);
    runtime.block_on(async {
        for p in 0..PLAYERS {
            let s = check.session(NAME, None, trader(p));
            assert_eq!(s.open(None).await, Response::Success, "{}", trader(p));
            assert!(s.close().await.is_saved());
        }
    });
    let mut coins = 0;
    let mut items = Vec::new();
    for p in 0..PLAYERS {
        let mut value = stored(&runtime, &backend, &trader(p));
        coins += value["Coins"].as_i64().expect("coins");
        items.extend(
            items_of(&mut value)
                .iter()
                .map(|i| i.as_str().unwrap_or("?").to_owned()),
        );
    }
    items.sort();
    assert_eq!(coins, 100 * i64::from(PLAYERS), "coins conserved");
    assert_eq!(items, all_items, "items conserved, none doubled");
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("eo.db").display())
}

#[test]
fn sqlite_crash_after_remove_before_save_applies_each_gift_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    gifts_case(&sqlite_url(&dir), false);
}

#[test]
fn sqlite_crash_right_after_the_save_applies_each_gift_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    gifts_case(&sqlite_url(&dir), true);
}

#[test]
fn sqlite_trades_killed_at_random_conserve_coins_and_items() {
    let dir = tempfile::tempdir().expect("temp dir");
    trades_case(&sqlite_url(&dir));
}

#[test]
fn redis_crash_matrix_applies_each_gift_once() {
    let server = redis_server::RedisServer::start_own();
    gifts_case(server.url(), false);
    gifts_case(server.url(), true);
}

#[test]
fn redis_trades_killed_at_random_conserve_coins_and_items() {
    let server = redis_server::RedisServer::start_own();
    trades_case(server.url());
}

#[test]
fn cluster_crash_matrix_applies_each_gift_once() {
    let cluster = redis_cluster::RedisCluster::start();
    gifts_case(&cluster.url(), false);
    gifts_case(&cluster.url(), true);
}

#[test]
fn cluster_trades_killed_at_random_conserve_coins_and_items() {
    let cluster = redis_cluster::RedisCluster::start();
    trades_case(&cluster.url());
}
