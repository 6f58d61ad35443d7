//! The lock schedule and two servers on one store (paused clock).

mod common;

use common::{secs, v, Rig};
use sdm_session::backend::testing::{FaultMode, Method};
use sdm_session::{CloseReason, LivenessConfig, Response, State};
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

/// Saves that go to a hanging store together (one batch) each time out
/// (three tries of 30 s, 1 s apart), answer an error naming the timeout
/// and keep their values; once the store answers again, the next saves
/// write them.
#[tokio::test(start_paused = true)]
async fn saves_on_a_hanging_store_time_out_each_try_and_keep_their_values() {
    let rig = Rig::new();
    let r = rig.registry();
    let sessions: Vec<_> = (1..=3).map(|k| r.session("Player", None, k)).collect();
    for (k, s) in sessions.iter().enumerate() {
        s.set_save_interval(secs(0)).unwrap();
        s.set_lock_interval(secs(1000)).unwrap();
        s.open(None).await;
        s.set_value(v(json!({ "Coins": k })));
    }
    rig.faulty
        .set_mode(FaultMode::Hang(Duration::from_secs(3600)));
    let started = Instant::now();
    let answers = futures_util::future::join_all(sessions.iter().map(|s| s.save())).await;
    assert_eq!(started.elapsed(), secs(3 * 30 + 2));
    for (s, answer) in sessions.iter().zip(&answers) {
        let Response::Error(e) = answer else {
            panic!("{}: {answer:?}", s.id());
        };
        assert!(e.to_string().contains("no answer within 30s"), "{e}");
        assert_eq!(s.state(), State::Open);
    }
    rig.faulty.set_mode(FaultMode::Healthy);
    for (k, s) in sessions.iter().enumerate() {
        assert!(s.save().await.is_saved());
        assert_eq!(
            rig.stored(&(k + 1).to_string()).await,
            Some(json!({ "Coins": k }))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn second_server_gets_locked_then_opens_after_the_first_closes() {
    let rig = Rig::new();
    let a = rig.registry().session("Player", None, 1);
    a.open(None).await;
    a.set_value(v(json!({"Coins": 100})));
    let (server_b, _) = rig.other_server();
    let b = server_b.session("Player", None, 1);
    assert!(matches!(b.open(None).await, Response::Locked(h) if h == a.unique_id()));
    assert!(a.close().await.is_saved());
    assert_eq!(b.open(None).await, Response::Success);
    assert_eq!(b.clone_value(), v(json!({"Coins": 100})));
    // And now the first is the one locked out.
    assert!(matches!(a.open(None).await, Response::Locked(h) if h == b.unique_id()));
}

/// Crashes server A (every handle dropped, nothing released, no more
/// renewals or heartbeats) and retries B's open every 6 s as the module's
/// example does; answers how long B waited.
async fn crash_and_reopen(rig: &Rig, heartbeats: bool) -> Duration {
    let server_a = rig.registry();
    let config = LivenessConfig {
        enabled: heartbeats,
        ..LivenessConfig::default()
    };
    server_a.set_liveness_config(config);
    let a = server_a.session("Player", None, 1);
    a.open(None).await;
    let a_id = a.unique_id().to_owned();
    let started = Instant::now();
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
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn after_a_crash_the_second_server_opens_once_the_heartbeat_expired() {
    let waited = crash_and_reopen(&Rig::new(), true).await;
    assert!(
        waited >= secs(10) && waited < secs(13),
        "opened after {waited:?} (heartbeat TTL 10 s, retries every 6 s)"
    );
}

#[tokio::test(start_paused = true)]
async fn without_heartbeats_the_second_server_opens_only_once_the_lock_expired() {
    let waited = crash_and_reopen(&Rig::new(), false).await;
    assert!(
        waited >= secs(330) && waited < secs(340),
        "opened after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn disconnected_server_is_taken_over_once_its_heartbeat_expired_with_nothing_lost() {
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
    tokio::time::sleep(secs(5)).await;
    assert!(
        matches!(b.open(None).await, Response::Locked(ref h) if h.live),
        "A's heartbeat still lives"
    );
    tokio::time::sleep(secs(8)).await;
    assert!(server_a.heartbeat_lapsed(), "A knows its heartbeat lapsed");
    assert_eq!(b.open(None).await, Response::Success, "taken over");
    // The last saved value is there; the unsaved change is still in A's memory.
    assert_eq!(b.clone_value(), v(json!({"Coins": 5})));
    assert_eq!(a.value()["Coins"].as_f64(), Some(6.0));
    // A reconnects: its next store step (the renewal the returning heartbeat
    // asks for) learns of the newer owner and closes without saving.
    faulty_a.disconnect(false);
    tokio::time::sleep(secs(10)).await;
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.close_reason(), Some(CloseReason::LockLost));
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 5})));
    // B leaves; A re-opens and saves its change: nothing lost.
    b.close().await;
    let kept = a.clone_value();
    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(kept);
    assert!(a.save().await.is_saved());
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 6})));
}

