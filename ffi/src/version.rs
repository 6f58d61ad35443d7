//! `sdm_version()`.

use std::ffi::c_char;

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, e.g. "0.1.0".
///
/// Ownership: borrowed, static; never free it.
#[no_mangle]
pub extern "C" fn sdm_version() -> *const c_char {
    VERSION.as_ptr().cast()
}
