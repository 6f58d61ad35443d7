//! The rules of the session spec, one test each (all timers on tokio's paused clock).

mod common;

use common::{paused_runtime, secs, v, Rig};
use sdm_session::backend::testing::Method;
use sdm_session::{Response, SessionError, State, StateKind, Value};
use serde_json::json;
use std::sync::{Arc, Mutex};

// ---- constructors and the registry ----

#[tokio::test(start_paused = true)]
async fn new_returns_the_same_session_to_every_caller() {
    let rig = Rig::new();
    let r = rig.registry();
    let a = r.session("Player", None, 1);
    let b = r.session("Player", Some("global"), "1");
    assert_eq!(a, b);
    assert_eq!(a.unique_id(), b.unique_id());
    assert_eq!(r.find("Player", None, 1), Some(a.clone()));
    assert_ne!(r.session("Player", Some("other"), 1), a);
}

#[tokio::test(start_paused = true)]
async fn hidden_sessions_are_never_returned_by_new_or_find() {
    let r = Rig::new().registry();
    let h = r.hidden("Player", None, 1);
    assert!(h.hidden());
    assert_eq!(r.find("Player", None, 1), None);
    let n = r.session("Player", None, 1);
    assert_ne!(n, h);
    assert!(!n.hidden());
}

#[tokio::test(start_paused = true)]
async fn id_is_name_scope_key_and_unique_id_is_a_guid() {
    let r = Rig::new().registry();
    let s = r.session("Player", None, 42);
    assert_eq!(s.id().to_string(), "Player/global/42");
    assert_eq!(s.key(), "42");
    let parts: Vec<usize> = s.unique_id().split('-').map(str::len).collect();
    assert_eq!(parts, vec![8, 4, 4, 4, 12]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(
        (s.attempts_remaining(), s.created_time(), s.updated_time()),
        (0, 0, 0)
    );
    assert_eq!(
        (s.version(), s.compressed_value()),
        (String::new(), String::new())
    );
}

#[tokio::test(start_paused = true)]
async fn destroy_removes_from_the_registry_and_new_makes_a_fresh_one() {
    let r = Rig::new().registry();
    let s = r.session("Player", None, 1);
    assert_eq!(s.open(None).await, Response::Success);
    assert!(s.destroy().await.is_saved());
    assert_eq!(r.find("Player", None, 1), None);
    let fresh = r.session("Player", None, 1);
    assert_ne!(fresh, s);
    assert_eq!(fresh.open(None).await, Response::Success);
}

#[tokio::test(start_paused = true)]
async fn shutdown_destroys_every_live_session_and_waits_for_the_saves() {
    let rig = Rig::new();
    let r = rig.registry();
    for k in 0..5 {
        let s = r.session("Player", None, k);
        s.open(None).await;
        s.set_value(Value::from(k as i64 * 10));
    }
    let hidden = r.hidden("Player", None, 99);
    hidden.open(None).await;
    hidden.set_value(Value::from("h"));
    r.shutdown().await;
    for k in 0..5 {
        assert_eq!(rig.stored(&k.to_string()).await, Some(json!(k * 10)));
        assert_eq!(
            rig.memory
                .lock_holder(&sdm_session::backend::SessionId::new(
                    "Player",
                    None,
                    k.to_string()
                )),
            None
        );
    }
    assert_eq!(rig.stored("99").await, Some(json!("h")));
    assert_eq!(hidden.state(), State::Destroyed);
    assert!(r.is_empty());
    // New sessions made after shutdown has begun are not tracked.
    let late = r.session("Player", None, 1);
    assert_eq!(r.find("Player", None, 1), None);
    assert_eq!(late.state(), State::Closed);
}

// ---- Open ----

#[tokio::test(start_paused = true)]
async fn open_takes_the_lock_loads_and_fires_state_changed() {
    let rig = Rig::new();
    let r = rig.registry();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = r.session("Player", None, 1);
    let seen2 = seen.clone();
    s.on_state_changed(move |st, _| seen2.lock().unwrap().push(st));
    assert_eq!(
        s.open(Some(v(json!({"Coins": 0})))).await,
        Response::Success
    );
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.attempts_remaining(), 5);
    assert_eq!(
        rig.memory.lock_holder(s.id()).as_deref(),
        Some(s.unique_id())
    );
    assert_eq!(s.clone_value(), v(json!({"Coins": 0})));
    assert_eq!(*seen.lock().unwrap(), vec![State::Open]);
}

#[tokio::test(start_paused = true)]
async fn open_on_a_destroyed_session_answers_state_destroyed() {
    let r = Rig::new().registry();
    let s = r.session("Player", None, 1);
    s.destroy().await;
    assert_eq!(s.open(None).await, Response::State(StateKind::Destroyed));
}

#[tokio::test(start_paused = true)]
async fn open_with_a_destroy_queued_answers_destroying() {
    let rig = Rig::new();
    let r = rig.registry();
    let s = r.session("Player", None, 1);
    s.open(None).await;
    s.set_save_delay(secs(5)).unwrap();
    s.save().await; // sets the last save time: the next save waits 5 s
    let d = tokio::spawn({
        let s = s.clone();
        async move { s.destroy().await }
    });
    tokio::task::yield_now().await;
    assert_eq!(s.open(None).await, Response::State(StateKind::Destroying));
    assert_eq!(s.save().await, Response::State(StateKind::Destroying));
    assert!(d.await.unwrap().is_saved());
}

