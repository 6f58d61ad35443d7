//! The read-only facts of a session: ids, state, times, version, the
//! compressed text and the fencing token.

use std::ffi::c_char;

use crate::properties::{get, get_text};
use crate::result::sdm_result;
use crate::session::{sdm_session, sdm_state};

/// Gets the session's id, "name/scope/key".
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_id(
    session: *mut sdm_session,
    out: *mut *mut c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get_text(session, out, |s| s.id().to_string()) }
}

/// Gets the session's UniqueId (the lock owner id other servers see).
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_unique_id(
    session: *mut sdm_session,
    out: *mut *mut c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get_text(session, out, |s| s.unique_id().to_owned()) }
}

/// Gets the session's key.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_key(
    session: *mut sdm_session,
    out: *mut *mut c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get_text(session, out, |s| s.key().to_owned()) }
}

/// Gets the version of the stored record last loaded or saved.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_version(
    session: *mut sdm_session,
    out: *mut *mut c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get_text(session, out, |s| s.version()) }
}

/// Gets the compressed text of the last save when compression is on (else empty).
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_compressed_value(
    session: *mut sdm_session,
    out: *mut *mut c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get_text(session, out, |s| s.compressed_value()) }
}

/// Gets whether the session is hidden.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_hidden(
    session: *mut sdm_session,
    out: *mut bool,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, false, |s| s.hidden()) }
}

/// Gets the session's state.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_state(
    session: *mut sdm_session,
    out: *mut sdm_state,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        get(session, out, sdm_state::SDM_STATE_CLOSED, |s| {
            sdm_state::from(s.state())
        })
    }
}

/// Gets AttemptsRemaining: lock renewals left before the session closes itself.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_attempts_remaining(
    session: *mut sdm_session,
    out: *mut u32,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, 0, |s| s.attempts_remaining()) }
}

/// Gets CreatedTime of the stored record, in ms since the Unix epoch.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_created_time(
    session: *mut sdm_session,
    out: *mut i64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, 0, |s| s.created_time()) }
}

/// Gets UpdatedTime of the stored record, in ms since the Unix epoch.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_updated_time(
    session: *mut sdm_session,
    out: *mut i64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, 0, |s| s.updated_time()) }
}

/// Gets the session's fencing token (LockToken): the token of its lock
/// while open, of its last lock after a close, 0 before the first open.
/// Every acquisition of a key's lock gets a larger token than any before,
/// and the store refuses writes made under an older one; fence the game's
/// own side effects (receipts, rows in its own database) with it.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_lock_token(
    session: *mut sdm_session,
    out: *mut u64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, 0, |s| s.lock_token()) }
}
