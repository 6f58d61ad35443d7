//! # sdm-ffi
//!
//! The C ABI of sdm: `libsdm.a` / `libsdm.so` and `include/sdm.h`.
//!
//! Conventions (the header repeats them for C users):
//! - every fallible function returns an [`sdm_result`] (`SDM_OK` = 0) and
//!   sets a thread-local message read by [`sdm_last_error`];
//! - every string the library returns is owned by the caller and freed with
//!   [`sdm_string_free`]; every opaque handle has its own `_free`, and every
//!   `_free` accepts NULL;
//! - no panic crosses the boundary: each exported body runs inside
//!   [`boundary::call`], and a panic becomes `SDM_PANIC`.
//!
//! The functions can be called from Rust too (the tests do):
//!
//! ```
//! use std::ffi::{CStr, CString};
//! let json = CString::new(r#"{"Coins":250}"#)?;
//! let mut out = std::ptr::null_mut();
//! // SAFETY: valid C string and out-pointer.
//! let code = unsafe { sdm::sdm_compress_json(json.as_ptr(), 2, 3, true, &mut out) };
//! # let _ = code;
//! // SAFETY: `out` is NULL or came from the library.
//! unsafe { sdm::sdm_string_free(out) };
//! # Ok::<(), std::ffi::NulError>(())
//! ```
#![warn(missing_docs)]
#![allow(non_camel_case_types)]

pub mod admin;
pub mod boundary;
pub mod callback;
pub mod codec;
pub mod context;
pub mod critical;
pub mod error;
pub mod events;
pub mod facts;
pub mod handoff;
pub mod hold;
pub mod holder;
pub mod hooks;
pub mod json;
pub mod last_error;
pub mod liveness;
pub mod metrics;
pub mod ops;
pub mod properties;
pub mod response;
pub mod result;
pub mod session;
pub mod shutdown;
pub mod sink;
pub mod store;
pub mod strings;
pub mod together;
pub mod value;
pub mod version;
pub mod views;

pub use codec::{
    sdm_compress_json, sdm_compress_json_len, sdm_decompress_json, sdm_decompress_json_len,
};
pub use error::Error;
pub use last_error::sdm_last_error;
pub use result::sdm_result;
pub use strings::sdm_string_free;
pub use version::sdm_version;
