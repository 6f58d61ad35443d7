//! Sessions on real stores when things go wrong: a stale owner's save is
//! refused by fencing (SQLite); a Redis restart in the middle of a session
//! (renewals fail, AttemptsRemaining counts down, the session recovers with
//! nothing lost); Redis staying down until the session closes itself (no
//! second owner before the lock expires, nothing acknowledged is lost).

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::{Arc, Mutex};
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
        Response::Error(SessionError::Fenced {
            owner, token, ours, ..
        }) => {
            assert_eq!(owner.as_deref(), Some(b.unique_id()));
            assert_eq!((ours, token), (a.lock_token(), b.lock_token()));
            assert!(token > ours);
        }
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

/// Real time, about 40 s: the engine's shortest lock lifetime is 40 s
/// (LockInterval 10 s x LockAttempts 1 + 30 s). The session closes itself
/// after its one failed renewal (~10 s after open, plus the store call's
/// 3 tries); the second registry can only open once Redis expired the lock
/// by its own clock (~40 s after open), which is the point of the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_closes_itself_when_redis_stays_down() {
    // Durable: a restart brings back every write Redis acknowledged.
    let mut server = redis_server::RedisServer::start_own_durable();
    let registry_a = Registry::new(sdm_session::backend::connect(server.url()).expect("connect"));
    let registry_b = Registry::new(sdm_session::backend::connect(server.url()).expect("connect"));
    let a = registry_a.session("Player", None, "outage");
    a.set_lock_interval(Duration::from_secs(10))
        .expect("lock interval");
    a.set_lock_attempts(1).expect("lock attempts");
    a.set_save_interval(Duration::ZERO).expect("no auto-save");
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let states = Arc::new(Mutex::new(Vec::new()));
    let saves = Arc::new(Mutex::new(Vec::new()));
    let _c1 = a.on_attempts_changed({
        let attempts = attempts.clone();
        move |n, _| attempts.lock().expect("attempts").push(n)
    });
    let _c2 = a.on_state_changed({
        let states = states.clone();
        move |state, _| states.lock().expect("states").push(state)
    });
    let _c3 = a.on_saved({
        let saves = saves.clone();
        move |response, _| saves.lock().expect("saves").push(response.clone())
    });

    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(Value::from("first save"));
    assert!(a.save().await.is_saved());
    a.set_value(Value::from("last acknowledged save"));
    assert!(a.save().await.is_saved());
    assert_eq!(a.attempts_remaining(), 1);
    // Changed after the last save; never acknowledged, so may be lost.
    a.set_value(Value::from("never saved"));

    // Redis goes down and stays down until A has closed.
    server.stop();
    // From now on B keeps trying to open the key, and a sampler checks
    // that A and B are never open at the same time.
    let b = registry_b.session("Player", None, "outage");
    let b_answers = Arc::new(Mutex::new(Vec::new()));
    let opener = tokio::spawn({
        let (b, answers) = (b.clone(), b_answers.clone());
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
            loop {
                let response = b.open(None).await;
                let done = response == Response::Success;
                answers.lock().expect("answers").push(response);
                if done {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "B never opened the key"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    let sampler = tokio::spawn({
        let (a, b) = (a.clone(), b.clone());
        async move {
            let mut samples = 0u32;
            loop {
                let (state_a, state_b) = (a.state(), b.state());
                assert!(
                    !(state_a == State::Open && state_b == State::Open),
                    "two owners at once"
                );
                samples += 1;
                if state_b == State::Open {
                    assert_eq!(a.state(), State::Closed, "B opened before A closed");
                    return samples;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    // The renewal 10 s after open fails (3 tries), AttemptsRemaining drops
    // to zero, and the close's save and release fail too (3 tries each).
    until("StateChanged(Closed)", Duration::from_secs(60), || {
        states.lock().expect("states").last() == Some(&State::Closed)
    })
    .await;
    assert_eq!(a.state(), State::Closed);
    assert_eq!(
        *attempts.lock().expect("attempts"),
        vec![1, 0],
        "open set AttemptsRemaining to LockAttempts, the failed renewal counted it down to zero"
    );
    assert_eq!(
        *states.lock().expect("states"),
        vec![State::Open, State::Closed]
    );
    {
        let saves = saves.lock().expect("saves");
        assert_eq!(saves.len(), 3, "two saves and the save on close: {saves:?}");
        assert!(saves[..2].iter().all(Response::is_saved));
        assert!(
            matches!(
                &saves[2],
                Response::Error(SessionError::Backend {
                    operation: "set",
                    ..
                })
            ),
            "the save on close fails while Redis is down: {:?}",
            saves[2]
        );
    }
    assert_ne!(b.state(), State::Open, "Redis is still down");

    // Redis comes back on the same port with what it had acknowledged:
    // the value and A's lock entry, which expires by Redis's clock.
    server.restart();
    opener.await.expect("B opens");
    let samples = sampler.await.expect("never two owners");
    assert!(
        samples > 100,
        "the states were sampled throughout ({samples})"
    );
    // A's heartbeat expired during the outage, so B takes the key as soon
    // as Redis is back (before A's lock entry expires), under a newer
    // fencing token.
    let answers = b_answers.lock().expect("answers").clone();
    assert!(
        answers.last().is_some_and(|r| *r == Response::Success),
        "B opened after the restart: {answers:?}"
    );
    assert!(
        answers.iter().all(|r| matches!(
            r,
            Response::Success | Response::Locked(_) | Response::Error(SessionError::Backend { .. })
        )),
        "{answers:?}"
    );
    assert_eq!(
        b.clone_value(),
        Value::from("last acknowledged save"),
        "nothing acknowledged as Saved is lost"
    );
    assert_eq!(a.state(), State::Closed);
    assert!(b.close().await.is_saved());
}
