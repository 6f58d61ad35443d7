//! The conformance suite every [`Backend`] passes, public so that anyone
//! who writes a store can run it (as `object_store` exposes its
//! integration tests). Each `pub async fn` takes any backend and asserts
//! one documented behaviour; [`run_all`] runs them all and reports every
//! failure by name.
//!
//! The cases panic on failure, like `assert!`: call them from tests. They
//! use fresh session ids, so they may share a store with other data.
//! Expiry is tested with short real TTLs (about a second): a real store
//! keeps its own clock. The waits use `tokio::time::sleep`, so a backend
//! on tokio's clock (the memory backend) also runs them on a paused clock.
//!
//! ```
//! use sdm_session::backend::{conformance, memory::MemoryBackend};
//! use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = Arc::new(MemoryBackend::new());
//! conformance::record::remove(store.clone()).await; // one case
//!
//! // Every case (a few seconds), with a way to lose the token counter:
//! let forget = Arc::clone(&store);
//! let control = conformance::Control::new(move |id| {
//!     forget.forget_token_counter(&id);
//!     async {}
//! });
//! # if false {
//! conformance::run_all(store, control).await;
//! # }
//! # }
//! ```
//!
//! Cases, by module: [`lock`] (contention, expiry, renewal, release),
//! [`record`] (versions, times, round trips, removal), [`queue`] (order,
//! limits, expiry, invisibility, removal, waiting), [`fencing`]
//! (fencing tokens: a stale owner never overwrites a newer one) and
//! [`liveness`] (node heartbeats, replacing a dead owner's entry, admin
//! unlock, release waits and handoff requests) and [`exactly_once`]
//! (saves that acknowledge queue values, held reads, atomic multi-key
//! saves), and [`history`] (versions, retention, restore, erase, the
//! user-id index, key listing: run with [`run_cases`] on a store kept with
//! the retention they name).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    Backend, BoxFuture, DataVersion, Fence, LockOutcome, QueueBatch, Record, SessionId, Write,
    WriteOutcome,
};

pub mod exactly_once;
pub mod fencing;
pub mod history;
pub mod liveness;
pub mod lock;
pub mod queue;
pub mod record;

/// A short lock TTL for expiry tests.
pub const SHORT: Duration = Duration::from_millis(1200);
/// Long enough for anything not meant to expire during a test.
pub const LONG: Duration = Duration::from_secs(60);
/// A bit more than [`SHORT`]: sleep this long to see it expire.
pub const PAST_SHORT: Duration = Duration::from_millis(1800);

/// What the suite may do to a store from outside, to simulate a failure no
/// [`Backend`] call can cause.
#[derive(Clone)]
pub struct Control {
    forget: Arc<dyn Fn(SessionId) -> BoxFuture<'static, ()> + Send + Sync>,
}

impl Control {
    /// A control whose `forget_token_counter` deletes the key's fencing
    /// counter (what a Redis restart without persistence does to it),
    /// leaving the data record in place.
    pub fn new<F, Fut>(forget_token_counter: F) -> Self
    where
        F: Fn(SessionId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Control {
            forget: Arc::new(move |id| Box::pin(forget_token_counter(id))),
        }
    }

    /// Deletes `id`'s fencing counter.
    pub async fn forget_token_counter(&self, id: &SessionId) {
        (self.forget)(id.clone()).await;
    }
}

impl Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

/// A session id unique to this run (cases may share one store).
pub fn fresh_id(case: &str) -> SessionId {
    let run = uuid::Uuid::new_v4().simple().to_string();
    SessionId::new("Conformance", Some(&run[..12]), case)
}

/// The value of a result, or a panic naming what failed.
#[track_caller]
pub(crate) fn ok<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// The value of an option, or a panic naming what was missing.
#[track_caller]
pub(crate) fn some<T>(option: Option<T>, what: &str) -> T {
    match option {
        Some(v) => v,
        None => panic!("{what}: got nothing"),
    }
}

pub(crate) fn set_value(value: &str) -> Write {
    Write::Set {
        value: value.to_owned(),
        metadata: "{}".to_owned(),
        user_ids: Vec::new(),
        data_version: DataVersion::default(),
    }
}

pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Takes the lock; the outcome.
pub(crate) async fn lock(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    owner: &str,
    ttl: Duration,
) -> LockOutcome {
    ok(b.lock(id, owner, ttl).await, "lock call")
}

/// The stored record of `id`, if any.
pub(crate) async fn get(b: &Arc<dyn Backend>, id: &SessionId) -> Option<Record> {
    ok(b.get(id).await, "get call")
}

/// The stored record of `id`, which must exist.
pub(crate) async fn record(b: &Arc<dyn Backend>, id: &SessionId) -> Record {
    some(get(b, id).await, "the record")
}

/// Takes the lock, which must be free; its token.
pub(crate) async fn acquire(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    owner: &str,
    ttl: Duration,
) -> u64 {
    match lock(b, id, owner, ttl).await {
        LockOutcome::Acquired { token } => token,
        other => panic!("{owner} could not take the lock of {id}: {other:?}"),
    }
}

pub(crate) fn held(owner: &str) -> LockOutcome {
    LockOutcome::Held {
        owner: owner.to_owned(),
    }
}

/// A fence for `owner` under `token`.
pub(crate) fn fence(owner: &str, token: u64, release: bool) -> Option<Fence<'_>> {
    Some(Fence {
        owner,
        token,
        release,
    })
}

pub(crate) async fn write(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    w: &Write,
    fence: Option<Fence<'_>>,
) -> WriteOutcome {
    ok(b.set(id, w, fence).await, "write call")
}

/// Writes and expects it accepted; the version written.
pub(crate) async fn written(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    w: &Write,
    fence: Option<Fence<'_>>,
) -> String {
    match write(b, id, w, fence).await {
        WriteOutcome::Written { version, .. } => version,
        other => panic!("write to {id} refused: {other:?}"),
    }
}

pub(crate) async fn read_now(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    count: usize,
    invisibility: Duration,
) -> Option<QueueBatch> {
    ok(
        b.queue_read(id, count, Duration::ZERO, invisibility).await,
        "queue read",
    )
}

/// One case: a name and what it runs.
pub type Case = fn(Arc<dyn Backend>, Control) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        &[$((stringify!($name), (|b, _c| Box::pin($module::$name(b))) as Case)),*]
    };
}

/// Every case of the suite, by name (the ones needing [`Control`] last).
pub const CASES: &[(&str, Case)] = cases![
    lock::contention_and_expiry,
    lock::renew_by_owner,
    lock::renew_many_answers_each_step,
    lock::rewrite_renew_each_renews_only_what_it_writes,
    lock::release_only_by_owner,
    lock::a_late_renewal_does_not_undo_a_release,
    lock::an_unlock_under_a_token_is_final_even_after_a_lapse,
    record::versions_change_on_every_write,
    record::created_and_updated_times,
    record::metadata_and_user_ids_round_trip,
    record::remove,
    queue::order_by_priority_then_fifo,
    queue::count_limit,
    queue::per_value_expiry,
    queue::arguments_checked,
    queue::invisibility_and_return,
    queue::removal_by_read_id,
    queue::waiting_read_woken_by_push,
    queue::every_value_read_tells_its_age,
    lock::close_writes_and_releases,
    lock::sessions_are_independent,
    fencing::owner_writes_under_its_token,
    fencing::lapse_then_newer_owner_holds,
    fencing::lapse_then_newer_owner_wrote_and_released,
    fencing::lapse_then_newer_owner_released_without_writing,
    fencing::lapse_then_key_removed_by_newer_owner,
    fencing::tokens_strictly_increase,
    fencing::renewal_after_lapse_and_newer_acquisition_is_refused,
    fencing::renewal_after_a_quiet_lapse_retakes_the_lock,
    fencing::unfenced_writes_keep_the_latest_token,
    liveness::entry_carries_node_and_age,
    liveness::renewal_keeps_the_entry,
    liveness::replacing_takes_only_that_entry,
    liveness::heartbeat_expires,
    liveness::force_unlock_fences_the_owner,
    liveness::locks_lists_live_entries,
    liveness::wait_released_wakes,
    liveness::release_requests_delivered_once,
    exactly_once::save_acknowledges_queue_values,
    exactly_once::refused_save_acknowledges_nothing,
    exactly_once::held_values_stay_invisible_while_the_lock_lives,
    exactly_once::a_holder_without_the_lock_reads_nothing,
    exactly_once::save_many_is_all_or_nothing,
    exactly_once::save_each_answers_each_step,
    exactly_once::rewrite_each_writes_the_last_write_again,
];

