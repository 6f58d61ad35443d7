//! Fencing tokens through `Session` only, on virtual time: a session whose
//! lock lapsed while it was paused never overwrites the newer owner's save.
//! The memory store's `expire_lock` stands for the store's clock passing
//! the lock's expiry while the owner was stopped (no timer of a paused
//! process runs, so on one tokio clock the lapse is simulated).

mod common;

use common::{secs, v, Rig};
use sdm_session::backend::testing::Method;
use sdm_session::backend::{Backend, RenewOutcome, SessionId};
use sdm_session::{Response, SessionError, State, Value};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Everything a session's listeners saw, in order.
fn record_events(s: &sdm_session::Session) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a, b, c) = (seen.clone(), seen.clone(), seen.clone());
    s.on_saved(move |r, _| a.lock().unwrap().push(format!("Saved {}", r.name())));
    s.on_state_changed(move |st, _| b.lock().unwrap().push(format!("StateChanged {st:?}")));
    s.on_attempts_changed(move |n, _| c.lock().unwrap().push(format!("AttemptsChanged {n}")));
    seen
}

#[tokio::test(start_paused = true)]
async fn a_paused_owner_cannot_overwrite_a_newer_owners_save() {
    let rig = Rig::new();
    let (server_a, server_b) = (rig.registry(), rig.other_server().0);
    let a = server_a.session("Player", None, 1);
    a.set_save_interval(secs(0)).unwrap();
    assert_eq!(a.open(None).await, Response::Success);
    let token_a = a.lock_token();
    assert!(token_a > 0);
    a.set_value(v(json!({"Coins": 10})));
    assert!(a.save().await.is_saved());

    // A stalls past its lock's expiry; B takes the key, saves and closes.
    rig.memory.expire_lock(a.id());
    let b = server_b.session("Player", None, 1);
    assert_eq!(b.open(None).await, Response::Success);
    assert!(
        b.lock_token() > token_a,
        "a newer acquisition, a larger token"
    );
    assert_eq!(b.clone_value(), v(json!({"Coins": 10})));
    b.set_value(v(json!({"Coins": 99})));
    assert!(b.close().await.is_saved());
    let stored = rig.memory.get(a.id()).await.unwrap().unwrap();
    assert_eq!(stored.token, b.lock_token());

    // A wakes and saves its stale value: refused, naming the key and the
    // newer token; Saved fires with the error; A is Closed and keeps its
    // value in memory.
    let seen = record_events(&a);
    a.set_value(v(json!({"Coins": 11})));
    rig.counting.reset();
    let answer = a.save().await;
    match &answer {
        Response::Error(SessionError::Fenced {
            id,
            token,
            ours,
            owner,
        }) => {
            assert_eq!(id, "Player/global/1");
            assert_eq!((*token, *ours), (b.lock_token(), token_a));
            assert_eq!(owner, &None, "B released the lock");
        }
        other => panic!("a stale save must be fenced, got {other:?}"),
    }
    let message = answer.to_string();
    assert!(
        message.contains("Player/global/1") && message.contains(&b.lock_token().to_string()),
        "the error names the key and the newer token: {message}"
    );
    assert_eq!(a.state(), State::Closed);
    assert_eq!(
        *seen.lock().unwrap(),
        ["Saved Error", "StateChanged Closed"]
    );
    assert_eq!(
        a.clone_value(),
        v(json!({"Coins": 11})),
        "value kept in memory"
    );
    // Never retried: one write reached the store, and the close writes
    // nothing more.
    assert_eq!(a.close().await, Response::Success);
    assert_eq!(
        rig.counting
            .count(sdm_session::backend::testing::Method::Set),
        1
    );
    assert_eq!(
        rig.stored("1").await,
        Some(json!({"Coins": 99})),
        "B's save stands"
    );
}

