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
//! batching; see [`Session`] and the modules named after the rules
//! ([`open`], [`save`], [`lock`], [`queue`], ...). A complete blocking API
//! is in [`blocking`].
#![warn(missing_docs)]

pub mod autosave;
pub mod backend;
pub mod blocking;
pub mod close;
pub mod destroy;
mod error;
pub mod events;
pub mod lock;
pub mod open;
pub mod queue;
pub mod read;
pub mod reconcile;
mod record;
pub mod registry;
mod response;
pub mod retry;
pub mod save;
mod session;
pub mod tasks;
pub mod usage;
pub mod value_access;

pub use error::{PropertyError, SessionError};
pub use events::{Connection, EventKind};
pub use registry::Registry;
pub use response::{Response, State, StateKind};
pub use sdm_codec::{Key, Table, Value};
pub use session::{Session, DEFAULT_QUEUE_INVISIBILITY};
pub use usage::Usage;
pub use value_access::ValueGuard;