/// A Destroy of an open session reads Destroyed from its start: by the
/// time its save releases the lock another server may own the key, and
/// two sessions must never read Open for one key at once.
#[tokio::test(start_paused = true)]
async fn a_running_destroy_reads_destroyed_before_it_releases_the_lock() {
    let rig = Rig::new();
    let r = rig.registry();
    let s = r.session("Player", None, 1);
    s.open(None).await;
    s.set_save_delay(secs(5)).unwrap();
    s.save().await; // the Destroy's save waits 5 s
    let d = tokio::spawn({
        let s = s.clone();
        async move { s.destroy().await }
    });
    tokio::task::yield_now().await;
    assert_eq!(s.state(), State::Destroyed);
    // The rules still answer as for a Destroy under way.
    assert_eq!(s.save().await, Response::State(StateKind::Destroying));
    let other = rig.registry().session("Player", None, 1);
    assert!(matches!(other.open(None).await, Response::Locked(_)));
    assert!(d.await.unwrap().is_saved());
    assert_eq!(s.state(), State::Destroyed);
    assert_eq!(other.open(None).await, Response::Success);
}

#[tokio::test(start_paused = true)]
async fn open_when_already_open_applies_the_template_and_succeeds() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    rig.counting.reset();
    assert_eq!(
        s.open(Some(v(json!({"Level": 1})))).await,
        Response::Success
    );
    assert_eq!(s.clone_value(), v(json!({"Level": 1})));
    assert_eq!(rig.counting.total(), 0);
}

#[tokio::test(start_paused = true)]
async fn open_joins_a_queued_open_one_lock_and_one_load_for_100_callers() {
    let rig = Rig::new();
    let r = rig.registry();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..100 {
        let s = r.session("Player", None, 7);
        set.spawn(async move { s.open(Some(v(json!({ format!("k{i}"): i })))).await });
    }
    while let Some(res) = set.join_next().await {
        assert_eq!(res.unwrap(), Response::Success);
    }
    assert_eq!(rig.counting.count(Method::Lock), 1);
    assert_eq!(rig.counting.count(Method::Get), 1);
    // Every waiter's template was applied.
    let value = r.session("Player", None, 7).clone_value();
    assert_eq!(value.as_table().unwrap().len(), 100);
}

#[tokio::test(start_paused = true)]
async fn open_locked_by_another_server_answers_locked_with_its_unique_id() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    let (server_b, _) = rig.other_server();
    let b = server_b.session("Player", None, 1);
    assert!(matches!(b.open(None).await, Response::Locked(h) if h == a.unique_id()));
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn open_that_fails_to_load_releases_the_lock_and_answers_error() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    rig.faulty.fail_method(Method::Get, true);
    let r = s.open(None).await;
    assert!(
        matches!(
            r,
            Response::Error(SessionError::Backend {
                operation: "get",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(s.state(), State::Closed);
    assert_eq!(rig.memory.lock_holder(s.id()), None);
}

#[tokio::test(start_paused = true)]
async fn open_with_a_lock_error_answers_error() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    rig.faulty.fail_all(true);
    assert!(matches!(
        s.open(None).await,
        Response::Error(SessionError::Backend {
            operation: "lock",
            ..
        })
    ));
    assert_eq!(rig.faulty.injected_failures(), 3, "tried 3 times");
}

// ---- Template and reconcile ----

#[tokio::test(start_paused = true)]
async fn template_fills_missing_keys_and_skips_integer_keys() {
    let rig = Rig::new();
    let r = rig.registry();
    let s = r.session("Player", None, 1);
    s.open(None).await;
    s.set_value(v(json!({"Coins": 50, "Inventory": ["Axe"]})));
    s.close().await;
    s.open(Some(v(
        json!({"Coins": 0, "Level": 1, "Inventory": ["Starter"], "Stats": {"Wins": 0}}),
    )))
    .await;
    assert_eq!(
        s.clone_value(),
        v(json!({"Coins": 50, "Inventory": ["Axe"], "Level": 1, "Stats": {"Wins": 0}}))
    );
    s.reconcile(&v(json!({"Extra": true})));
    assert_eq!(s.value()["Extra"], Value::Bool(true));
}

// ---- Read ----

#[tokio::test(start_paused = true)]
async fn read_loads_without_the_lock_and_applies_the_template() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 3})));
    a.save().await;
    let (b, _) = rig.other_server();
    let b = b.session("Player", None, 1);
    assert_eq!(
        b.read(Some(v(json!({"Level": 0})))).await,
        Response::Success
    );
    assert_eq!(b.clone_value(), v(json!({"Coins": 3, "Level": 0})));
    assert_eq!(
        rig.memory.lock_holder(b.id()).as_deref(),
        Some(a.unique_id())
    );
    assert_eq!(b.version(), a.version());
}

#[tokio::test(start_paused = true)]
async fn read_on_an_open_session_answers_state_open() {
    let s = Rig::new().registry().session("Player", None, 1);
    s.open(None).await;
    assert_eq!(s.read(None).await, Response::State(StateKind::Open));
}

