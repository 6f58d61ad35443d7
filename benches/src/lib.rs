//! Benchmarks of sdm.
