//! Helpers shared by the C ABI tests.
#![allow(dead_code)]

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use sdm::context::*;
use sdm::sdm_result::SDM_OK;
use sdm::session::*;

/// The calling thread's last error message.
pub fn last_error() -> String {
    // SAFETY: never NULL.
    unsafe { CStr::from_ptr(sdm::sdm_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// A string the library allocated, read and freed.
pub fn take(p: *mut c_char) -> String {
    assert!(!p.is_null(), "NULL string; last error: {}", last_error());
    // SAFETY: from the library, NUL-terminated.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: from the library.
    unsafe { sdm::sdm_string_free(p) };
    s
}

/// A context (callback mode) on the SQLite file at `path`.
pub fn file_context(path: &std::path::Path) -> *mut sdm_context {
    let url = CString::new(format!("sqlite://{}", path.display())).expect("no NUL");
    let mut ctx = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_context_new(url.as_ptr(), ptr::null(), &mut ctx) },
        SDM_OK,
        "{}",
        last_error()
    );
    ctx
}

/// A handle to the session `Players/global/<key>` of `ctx`.
pub fn session(ctx: *mut sdm_context, key: &str) -> *mut sdm_session {
    let key = CString::new(key).expect("no NUL");
    let mut s = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_session_new(ctx, c"Players".as_ptr(), ptr::null(), key.as_ptr(), &mut s) },
        SDM_OK
    );
    s
}