#[tokio::test(start_paused = true)]
async fn a_paused_owners_close_and_removal_are_refused() {
    let rig = Rig::new();
    let (server_a, server_b) = (rig.registry(), rig.other_server().0);
    let a = server_a.session("Player", None, 2);
    a.set_save_interval(secs(0)).unwrap();
    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(v(json!("from A")));
    assert!(a.save().await.is_saved());
    rig.memory.expire_lock(a.id());

    let b = server_b.session("Player", None, 2);
    assert_eq!(b.open(None).await, Response::Success);
    b.set_value(v(json!("from B")));
    assert!(b.save().await.is_saved()); // B still holds the lock

    // A's close (save + release in one step) is refused and releases
    // nothing; a removal (nil value) is refused the same way.
    a.set_value(Value::Nil);
    let closed = a.close().await;
    assert!(
        matches!(&closed, Response::Error(SessionError::Fenced { owner: Some(o), .. }) if o == b.unique_id()),
        "{closed:?}"
    );
    assert_eq!(a.state(), State::Closed);
    assert_eq!(rig.stored("2").await, Some(json!("from B")));
    assert_eq!(
        rig.memory.lock_holder(a.id()).as_deref(),
        Some(b.unique_id())
    );
    assert!(b.close().await.is_saved());
}

#[tokio::test(start_paused = true)]
async fn a_renewal_after_a_newer_acquisition_closes_without_saving() {
    let rig = Rig::new();
    let (server_a, server_b) = (rig.registry(), rig.other_server().0);
    let a = server_a.session("Player", None, 3);
    a.set_save_interval(secs(0)).unwrap();
    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(v(json!("from A")));
    assert!(a.save().await.is_saved());
    let seen = record_events(&a);

    // The lock lapses; B opens and closes at once without writing: nobody
    // holds the key when A's renewal comes, but a newer token exists.
    rig.memory.expire_lock(a.id());
    let b = server_b.session("Player", None, 3);
    b.set_save_on_close(false);
    assert_eq!(b.open(None).await, Response::Success);
    assert_eq!(b.close().await, Response::Success);
    a.set_value(v(json!("stale A")));
    rig.counting.reset();
    tokio::time::sleep(secs(61)).await; // A's renewal is due at 60 s
    assert_eq!(a.state(), State::Closed);
    assert_eq!(
        *seen.lock().unwrap(),
        ["AttemptsChanged 0", "StateChanged Closed"]
    );
    assert_eq!(
        rig.counting
            .count(sdm_session::backend::testing::Method::Set),
        0
    );
    assert_eq!(rig.stored("3").await, Some(json!("from A")));
    assert_eq!(
        rig.memory.lock_holder(&SessionId::new("Player", None, "3")),
        None
    );
}

/// A close without a save (SaveOnClose off) whose lock had already
/// lapsed is still a final release: a renewal under its token that was in
/// flight and lands after the close is refused, and the next server opens
/// the key at once instead of waiting out a renewed entry.
#[tokio::test(start_paused = true)]
async fn a_close_after_a_lapse_is_final_for_a_late_renewal() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 4);
    a.set_save_on_close(false);
    assert_eq!(a.open(None).await, Response::Success);
    let token = a.lock_token();
    rig.memory.expire_lock(a.id());
    assert_eq!(a.close().await, Response::Success);

    let late = rig
        .memory
        .renew(a.id(), a.unique_id(), token, secs(330))
        .await
        .unwrap();
    assert_eq!(late, RenewOutcome::Superseded { token, owner: None });
    assert_eq!(rig.memory.lock_holder(a.id()), None);
    let b = rig.other_server().0.session("Player", None, 4);
    assert_eq!(b.open(None).await, Response::Success);
    assert!(b.lock_token() > token);
}

#[tokio::test(start_paused = true)]
async fn lock_tokens_grow_with_every_open() {
    let rig = Rig::new();
    let registry = rig.registry();
    let s = registry.session("Player", None, 4);
    assert_eq!(s.lock_token(), 0, "never opened");
    let mut tokens = Vec::new();
    for _ in 0..3 {
        assert_eq!(s.open(None).await, Response::Success);
        tokens.push(s.lock_token());
        s.close().await;
        assert_eq!(s.lock_token(), *tokens.last().unwrap(), "kept after close");
    }
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
}

