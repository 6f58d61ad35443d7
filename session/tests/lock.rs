//! The lock schedule and two servers on one store (paused clock).

mod common;

use common::{secs, v, Rig};
use sdm_session::backend::testing::{FaultMode, Method};
use sdm_session::{Response, State};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn lock_expiry_is_lock_interval_times_lock_attempts_plus_30_seconds() {
    let rig = Rig::new();
    let r = rig.registry();
    let s = r.session("Player", None, 1);
    s.set_lock_interval(secs(10)).unwrap();
    s.set_lock_attempts(2).unwrap();
    s.open(None).await;
    let id = s.id().clone();
    // Crash: the server goes away without releasing.
    drop(s);
    drop(r);
    tokio::time::sleep(secs(49)).await;
    assert!(rig.memory.lock_holder(&id).is_some(), "10 x 2 + 30 = 50 s");
    tokio::time::sleep(secs(1)).await;
    assert_eq!(rig.memory.lock_holder(&id), None);
}

#[tokio::test(start_paused = true)]
async fn lock_is_renewed_every_lock_interval() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    s.open(None).await;
    rig.counting.reset();
    tokio::time::sleep(secs(59)).await;
    assert_eq!(rig.counting.count(Method::Renew), 0);
    tokio::time::sleep(secs(2)).await;
    assert_eq!(rig.counting.count(Method::Renew), 1);
    tokio::time::sleep(secs(60)).await;
    assert_eq!(rig.counting.count(Method::Renew), 2);
    assert_eq!(rig.counting.total(), 2, "an idle open session only renews");
}

#[tokio::test(start_paused = true)]
async fn lock_renewal_failure_counts_down_attempts_remaining() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    s.open(None).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    s.on_attempts_changed(move |n, _| seen2.lock().unwrap().push(n));
    rig.faulty.fail_method(Method::Renew, true);
    tokio::time::sleep(secs(60 * 3 + 10)).await;
    assert_eq!(*seen.lock().unwrap(), vec![4, 3, 2]);
    assert_eq!(s.attempts_remaining(), 2);
    assert_eq!(s.state(), State::Open);
    // A successful renewal resets AttemptsRemaining to LockAttempts.
    rig.faulty.fail_method(Method::Renew, false);
    tokio::time::sleep(secs(60)).await;
    assert_eq!(s.attempts_remaining(), 5);
    assert_eq!(*seen.lock().unwrap(), vec![4, 3, 2, 5]);
}

#[tokio::test(start_paused = true)]
async fn self_close_at_zero_attempts_before_the_lock_entry_can_expire() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    let opened = Instant::now();
    s.set_value(v(json!({"Coins": 7})));
    let closed_at = Arc::new(Mutex::new(None));
    let c2 = closed_at.clone();
    s.on_state_changed(move |st, _| {
        if st == State::Closed {
            *c2.lock().unwrap() = Some(Instant::now());
        }
    });
    rig.faulty.fail_method(Method::Renew, true);
    tokio::time::sleep(secs(400)).await;
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.attempts_remaining(), 0);
    let closed = closed_at.lock().unwrap().expect("closed itself");
    // The entry taken at `opened` expires at 60 x 5 + 30 = 330 s.
    assert!(
        closed - opened < secs(330),
        "closed after {:?}",
        closed - opened
    );
    // It saved (SaveOnClose) and released.
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 7})));
    assert_eq!(rig.memory.lock_holder(s.id()), None);
}

#[tokio::test(start_paused = true)]
async fn renewal_that_finds_another_owner_closes_without_saving() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    s.open(None).await;
    s.set_value(v(json!(1)));
    use sdm_session::backend::Backend;
    rig.memory.unlock(s.id(), s.unique_id()).await.unwrap();
    rig.memory.lock(s.id(), "other", secs(1000)).await.unwrap();
    rig.counting.reset();
    tokio::time::sleep(secs(61)).await;
    assert_eq!(s.state(), State::Closed);
    assert_eq!(rig.counting.count(Method::Set), 0);
    assert_eq!(rig.memory.lock_holder(s.id()).as_deref(), Some("other"));
}

#[tokio::test(start_paused = true)]
async fn hanging_store_times_out_and_counts_as_a_failed_renewal() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    s.open(None).await;
    rig.faulty
        .set_mode(FaultMode::Hang(Duration::from_secs(3600)));
    tokio::time::sleep(secs(61 + 20)).await;
    assert_eq!(s.attempts_remaining(), 4);
}

#[tokio::test(start_paused = true)]
async fn second_server_gets_locked_then_opens_after_the_first_closes() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 100})));
    let (server_b, _) = rig.other_server();
    let b = server_b.session("Player", None, 1);
    assert_eq!(
        b.open(None).await,
        Response::Locked(a.unique_id().to_owned())
    );
    assert!(a.close().await.is_saved());
    assert_eq!(b.open(None).await, Response::Success);
    assert_eq!(b.clone_value(), v(json!({"Coins": 100})));
    // And now the first is the one locked out.
    assert_eq!(
        a.open(None).await,
        Response::Locked(b.unique_id().to_owned())
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_crash_the_second_server_opens_only_once_the_lock_expired() {
    let rig = Rig::new();
    let server_a = rig.registry();
    let a = server_a.session("Player", None, 1);
    a.open(None).await;
    let a_id = a.unique_id().to_owned();
    let started = Instant::now();
    // Crash: every handle dropped, nothing released, no more renewals.
    drop(a);
    drop(server_a);
    let (server_b, _) = rig.other_server();
    let b = server_b.session("Player", None, 1);
    loop {
        match b.open(None).await {
            Response::Success => break,
            Response::Locked(owner) => {
                assert_eq!(owner, a_id);
                tokio::time::sleep(secs(6)).await;
            }
            other => panic!("{other:?}"),
        }
    }
    let waited = started.elapsed();
    assert!(
        waited >= secs(330) && waited < secs(340),
        "opened after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn disconnected_server_closes_itself_and_the_other_opens_after_expiry_with_nothing_lost() {
    let rig = Rig::new();
    let (server_a, faulty_a) = rig.other_server();
    let a = server_a.session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 5})));
    assert!(a.save().await.is_saved());
    a.with_value(|v| v.as_table_mut().map(|t| t.insert("Coins", 6)));
    faulty_a.disconnect(true);
    let (server_b, _) = rig.other_server();
    let b = server_b.session("Player", None, 1);
    tokio::time::sleep(secs(310)).await;
    assert_eq!(a.state(), State::Closed, "closed itself at zero attempts");
    assert!(
        matches!(b.open(None).await, Response::Locked(_)),
        "the entry has not expired yet"
    );
    tokio::time::sleep(secs(25)).await;
    assert_eq!(b.open(None).await, Response::Success);
    // The last saved value is there; the unsaved change is still in A's memory.
    assert_eq!(b.clone_value(), v(json!({"Coins": 5})));
    assert_eq!(a.value()["Coins"].as_f64(), Some(6.0));
    // A reconnects, re-opens later (after B leaves) and saves its change: nothing lost.
    faulty_a.disconnect(false);
    b.close().await;
    let kept = a.clone_value();
    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(kept);
    assert!(a.save().await.is_saved());
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 6})));
}