#[tokio::test(start_paused = true)]
async fn read_joins_a_queued_read() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let s = s.clone();
        set.spawn(async move { s.read(None).await });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap(), Response::Success);
    }
    assert_eq!(rig.counting.count(Method::Get), 1);
}

// ---- Save ----

#[tokio::test(start_paused = true)]
async fn save_on_closed_or_destroyed_answers_state() {
    let s = Rig::new().registry().session("Player", None, 1);
    assert_eq!(s.save().await, Response::State(StateKind::Closed));
    s.destroy().await;
    assert_eq!(s.save().await, Response::State(StateKind::Destroyed));
}

#[tokio::test(start_paused = true)]
async fn save_writes_the_value_and_updates_times_and_version() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(v(json!({"Coins": 10})));
    s.set_user_ids(vec![1]);
    assert_eq!(s.save().await, Response::Saved(v(json!({"Coins": 10}))));
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 10})));
    assert!(s.created_time() > 0 && s.updated_time() >= s.created_time());
    let v1 = s.version();
    assert!(!v1.is_empty());
    s.save().await;
    assert_ne!(s.version(), v1, "the version changes on every write");
}

#[tokio::test(start_paused = true)]
async fn save_joins_a_queued_save() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    rig.counting.reset();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let s = s.clone();
        set.spawn(async move { s.save().await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().is_saved());
    }
    assert_eq!(rig.counting.count(Method::Set), 1);
}

#[tokio::test(start_paused = true)]
async fn save_that_started_does_not_absorb_later_saves() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_save_delay(secs(5)).unwrap();
    s.set_value(Value::from(1));
    s.save().await;
    rig.counting.reset();
    let first = tokio::spawn({
        let s = s.clone();
        async move { s.save().await }
    });
    // Let the first save start (it now waits out SaveDelay).
    tokio::time::sleep(secs(1)).await;
    s.set_value(Value::from(2));
    let (b, c) = tokio::join!(s.save(), s.save());
    // The started save writes what the value holds when it writes.
    assert!(first.await.unwrap().is_saved());
    assert_eq!(b, Response::Saved(Value::from(2)));
    assert_eq!(b, c);
    assert_eq!(
        rig.counting.count(Method::Set),
        2,
        "the started save, then one shared save"
    );
    assert_eq!(rig.stored("1").await, Some(json!(2)));
}

#[tokio::test(start_paused = true)]
async fn save_delay_is_the_least_time_between_two_saves() {
    let s = Rig::new().registry().session("Player", None, 1);
    s.open(None).await;
    s.set_save_delay(secs(7)).unwrap();
    s.save().await;
    let start = tokio::time::Instant::now();
    s.save().await;
    assert_eq!(start.elapsed(), secs(7));
}

#[tokio::test(start_paused = true)]
async fn save_with_a_close_queued_answers_closing() {
    let s = Rig::new().registry().session("Player", None, 1);
    s.open(None).await;
    s.set_save_delay(secs(3)).unwrap();
    s.save().await;
    let running = tokio::spawn({
        let s = s.clone();
        async move { s.save().await }
    });
    tokio::task::yield_now().await;
    let c = tokio::spawn({
        let s = s.clone();
        async move { s.close().await }
    });
    tokio::task::yield_now().await;
    assert_eq!(s.save().await, Response::State(StateKind::Closing));
    assert!(running.await.unwrap().is_saved());
    assert!(c.await.unwrap().is_saved());
}

#[tokio::test(start_paused = true)]
async fn saving_and_saved_fire_around_every_attempt() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let l1 = log.clone();
    s.on_saving(move |v, _| l1.lock().unwrap().push(format!("saving {:?}", v.as_f64())));
    let l2 = log.clone();
    s.on_saved(move |r, _| l2.lock().unwrap().push(format!("saved {}", r.name())));
    s.set_value(Value::from(5));
    s.save().await;
    rig.faulty.fail_method(Method::Set, true);
    assert!(matches!(s.save().await, Response::Error(_)));
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "saving Some(5.0)",
            "saved Saved",
            "saving Some(5.0)",
            "saved Error"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn nil_value_removes_the_key_and_resets_metadata_user_ids_times_and_version() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(Value::from(1));
    s.with_metadata(|m| m.insert("Tag".into(), json!("x")));
    s.set_user_ids(vec![1]);
    s.save().await;
    assert!(rig.stored("1").await.is_some());
    s.set_value(Value::Nil);
    assert_eq!(s.save().await, Response::Saved(Value::Nil));
    assert_eq!(rig.stored("1").await, None);
    assert!(s.metadata().is_empty());
    assert!(s.user_ids().is_empty());
    assert_eq!(
        (s.created_time(), s.updated_time(), s.version()),
        (0, 0, String::new())
    );
}

