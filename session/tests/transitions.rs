//! The one owner of state and timers, tested where a timer fires while an
//! operation is queued or running (virtual time): the timers only ask the
//! door, so each transition happens once, in order, with its events.

mod common;

use common::{secs, v, Rig};
use sdm_session::backend::testing::Method;
use sdm_session::backend::Backend;
use sdm_session::{Response, State, StateKind};
use serde_json::json;
use std::sync::{Arc, Mutex};

fn events(s: &sdm_session::Session) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a, b, c) = (seen.clone(), seen.clone(), seen.clone());
    s.on_state_changed(move |st, _| a.lock().unwrap().push(format!("{st:?}")));
    s.on_saved(move |r, _| b.lock().unwrap().push(format!("Saved {}", r.name())));
    s.on_attempts_changed(move |n, _| c.lock().unwrap().push(format!("Attempts {n}")));
    seen
}

/// The renewal gives up (a timer asks for a Close) while a Save runs: the
/// save finishes first, then the close saves and releases, once.
#[tokio::test(start_paused = true)]
async fn close_asked_by_the_lock_timer_during_a_save() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_lock_interval(secs(10)).unwrap();
    s.set_lock_attempts(1).unwrap();
    s.set_save_interval(secs(0)).unwrap();
    s.set_save_delay(secs(10)).unwrap();
    assert_eq!(s.open(None).await, Response::Success);
    tokio::time::sleep(secs(5)).await;
    s.set_value(v(json!(1)));
    assert!(s.save().await.is_saved()); // at 5 s
    let seen = events(&s);
    tokio::time::sleep(secs(4)).await;
    rig.faulty.fail_method(Method::Renew, true);
    s.set_value(v(json!(2)));
    // At 9 s: this save waits out SaveDelay until 15 s; the renewal due at
    // 10 s fails (after its 3 tries, at 12 s), AttemptsRemaining hits 0 and
    // the timer asks for a Close.
    let saving = tokio::spawn({
        let s = s.clone();
        async move { s.save().await }
    });
    tokio::time::sleep(secs(4)).await;
    assert_eq!(s.save().await, Response::State(StateKind::Closing));
    assert!(
        saving.await.unwrap().is_saved(),
        "the running save completes"
    );
    tokio::time::sleep(secs(20)).await;
    assert_eq!(s.state(), State::Closed);
    assert_eq!(
        *seen.lock().unwrap(),
        ["Attempts 0", "Saved Saved", "Saved Saved", "Closed"]
    );
    assert_eq!(rig.stored("1").await, Some(json!(2)));
    assert_eq!(rig.memory.lock_holder(s.id()), None, "released");
}

/// The lock is lost while an Open is running (its load is slow and a newer
/// owner takes the key meanwhile): the open answers, then the first
/// renewal learns of the newer token and closes without saving.
#[tokio::test(start_paused = true)]
async fn lock_lost_during_an_open() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 2);
    s.set_lock_interval(secs(10)).unwrap();
    s.set_save_interval(secs(0)).unwrap();
    let seen = events(&s);
    rig.faulty.slow_method(Method::Get, Some(secs(20)));
    let opening = tokio::spawn({
        let s = s.clone();
        async move { s.open(None).await }
    });
    tokio::time::sleep(secs(5)).await;
    // The lock lapses and another server takes the key.
    rig.memory.expire_lock(s.id());
    let other = rig.memory.lock(s.id(), "other", secs(1000)).await.unwrap();
    assert!(matches!(
        other,
        sdm_session::backend::LockOutcome::Acquired { .. }
    ));
    rig.counting.reset();
    assert_eq!(opening.await.unwrap(), Response::Success);
    tokio::time::sleep(secs(1)).await; // the overdue renewal runs at once
    assert_eq!(s.state(), State::Closed);
    assert_eq!(
        *seen.lock().unwrap(),
        ["Attempts 5", "Open", "Attempts 0", "Closed"]
    );
    assert_eq!(rig.counting.count(Method::Set), 0, "nothing written");
    assert_eq!(rig.memory.lock_holder(s.id()).as_deref(), Some("other"));
}

/// Destroy while the queue reader waits on the store: the reader stops,
/// nothing is handed to ProcessQueue after the destroy, and values queued
/// later stay in the queue for the next owner.
#[tokio::test(start_paused = true)]
async fn destroy_during_a_queue_read() {
    let rig = Rig::new();
    let registry = rig.registry();
    let s = registry.session("Player", None, 3);
    assert_eq!(s.open(None).await, Response::Success);
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    s.on_process_queue(move |_, values, _| g.lock().unwrap().extend(values.iter().cloned()));
    s.queue(v(json!("first")), None, None).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(*got.lock().unwrap(), [v(json!("first"))]);
    tokio::time::sleep(secs(5)).await; // the reader waits on the store
    let seen = events(&s);
    assert!(s.destroy().await.is_saved());
    let sender = registry.hidden("Player", None, 3);
    sender.queue(v(json!("later")), None, None).await;
    tokio::time::sleep(secs(120)).await;
    assert_eq!(
        *got.lock().unwrap(),
        [v(json!("first"))],
        "nothing after destroy"
    );
    assert_eq!(*seen.lock().unwrap(), ["Saved Saved", "Destroyed"]);
    assert_eq!(
        rig.memory.queue_len(s.id()),
        2,
        "both stay for the next owner"
    );
}