/// The renewals of one registry's sessions due in the same tick go to the
/// store as one batch; a session whose renewal is due at another time
/// renews in its own; each session's schedule and AttemptsRemaining are
/// as when renewing alone.
#[tokio::test(start_paused = true)]
async fn renewals_due_in_the_same_tick_go_to_the_store_together() {
    let rig = Rig::new();
    let r = sdm_session::Registry::new(rig.counting.clone());
    let sessions: Vec<_> = (0..20).map(|k| r.session("Player", None, k)).collect();
    for s in &sessions {
        s.set_save_interval(secs(0)).unwrap();
        // Opened at one instant of the paused clock: due together.
        assert_eq!(s.open(None).await, Response::Success);
    }
    tokio::time::sleep(secs(10)).await;
    let late = r.session("Player", None, 99);
    late.set_save_interval(secs(0)).unwrap();
    assert_eq!(late.open(None).await, Response::Success);
    rig.counting.reset();
    tokio::time::sleep(secs(51)).await;
    assert_eq!(rig.counting.count(Method::Renew), 20);
    assert_eq!(rig.counting.renew_batches(), 1, "one batch for the 20");
    tokio::time::sleep(secs(10)).await;
    assert_eq!(rig.counting.count(Method::Renew), 21);
    assert_eq!(rig.counting.renew_batches(), 2, "the late one alone");
    tokio::time::sleep(secs(50)).await;
    assert_eq!(rig.counting.count(Method::Renew), 41);
    assert_eq!(rig.counting.renew_batches(), 3);
    for s in sessions.iter().chain([&late]) {
        assert_eq!(s.state(), State::Open);
        assert_eq!(s.attempts_remaining(), 5);
        assert_eq!(
            rig.memory.lock_holder(s.id()).as_deref(),
            Some(s.unique_id())
        );
    }
}

/// A renewal still being tried when its session closes and opens again is
/// forgotten: its failure does not count against the new open's
/// AttemptsRemaining, and the new open renews on its own schedule.
#[tokio::test(start_paused = true)]
async fn a_renewal_in_flight_is_forgotten_when_its_session_closes() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    s.open(None).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    s.on_attempts_changed(move |n, _| seen2.lock().unwrap().push(n));
    rig.faulty.fail_method(Method::Renew, true);
    // 60 s: the first try fails; the retries come 1 s and 2 s later.
    tokio::time::sleep(Duration::from_millis(60_500)).await;
    assert_eq!(rig.faulty.injected_failures(), 1);
    assert!(s.close().await.is_saved());
    assert_eq!(s.open(None).await, Response::Success);
    let reopened = Instant::now();
    tokio::time::sleep(secs(5)).await;
    // The retries were not made (the session stopped renewing), and
    // nothing counted down.
    assert_eq!(rig.faulty.injected_failures(), 1);
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    assert_eq!(s.attempts_remaining(), 5);
    // The new open's first renewal is due a LockInterval after it.
    rig.faulty.fail_method(Method::Renew, false);
    rig.counting.reset();
    tokio::time::sleep_until(reopened + secs(59)).await;
    assert_eq!(rig.counting.count(Method::Renew), 0);
    tokio::time::sleep(secs(2)).await;
    assert_eq!(rig.counting.count(Method::Renew), 1);
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.attempts_remaining(), 5);
}