/// The auto-saves of one registry's sessions that come due in the same
/// tick go to the store as one batch (`Backend::save_each`), each fenced
/// on its own: the one whose lock a newer owner took is refused and
/// closed, alone; the others are saved and stay open.
#[tokio::test(start_paused = true)]
async fn a_tick_of_auto_saves_is_one_batch_and_a_fenced_one_is_refused_alone() {
    let rig = Rig::new();
    let r = sdm_session::Registry::new(rig.counting.clone());
    let sessions: Vec<_> = (0..20).map(|k| r.session("Player", None, k)).collect();
    for (k, s) in sessions.iter().enumerate() {
        // Opened at one instant of the paused clock: due together.
        assert_eq!(s.open(None).await, Response::Success);
        s.set_value(v(json!({ "Coins": k })));
    }
    // Seven stalls past its lock's expiry; another server takes the key
    // and saves.
    rig.memory.expire_lock(sessions[7].id());
    let newer = rig.other_server().0.session("Player", None, 7);
    assert_eq!(newer.open(None).await, Response::Success);
    newer.set_value(v(json!({"Coins": 700})));
    assert!(newer.save().await.is_saved());
    rig.counting.reset();
    tokio::time::sleep(secs(31)).await;
    assert_eq!(rig.counting.count(Method::Set), 20, "every auto-save");
    assert_eq!(rig.counting.save_batches(), 1, "in one batch");
    for (k, s) in sessions.iter().enumerate() {
        if k == 7 {
            assert_eq!(s.state(), State::Closed, "the fenced one closed");
            assert_eq!(rig.stored("7").await, Some(json!({"Coins": 700})));
        } else {
            assert_eq!(s.state(), State::Open, "session {k}");
            assert_eq!(
                rig.stored(&k.to_string()).await,
                Some(json!({ "Coins": k }))
            );
        }
    }
}

/// The auto-saves of unchanged values nobody watches write their last
/// write again, straight from the clock, as one batch; the one whose lock
/// another server took meanwhile is refused by the fence and closes,
/// without touching the newer owner's value; the others stay Open, their
/// Version and UpdatedTime moved by the write.
#[tokio::test(start_paused = true)]
async fn unchanged_auto_saves_rewrite_as_one_batch_and_a_fenced_one_closes_alone() {
    let rig = Rig::new();
    let r = sdm_session::Registry::new(rig.counting.clone());
    let sessions: Vec<_> = (0..10).map(|k| r.session("Player", None, k)).collect();
    for (k, s) in sessions.iter().enumerate() {
        // No renewal before the rewrites: it would find the lost lock first.
        s.set_lock_interval(secs(100)).expect("in range"); // ok: fixed input
        assert_eq!(s.open(None).await, Response::Success);
        s.set_value(v(json!({ "Coins": k })));
    }
    tokio::time::sleep(secs(31)).await; // the first auto-saves write the values
    let versions: Vec<String> = sessions.iter().map(|s| s.version()).collect();
    let updated: Vec<i64> = sessions.iter().map(|s| s.updated_time()).collect();
    rig.memory.expire_lock(sessions[3].id());
    let newer = rig.other_server().0.session("Player", None, 3);
    assert_eq!(newer.open(None).await, Response::Success);
    newer.set_value(v(json!({"Coins": 300})));
    assert!(newer.save().await.is_saved());
    rig.counting.reset();
    tokio::time::sleep(secs(30)).await; // 61 s: nothing changed since
                                        // Ten rewrites in one batch, then the fenced one's Save (refused too).
    assert_eq!(rig.counting.save_batches(), 1);
    assert_eq!(rig.counting.count(Method::Set), 11);
    for (k, s) in sessions.iter().enumerate() {
        if k == 3 {
            assert_eq!(s.state(), State::Closed);
            assert_eq!(rig.stored("3").await, Some(json!({"Coins": 300})));
            continue;
        }
        assert_eq!(s.state(), State::Open, "session {k}");
        assert_eq!(
            rig.stored(&k.to_string()).await,
            Some(json!({ "Coins": k }))
        );
        assert_ne!(s.version(), versions[k], "session {k} wrote a new version");
        assert!(s.updated_time() >= updated[k], "session {k}");
    }
}
