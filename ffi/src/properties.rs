//! Session properties: getters and setters with the engine's validation
//! (the read-only facts of a session are in [`facts`](crate::facts)).

use std::ffi::c_char;
use std::time::Duration;

use ::sdm_session::{PropertyError, Session};

use crate::boundary::{self, out_arg, str_arg};
use crate::error::{Error, Result};
use crate::result::sdm_result;
use crate::session::{sdm_session, session_arg};
use crate::strings;

/// # Safety
/// `session` NULL or live; `out` NULL or writable.
pub(crate) unsafe fn get<T>(
    session: *mut sdm_session,
    out: *mut T,
    zero: T,
    f: impl FnOnce(&Session) -> T,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, s) = unsafe { (out_arg(out, zero, "out")?, session_arg(session)?) };
        *out = f(&s.session);
        Ok(())
    })
}

/// # Safety
/// `session` NULL or live; `out` NULL or writable.
pub(crate) unsafe fn get_text(
    session: *mut sdm_session,
    out: *mut *mut c_char,
    f: impl FnOnce(&Session) -> String,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, s) = unsafe {
            (
                out_arg(out, std::ptr::null_mut(), "out")?,
                session_arg(session)?,
            )
        };
        *out = strings::alloc(f(&s.session).as_bytes());
        Ok(())
    })
}

fn property_error(e: PropertyError) -> Error {
    Error::new(sdm_result::SDM_INVALID_PROPERTY, e.to_string())
}

/// # Safety
/// `session` NULL or live.
unsafe fn set(session: *mut sdm_session, f: impl FnOnce(&Session) -> Result<()>) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        f(&unsafe { session_arg(session) }?.session)
    })
}

fn seconds(property: &str, rule: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        Error::new(
            sdm_result::SDM_INVALID_PROPERTY,
            format!("{property} must be {rule}, got {value}"),
        )
    })
}

/// Gets SaveInterval: how often an open session saves by itself, in seconds (default 30; 0 disables).
///
/// # Safety
/// `session` NULL or live; `out_seconds` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_save_interval(
    session: *mut sdm_session,
    out_seconds: *mut f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        get(session, out_seconds, 0.0, |s| {
            s.save_interval().as_secs_f64()
        })
    }
}

/// Sets SaveInterval: how often an open session saves by itself, in seconds (default 30; 0 disables). Outside 0 (disabled) or 10..=1000 seconds: `SDM_INVALID_PROPERTY`, nothing changes, and
/// `sdm_last_error()` names the property and its range.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_save_interval(
    session: *mut sdm_session,
    seconds_value: f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_save_interval(seconds(
                "SaveInterval",
                "0 (disabled) or 10..=1000 seconds",
                seconds_value,
            )?)
            .map_err(property_error)
        })
    }
}

/// Gets SaveDelay: the least time between two saves, in seconds (0..=10).
///
/// # Safety
/// `session` NULL or live; `out_seconds` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_save_delay(
    session: *mut sdm_session,
    out_seconds: *mut f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out_seconds, 0.0, |s| s.save_delay().as_secs_f64()) }
}

/// Sets SaveDelay: the least time between two saves, in seconds (0..=10). Outside 0..=10 seconds: `SDM_INVALID_PROPERTY`, nothing changes, and
/// `sdm_last_error()` names the property and its range.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_save_delay(
    session: *mut sdm_session,
    seconds_value: f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_save_delay(seconds("SaveDelay", "0..=10 seconds", seconds_value)?)
                .map_err(property_error)
        })
    }
}

/// Gets LockInterval: how often the lock is renewed, in seconds (10..=1000).
///
/// # Safety
/// `session` NULL or live; `out_seconds` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_lock_interval(
    session: *mut sdm_session,
    out_seconds: *mut f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        get(session, out_seconds, 0.0, |s| {
            s.lock_interval().as_secs_f64()
        })
    }
}

/// Sets LockInterval: how often the lock is renewed, in seconds (10..=1000). Outside 10..=1000 seconds: `SDM_INVALID_PROPERTY`, nothing changes, and
/// `sdm_last_error()` names the property and its range.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_lock_interval(
    session: *mut sdm_session,
    seconds_value: f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_lock_interval(seconds("LockInterval", "10..=1000 seconds", seconds_value)?)
                .map_err(property_error)
        })
    }
}

/// Gets QueueInvisibility: how long values handed to ProcessQueue stay invisible before they come back, in seconds.
///
/// # Safety
/// `session` NULL or live; `out_seconds` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_queue_invisibility(
    session: *mut sdm_session,
    out_seconds: *mut f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        get(session, out_seconds, 0.0, |s| {
            s.queue_invisibility().as_secs_f64()
        })
    }
}

