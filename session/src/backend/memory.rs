//! The in-memory backend (unit tests and single-process use).
