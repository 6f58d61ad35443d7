//! Metrics and tracing: the names of the [`metrics`] the engine records and
//! the `tracing` span of every operation.
//!
//! No exporter is installed by the library: with no `metrics` recorder and
//! no `tracing` subscriber installed, each record is a check of a global
//! that finds nothing (see the README for the measured cost). Install any
//! recorder (`metrics-exporter-prometheus`, ...) and subscriber
//! (`tracing-subscriber`, ...) to collect them; `examples/observability.rs`
//! wires both.
//!
//! Every operation run by a session (Open, Read, Save, Close, Destroy, from
//! the API or a timer) runs inside a span named `sdm.operation` with the
//! fields `key` (`name/scope/key`), `kind`, `outcome` (the response's name)
//! and `round_trips` (the store calls the session made while it ran).

use std::time::Duration;

/// Counter: operations run, labelled `kind` and `outcome` (the response's
/// name: `Success`, `Saved`, `Locked`, `State`, `Error`).
pub const OPERATIONS: &str = "sdm_operations_total";
/// Counter: opens run, labelled `outcome`.
pub const OPENS: &str = "sdm_opens_total";
/// Counter: saves written or refused (explicit, auto-save, on close),
/// labelled `outcome` (`saved`, `error`, `fenced`, `invalid`).
pub const SAVES: &str = "sdm_saves_total";
/// Histogram: seconds a save took, from encoding to the store's answer.
pub const SAVE_SECONDS: &str = "sdm_save_seconds";
/// Counter: bytes of value text written by saves.
pub const SAVED_BYTES: &str = "sdm_saved_bytes_total";
/// Histogram: seconds an open waited for the store's lock answer.
pub const LOCK_WAIT_SECONDS: &str = "sdm_lock_wait_seconds";
/// Counter: writes refused by fencing (a newer owner holds the key).
pub const FENCED_WRITES: &str = "sdm_fenced_writes_total";
/// Counter: store calls tried again after a failed try.
pub const RETRIES: &str = "sdm_store_retries_total";
/// Counter: store calls that failed after their retries, labelled
/// `operation` (`get`, `set`, `lock`, ...).
pub const STORE_FAILURES: &str = "sdm_store_failures_total";
/// Counter: store calls made by sessions, labelled `operation`.
pub const STORE_CALLS: &str = "sdm_store_calls_total";
/// Counter: queued values handed to ProcessQueue listeners.
pub const QUEUE_VALUES: &str = "sdm_queue_values_total";
/// Histogram: queue lag, the seconds each value handed to ProcessQueue
/// listeners waited since it was pushed (by the store's clock; values
/// pushed before the store kept push times are not counted).
pub const QUEUE_LAG_SECONDS: &str = "sdm_queue_lag_seconds";
/// Gauge: sessions open now (in this process).
pub const OPEN_SESSIONS: &str = "sdm_open_sessions";
/// Gauge: 1 while a registry's store is in critical state, else 0.
pub const CRITICAL: &str = "sdm_critical";
/// Counter: heartbeats written, by `outcome` (`ok`, `failed`).
pub const HEARTBEATS: &str = "sdm_heartbeats_total";
/// Counter: locks taken over from an owner whose heartbeat had expired.
pub const TAKEOVERS: &str = "sdm_lock_takeovers_total";
/// Counter: sessions handed over on another server's release request.
pub const HANDOFFS: &str = "sdm_handoffs_total";

/// The span of one operation on the session `key`.
pub(crate) fn operation_span(key: &str, kind: &'static str) -> tracing::Span {
    tracing::info_span!(
        "sdm.operation",
        key = %key,
        kind,
        outcome = tracing::field::Empty,
        round_trips = tracing::field::Empty,
    )
}

/// A counter labelled with one value of a known set, recorded through a
/// static key (the `metrics` macros allocate the labels of a key whose
/// label values are not literals on every call, even with no recorder
/// installed); a value outside the set still counts, through a built key.
macro_rules! count_by {
    ($name:expr, $label:literal => $value:expr, [$($v:literal),+ $(,)?]) => {
        match $value {
            $($v => metrics::counter!($name, $label => $v).increment(1),)+
            other => metrics::counter!($name, $label => other).increment(1),
        }
    };
    ($name:expr, with($fk:literal => $fv:literal), $label:literal => $value:expr, [$($v:literal),+ $(,)?]) => {
        match $value {
            $($v => metrics::counter!($name, $fk => $fv, $label => $v).increment(1),)+
            other => metrics::counter!($name, $fk => $fv, $label => other).increment(1),
        }
    };
}

/// Records an operation's end in its span and the counters.
pub(crate) fn operation_done(
    span: &tracing::Span,
    kind: &'static str,
    outcome: &'static str,
    round_trips: u64,
) {
    span.record("outcome", outcome);
    span.record("round_trips", round_trips);
    macro_rules! by_outcome {
        ($kind:literal) => {
            count_by!(OPERATIONS, with("kind" => $kind), "outcome" => outcome,
                ["Success", "Saved", "Locked", "State", "Error"])
        };
    }
    match kind {
        "Open" => by_outcome!("Open"),
        "Read" => by_outcome!("Read"),
        "Save" => by_outcome!("Save"),
        "Close" => by_outcome!("Close"),
        "Destroy" => by_outcome!("Destroy"),
        other => metrics::counter!(OPERATIONS, "kind" => other, "outcome" => outcome).increment(1),
    }
    if kind == "Open" {
        count_by!(OPENS, "outcome" => outcome, ["Success", "Saved", "Locked", "State", "Error"]);
    }
}

/// Records a save: its outcome, how long it took and the bytes written.
pub(crate) fn save_done(outcome: &'static str, took: Duration, bytes: usize) {
    count_by!(SAVES, "outcome" => outcome, ["saved", "unchanged", "error", "fenced", "invalid"]);
    metrics::histogram!(SAVE_SECONDS).record(took.as_secs_f64());
    if bytes > 0 {
        metrics::counter!(SAVED_BYTES).increment(bytes as u64);
    }
    if outcome == "fenced" {
        metrics::counter!(FENCED_WRITES).increment(1);
    }
}

/// The store operations sessions call (see `store.rs`), for static keys.
macro_rules! store_operations {
    ($name:expr, $operation:expr) => {
        count_by!($name, "operation" => $operation, [
            "get", "set", "save_together", "lock", "renew", "unlock",
            "queue_push", "queue_read", "queue_remove",
        ])
    };
}

/// Records a store call (and its failure).
pub(crate) fn store_call(operation: &'static str, failed: bool) {
    store_operations!(STORE_CALLS, operation);
    if failed {
        store_operations!(STORE_FAILURES, operation);
    }
}

/// Records a session opening (`true`) or leaving Open (`false`).
pub(crate) fn session_open(open: bool) {
    let gauge = metrics::gauge!(OPEN_SESSIONS);
    if open {
        gauge.increment(1.0);
    } else {
        gauge.decrement(1.0);
    }
}

/// Records a heartbeat and whether it was written.
pub(crate) fn heartbeat(ok: bool) {
    if ok {
        metrics::counter!(HEARTBEATS, "outcome" => "ok").increment(1);
    } else {
        metrics::counter!(HEARTBEATS, "outcome" => "failed").increment(1);
    }
}