#[tokio::test(start_paused = true)]
async fn a_value_that_cannot_be_written_gives_error_and_keeps_the_stored_data() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(v(json!({"Coins": 1})));
    s.save().await;
    s.with_value(|v| v.as_table_mut().map(|t| t.insert("Speed", f64::NAN)));
    let r = s.save().await;
    match &r {
        Response::Error(SessionError::Unwritable { message, .. }) => {
            assert!(message.contains("Speed"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 1})));
    assert!(
        s.value()["Speed"].as_f64().is_some_and(f64::is_nan),
        "the value is kept"
    );
    // A table with a non-string key beside others cannot be written as JSON either.
    s.with_value(|v| {
        let t = v.as_table_mut().unwrap();
        t.insert("Speed", 1);
        t.insert(true, 1);
    });
    assert!(matches!(
        s.save().await,
        Response::Error(SessionError::Unwritable { .. })
    ));
    assert!(s.usage().is_err());
}

#[tokio::test(start_paused = true)]
async fn failing_saves_report_error_keep_the_value_and_nothing_is_lost_after_recovery() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(v(json!({"Coins": 1})));
    rig.faulty.fail_method(Method::Set, true);
    assert!(matches!(
        s.save().await,
        Response::Error(SessionError::Backend {
            operation: "set",
            ..
        })
    ));
    assert_eq!(s.clone_value(), v(json!({"Coins": 1})));
    assert_eq!(rig.stored("1").await, None);
    rig.faulty.heal();
    assert!(s.save().await.is_saved());
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 1})));
}

#[tokio::test(start_paused = true)]
async fn fenced_save_reports_the_owner_and_closes_without_another_save() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    use sdm_session::backend::Backend;
    // Another server took the key (say our lock expired while the network was down).
    rig.memory.unlock(s.id(), s.unique_id()).await.unwrap();
    rig.memory
        .lock(s.id(), "intruder", secs(100))
        .await
        .unwrap();
    rig.counting.reset();
    let r = s.save().await;
    assert_eq!(
        r,
        Response::Error(SessionError::Fenced {
            id: "Player/global/1".into(),
            token: s.lock_token() + 1,
            ours: s.lock_token(),
            owner: Some("intruder".into())
        })
    );
    assert_eq!(s.state(), State::Closed);
    assert_eq!(rig.counting.count(Method::Set), 1);
    assert_eq!(rig.memory.lock_holder(s.id()).as_deref(), Some("intruder"));
}

// ---- Close and Destroy ----

#[tokio::test(start_paused = true)]
async fn close_saves_and_releases_in_one_round_trip() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(Value::from("bye"));
    rig.counting.reset();
    let states = Arc::new(Mutex::new(Vec::new()));
    let st = states.clone();
    s.on_state_changed(move |x, _| st.lock().unwrap().push(x));
    assert_eq!(s.close().await, Response::Saved(Value::from("bye")));
    assert_eq!(rig.counting.total(), 1);
    assert_eq!(rig.memory.lock_holder(s.id()), None);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(*states.lock().unwrap(), vec![State::Closed]);
}

#[tokio::test(start_paused = true)]
async fn close_without_save_on_close_only_releases() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_save_on_close(false);
    s.set_value(Value::from("unsaved"));
    rig.counting.reset();
    assert_eq!(s.close().await, Response::Success);
    assert_eq!(rig.counting.count(Method::Unlock), 1);
    assert_eq!(rig.counting.total(), 1);
    assert_eq!(rig.stored("1").await, None);
}

#[tokio::test(start_paused = true)]
async fn close_on_a_closed_session_answers_success_and_concurrent_closes_join() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    assert_eq!(s.close().await, Response::Success);
    s.open(None).await;
    rig.counting.reset();
    let (a, b) = tokio::join!(s.close(), s.close());
    assert!(a.is_saved());
    assert_eq!(a, b);
    assert_eq!(rig.counting.total(), 1);
}

#[tokio::test(start_paused = true)]
async fn destroy_saves_releases_fires_destroyed_and_disconnects_every_listener() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    let states = Arc::new(Mutex::new(Vec::new()));
    let st = states.clone();
    let conn = s.on_state_changed(move |x, _| st.lock().unwrap().push(x));
    let saved = s.on_saved(|_, _| {});
    s.set_value(Value::from(9));
    assert_eq!(s.destroy().await, Response::Saved(Value::from(9)));
    assert_eq!(s.state(), State::Destroyed);
    assert_eq!(*states.lock().unwrap(), vec![State::Destroyed]);
    assert!(!conn.is_connected() && !saved.is_connected());
    assert_eq!(rig.memory.lock_holder(s.id()), None);
    assert_eq!(s.destroy().await, Response::Success);
    assert_eq!(s.close().await, Response::Success);
}

#[tokio::test(start_paused = true)]
async fn a_destroyed_session_never_opens_again() {
    let s = Rig::new().registry().session("Player", None, 1);
    s.open(None).await;
    s.destroy().await;
    assert_eq!(s.open(None).await, Response::State(StateKind::Destroyed));
    assert_eq!(s.read(None).await, Response::State(StateKind::Destroyed));
    assert_eq!(s.state(), State::Destroyed);
}

// ---- Auto-save ----

#[tokio::test(start_paused = true)]
async fn auto_save_runs_every_save_interval() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(Value::from(1));
    rig.counting.reset();
    tokio::time::sleep(secs(29)).await;
    assert_eq!(rig.counting.count(Method::Set), 0);
    tokio::time::sleep(secs(2)).await;
    assert_eq!(rig.counting.count(Method::Set), 1);
    assert_eq!(rig.stored("1").await, Some(json!(1)));
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Set), 2);
}