/// Sessions that open at different instants within one timer-grid step
/// (here 4 ms apart, 76 ms from the first to the last) renew their locks
/// together, and auto-save together: the timers of a process fire on a
/// shared 100 ms grid, rounded down, so a process with many players makes
/// a few large store batches instead of one small one per player.
#[tokio::test(start_paused = true)]
async fn timers_of_sessions_opened_apart_fire_together_on_the_grid() {
    let rig = Rig::new();
    let r = sdm_session::Registry::new(rig.counting.clone());
    let sessions: Vec<_> = (0..20).map(|k| r.session("Player", None, k)).collect();
    let saved_at = Arc::new(Mutex::new(Vec::new()));
    for s in &sessions {
        s.set_save_interval(secs(30)).unwrap();
        let saved_at = saved_at.clone();
        s.on_saved(move |_, _| saved_at.lock().unwrap().push(Instant::now()));
        assert_eq!(s.open(None).await, Response::Success);
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    rig.counting.reset();
    // Past every session's first auto-save (due 30 s after its open) and
    // first renewal (60 s after its open), checked step by step: nothing
    // fires late.
    let start = Instant::now();
    tokio::time::sleep(secs(30) - Duration::from_millis(80)).await;
    assert!(rig.counting.count(Method::Set) <= 20);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(rig.counting.count(Method::Set), 20, "every auto-save ran");
    let mut instants = saved_at.lock().unwrap().clone();
    instants.dedup();
    assert!(
        instants.len() <= 2,
        "auto-saves at {} instants",
        instants.len()
    );
    tokio::time::sleep(secs(30)).await;
    assert_eq!(rig.counting.count(Method::Renew), 20, "every renewal ran");
    // The 20 renewals: one batch, or two when a step boundary fell inside
    // the 76 ms (each renewing alone would make 20).
    assert!(
        rig.counting.renew_batches() <= 2,
        "{} batches",
        rig.counting.renew_batches()
    );
    assert!(Instant::now() - start <= secs(60));
    for s in &sessions {
        assert_eq!(s.state(), State::Open);
        assert_eq!(s.attempts_remaining(), 5);
    }
}

/// On a store that renews the lock with an unchanged auto-save's rewrite
/// (Redis; memory when asked), the auto-saves of an idle session keep its
/// lock: no renewal of its own is sent, and the lock outlives its entry's
/// expiry (LockInterval x LockAttempts + 30 s = 330 s) many times over.
#[tokio::test(start_paused = true)]
async fn an_idle_sessions_auto_saves_renew_its_lock_on_a_store_that_renews_with_rewrites() {
    let rig = Rig::new();
    rig.memory.set_renew_with_rewrites(true);
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    let id = s.id().clone();
    let owner = rig.memory.lock_holder(&id).expect("locked");
    rig.counting.reset();
    tokio::time::sleep(secs(1000)).await;
    // Only the renewal due at 60 s, with the first rewrite (each clock
    // fires its own); after it, every rewrite moves the next one on.
    assert_eq!(
        rig.counting.count(Method::Renew),
        1,
        "no renewal of its own"
    );
    // One save every 30 s: the first in full, the others rewrites.
    assert_eq!(rig.counting.count(Method::Set), 33);
    assert_eq!(rig.memory.lock_holder(&id), Some(owner), "still locked");
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.attempts_remaining(), 5);
    // Without auto-saves, renewals come back on their own schedule.
    s.set_save_interval(secs(0)).unwrap();
    rig.counting.reset();
    tokio::time::sleep(secs(61)).await;
    assert_eq!(rig.counting.count(Method::Renew), 1);
    assert_eq!(rig.counting.total(), 1);
}

/// A rewrite that renewed the lock counts as a successful renewal: it
/// brings AttemptsRemaining back to LockAttempts (AttemptsChanged fires)
/// after failed renewals, and the next renewal is due a LockInterval
/// after it. A rewrite that renewed nothing (renewals failing) leaves the
/// schedule alone.
#[tokio::test(start_paused = true)]
async fn a_rewrite_that_renewed_the_lock_counts_as_a_renewal() {
    let rig = Rig::new();
    rig.memory.set_renew_with_rewrites(true);
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(10)).unwrap();
    s.open(None).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    s.on_attempts_changed(move |n, _| seen2.lock().unwrap().push(n));
    // Renewals fail, and rewrites renew nothing: the renewal due at 60 s
    // fails after its three tries.
    rig.faulty.fail_method(Method::Renew, true);
    tokio::time::sleep(secs(63)).await;
    assert_eq!(*seen.lock().unwrap(), vec![4]);
    rig.faulty.fail_method(Method::Renew, false);
    rig.counting.reset();
    // The rewrite at 70 s renews: AttemptsRemaining is 5 again, and no
    // renewal is sent at 120 s (its deadline moved to 130 s, then on with
    // every rewrite).
    tokio::time::sleep(secs(10)).await;
    assert_eq!(*seen.lock().unwrap(), vec![4, 5]);
    assert_eq!(s.attempts_remaining(), 5);
    tokio::time::sleep(secs(200)).await;
    assert_eq!(rig.counting.count(Method::Renew), 0);
    assert!(rig.counting.count(Method::Set) >= 20);
    assert_eq!(s.state(), State::Open);
}

