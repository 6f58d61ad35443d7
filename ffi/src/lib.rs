//! C ABI of sdm.
