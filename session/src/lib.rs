//! # sdm-session
//!
//! Session-locked player data: sessions, locking, queues and backends.
#![warn(missing_docs)]

pub mod backend;
