//! # sdm-session
//!
//! Session-locked player data for native game servers: Suphi's DataStore
//! Module rebuilt in Rust. A [`Registry`] (one per server) hands out
//! [`Session`]s; a session opens by taking a lock on the store (so no two
//! servers own a key at once), auto-saves, renews its lock, receives values
//! other servers [queue](Session::queue) to it, and saves and releases on
//! close. The store is any [`backend::Backend`] (in memory, SQLite, Redis).
//!
//! The player-data example of the module: open with a template, keep trying
//! to re-open while closed, destroy when the player leaves.
//!
//! ```
//! use sdm_session::{backend::memory::MemoryBackend, Registry, Response, State};
//! use sdm_codec::Value;
//! use std::{sync::Arc, time::Duration};
//!
//! fn template() -> Value {
//!     Value::from(serde_json::json!({"Level": 0, "Coins": 0, "Inventory": {}, "DeveloperProducts": {}}))
//! }
//!
//! /// Keep trying to re-open while the session is closed (not destroyed).
//! fn keep_open(session: sdm_session::Session) {
//!     tokio::spawn(async move {
//!         while session.state() == State::Closed {
//!             if session.open(Some(template())).await != Response::Success {
//!                 tokio::time::sleep(Duration::from_secs(6)).await;
//!             }
//!         }
//!     });
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let registry = Registry::new(Arc::new(MemoryBackend::new()));
//!
//! // Player joins:
//! let session = registry.session("Player", None, 1234);
//! session.on_state_changed(|_, s| keep_open(s.clone()));
//! keep_open(session.clone());
//! assert_eq!(session.open(Some(template())).await, Response::Success); // joins the loop's open
//!
//! // Set data (only while open, or it never gets saved):
//! if let Some(s) = registry.find("Player", None, 1234) {
//!     if s.state() == State::Open {
//!         s.with_value(|v| {
//!             let level = v["Level"].as_f64().unwrap_or(0.0);
//!             v.as_table_mut().map(|t| t.insert("Level", level + 1.0));
//!         });
//!     }
//! }
//!
//! // Player leaves: destroy (saves, releases, stops the retry loop).
//! if let Some(s) = registry.find("Player", None, 1234) {
//!     assert!(s.destroy().await.is_saved());
//! }
//! # }
//! ```
//!
//! Every operation runs through the session's task queue with task
//! batching; see [`Session`]. A complete blocking API is in [`blocking`];
//! the stores are in [`backend`].
//!
//! # Module map
//!
//! Each rule of the session spec (`spec/session.md`) lives in one file,
//! named for it:
//!
//! | file | rule of the spec it holds |
//! | --- | --- |
//! | `ops/mod.rs` | **the one door for operations**: every Open, Read, Save, Close and Destroy is admitted and run here (public API, task worker and timers alike) |
//! | `ops/open.rs`, `ops/read.rs`, `ops/save.rs`, `ops/close.rs`, `ops/destroy.rs` | **Operations**: each operation's admission rules and what running it does (**Saving** is `ops/save.rs`) |
//! | `ops/timers.rs` | starting the timers; SaveInterval's setter and ProcessQueue listeners (which start them) |
//! | `tasks.rs` | **task batching**: joining a queued operation of the same kind, the per-session worker |
//! | `session/task_queue.rs` | the data of the task queue |
//! | `session/state.rs` | **the one owner of state and timers**: every transition (open, close, lose the lock, destroy) and every timer held or stopped |
//! | `session/properties.rs` | **Properties** and their rules |
//! | `session/events.rs` | **Events**: StateChanged, Saving, Saved, AttemptsChanged, ProcessQueue |
//! | `session/mod.rs` | the [`Session`] handle and its read-only facts |
//! | `id.rs` | [`SessionId`]: `name/scope/key` |
//! | `lock.rs` | **lock renewal** (the lock schedule): the renewals the clock fires, sent as one batch, AttemptsRemaining, closing at zero |
//! | `clock.rs` | a registry's **clocks**: every session's next auto-save, and next lock renewal, on the timer grid, fired by one task each |
//! | `autosave.rs`, `autosave/rewrite.rs` | **auto-save**: the SaveInterval timer, fired by the registry's auto-save clock (`clock.rs`); an unchanged auto-save nobody watches writes its last write again, in one batch per firing |
//! | `queue/mod.rs` | **the queue**: Queue and Remove |
//! | `queue/reader.rs` | the ProcessQueue reading loop |
//! | `queue/invisibility.rs` | **queue invisibility** |
//! | `queue/hold.rs` | the apply gate: saves wait while queue values are applied ([`SaveHold`]) |
//! | `liveness.rs` | **owner liveness**: the registry's node, one heartbeat per process, the release-request listener |
//! | `failover.rs` | **failover and server hops**, Open's side: taking a dead owner's lock at once, waiting for and asking for a live owner's ([`OpenWait`]) |
//! | `handoff.rs` | **handoff**, the owner's side: the release-request event, deferrals, closing for the next owner |
//! | `admin.rs` | **admin tools**: held locks with their holders, admin unlock |
//! | `ops/together.rs` | **atomic trades**: several sessions saved in one atomic, fenced step |
//! | `shutdown.rs` | **shutdown** ("bind to close") within a deadline, its report, and the signal helper |
//! | `health.rs` | **critical state**: store failures in a sliding window |
//! | `hooks.rs` | each data store name's **validator and migrations** |
//! | `load.rs` | what a load does before the session takes the value: migrate, reconcile the templates, validate |
//! | `observe.rs` | **metrics and tracing**: the metric names, the operation span |
//! | `shared.rs` | what every session of a registry shares: the store, its health, the hooks |
//! | `registry.rs` | **constructors and the registry**: `new`, `hidden`, `find` |
//! | `store.rs` | one wrapper for every store call of a session: retries, errors naming the key, the queue's argument rules |
//! | `batch.rs`, `renewals.rs`, `saves.rs` | **store calls of many sessions in one round**: the saves (and the retries of lock renewals) of a registry's sessions that come due in the same tick go to the store together, each answered on its own |
//! | `retry.rs` | "every backend call is tried up to 3 times, 1 s apart" |
//! | `record.rs` | how a value is stored and loaded (JSON or compressed) and what a load or save leaves known |
//! | `reconcile.rs` | **template and reconcile** |
//! | `usage.rs`, `value_access.rs` | Usage(), direct and typed value access |
//! | `response.rs`, `error.rs` | **responses**, states and errors |
//! | `blocking.rs` | the blocking API |
//! | `backend/mod.rs`, `backend/fencing.rs` | **the two stores behind a session** (the [`backend::Backend`] trait) and **fencing tokens** |
//! | `backend/memory.rs`, `backend/sqlite/`, `backend/redis/` | the stores (Redis's Lua scripts in `backend/redis/*.lua`) |
//! | `backend/wakers.rs` | waiting queue reads, once for every store |
//! | `backend/conformance/` | the conformance suite every store passes (public) |
//! | `backend/testing.rs` | fault-injecting and counting wrappers for tests |
//!
//! Imports go one way: everything uses `session/`; `ops/` uses the timer
//! bodies and `tasks.rs`, which is the one module that calls back into
//! `ops/` (the task worker runs what the door admitted).
#![warn(missing_docs)]