#[tokio::test(start_paused = true)]
async fn auto_save_timer_restarts_after_every_save() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    tokio::time::sleep(secs(20)).await;
    s.save().await;
    rig.counting.reset();
    tokio::time::sleep(secs(29)).await; // 49 s: the old schedule would have saved at 30 s
    assert_eq!(rig.counting.count(Method::Set), 0);
    tokio::time::sleep(secs(2)).await; // 51 s: 30 s after the manual save
    assert_eq!(rig.counting.count(Method::Set), 1);
}

/// The auto-save timer follows every save (explicit or automatic) without
/// tasks piling up, and closing the session ends it.
#[tokio::test(start_paused = true)]
async fn auto_save_timer_follows_every_save_and_ends_with_the_session() {
    let rig = Rig::new();
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let s = rig.registry().session("Player", None, 1);
    // No lock renewal within the test (its batching is a task of its own).
    s.set_lock_interval(secs(1000)).unwrap();
    let before = alive();
    s.open(None).await;
    // The first save starts the registry's save batcher (a task of its
    // own, as the renewal one).
    assert!(s.save().await.is_saved());
    let open = alive();
    assert!(open > before, "the timers run");
    rig.counting.reset();
    for round in 1..=5 {
        s.set_value(Value::from(round));
        tokio::time::sleep(secs(10)).await;
        assert!(s.save().await.is_saved());
        tokio::time::sleep(secs(31)).await; // 30 s after that save: an auto-save
        assert_eq!(rig.counting.count(Method::Set), 2 * round as u64);
        assert_eq!(alive(), open, "round {round}: no task added");
    }
    assert!(s.close().await.is_saved());
    // The clocks' tasks end once the deadlines the session left (now
    // ignored) have passed.
    tokio::time::sleep(secs(1001)).await;
    tokio::task::yield_now().await;
    assert_eq!(
        rig.counting.count(Method::Set),
        11,
        "no auto-save after close"
    );
    assert!(alive() < open, "closing ends the timers");
}

/// The auto-saves and lock renewals of every session of a registry run on
/// two clocks: opening 40 sessions adds no task per session; each one
/// still saves at its own SaveInterval (the ones opened 5 s later, 5 s
/// later) and renews at its own LockInterval; one whose SaveInterval
/// shrinks saves at the earlier deadline; a session dropped without
/// closing leaves nothing running.
#[tokio::test(start_paused = true)]
async fn auto_saves_of_every_session_run_on_one_clock_at_each_ones_own_time() {
    let rig = Rig::new();
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let r = rig.registry();
    let open = |k: i64| r.session("Player", None, k);
    let first = open(0);
    first.open(None).await;
    let before = alive();
    let mut sessions = vec![first];
    for k in 1..20 {
        let s = open(k);
        s.open(None).await;
        sessions.push(s);
    }
    tokio::time::sleep(secs(5)).await;
    for k in 20..40 {
        let s = open(k);
        s.open(None).await;
        sessions.push(s);
    }
    // No task for any session opened since.
    assert_eq!(alive(), before);
    rig.counting.reset();
    tokio::time::sleep(secs(26)).await; // 31 s after the first 20 opened
    assert_eq!(rig.counting.count(Method::Set), 20);
    tokio::time::sleep(secs(5)).await; // 31 s after the other 20
    assert_eq!(rig.counting.count(Method::Set), 40);
    // 36 s: SaveInterval 10 s from now on for one session.
    sessions[39].set_save_interval(secs(10)).unwrap();
    tokio::time::sleep(secs(11)).await; // 47 s: its save is due at 46 s
    assert_eq!(rig.counting.count(Method::Set), 41);
    tokio::time::sleep(secs(14)).await; // 61 s: the first 20 renewed at 60 s
    assert_eq!(rig.counting.count(Method::Renew), 20);
    tokio::time::sleep(secs(5)).await; // 66 s: the other 20 at 65 s
    assert_eq!(rig.counting.count(Method::Renew), 40);
    // The first auto-saves started the registry's save batcher.
    assert_eq!(alive(), before + 1, "still no task per session");
    // Dropped without closing: both clocks end after the last deadline
    // (it finds the sessions gone).
    drop(sessions);
    drop(r);
    tokio::time::sleep(secs(1000)).await;
    tokio::task::yield_now().await;
    assert!(alive() < before, "{} tasks alive, {before} before", alive());
}

/// The registry's auto-save clock runs on the runtime of the session that
/// started it; when that runtime shuts down, the next deadline starts it
/// again on the runtime it is set from.
#[test]
fn the_auto_save_clock_starts_again_after_its_runtime_shut_down() {
    let rig = Rig::new();
    let r = rig.registry();
    let first = paused_runtime();
    let a = r.session("Player", None, 1);
    first.block_on(async {
        a.open(None).await;
        a.set_value(v(json!(1)));
    });
    drop(first);
    paused_runtime().block_on(async {
        let b = r.session("Player", None, 2);
        b.set_lock_interval(secs(1000)).unwrap();
        b.open(None).await;
        b.set_value(v(json!(2)));
        tokio::time::sleep(secs(31)).await;
        assert_eq!(rig.stored("2").await, Some(json!(2)));
    });
}

