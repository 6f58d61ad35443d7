//! The panic boundary and argument checks shared by every exported function.
//!
//! Every `extern "C"` body runs inside [`call`] (or [`call_or`]), which
//! catches panics with `catch_unwind`: a panic becomes `SDM_PANIC` (or the
//! fallback value) and never unwinds into C.

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, Result};
use crate::last_error;
use crate::result::sdm_result;

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Runs the body of a fallible ABI function: `Ok` gives `SDM_OK` and clears
/// the last error; `Err` sets the last error and returns its code; a panic
/// gives `SDM_PANIC`.
pub fn call(body: impl FnOnce() -> Result<()>) -> sdm_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            last_error::clear();
            sdm_result::SDM_OK
        }
        Ok(Err(e)) => {
            last_error::set(&e.message);
            e.code
        }
        Err(payload) => {
            last_error::set(&format!(
                "panic in sdm: {}",
                panic_message(payload.as_ref())
            ));
            sdm_result::SDM_PANIC
        }
    }
}

/// Runs the body of an infallible ABI function (getters, `_free`): a panic
/// sets the last error and returns `fallback`.
pub fn call_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            last_error::set(&format!(
                "panic in sdm: {}",
                panic_message(payload.as_ref())
            ));
            fallback
        }
    }
}

/// Runs `f` (a host callback) so that a panic inside it cannot escape; used
/// where Rust code calls back into C from a library thread.
pub fn shield(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Borrows a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub unsafe fn str_arg<'a>(ptr: *const c_char, argument: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::null(argument));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    utf8_arg(bytes, argument)
}

/// Borrows an optional NUL-terminated UTF-8 argument (NULL gives `None`).
///
/// # Safety
/// As [`str_arg`].
pub unsafe fn opt_str_arg<'a>(ptr: *const c_char, argument: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, argument) }.map(Some)
    }
}

/// Borrows `len` bytes at `ptr` as UTF-8 (`ptr` may be NULL when `len` is 0).
///
/// # Safety
/// `ptr` points to `len` readable bytes that outlive `'a`.
pub unsafe fn str_len_arg<'a>(ptr: *const c_char, len: usize, argument: &str) -> Result<&'a str> {
    if len == 0 {
        return Ok("");
    }
    if ptr.is_null() {
        return Err(Error::null(argument));
    }
    // SAFETY: `len` readable bytes by the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    utf8_arg(bytes, argument)
}

fn utf8_arg<'a>(bytes: &'a [u8], argument: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            sdm_result::SDM_INVALID_UTF8,
            format!(
                "argument `{argument}` is not valid UTF-8 (at byte {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Checks an out-pointer argument and sets `*out` to `empty` right away, so
/// the caller finds a defined value on every error path.
///
/// # Safety
/// `out` is NULL or valid for writes.
pub unsafe fn out_arg<'a, T>(out: *mut T, empty: T, argument: &str) -> Result<&'a mut T> {
    if out.is_null() {
        return Err(Error::null(argument));
    }
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe {
        out.write(empty);
        Ok(&mut *out)
    }
}