pub mod admin;
mod autosave;
pub mod backend;
mod batch;
pub mod blocking;
mod clock;
mod error;
mod failover;
mod grid;
mod handoff;
mod health;
mod hooks;
mod id;
mod liveness;
mod load;
mod lock;
pub mod observe;
mod ops;
mod queue;
mod reconcile;
mod record;
mod registry;
mod renewals;
mod response;
mod retry;
mod saves;
mod session;
mod shared;
mod shutdown;
mod store;
mod tasks;
mod usage;
mod value_access;

pub use error::{PropertyError, SessionError};
pub use failover::OpenWait;
pub use handoff::{ReleaseDeferral, ReleaseRequest, ReleaseRequestedFn};
pub use health::{CriticalChangedFn, CriticalConfig, CriticalConnection};
pub use hooks::{MigrationFn, ValidatorFn};
pub use liveness::{
    LivenessConfig, DEFAULT_HANDOFF_DEFER_LIMIT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TTL,
};
pub use queue::{
    SaveHold, DEFAULT_QUEUE_EXPIRATION, DEFAULT_QUEUE_INVISIBILITY, QUEUE_BATCH, QUEUE_WAIT,
    SAVE_HOLD_LIMIT,
};
pub use reconcile::reconcile;
pub use registry::Registry;
pub use response::{CloseReason, Holder, Response, State, StateKind};
pub use retry::{ATTEMPTS, CALL_TIMEOUT, LOCK_CALL_TIMEOUT, RETRY_PAUSE};
pub use sdm_codec::{Key, Table, Value};
pub use session::events::{Connection, EventKind};
pub use session::{Session, SessionId};
pub use shutdown::{ShutdownReport, DEFAULT_SHUTDOWN_DEADLINE};
pub use usage::Usage;
pub use value_access::ValueGuard;
