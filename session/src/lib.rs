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
//! | module | what it holds |
//! | --- | --- |
//! | `ops/` | **the one door for operations**: admit and run Open, Read, Save, Close, Destroy (`ops/open.rs` … `ops/destroy.rs`: each operation's rules) |
//! | `tasks.rs` | the per-session task queue and **task batching** (joining a queued operation of the same kind) |
//! | `session/state.rs` | **the one owner of state and timers**: every transition (open, close, lose the lock, destroy), every timer start and stop |
//! | `session/properties.rs` | **properties** and their rules (SaveInterval, SaveDelay, LockInterval, LockAttempts, SaveOnClose, queue invisibility) |
//! | `session/mod.rs`, `session/id.rs` | the [`Session`] handle, its read-only facts, [`SessionId`] |
//! | `lock.rs` | **lock renewal**: the renewal timer, AttemptsRemaining, closing at zero |
//! | `autosave.rs` | **auto-save**: the SaveInterval timer |
//! | `queue.rs` | **the queue**: Queue, Remove and the ProcessQueue reading loop (**queue invisibility** is the store's, see `backend/`) |
//! | `store.rs` | one wrapper for every store call a session makes: **retries** (3 tries, 1 s apart) and errors naming the key |
//! | `retry.rs` | the retry rule itself |
//! | `record.rs` | **saving and loading**: JSON or compressed text, what a load or save leaves known ([`Session::metadata`], times, version, token) |
//! | `reconcile.rs` | **template and reconcile** |
//! | `events.rs` | **events**: StateChanged, Saving, Saved, AttemptsChanged, ProcessQueue |
//! | `registry.rs` | the registry (`new`, `hidden`, `find`) and **shutdown** ("bind to close") |
//! | `usage.rs`, `value_access.rs` | Usage(), direct and typed value access |
//! | `response.rs`, `error.rs` | responses, states and errors |
//! | `blocking.rs` | the blocking API |
//! | `backend/` | the stores: the [`backend::Backend`] trait, **fencing tokens** (`backend/fencing.rs`, `backend/mod.rs`), memory, SQLite, Redis (its Lua scripts in `backend/redis/*.lua`), the public conformance suite and fault-injecting wrappers |
#![warn(missing_docs)]

mod autosave;
pub mod backend;
pub mod blocking;
mod error;
mod events;
mod lock;
mod ops;
mod queue;
mod reconcile;
mod record;
mod registry;
mod response;
mod retry;
mod session;
mod store;
mod tasks;
mod usage;
mod value_access;

pub use error::{PropertyError, SessionError};
pub use events::{Connection, EventKind};
pub use lock::LOCK_CALL_TIMEOUT;
pub use queue::{DEFAULT_QUEUE_EXPIRATION, QUEUE_BATCH, QUEUE_WAIT};
pub use reconcile::reconcile;
pub use registry::Registry;
pub use response::{Response, State, StateKind};
pub use retry::{ATTEMPTS, CALL_TIMEOUT, RETRY_PAUSE};
pub use sdm_codec::{Key, Table, Value};
pub use session::{Session, SessionId, DEFAULT_QUEUE_INVISIBILITY};
pub use usage::Usage;
pub use value_access::ValueGuard;
