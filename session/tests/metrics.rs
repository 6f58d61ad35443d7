//! Metrics: a test recorder (metrics-util's debugging recorder, installed
//! for this thread only) sees the expected counters, gauges and histograms
//! for a scripted session on the paused clock.

mod common;

use common::{paused_runtime, secs, Rig};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use sdm_session::backend::Backend;
use sdm_session::observe;
use sdm_session::{Response, SessionError, Value};
use std::collections::HashMap;

/// Every metric as `name{label=value,...}` -> value.
type Seen = HashMap<String, DebugValue>;

fn seen(recorder: &DebuggingRecorder) -> Seen {
    let mut seen = Seen::new();
    for (composite, _, _, value) in recorder.snapshotter().snapshot().into_vec() {
        let key = composite.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        seen.insert(format!("{}{{{}}}", key.name(), labels.join(",")), value);
    }
    seen
}

/// Adds a later snapshot to an earlier one (a snapshot takes what was
/// recorded since the last: counters and gauges add, histograms extend).
fn merge(into: &mut Seen, later: Seen) {
    for (name, value) in later {
        let merged = match (into.remove(&name), value) {
            (Some(DebugValue::Counter(a)), DebugValue::Counter(b)) => DebugValue::Counter(a + b),
            (Some(DebugValue::Gauge(a)), DebugValue::Gauge(b)) => DebugValue::Gauge(a + b),
            (Some(DebugValue::Histogram(mut a)), DebugValue::Histogram(b)) => {
                a.extend(b);
                DebugValue::Histogram(a)
            }
            (_, value) => value,
        };
        into.insert(name, merged);
    }
}

fn counter(seen: &Seen, name: &str) -> u64 {
    match seen.get(name) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{name} is not a counter: {other:?}"),
    }
}

fn samples(seen: &Seen, name: &str) -> usize {
    match seen.get(name) {
        Some(DebugValue::Histogram(v)) => v.len(),
        None => 0,
        Some(other) => panic!("{name} is not a histogram: {other:?}"),
    }
}

fn gauge(seen: &Seen, name: &str) -> f64 {
    match seen.get(name) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        None => 0.0,
        Some(other) => panic!("{name} is not a gauge: {other:?}"),
    }
}

#[test]
fn a_scripted_session_is_counted() {
    let recorder = DebuggingRecorder::new();
    let rt = paused_runtime();
    let rig = Rig::new();
    let registry = rig.registry();
    let (open_gauge, after) = metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let s = registry.session("Player", None, 1);
            assert_eq!(s.open(None).await, Response::Success);
            let first = seen(&recorder);
            let open_gauge = gauge(&first, &format!("{}{{}}", observe::OPEN_SESSIONS));
            s.set_value(Value::from("hello"));
            rig.faulty.fail_next(1); // one retry
            assert!(s.save().await.is_saved());
            // A newer owner takes the key: our next write is fenced.
            let (other, _) = rig.other_server();
            assert_eq!(rig.memory.unlock(s.id(), s.unique_id()).await, Ok(true));
            let o = other.session("Player", None, 1);
            assert_eq!(o.open(None).await, Response::Success);
            let r = s.save().await;
            assert!(
                matches!(r, Response::Error(SessionError::Fenced { .. })),
                "{r:?}"
            );
            assert!(o.close().await.is_saved());
            // Closed (a fenced write closes): a later save is refused by state.
            assert!(matches!(s.save().await, Response::State(_)));
            tokio::time::advance(secs(1)).await;
            let mut all = first;
            merge(&mut all, seen(&recorder));
            (open_gauge, all)
        })
    });
    assert_eq!(open_gauge, 1.0, "one session open");
    assert_eq!(
        gauge(&after, &format!("{}{{}}", observe::OPEN_SESSIONS)),
        0.0
    );
    let c = |name: &str| counter(&after, name);
    assert_eq!(c("sdm_opens_total{outcome=Success}"), 2);
    assert_eq!(
        c("sdm_saves_total{outcome=saved}"),
        2,
        "our save and the other's close"
    );
    assert_eq!(c("sdm_saves_total{outcome=fenced}"), 1);
    assert_eq!(c("sdm_fenced_writes_total{}"), 1);
    assert_eq!(c("sdm_store_retries_total{}"), 1);
    assert_eq!(
        c("sdm_store_failures_total{operation=set}"),
        0,
        "the retry succeeded"
    );
    assert_eq!(c("sdm_saved_bytes_total{}"), 2 * "\"hello\"".len() as u64);
    assert_eq!(c("sdm_operations_total{kind=Save,outcome=Saved}"), 1);
    assert_eq!(c("sdm_operations_total{kind=Save,outcome=Error}"), 1);
    assert_eq!(c("sdm_store_calls_total{operation=lock}"), 2);
    assert_eq!(samples(&after, "sdm_lock_wait_seconds{}"), 2);
    assert_eq!(samples(&after, "sdm_save_seconds{}"), 3);
}

#[test]
fn the_critical_state_is_a_gauge() {
    let recorder = DebuggingRecorder::new();
    let rt = paused_runtime();
    let rig = Rig::new();
    let registry = rig.registry();
    registry.set_critical_config(sdm_session::CriticalConfig {
        threshold: 1,
        window: secs(60),
        recovery: secs(10),
    });
    let after = metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            rig.faulty.fail_all(true);
            let s = registry.session("Player", None, 1);
            assert!(matches!(s.open(None).await, Response::Error(_)));
            seen(&recorder)
        })
    });
    assert_eq!(gauge(&after, "sdm_critical{}"), 1.0);
    assert_eq!(
        counter(&after, "sdm_store_failures_total{operation=lock}"),
        1
    );
    assert_eq!(counter(&after, "sdm_store_retries_total{}"), 2);
}

/// The queue lag: how long each value handed to ProcessQueue waited since
/// it was pushed (here 3 s on the paused clock, before its owner opened).
#[test]
fn queue_lag_is_a_histogram_of_each_values_wait() {
    let recorder = DebuggingRecorder::new();
    let rt = paused_runtime();
    let rig = Rig::new();
    let registry = rig.registry();
    let lags = metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let s = registry.session("Player", None, 7);
            for gift in ["a", "b"] {
                assert!(s.queue(Value::from(gift), None, None).await.is_success());
            }
            tokio::time::advance(secs(3)).await;
            let got = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen_values = got.clone();
            s.on_process_queue(move |_, values, _| {
                seen_values.fetch_add(values.len(), std::sync::atomic::Ordering::SeqCst);
            });
            assert_eq!(s.open(None).await, Response::Success);
            while got.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            match seen(&recorder).remove("sdm_queue_lag_seconds{}") {
                Some(DebugValue::Histogram(v)) => v.into_iter().map(|x| x.into_inner()).collect(),
                other => panic!("no queue lag histogram: {other:?}"),
            }
        })
    });
    let lags: Vec<f64> = lags;
    assert_eq!(lags.len(), 2, "{lags:?}");
    assert!(lags.iter().all(|l| (3.0..3.1).contains(l)), "{lags:?}");
}