/// Both clocks of a registry ran on a runtime that shut down while a
/// session on another runtime stays open: a save there starts the
/// auto-save clock again, and that brings the lock renewal clock back too,
/// so the session renews on schedule.
#[test]
fn a_save_brings_both_clocks_back_after_their_runtime_shut_down() {
    let rig = Rig::new();
    let r = rig.registry();
    let first = paused_runtime();
    let a = r.session("Player", None, 1);
    first.block_on(async {
        a.open(None).await;
    });
    let second = paused_runtime();
    let b = r.session("Player", None, 2);
    second.block_on(async {
        b.open(None).await;
    });
    // The clocks ran on the first runtime.
    drop(first);
    second.block_on(async {
        b.set_value(v(json!(2)));
        assert!(b.save().await.is_saved());
        rig.counting.reset();
        tokio::time::sleep(secs(61)).await;
        // b renewed, and so did a (still open, its runtime gone).
        assert_eq!(rig.counting.count(Method::Renew), 2);
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.attempts_remaining(), 5);
    });
}

/// An unchanged auto-save nobody watches writes the last write again (the
/// module writes every SaveInterval, changed or not): every SaveInterval a
/// write, the same value stored, a new Version. A change is written by the
/// next one; a trade's values are never overwritten by a rewrite of what
/// was written before it; a rewrite the store fails is saved again through
/// the Save's retries, and nothing is lost.
#[tokio::test(start_paused = true)]
async fn unchanged_auto_saves_write_the_value_again_and_never_undo_a_change() {
    let rig = Rig::new();
    let r = rig.registry();
    let (a, b) = (r.session("Player", None, 1), r.session("Player", None, 2));
    for (s, coins) in [(&a, 100), (&b, 0)] {
        s.set_lock_interval(secs(1000)).unwrap();
        s.open(None).await;
        s.set_value(v(json!({ "Coins": coins })));
    }
    tokio::time::sleep(secs(31)).await; // 31 s: the values written
    rig.counting.reset();
    let mut versions = vec![a.version()];
    for round in 1..=3 {
        tokio::time::sleep(secs(30)).await;
        assert_eq!(rig.counting.count(Method::Set), 2 * round, "round {round}");
        assert_eq!(rig.stored("1").await, Some(json!({"Coins": 100})));
        assert!(
            !versions.contains(&a.version()),
            "round {round}: a new version"
        );
        versions.push(a.version());
    }
    // A trade, then the auto-saves: the traded values stay.
    let traded = r
        .trade(&[&a, &b], |values| {
            values[0] = v(json!({"Coins": 60}));
            values[1] = v(json!({"Coins": 40}));
            true
        })
        .await;
    assert_eq!(traded, Response::Success);
    for _ in 0..2 {
        tokio::time::sleep(secs(30)).await;
        assert_eq!(rig.stored("1").await, Some(json!({"Coins": 60})));
        assert_eq!(rig.stored("2").await, Some(json!({"Coins": 40})));
    }
    // A change between two auto-saves is written by the next one.
    a.set_value(v(json!({"Coins": 61})));
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 61})));
    // The store fails the rewrites (and the first try of the Saves they
    // hand over to): saved again by the Saves' retries, nothing lost.
    // Right after an auto-save (the next is due 30 s later):
    let last = a.version();
    while a.version() == last {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let before = (a.version(), b.version());
    tokio::time::sleep(std::time::Duration::from_millis(29_500)).await;
    rig.faulty.fail_method(Method::Set, true);
    tokio::time::sleep(secs(1)).await;
    assert_eq!((a.version(), b.version()), before, "nothing written yet");
    rig.faulty.fail_method(Method::Set, false);
    tokio::time::sleep(secs(3)).await;
    assert_ne!(a.version(), before.0);
    assert_ne!(b.version(), before.1);
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 61})));
    assert_eq!(rig.stored("2").await, Some(json!({"Coins": 40})));
    assert_eq!((a.state(), b.state()), (State::Open, State::Open));
}

/// An auto-save nobody watches (no caller waiting, no Saved listener)
/// encodes the live value without copying it first. It still writes the
/// value as it was when the save began; a Saved listener connected while
/// it writes hears the value as it is when Saved fires (as the module
/// passes its live value); a caller's save answers with the value it saved.
#[tokio::test(start_paused = true)]
async fn an_auto_save_nobody_watches_writes_the_value_and_answers_late_listeners() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(v(json!({"Coins": 1})));
    tokio::time::sleep(secs(31)).await; // 31 s: the first auto-save
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 1})));
    rig.faulty.slow_method(Method::Set, Some(secs(5)));
    s.set_value(v(json!({"Coins": 2})));
    tokio::time::sleep(secs(31)).await; // 62 s: the next one writes, slowly
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    s.on_saved(move |r, _| h.lock().unwrap().push(r.clone()));
    s.set_value(v(json!({"Coins": 3})));
    tokio::time::sleep(secs(5)).await; // 67 s: written
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 2})));
    assert_eq!(
        *heard.lock().unwrap(),
        vec![Response::Saved(v(json!({"Coins": 3})))]
    );
    rig.faulty.slow_method(Method::Set, None);
    assert_eq!(s.save().await, Response::Saved(v(json!({"Coins": 3}))));
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 3})));
}

