//! Bounded shutdown: every session saved concurrently within the deadline
//! (10,000 sessions on SQLite and on Redis, checked in the store), and a
//! store that hangs makes shutdown return at the deadline naming the keys.

#[path = "support/redis_server.rs"]
mod redis_server;

use sdm_session::backend::memory::MemoryBackend;
use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::backend::testing::{FaultMode, FaultyBackend};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{Registry, Response, Value, DEFAULT_SHUTDOWN_DEADLINE};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SESSIONS: usize = 10_000;

/// Opens `SESSIONS` sessions, changes each, shuts down within the default
/// deadline and checks every change is in the store and every lock free.
async fn ten_thousand_sessions_shut_down_in_time(store: Arc<dyn Backend>) -> Duration {
    let registry = Registry::new(store.clone());
    // Opened 500 at a time: a lock call waits at most 5 s for its store,
    // and a busy machine must not fail the set-up.
    for chunk in (0..SESSIONS).collect::<Vec<_>>().chunks(500) {
        let mut opens = tokio::task::JoinSet::new();
        for &k in chunk {
            let s = registry.session("Player", None, k);
            opens.spawn(async move {
                assert_eq!(s.open(None).await, Response::Success);
                s.set_value(Value::from(k as i64));
            });
        }
        while let Some(r) = opens.join_next().await {
            r.expect("open");
        }
    }
    let start = Instant::now();
    let report = registry.shutdown().await;
    let took = start.elapsed();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.finished, SESSIONS);
    assert!(took < DEFAULT_SHUTDOWN_DEADLINE);
    for k in 0..SESSIONS {
        let id = SessionId::new("Player", None, k.to_string());
        let record = store.get(&id).await.expect("get").expect("saved");
        assert_eq!(record.value, k.to_string(), "{id}");
    }
    let other = Registry::new(store);
    let again = other.session("Player", None, SESSIONS - 1);
    assert_eq!(again.open(None).await, Response::Success, "lock released");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_sqlite_sessions_are_saved_within_the_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteBackend::open(dir.path().join("sdm.db")).expect("open sqlite");
    let took = ten_thousand_sessions_shut_down_in_time(Arc::new(store)).await;
    eprintln!("shutdown of {SESSIONS} SQLite sessions: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_redis_sessions_are_saved_within_the_deadline() {
    let server = redis_server::RedisServer::start();
    let store = RedisBackend::connect(server.url(), "shutdown")
        .await
        .expect("connect");
    let took = ten_thousand_sessions_shut_down_in_time(Arc::new(store)).await;
    eprintln!("shutdown of {SESSIONS} Redis sessions: {took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_store_makes_shutdown_return_at_the_deadline_naming_the_keys() {
    let memory = Arc::new(MemoryBackend::new());
    let faulty = Arc::new(FaultyBackend::new(memory.clone()));
    let registry = Registry::new(faulty.clone());
    let mut ids = Vec::new();
    for k in 0..3 {
        let s = registry.session("Player", None, k);
        assert_eq!(s.open(None).await, Response::Success);
        s.set_value(Value::from(k));
        ids.push(s.id().clone());
    }
    // One session closed before the store hangs: its destroy needs no store.
    let closed = registry.session("Player", None, "closed");
    assert_eq!(closed.open(None).await, Response::Success);
    assert!(closed.close().await.is_saved());
    faulty.set_mode(FaultMode::Hang(Duration::from_secs(3600)));
    let start = tokio::time::Instant::now();
    let report = registry.shutdown_within(Duration::from_secs(5)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(report.deadline_passed());
    assert_eq!(report.unfinished, ids);
    assert_eq!(report.finished, 1);
    assert_eq!(report.elapsed, Duration::from_secs(5));
    // Nothing was released unsaved: the locks are still held, nothing written.
    for id in &ids {
        assert!(memory.lock_holder(id).is_some(), "{id} still locked");
        assert_eq!(memory.get(id).await.expect("get"), None);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_save_is_reported_and_the_rest_finish() {
    let memory = Arc::new(MemoryBackend::new());
    let faulty = Arc::new(FaultyBackend::new(memory.clone()));
    let registry = Registry::new(faulty.clone());
    let s = registry.session("Player", None, 1);
    assert_eq!(s.open(None).await, Response::Success);
    s.set_value(Value::from(1));
    faulty.fail_all(true);
    let report = registry.shutdown_within(Duration::from_secs(60)).await;
    assert!(!report.deadline_passed());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(&report.failed[0].0, s.id());
    assert!(!report.is_clean());
}
