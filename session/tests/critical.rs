//! Critical state: raised when store calls fail `threshold` times within
//! the window, cleared once a call succeeds after `recovery` without a
//! failure; on tokio's paused clock.

mod common;

use common::{secs, Rig};
use sdm_session::{CriticalConfig, Response};
use std::sync::{Arc, Mutex};

fn config() -> CriticalConfig {
    CriticalConfig {
        threshold: 3,
        window: secs(60),
        recovery: secs(30),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_raises_the_critical_state_and_recovery_clears_it() {
    let rig = Rig::new();
    let registry = rig.registry();
    assert_eq!(registry.critical_config(), CriticalConfig::default());
    registry.set_critical_config(config());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    registry.on_critical_changed(move |c| seen2.lock().unwrap().push(c));
    let s = registry.session("Player", None, 1);

    rig.faulty.fail_all(true);
    for n in 1..=3 {
        assert!(matches!(s.open(None).await, Response::Error(_)));
        assert_eq!(registry.is_critical(), n == 3, "after {n} failures");
    }
    assert_eq!(*seen.lock().unwrap(), vec![true]);

    // The store is back, but not for long enough yet: still critical.
    rig.faulty.fail_all(false);
    assert_eq!(s.open(None).await, Response::Success);
    assert!(registry.is_critical());

    // A call that succeeds `recovery` after the last failure clears it.
    tokio::time::advance(secs(30)).await;
    assert!(s.save().await.is_saved());
    assert!(!registry.is_critical());
    assert_eq!(*seen.lock().unwrap(), vec![true, false]);
}

#[tokio::test(start_paused = true)]
async fn failures_spread_wider_than_the_window_do_not_raise_it() {
    let rig = Rig::new();
    let registry = rig.registry();
    registry.set_critical_config(config());
    let s = registry.session("Player", None, 1);
    rig.faulty.fail_all(true);
    for _ in 0..5 {
        assert!(matches!(s.open(None).await, Response::Error(_)));
        tokio::time::advance(secs(31)).await;
    }
    assert!(!registry.is_critical());
}

#[tokio::test(start_paused = true)]
async fn a_disconnected_listener_is_not_called_and_refused_arguments_do_not_count() {
    let rig = Rig::new();
    let registry = rig.registry();
    registry.set_critical_config(CriticalConfig {
        threshold: 1,
        ..config()
    });
    let seen = Arc::new(Mutex::new(0));
    let seen2 = seen.clone();
    let connection = registry.on_critical_changed(move |_| *seen2.lock().unwrap() += 1);
    let s = registry.session("Player", None, 1);
    // An argument the store refuses is the caller's fault, not the store's.
    let long = secs(46 * 24 * 3600);
    assert!(matches!(
        s.queue(sdm_session::Value::from(1), Some(long), None).await,
        Response::Error(_)
    ));
    assert!(!registry.is_critical());
    connection.disconnect();
    rig.faulty.fail_all(true);
    assert!(matches!(s.open(None).await, Response::Error(_)));
    assert!(registry.is_critical());
    assert_eq!(*seen.lock().unwrap(), 0);
}