/// SkipUnchangedAutosaves (off by default): an auto-save with nothing to
/// write makes no store call but still fires Saving and Saved; a change, a
/// metadata change or a caller's Save writes.
#[tokio::test(start_paused = true)]
async fn skip_unchanged_autosaves_writes_only_what_changed() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    assert!(!s.skip_unchanged_autosaves(), "off by default");
    s.set_skip_unchanged_autosaves(true);
    s.open(None).await;
    s.set_value(Value::from(1));
    let saved = Arc::new(Mutex::new(0));
    let heard = saved.clone();
    s.on_saved(move |r, _| {
        assert!(r.is_saved(), "{r:?}");
        *heard.lock().unwrap() += 1;
    });
    // The first auto-save after the open writes (the value is new).
    rig.counting.reset();
    tokio::time::sleep(secs(31)).await;
    assert_eq!(rig.counting.count(Method::Set), 1);
    // Unchanged: no store call, Saved still fires.
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Set), 1);
    assert_eq!(*saved.lock().unwrap(), 2);
    // A change is written by the next auto-save.
    s.set_value(Value::from(7));
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Set), 2);
    assert_eq!(rig.stored("1").await, Some(json!(7)));
    // So is a metadata change.
    let mut metadata = serde_json::Map::new();
    metadata.insert("Tag".into(), json!(1));
    s.set_metadata(metadata);
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Set), 3);
    // And one made in place.
    s.with_metadata(|m| m.insert("Tag".into(), json!(2)));
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Set), 4);
    // Reading a copy is no change.
    let _ = s.clone_value();
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Set), 4);
    // A caller's Save always writes.
    assert!(s.save().await.is_saved());
    assert_eq!(rig.counting.count(Method::Set), 5);
    assert_eq!(*saved.lock().unwrap(), 7);
}

/// With nobody listening, an unchanged auto-save is settled by the timer
/// itself (no operation runs), and the timer keeps its SaveInterval
/// schedule: a change is written by the next firing, a listener connected
/// later hears the next one.
#[tokio::test(start_paused = true)]
async fn skip_unchanged_autosaves_without_listeners_keeps_the_schedule() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_skip_unchanged_autosaves(true);
    s.open(None).await;
    s.set_value(Value::from(1));
    rig.counting.reset();
    tokio::time::sleep(secs(31)).await; // 31 s: the first auto-save writes
    assert_eq!(rig.counting.count(Method::Set), 1);
    tokio::time::sleep(secs(90)).await; // 121 s: three quiet firings
    assert_eq!(rig.counting.count(Method::Set), 1);
    s.set_value(Value::from(2));
    tokio::time::sleep(secs(28)).await; // 149 s: not due yet
    assert_eq!(rig.counting.count(Method::Set), 1);
    tokio::time::sleep(secs(2)).await; // 151 s: due at 150 s
    assert_eq!(rig.counting.count(Method::Set), 2);
    assert_eq!(rig.stored("1").await, Some(json!(2)));
    let heard = Arc::new(Mutex::new(0));
    let h = heard.clone();
    s.on_saving(move |_, _| *h.lock().unwrap() += 1);
    tokio::time::sleep(secs(30)).await; // 181 s: heard, nothing written
    assert_eq!(*heard.lock().unwrap(), 1);
    assert_eq!(rig.counting.count(Method::Set), 2);
    assert!(s.close().await.is_saved(), "a close still saves");
    assert_eq!(rig.counting.count(Method::Set), 3);
}

/// A write that fails leaves the change to the next auto-save.
#[tokio::test(start_paused = true)]
async fn skip_unchanged_autosaves_retries_a_failed_write() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_skip_unchanged_autosaves(true);
    s.open(None).await;
    s.set_value(Value::from(3));
    rig.faulty.fail_next(100);
    tokio::time::sleep(secs(31)).await;
    rig.faulty.fail_next(0);
    assert_eq!(
        rig.stored("1").await,
        None,
        "the failed auto-save wrote nothing"
    );
    tokio::time::sleep(secs(60)).await;
    assert_eq!(
        rig.stored("1").await,
        Some(json!(3)),
        "written by a later one"
    );
}

#[tokio::test(start_paused = true)]
async fn changing_save_interval_restarts_or_stops_the_timer_at_once() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    rig.counting.reset();
    tokio::time::sleep(secs(20)).await;
    s.set_save_interval(secs(10)).unwrap();
    tokio::time::sleep(secs(11)).await;
    assert_eq!(rig.counting.count(Method::Set), 1);
    s.set_save_interval(secs(0)).unwrap();
    tokio::time::sleep(secs(500)).await;
    assert_eq!(
        rig.counting.count(Method::Set),
        1,
        "zero disables auto-save"
    );
}

// ---- Properties ----

