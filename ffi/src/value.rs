//! A session's value as JSON text: get, set, mutate, clone, reconcile, usage.

use std::ffi::{c_char, c_void, CStr};

use crate::boundary::{self, out_arg, str_arg};
use crate::callback::{c_text, sdm_mutate_fn};
use crate::error::{Error, Result};
use crate::result::sdm_result;
use crate::session::{sdm_session, session_arg};
use crate::{json, strings};

extern "C" {
    fn free(ptr: *mut c_void);
}

/// The session's value as JSON (`null` when nil).
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// # Safety
/// `session` is NULL or live; `out_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_value_json(
    session: *mut sdm_session,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, s) = unsafe {
            (
                out_arg(out_json, std::ptr::null_mut(), "out_json")?,
                session_arg(session)?,
            )
        };
        let text = s.session.with_value(|v| json::write(v));
        *out = strings::alloc(text.as_bytes());
        Ok(())
    })
}

/// Clone(): a deep copy of the value, as JSON; the same text as
/// `sdm_session_get_value_json`.
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// # Safety
/// As `sdm_session_get_value_json`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_clone_json(
    session: *mut sdm_session,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, s) = unsafe {
            (
                out_arg(out_json, std::ptr::null_mut(), "out_json")?,
                session_arg(session)?,
            )
        };
        let text = json::write(&s.session.clone_value());
        *out = strings::alloc(text.as_bytes());
        Ok(())
    })
}

/// Replaces the session's value with a JSON value (`null` for nil). Saved by
/// the next save.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_INVALID_JSON`.
///
/// # Safety
/// `session` is NULL or live; `json` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_value_json(
    session: *mut sdm_session,
    json: *const c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, text) = unsafe { (session_arg(session)?, str_arg(json, "json")?) };
        s.session.set_value(json::parse(text, "json")?);
        Ok(())
    })
}

/// Changes the value in place: `callback(user_data, current_json)` runs on
/// the calling thread while the value is locked, and returns NULL to leave
/// it unchanged or a new JSON text allocated with `malloc` (the library
/// frees it with `free`). The callback must not call value functions of the
/// same session (it would deadlock).
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8` / `SDM_INVALID_JSON` (the
/// returned text; the value is then unchanged).
///
/// # Safety
/// `session` is NULL or live; `callback` NULL or valid; the returned text
/// is NULL or a NUL-terminated `malloc` allocation.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_mutate_json(
    session: *mut sdm_session,
    callback: sdm_mutate_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        let cb = callback.ok_or_else(|| Error::null("callback"))?;
        s.session.with_value(|value| -> Result<()> {
            let current = c_text(&json::write(value));
            // SAFETY: the host's callback with its user_data and a text valid
            // for the call.
            let returned = unsafe { cb(user_data, current.as_ptr()) };
            if returned.is_null() {
                return Ok(());
            }
            // SAFETY: a NUL-terminated malloc'd text by the contract.
            let parsed = std::str::from_utf8(unsafe { CStr::from_ptr(returned) }.to_bytes())
                .map_err(|e| {
                    Error::new(
                        sdm_result::SDM_INVALID_UTF8,
                        format!(
                            "the mutate callback returned invalid UTF-8 (at byte {})",
                            e.valid_up_to()
                        ),
                    )
                })
                .and_then(|text| json::parse(text, "returned by the mutate callback"));
            // SAFETY: malloc'd by the host, handed over to us.
            unsafe { free(returned.cast()) };
            *value = parsed?;
            Ok(())
        })
    })
}

/// Reconcile(template): fills in what the value lacks from a JSON template
/// (nil value: a copy of the template; tables: missing non-integer keys,
/// recursively).
///
/// # Safety
/// `session` is NULL or live; `template_json` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_reconcile_json(
    session: *mut sdm_session,
    template_json: *const c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, text) = unsafe {
            (
                session_arg(session)?,
                str_arg(template_json, "template_json")?,
            )
        };
        s.session.reconcile(&json::parse(text, "template_json")?);
        Ok(())
    })
}

/// Usage(): the size a save would write, in JSON characters
/// (`*out_characters`, may be NULL), and that over the 4,194,303 limit
/// (`*out_fraction`, may be NULL).
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_SESSION` (the value cannot be written).
///
/// # Safety
/// `session` is NULL or live; the out pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_usage(
    session: *mut sdm_session,
    out_characters: *mut usize,
    out_fraction: *mut f64,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        let usage = s
            .session
            .usage()
            .map_err(|e| Error::new(crate::response::error_code(&e), e.to_string()))?;
        // SAFETY: NULL or writable by the contract.
        unsafe {
            if let Some(c) = out_characters.as_mut() {
                *c = usage.characters;
            }
            if let Some(f) = out_fraction.as_mut() {
                *f = usage.fraction;
            }
        }
        Ok(())
    })
}
