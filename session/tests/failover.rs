//! Failover and server hops on one store (memory, paused clock): who holds
//! a lock, taking over a dead owner, Open waiting and handoff, deferral,
//! heartbeat cost, admin unlock. The same behaviours across real processes
//! on SQLite and Redis are in `failover_processes.rs`.

mod common;

use common::{secs, v, Rig};
use sdm_session::backend::testing::Method;
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{admin, CloseReason, LivenessConfig, OpenWait, Response, State};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

fn id(key: &str) -> SessionId {
    SessionId::new("Player", None, key)
}

#[tokio::test(start_paused = true)]
async fn locked_tells_who_holds_the_key() {
    let rig = Rig::new();
    let a_server = rig.registry();
    let a = a_server.session("Player", None, 1);
    assert_eq!(a.open(None).await, Response::Success);
    let (b_server, _) = rig.other_server();
    let b = b_server.session("Player", None, 1);
    let Response::Locked(holder) = b.open(None).await else {
        panic!("not locked");
    };
    assert_eq!(holder, a.unique_id());
    let node = holder.node.as_ref().expect("the holder's node");
    assert_eq!(node, a_server.node());
    assert_eq!(node.pid, std::process::id());
    assert!(!node.host.is_empty());
    assert!(holder.live, "A's heartbeat lives");
    assert!(holder.since_ms > 0);
    assert_eq!(holder.token, a.lock_token());
    assert!(holder.to_string().contains(&node.id));
}

#[tokio::test(start_paused = true)]
async fn a_dead_owners_lock_is_taken_at_once_with_a_new_token() {
    let rig = Rig::new();
    let a_server = rig.registry();
    let a = a_server.session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 7})));
    assert!(a.save().await.is_saved());
    let old_token = a.lock_token();
    // A's process dies: its heartbeat stops.
    drop(a);
    drop(a_server);
    let (b_server, _) = rig.other_server();
    let b = b_server.session("Player", None, 1);
    tokio::time::sleep(secs(9)).await;
    assert!(
        matches!(b.open(None).await, Response::Locked(ref h) if h.live),
        "within the heartbeat TTL the owner counts as live"
    );
    tokio::time::sleep(secs(2)).await;
    assert_eq!(b.open(None).await, Response::Success);
    assert!(b.lock_token() > old_token);
    assert_eq!(b.clone_value(), v(json!({"Coins": 7})));
}

#[tokio::test(start_paused = true)]
async fn open_wait_is_woken_by_the_owners_release() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    let (b_server, _) = rig.other_server();
    let b = b_server.session("Player", None, 1);
    b.set_open_wait(Some(OpenWait::wait(secs(30))));
    let closer = {
        let a = a.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            a.close().await
        })
    };
    let started = Instant::now();
    assert_eq!(b.open(None).await, Response::Success);
    let waited = started.elapsed();
    assert!(closer.await.unwrap().is_saved());
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_millis(2600),
        "woken by the release, not a retry timer: {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn open_wait_gives_up_at_its_deadline_with_the_holder() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    let (b_server, _) = rig.other_server();
    b_server.set_open_wait(Some(OpenWait::wait(secs(4))));
    let b = b_server.session("Player", None, 1);
    let started = Instant::now();
    assert!(matches!(b.open(None).await, Response::Locked(h) if h == a.unique_id()));
    let waited = started.elapsed();
    assert!(waited >= secs(4) && waited < secs(5), "{waited:?}");
    assert_eq!(
        a.state(),
        State::Open,
        "waiting alone never asks A to leave"
    );
}

#[tokio::test(start_paused = true)]
async fn handoff_saves_releases_and_hands_over_the_latest_value() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 1})));
    assert!(a.save().await.is_saved());
    a.set_value(v(json!({"Coins": 2}))); // unsaved
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    a.on_release_requested(move |_, _| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let (b_server, _) = rig.other_server();
    let b = b_server.session("Player", None, 1);
    b.set_open_wait(Some(OpenWait::handoff(secs(10))));
    let started = Instant::now();
    assert_eq!(b.open(None).await, Response::Success);
    let hop = started.elapsed();
    assert!(hop < secs(1), "hop took {hop:?}");
    assert_eq!(b.clone_value(), v(json!({"Coins": 2})), "A's last change");
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.close_reason(), Some(CloseReason::HandedOff));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    // And back again, the other way.
    a.set_open_wait(Some(OpenWait::handoff(secs(10))));
    b.set_value(v(json!({"Coins": 3})));
    assert_eq!(a.open(None).await, Response::Success);
    assert_eq!(a.clone_value(), v(json!({"Coins": 3})));
    assert_eq!(b.close_reason(), Some(CloseReason::HandedOff));
}

