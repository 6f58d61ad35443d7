//! Validation: an optional validator per data store name, run on every load
//! (after the template) and before every save, on each store: an invalid
//! value refuses the open (no lock left behind) or the save (nothing
//! written, `Error` with the validator's message, Saved fired with it).

#[path = "support/redis_server.rs"]
mod redis_server;

use sdm_session::backend::memory::MemoryBackend;
use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::{Backend, Record};
use sdm_session::{Registry, Response, SessionError, State, Value};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Coins must be a number that is not negative.
fn coins_not_negative(v: &Value) -> Result<(), String> {
    match v["Coins"].as_f64() {
        Some(c) if c >= 0.0 => Ok(()),
        Some(c) => Err(format!("Coins is {c}, below 0")),
        None => Err("Coins is missing".into()),
    }
}

fn invalid(r: &Response) -> Option<String> {
    match r {
        Response::Error(SessionError::Invalid { message, .. }) => Some(message.clone()),
        _ => None,
    }
}

async fn record(store: &Arc<dyn Backend>, key: &str) -> Option<Record> {
    let id = sdm_session::SessionId::new("Player", None, key);
    store.get(&id).await.expect("get")
}

async fn validation_on(store: Arc<dyn Backend>) {
    // Data written before the validator existed (by a server without it).
    let old = Registry::new(store.clone());
    let s = old.session("Player", None, "bad");
    assert_eq!(s.open(None).await, Response::Success);
    s.set_value(Value::from(json!({"Coins": -5})));
    assert!(s.destroy().await.is_saved());
    let before = record(&store, "bad").await;

    let registry = Registry::new(store.clone());
    registry.set_validator("Player", coins_not_negative);

    // Load: refused, nothing held, nothing changed.
    let s = registry.session("Player", None, "bad");
    let r = s.open(None).await;
    assert_eq!(
        invalid(&r).as_deref(),
        Some("Coins is -5, below 0"),
        "{r:?}"
    );
    assert_eq!(s.state(), State::Closed);
    let r = s.read(None).await;
    assert!(invalid(&r).is_some(), "{r:?}");
    assert!(
        s.value().is_nil(),
        "a refused read leaves the value as it was"
    );
    let free = Registry::new(store.clone()).session("Player", None, "bad");
    assert_eq!(
        free.open(None).await,
        Response::Success,
        "no lock left behind"
    );
    assert!(free.destroy().await.is_saved());
    assert_eq!(
        record(&store, "bad").await.map(|r| r.value),
        before.map(|r| r.value)
    );

    // A template that makes the value valid lets it open (validated after reconcile).
    let fresh = registry.session("Player", None, "fresh");
    let r = fresh.open(None).await;
    assert_eq!(r, Response::Success, "a nil value is not validated");
    fresh.set_value(Value::from(json!({"Level": 1})));
    let r = fresh.save().await;
    assert_eq!(invalid(&r).as_deref(), Some("Coins is missing"));
    assert!(!fresh.close().await.is_saved());
    let t = registry.session("Player", None, "templated");
    assert_eq!(
        t.open(Some(Value::from(json!({"Coins": 0})))).await,
        Response::Success
    );

    // Save: refused, nothing written, Saved fired with the error.
    t.set_value(Value::from(json!({"Coins": 10})));
    assert!(t.save().await.is_saved());
    let saved = record(&store, "templated").await.expect("saved");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    t.on_saved(move |r, _| seen2.lock().unwrap().push(invalid(r)));
    t.set_value(Value::from(json!({"Coins": -1})));
    let r = t.save().await;
    assert_eq!(invalid(&r).as_deref(), Some("Coins is -1, below 0"));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Some("Coins is -1, below 0".to_string())]
    );
    assert_eq!(record(&store, "templated").await, Some(saved.clone()));
    // Closing with an invalid value writes nothing and still releases the lock.
    assert!(invalid(&t.close().await).is_some());
    assert_eq!(record(&store, "templated").await, Some(saved));
    let again = Registry::new(store.clone()).session("Player", None, "templated");
    assert_eq!(again.open(None).await, Response::Success, "lock released");

    // Other names are not validated; a cleared validator no longer runs.
    let other = registry.session("Other", None, "x");
    assert_eq!(other.open(None).await, Response::Success);
    other.set_value(Value::from(json!({"Coins": -1})));
    assert!(other.save().await.is_saved());
    registry.clear_validator("Player");
    let s = registry.session("Player", None, "bad");
    assert_eq!(s.open(None).await, Response::Success);
}

#[tokio::test(start_paused = true)]
async fn validation_on_memory() {
    validation_on(Arc::new(MemoryBackend::new())).await;
}

#[tokio::test]
async fn validation_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteBackend::open(dir.path().join("sdm.db")).expect("sqlite");
    validation_on(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_on_redis() {
    let server = redis_server::RedisServer::start();
    let store = RedisBackend::connect(server.url(), "validation")
        .await
        .expect("connect");
    validation_on(Arc::new(store)).await;
}

#[test]
fn validation_through_the_blocking_api() {
    let registry =
        sdm_session::blocking::Registry::new(Arc::new(MemoryBackend::new())).expect("runtime");
    registry.set_validator("Player", coins_not_negative);
    let s = registry.session("Player", None, 1);
    assert_eq!(
        s.open(Some(Value::from(json!({"Coins": 1})))),
        Response::Success
    );
    s.set_value(Value::from(json!({"Coins": -1})));
    assert!(invalid(&s.save()).is_some());
    registry.clear_validator("Player");
    assert!(s.save().is_saved());
    registry.shutdown();
}
