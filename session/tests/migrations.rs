//! Migrations: an ordered list of steps per data store name, the data
//! version stored beside the value. On real SQLite and Redis records written
//! by older versions of sdm (no data version at all): a chain of 3 steps; a
//! record written by a newer server refused by an older one (its lock
//! released); a failing step leaves the record byte-identical; a
//! backwards-compatible step lets an older server load and save.

#[path = "support/redis_server.rs"]
mod redis_server;

use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::{Backend, DataVersion, LockOutcome, SessionId};
use sdm_session::{Registry, Response, SessionError, Value};
use serde_json::{json, Value as Json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn to_json(v: &Value) -> Json {
    serde_json::to_value(v).expect("value as JSON")
}

fn id(key: &str) -> SessionId {
    SessionId::new("Player", None, key)
}

/// Step 1 renames Coins to Gold, step 2 adds Gems, step 3 counts Gold in cents.
fn step(n: u32) -> impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static {
    move |v| {
        let mut j = to_json(&v);
        let o = j.as_object_mut().ok_or("not an object")?;
        match n {
            1 => {
                let coins = o.remove("Coins").ok_or("no Coins")?;
                o.insert("Gold".into(), coins);
            }
            2 => {
                o.insert("Gems".into(), json!(0));
            }
            _ => {
                let gold = o.get("Gold").and_then(Json::as_f64).ok_or("no Gold")?;
                o.insert("Gold".into(), json!((gold * 100.0).round() as i64));
            }
        }
        Ok(Value::from(j))
    }
}

/// A server knowing the first `steps` migrations (the last one
/// backwards-compatible when `compatible`).
fn server(store: &Arc<dyn Backend>, steps: u32, compatible: bool) -> Registry {
    let r = Registry::new(store.clone());
    for n in 1..=steps {
        if compatible && n == steps {
            assert_eq!(r.add_compatible_migration("Player", step(n)), n);
        } else {
            assert_eq!(r.add_migration("Player", step(n)), n);
        }
    }
    assert_eq!(r.data_version("Player"), steps);
    r
}

async fn lock_is_free(store: &Arc<dyn Backend>, key: &str) {
    let ttl = std::time::Duration::from_secs(60);
    let taken = store.lock(&id(key), "probe", ttl).await.expect("lock");
    assert!(
        matches!(taken, LockOutcome::Acquired { .. }),
        "no lock left behind: {taken:?}"
    );
    assert_eq!(store.unlock(&id(key), "probe").await, Ok(true));
}

/// The data version stored for `key`.
async fn stored_version(store: &Arc<dyn Backend>, key: &str) -> (u32, u32) {
    let record = store.get(&id(key)).await.expect("get").expect("saved");
    (
        record.data_version.version,
        record.data_version.readable_from,
    )
}

/// Opens `key` on `server` and checks the value it holds.
async fn opens_with(
    server: &Registry,
    key: &str,
    expected: Json,
    why: &str,
) -> sdm_session::Session {
    let s = server.session("Player", None, key);
    assert_eq!(s.open(None).await, Response::Success, "{why}");
    assert_eq!(to_json(&s.value()), expected, "{why}");
    s
}

/// Every case, on a store holding `old` and `failing`: records written by
/// an older sdm (no data version), `{"Coins":5}` and `{"Coins":"x"}`.
async fn migrations_on(store: Arc<dyn Backend>) {
    // A chain of 3 steps, run once, saved at version 3.
    let current = server(&store, 3, false);
    let gold = json!({"Gold": 500, "Gems": 0});
    let s = opens_with(&current, "old", gold.clone(), "migrated").await;
    assert!(s.destroy().await.is_saved());
    assert_eq!(stored_version(&store, "old").await, (3, 3));
    let s = opens_with(&current, "old", gold, "not migrated twice").await;
    assert!(s.destroy().await.is_saved());

    // A newer record is refused by an older server, never overwritten.
    let before = store.get(&id("old")).await.expect("get");
    let older = server(&store, 2, false);
    let s = older.session("Player", None, "old");
    let r = s.open(None).await;
    assert!(
        matches!(
            r,
            Response::Error(SessionError::NewerData {
                stored: 3,
                known: 2,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(store.get(&id("old")).await.expect("get"), before);
    lock_is_free(&store, "old").await;

    // A failing step leaves the record byte-identical and nothing locked.
    let before = store.get(&id("failing")).await.expect("get");
    let s = current.session("Player", None, "failing");
    let r = s.open(None).await;
    match &r {
        Response::Error(SessionError::Migration { step, message, .. }) => {
            assert_eq!((*step, message.as_str()), (3, "no Gold"));
        }
        other => panic!("expected a migration error, got {other:?}"),
    }
    assert!(r.to_string().contains("step 3"), "{r}");
    assert_eq!(store.get(&id("failing")).await.expect("get"), before);
    lock_is_free(&store, "failing").await;

    // A backwards-compatible step: an older server loads and saves its data.
    let newer = server(&store, 3, true);
    let s = newer.session("Player", None, "compatible");
    assert_eq!(
        s.open(Some(Value::from(json!({"Gold": 1, "Gems": 2}))))
            .await,
        Response::Success
    );
    assert!(s.destroy().await.is_saved());
    assert_eq!(stored_version(&store, "compatible").await, (3, 2));
    let s = opens_with(
        &older,
        "compatible",
        json!({"Gold": 1, "Gems": 2}),
        "as it is",
    )
    .await;
    s.set_value(Value::from(json!({"Gold": 7, "Gems": 2})));
    assert!(s.destroy().await.is_saved());
    let kept = stored_version(&store, "compatible").await;
    assert_eq!(kept, (3, 2), "an older server keeps the newer version");
    // ... which is still refused by a server two steps behind.
    let oldest = server(&store, 1, false);
    let r = oldest
        .session("Player", None, "compatible")
        .open(None)
        .await;
    assert!(
        matches!(r, Response::Error(SessionError::NewerData { .. })),
        "{r:?}"
    );
}

/// The schema of sdm before data versions (schema 2), as it was.
const SCHEMA_2: &str = "
CREATE TABLE sdm_records (
    id TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sdm_locks (
    id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sdm_tokens (id TEXT PRIMARY KEY NOT NULL, issued INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, priority REAL NOT NULL,
    value TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0, read_id TEXT
);
INSERT INTO sdm_records VALUES ('Player/global/old', '{\"Coins\":5}', '{}', '[]', 1000, 2000, 'v1', 3);
INSERT INTO sdm_records VALUES ('Player/global/failing', '{\"Coins\":\"x\"}', '{}', '[]', 1000, 2000, 'v1', 3);
PRAGMA user_version = 2;
";

#[tokio::test]
async fn migrations_on_sqlite_records_of_schema_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch(SCHEMA_2)
        .expect("schema 2");
    let store: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&path).expect("open migrates"));
    let old = store
        .get(&id("old"))
        .await
        .expect("get")
        .expect("old record");
    assert_eq!(
        old.data_version,
        DataVersion::default(),
        "an old record is version 0"
    );
    migrations_on(store).await;
    let version: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_on_redis_records_without_a_data_version() {
    let server = redis_server::RedisServer::start();
    let backend = RedisBackend::connect(server.url(), "migrations")
        .await
        .expect("connect");
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    // Records as sdm wrote them before data versions: no such fields.
    for (key, value) in [("old", r#"{"Coins":5}"#), ("failing", r#"{"Coins":"x"}"#)] {
        let _: i64 = redis::cmd("HSET")
            .arg(format!("{}:rec", backend.key_base(&id(key))))
            .arg(&[
                ("value", value),
                ("metadata", "{}"),
                ("user_ids", "[]"),
                ("created_ms", "1000"),
                ("updated_ms", "2000"),
                ("version", "v1"),
                ("token", "3"),
            ])
            .query_async(&mut conn)
            .await
            .expect("hset");
    }
    let store: Arc<dyn Backend> = Arc::new(backend);
    let old = store
        .get(&id("old"))
        .await
        .expect("get")
        .expect("old record");
    assert_eq!(old.data_version, DataVersion::default());
    migrations_on(store).await;
}

#[test]
fn migrations_through_the_blocking_api() {
    let store = Arc::new(sdm_session::backend::memory::MemoryBackend::new());
    let registry = sdm_session::blocking::Registry::new(store).expect("runtime");
    let calls = Arc::new(AtomicU32::new(0));
    let calls2 = calls.clone();
    assert_eq!(
        registry.add_migration("Player", move |v| {
            calls2.fetch_add(1, Ordering::SeqCst);
            Ok(v)
        }),
        1
    );
    assert_eq!(registry.add_compatible_migration("Player", Ok), 2);
    let s = registry.session("Player", None, 1);
    assert_eq!(s.open(None), Response::Success);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no data: born at the current version"
    );
    registry.shutdown();
}