/// The history cases, for a store kept with the default history
/// ([`HistoryConfig::default`](crate::backend::HistoryConfig)).
pub const HISTORY_CASES: &[(&str, Case)] = cases![
    history::versions_kept_in_order,
    history::restore_fenced_and_forced,
    history::put_writes_every_field,
    history::put_that_releases_is_final_for_the_fence_token,
    history::erase_leaves_nothing,
    history::keys_listed_in_pages,
    history::queue_listed_and_fixed,
];

/// The trimming cases, for a store kept with [`history::TRIM`].
pub const TRIM_CASES: &[(&str, Case)] = cases![history::trimmed_by_count, history::trimmed_by_age];

/// The case of a store keeping no history ([`HistoryConfig::off`](crate::backend::HistoryConfig::off)).
pub const OFF_CASES: &[(&str, Case)] = cases![history::none_kept];

/// Opens the store at `url` (no query of its own) through
/// [`connect_async`](crate::backend::connect_async) with sdm's history
/// parameters in the URL, and runs the retention cases on it: with
/// `history_keep=3&history_max_age=1500ms` (the [`history::TRIM`]
/// retention) the [`TRIM_CASES`], with `history_keep=0` the
/// [`OFF_CASES`]; then, unless the store is `memory://`, the same store
/// opened with both retentions ([`history::lowered_to_none`]). `options`
/// carries the rest (e.g. a Redis key prefix).
pub async fn run_history_url_cases(url: &str, options: &crate::backend::StoreOptions) {
    for (query, cases) in [
        ("history_keep=3&history_max_age=1500ms", TRIM_CASES),
        ("history_keep=0", OFF_CASES),
    ] {
        let with = format!("{url}?{query}");
        let store = crate::backend::connect_async(&with, options)
            .await
            .unwrap_or_else(|e| panic!("{with}: {e}"));
        run_cases(store, cases).await;
    }
    if url.starts_with("memory:") {
        return; // a second connection is another store
    }
    let open = |url: String| async move {
        crate::backend::connect_async(&url, options)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
    };
    history::lowered_to_none(
        open(url.to_owned()).await,
        open(format!("{url}?history_keep=0")).await,
    )
    .await;
}

/// Runs `cases` concurrently on `backend` and fails naming every case that
/// failed (for [`HISTORY_CASES`] and [`TRIM_CASES`], which need a store
/// with a given retention).
pub async fn run_cases(backend: Arc<dyn Backend>, cases: &[(&str, Case)]) {
    let control = Control::new(|_| async {});
    let mut failed = Vec::new();
    let mut tasks = Vec::new();
    for (name, case) in cases {
        tasks.push((
            *name,
            tokio::spawn(case(Arc::clone(&backend), control.clone())),
        ));
    }
    for (name, task) in tasks {
        if let Err(e) = task.await {
            failed.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} history case(s) failed on {}:\n{}",
        failed.len(),
        backend.kind(),
        failed.join("\n")
    );
}

/// The cases that need a [`Control`].
pub const CONTROLLED_CASES: &[(&str, Case)] = &[(
    "lost_counter_never_repeats_a_written_token",
    (|b, c| Box::pin(fencing::lost_counter_never_repeats_a_written_token(b, c))) as Case,
)];

/// Runs every case concurrently (each on its own session ids) and fails
/// naming every case that failed.
pub async fn run_all(backend: Arc<dyn Backend>, control: Control) {
    let mut tasks = Vec::new();
    for (name, case) in CASES.iter().chain(CONTROLLED_CASES) {
        let task = tokio::spawn(case(Arc::clone(&backend), control.clone()));
        tasks.push((*name, task));
    }
    let mut failed = Vec::new();
    for (name, task) in tasks {
        if let Err(e) = task.await {
            failed.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} conformance case(s) failed on {}:\n{}",
        failed.len(),
        backend.kind(),
        failed.join("\n")
    );
}