/// SaveInterval = LockInterval: every renewal is due at the same instant
/// as an auto-save. Once the store has shown that rewrites renew, the
/// renewal waits for the rewrite, which renews the lock and moves it on:
/// only the renewals before that are sent.
#[tokio::test(start_paused = true)]
async fn a_renewal_due_with_an_auto_save_waits_for_its_rewrite() {
    let rig = Rig::new();
    rig.memory.set_renew_with_rewrites(true);
    let s = rig.registry().session("Player", None, 1);
    s.set_save_interval(secs(60)).unwrap();
    s.open(None).await;
    let id = s.id().clone();
    rig.counting.reset();
    tokio::time::sleep(secs(1000)).await;
    // 60 s: the first save (in full) and a renewal; 120 s: the first
    // rewrite renews, but the renewal went too (nothing had renewed yet);
    // from 180 s on the rewrites alone.
    assert_eq!(rig.counting.count(Method::Renew), 2);
    assert_eq!(rig.counting.count(Method::Set), 16);
    assert!(rig.memory.lock_holder(&id).is_some());
    assert_eq!(s.attempts_remaining(), 5);
    assert_eq!(s.state(), State::Open);
}

/// A close without saving (SaveOnClose off) while an auto-save's rewrite,
/// which renews the lock, is in flight releases after it: the lock is
/// free once the close is done, not taken again by the late renewal.
#[tokio::test(start_paused = true)]
async fn a_close_without_saving_releases_after_a_rewrite_in_flight() {
    let rig = Rig::new();
    rig.memory.set_renew_with_rewrites(true);
    let s = rig.registry().session("Player", None, 1);
    s.set_save_on_close(false);
    s.open(None).await;
    let id = s.id().clone();
    s.set_value(v(json!({"Coins": 1})));
    assert!(s.save().await.is_saved());
    // The auto-save 30 s later is a rewrite, and it takes 5 s.
    rig.faulty.slow_method(Method::Set, Some(secs(5)));
    tokio::time::sleep(secs(31)).await;
    assert_eq!(s.close().await, Response::Success);
    assert_eq!(rig.memory.lock_holder(&id), None, "released");
    tokio::time::sleep(secs(10)).await;
    assert_eq!(rig.memory.lock_holder(&id), None, "not taken again");
    let (other, _) = rig.other_server();
    let o = other.session("Player", None, 1);
    assert_eq!(o.open(None).await, Response::Success);
}

/// A renewal in flight when its session closes lands after the release
/// (the store is slow): the store refuses it (the entry was released, not
/// lapsed), so the lock stays free and another server opens at once,
/// instead of waiting out a renewed entry (330 s).
#[tokio::test(start_paused = true)]
async fn a_renewal_landing_after_the_close_does_not_take_the_lock_again() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.open(None).await;
    let id = s.id().clone();
    s.set_value(v(json!({"Coins": 1})));
    // The renewal due 60 s after the open takes 5 s to reach the store.
    rig.faulty.slow_method(Method::Renew, Some(secs(5)));
    tokio::time::sleep(secs(61)).await;
    assert!(s.close().await.is_saved(), "the close saves");
    assert_eq!(rig.memory.lock_holder(&id), None, "released");
    tokio::time::sleep(secs(10)).await;
    assert_eq!(
        rig.memory.lock_holder(&id),
        None,
        "the late renewal did not take the lock again"
    );
    let (other, _) = rig.other_server();
    let o = other.session("Player", None, 1);
    assert_eq!(o.open(None).await, Response::Success);
    assert_eq!(o.value()["Coins"].as_f64(), Some(1.0), "the close saved");
}