#[tokio::test(start_paused = true)]
async fn a_deferred_handoff_waits_for_the_deferral() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    let held = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&held);
    a.on_release_requested(move |req, _| {
        let guard = req.defer();
        *slot.lock().unwrap() = Some(());
        tokio::spawn(async move {
            tokio::time::sleep(secs(3)).await; // mid-trade
            drop(guard);
        });
    });
    let (b_server, _) = rig.other_server();
    let b = b_server.session("Player", None, 1);
    b.set_open_wait(Some(OpenWait::handoff(secs(30))));
    let started = Instant::now();
    assert_eq!(b.open(None).await, Response::Success);
    let waited = started.elapsed();
    assert!(held.lock().unwrap().is_some());
    assert!(waited >= secs(3) && waited < secs(4), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_handoff_is_deferred_no_longer_than_the_limit() {
    let rig = Rig::new();
    let a_server = rig.registry();
    a_server.set_liveness_config(LivenessConfig {
        handoff_defer_limit: secs(2),
        ..LivenessConfig::default()
    });
    let a = a_server.session("Player", None, 1);
    a.open(None).await;
    let kept = Arc::new(Mutex::new(Vec::new()));
    let slot = Arc::clone(&kept);
    a.on_release_requested(move |req, _| {
        assert_eq!(req.defer_limit(), secs(2));
        slot.lock().unwrap().push(req.defer()); // never let go
    });
    let (b_server, _) = rig.other_server();
    let b = b_server.session("Player", None, 1);
    b.set_open_wait(Some(OpenWait::handoff(secs(30))));
    let started = Instant::now();
    assert_eq!(b.open(None).await, Response::Success);
    let waited = started.elapsed();
    assert!(waited >= secs(2) && waited < secs(3), "{waited:?}");
    assert_eq!(a.close_reason(), Some(CloseReason::HandedOff));
}

#[tokio::test(start_paused = true)]
async fn one_heartbeat_per_process_whatever_the_sessions() {
    for sessions in [1u64, 200] {
        let rig = Rig::new();
        let server = rig.registry();
        for key in 0..sessions {
            let s = server.session("Player", None, key);
            s.set_save_interval(secs(0)).unwrap();
            assert_eq!(s.open(None).await, Response::Success);
        }
        let before = rig.counting.count(Method::Heartbeat);
        tokio::time::sleep(secs(31)).await;
        let beats = rig.counting.count(Method::Heartbeat) - before;
        assert_eq!(
            beats, 10,
            "{sessions} sessions: one heartbeat every 3 s for 31 s"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_removes_the_heartbeat() {
    let rig = Rig::new();
    let server = rig.registry();
    let s = server.session("Player", None, 1);
    s.open(None).await;
    let node = server.node().id.clone();
    assert!(rig.memory.node_alive(&node).await.unwrap());
    assert!(server.shutdown().await.is_clean());
    assert!(!rig.memory.node_alive(&node).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn heartbeats_off_keep_the_modules_lock_expiry() {
    let rig = Rig::new();
    let server = rig.registry();
    server.set_liveness_config(LivenessConfig {
        enabled: false,
        ..LivenessConfig::default()
    });
    let s = server.session("Player", None, 1);
    s.open(None).await;
    let entry = rig.memory.lock_entry(&id("1")).await.unwrap().unwrap();
    assert_eq!(entry.node, None, "the lock names no node");
    assert_eq!(rig.counting.count(Method::Heartbeat), 0);
}

#[tokio::test(start_paused = true)]
async fn admin_unlock_frees_the_key_and_fences_the_owner() {
    let rig = Rig::new();
    let a_server = rig.registry();
    let a = a_server.session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 1})));
    assert!(a.save().await.is_saved());
    let listed = admin::locks(&*rig.memory, Some("Player")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id("1"));
    assert!(listed[0].holder == a.unique_id() && listed[0].holder.live);
    let was = admin::unlock(&*rig.memory, &id("1")).await.unwrap();
    assert!(matches!(was, Some(ref h) if h == a.unique_id()));
    assert!(admin::locks(&*rig.memory, None).await.unwrap().is_empty());
    a.set_value(v(json!({"Coins": 99})));
    assert!(matches!(a.save().await, Response::Error(_)), "fenced");
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.close_reason(), Some(CloseReason::LockLost));
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 1})));
    let (b_server, _) = rig.other_server();
    assert_eq!(
        b_server.session("Player", None, 1).open(None).await,
        Response::Success
    );
    assert_eq!(admin::unlock(&*rig.memory, &id("2")).await.unwrap(), None);
}