#[tokio::test(start_paused = true)]
async fn property_setters_refuse_values_outside_their_rule_and_change_nothing() {
    let s = Rig::new().registry().session("Player", None, 1);
    let e = s.set_save_interval(secs(5)).unwrap_err();
    assert_eq!(e.property, "SaveInterval");
    assert!(e.to_string().contains("10..=1000"), "{e}");
    assert_eq!(s.save_interval(), secs(30));
    assert!(s.set_save_interval(secs(1001)).is_err());
    assert!(s.set_save_interval(secs(10)).is_ok());
    assert_eq!(
        s.set_save_delay(secs(11)).unwrap_err().property,
        "SaveDelay"
    );
    assert_eq!(s.save_delay(), secs(0));
    assert_eq!(
        s.set_lock_interval(secs(9)).unwrap_err().property,
        "LockInterval"
    );
    assert_eq!(s.lock_interval(), secs(60));
    assert_eq!(s.set_lock_attempts(0).unwrap_err().property, "LockAttempts");
    assert_eq!(
        s.set_lock_attempts(101).unwrap_err().property,
        "LockAttempts"
    );
    assert_eq!(s.lock_attempts(), 5);
    assert_eq!(
        s.set_queue_invisibility(secs(0)).unwrap_err().property,
        "QueueInvisibility"
    );
    assert!(s.save_on_close());
}

// ---- Usage, Clone, value access ----

#[tokio::test(start_paused = true)]
async fn usage_is_the_json_length_over_the_limit() {
    let s = Rig::new().registry().session("Player", None, 1);
    assert_eq!(s.usage().unwrap().characters, 0);
    s.set_value(v(json!({"Coins": 10})));
    let u = s.usage().unwrap();
    assert_eq!(u.characters, r#"{"Coins":10}"#.len());
    assert_eq!(u.fraction, 12.0 / 4_194_303.0);
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Default)]
struct PlayerData {
    coins: i64,
    inventory: Vec<String>,
}

#[tokio::test(start_paused = true)]
async fn typed_access_reads_and_updates_the_value_through_serde() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_as(&PlayerData::default()).unwrap();
    let n = s
        .update_as(|p: &mut PlayerData| {
            p.coins += 5;
            p.inventory.push("Sword".into());
            p.coins
        })
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        s.get_as::<PlayerData>().unwrap(),
        PlayerData {
            coins: 5,
            inventory: vec!["Sword".into()]
        }
    );
    s.save().await;
    assert_eq!(
        rig.stored("1").await,
        Some(json!({"coins": 5, "inventory": ["Sword"]}))
    );
    // Luau numbers are doubles: an integral one still reads into an integer field.
    s.with_value(|v| v.as_table_mut().map(|t| t.insert("coins", 7.0)));
    assert_eq!(s.get_as::<PlayerData>().unwrap().coins, 7);
    // A shape error changes nothing.
    let before = s.clone_value();
    assert!(matches!(
        s.update_as(|x: &mut Vec<u8>| x.push(1)),
        Err(SessionError::Serde { .. })
    ));
    assert_eq!(s.clone_value(), before);
}

#[tokio::test(start_paused = true)]
async fn value_guard_changes_the_value_in_place_and_clone_is_a_deep_copy() {
    let s = Rig::new().registry().session("Player", None, 1);
    s.set_value(v(json!({"Level": 1})));
    let copy = s.clone_value();
    {
        let mut g = s.value();
        g.as_table_mut().unwrap().insert("Level", 2);
    }
    assert_eq!(s.value()["Level"].as_f64(), Some(2.0));
    assert_eq!(copy["Level"].as_f64(), Some(1.0));
}

// ---- Events ----

#[tokio::test(start_paused = true)]
async fn listeners_connect_and_disconnect_at_any_time() {
    let s = Rig::new().registry().session("Player", None, 1);
    let n = Arc::new(Mutex::new(0));
    let n2 = n.clone();
    let c = s.on_state_changed(move |_, _| *n2.lock().unwrap() += 1);
    s.open(None).await;
    c.disconnect();
    assert!(!c.is_connected());
    s.close().await;
    assert_eq!(*n.lock().unwrap(), 1);
    let waiter = tokio::spawn({
        let s = s.clone();
        async move { s.state_changed().await }
    });
    tokio::task::yield_now().await;
    s.open(None).await;
    assert_eq!(waiter.await.unwrap(), State::Open);
}

// ---- more batching ----

#[tokio::test(start_paused = true)]
async fn close_joins_a_queued_destroy_and_destroys_share_one_round() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    s.set_value(Value::from(3));
    rig.counting.reset();
    let (a, b, c) = tokio::join!(s.destroy(), s.close(), s.destroy());
    assert_eq!(a, Response::Saved(Value::from(3)));
    assert_eq!((&a, &a), (&b, &c));
    assert_eq!(
        rig.counting.total(),
        1,
        "one save-and-release for all three"
    );
    assert_eq!(s.state(), State::Destroyed);
}

#[tokio::test(start_paused = true)]
async fn open_with_a_close_queued_behind_it_starts_no_timers() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    let (o, c) = tokio::join!(s.open(None), s.close());
    assert_eq!(o, Response::Success);
    assert!(c.is_saved());
    assert_eq!(s.state(), State::Closed);
    rig.counting.reset();
    tokio::time::sleep(secs(600)).await;
    assert_eq!(
        rig.counting.total(),
        0,
        "no auto-save, no renewal after the close"
    );
}
