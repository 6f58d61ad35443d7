//! The thread-local message behind `sdm_last_error()`.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Stores `message` as this thread's last error (NUL bytes become spaces).
pub(crate) fn set(message: &str) {
    let bytes: Vec<u8> = message
        .bytes()
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    let text = CString::new(bytes).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// Clears this thread's last error (after a successful call).
pub(crate) fn clear() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

/// This thread's last error message, as a Rust string (for tests).
pub fn message() -> String {
    LAST_ERROR.with(|e| e.borrow().to_string_lossy().into_owned())
}

/// The message of the most recent failed call on the calling thread, or ""
/// when the most recent fallible call succeeded. Never NULL.
///
/// Ownership: borrowed. The text belongs to the library and stays valid until
/// the next `sdm_` call on the same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn sdm_last_error() -> *const c_char {
    // Reading a thread-local cannot panic after it is initialised; the
    // pointer stays valid because the CString is only replaced by later calls.
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}
