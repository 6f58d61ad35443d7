//! Sessions on real stores when things go wrong: a stale owner's save is
//! refused by fencing (SQLite), and a Redis restart in the middle of a
//! session (renewals fail, AttemptsRemaining counts down, the session
//! recovers with nothing lost).

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use sdm_session::backend::sqlite::SqliteBackend;
use sdm_session::{Registry, Response, SessionError, State, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_owners_save_is_refused_and_closes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fencing.db");
    // Two servers on one file.
    let server_a = Registry::new(Arc::new(SqliteBackend::open(&path).expect("open")));
    let server_b = Registry::new(Arc::new(SqliteBackend::open(&path).expect("open")));
    let a = server_a.session("Player", None, "fenced");
    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(Value::from("from A"));
    assert!(a.save().await.is_saved());

    // A pauses past its lock's life (aged in the store); B takes the key.
    let conn = rusqlite::Connection::open(&path).expect("open the file");
    assert_eq!(
        conn.execute("UPDATE sdm_locks SET expires_at_ms = 0", [])
            .expect("age the lock"),
        1
    );
    let b = server_b.session("Player", None, "fenced");
    assert_eq!(b.open(None).await, Response::Success);
    assert_eq!(b.clone_value(), Value::from("from A"));
    b.set_value(Value::from("from B"));
    assert!(b.save().await.is_saved());

    // A wakes up and saves: refused, and A closes itself.
    a.set_value(Value::from("stale A"));
    match a.save().await {
        Response::Error(SessionError::Fenced { owner, .. }) => assert_eq!(owner, b.unique_id()),
        other => panic!("a stale save must be fenced, got {other:?}"),
    }
    assert_eq!(a.state(), State::Closed);
    let closed = a.close().await;
    assert!(matches!(closed, Response::Success), "{closed:?}");

    // B's data stands; B still owns the key.
    let reader = server_a.hidden("Player", None, "fenced");
    assert_eq!(reader.read(None).await, Response::Success);
    assert_eq!(reader.clone_value(), Value::from("from B"));
    assert!(matches!(a.open(None).await, Response::Locked(owner) if owner == b.unique_id()));
    assert!(b.close().await.is_saved());
}

/// Waits (real time, bounded) until `f` holds.
async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Real time: the engine's shortest LockInterval is 10 s, so this test
/// lasts about 20 s (one failed renewal, one that succeeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_rides_out_a_redis_restart() {
    let mut server = redis_server::RedisServer::start_own();
    let backend = sdm_session::backend::connect(server.url()).expect("connect");
    let registry = Registry::new(backend);
    let s = registry.session("Player", None, "restart");
    s.set_lock_interval(Duration::from_secs(10))
        .expect("lock interval");
    s.set_lock_attempts(3).expect("lock attempts");
    s.set_save_interval(Duration::ZERO).expect("no auto-save");
    assert_eq!(s.open(None).await, Response::Success);
    s.set_value(Value::from("kept"));
    assert!(s.save().await.is_saved());
    assert_eq!(s.attempts_remaining(), 3);

    server.stop();
    until("a failed renewal", Duration::from_secs(25), || {
        s.attempts_remaining() < 3
    })
    .await;
    assert_eq!(s.attempts_remaining(), 2);
    assert_eq!(
        s.state(),
        State::Open,
        "one failed renewal does not close the session"
    );

    // The restarted server is empty (no persistence): the next renewal
    // takes the lock again and the save writes the value back.
    server.restart();
    until(
        "a renewal after the restart",
        Duration::from_secs(25),
        || s.attempts_remaining() == 3,
    )
    .await;
    assert_eq!(s.state(), State::Open);
    assert!(s.close().await.is_saved(), "the close saves");
    let reader = registry.hidden("Player", None, "restart");
    assert_eq!(reader.read(None).await, Response::Success);
    assert_eq!(reader.clone_value(), Value::from("kept"), "nothing lost");
}