/// Sets QueueInvisibility: how long values handed to ProcessQueue stay invisible before they come back, in seconds. Outside a positive number of seconds: `SDM_INVALID_PROPERTY`, nothing changes, and
/// `sdm_last_error()` names the property and its range.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_queue_invisibility(
    session: *mut sdm_session,
    seconds_value: f64,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_queue_invisibility(seconds(
                "QueueInvisibility",
                "a positive number of seconds",
                seconds_value,
            )?)
            .map_err(property_error)
        })
    }
}

/// Gets LockAttempts: failed lock renewals tolerated before the session
/// closes itself (1..=100).
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_lock_attempts(
    session: *mut sdm_session,
    out: *mut u32,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, 0, |s| s.lock_attempts()) }
}

/// Sets LockAttempts (1..=100; else `SDM_INVALID_PROPERTY`, unchanged).
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_lock_attempts(
    session: *mut sdm_session,
    attempts: u32,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_lock_attempts(attempts).map_err(property_error)
        })
    }
}

/// Gets SaveOnClose: whether Close and Destroy save first (default true).
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_save_on_close(
    session: *mut sdm_session,
    out: *mut bool,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, false, |s| s.save_on_close()) }
}

/// Sets SaveOnClose.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_save_on_close(
    session: *mut sdm_session,
    save_on_close: bool,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_save_on_close(save_on_close);
            Ok(())
        })
    }
}

/// Gets SkipUnchangedAutosaves: whether an auto-save with nothing to write
/// (value, metadata and user ids untouched since the last write, no queue
/// removal to record) makes no store call (default false).
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_skip_unchanged_autosaves(
    session: *mut sdm_session,
    out: *mut bool,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { get(session, out, false, |s| s.skip_unchanged_autosaves()) }
}

/// Sets SkipUnchangedAutosaves (see
/// `sdm_session_get_skip_unchanged_autosaves`). A save a caller asks for
/// always writes.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_skip_unchanged_autosaves(
    session: *mut sdm_session,
    skip: bool,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            s.set_skip_unchanged_autosaves(skip);
            Ok(())
        })
    }
}

/// Gets the session's Metadata as a JSON object.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_metadata_json(
    session: *mut sdm_session,
    out: *mut *mut c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        get_text(session, out, |s| {
            serde_json::Value::Object(s.metadata()).to_string()
        })
    }
}

/// Sets the session's Metadata from a JSON object (saved by the next save;
/// `{"Compress": {"Level": 2, "Decimals": 3, "Safety": true}}` turns on
/// compression).
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_INVALID_JSON` (not
/// JSON, or not an object).
///
/// # Safety
/// `session` NULL or live; `json` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_metadata_json(
    session: *mut sdm_session,
    json: *const c_char,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            // SAFETY: forwarded contract.
            let text = str_arg(json, "json")?;
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(map)) => {
                    s.set_metadata(map);
                    Ok(())
                }
                Ok(_) => Err(Error::new(
                    sdm_result::SDM_INVALID_JSON,
                    "argument `json` must be a JSON object",
                )),
                Err(e) => Err(Error::new(
                    sdm_result::SDM_INVALID_JSON,
                    format!("argument `json` is not valid JSON: {e}"),
                )),
            }
        })
    }
}

/// Copies the session's UserIds into `buffer` (up to `capacity` of them;
/// `buffer` may be NULL when `capacity` is 0) and stores their total count
/// in `*out_count`, so a first call with capacity 0 sizes the buffer.
///
/// # Safety
/// `session` NULL or live; `buffer` NULL or writable for `capacity`
/// elements; `out_count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_user_ids(
    session: *mut sdm_session,
    buffer: *mut i64,
    capacity: usize,
    out_count: *mut usize,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (count, s) = unsafe { (out_arg(out_count, 0, "out_count")?, session_arg(session)?) };
        let ids = s.session.user_ids();
        *count = ids.len();
        let n = ids.len().min(capacity);
        if n > 0 {
            if buffer.is_null() {
                return Err(Error::null("buffer"));
            }
            // SAFETY: `buffer` holds `capacity` >= n elements by the contract.
            unsafe { std::ptr::copy_nonoverlapping(ids.as_ptr(), buffer, n) };
        }
        Ok(())
    })
}

/// Sets the session's UserIds (`count` of them at `ids`; `ids` may be NULL
/// when `count` is 0).
///
/// # Safety
/// `session` NULL or live; `ids` readable for `count` elements.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_user_ids(
    session: *mut sdm_session,
    ids: *const i64,
    count: usize,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(session, |s| {
            let list = if count == 0 {
                Vec::new()
            } else if ids.is_null() {
                return Err(Error::null("ids"));
            } else {
                // SAFETY: `count` readable elements by the contract.
                std::slice::from_raw_parts(ids, count).to_vec()
            };
            s.set_user_ids(list);
            Ok(())
        })
    }
}
