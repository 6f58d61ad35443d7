//! Atomic trades from C: several sessions of one context saved in one
//! atomic, fenced store step (`Registry::save_together`), and changed and
//! saved as one step (`Registry::trade`).

use std::ffi::{c_void, CStr};
use std::sync::{Arc, Mutex};

use ::sdm_session::{Session, Value};

use crate::boundary;
use crate::callback::{c_text, sdm_completion_fn, sdm_mutate_fn, UserData};
use crate::context::{context_arg, sdm_context, Context};
use crate::error::{Error, Result};
use crate::json;
use crate::ops::{blocking_on, spawn_on};
use crate::response::sdm_response;
use crate::result::sdm_result;
use crate::session::sdm_session;

extern "C" {
    fn free(ptr: *mut c_void);
}

/// Reads `count` session handles of `ctx` from `sessions`.
///
/// # Safety
/// `sessions` is NULL (with `count` 0) or points to `count` readable
/// handles, each NULL or live.
unsafe fn sessions_arg(
    ctx: &Arc<Context>,
    sessions: *const *mut sdm_session,
    count: usize,
) -> Result<Vec<Session>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if sessions.is_null() {
        return Err(Error::null("sessions"));
    }
    // SAFETY: `count` readable handles, by the caller's contract.
    let handles = unsafe { std::slice::from_raw_parts(sessions, count) };
    handles
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            // SAFETY: NULL or live, by the caller's contract.
            let s = unsafe { h.as_ref() }.ok_or_else(|| Error::null(&format!("sessions[{i}]")))?;
            if !Arc::ptr_eq(&s.ctx, ctx) {
                return Err(Error::new(
                    sdm_result::SDM_INVALID_ARGUMENT,
                    format!(
                        "sessions[{i}] ({}) belongs to another context",
                        s.session.id()
                    ),
                ));
            }
            Ok(s.session.clone())
        })
        .collect()
}

async fn save_together(ctx: Arc<Context>, sessions: Vec<Session>) -> ::sdm_session::Response {
    let refs: Vec<&Session> = sessions.iter().collect();
    ctx.registry.save_together(&refs).await
}

/// Saves `count` open sessions of `ctx` in one atomic, fenced store step
/// (an atomic trade): all are written or none is. Each session's Saving
/// and Saved events fire as for a save, and each one's pending queue
/// removals ride along. Blocking.
///
/// `out` (NULL if not wanted) receives the response: SUCCESS when all were
/// saved (`SDM_OK`); `SDM_STATE` when a session is not open (nothing
/// written); an ERROR otherwise (nothing written): `SDM_FENCED` for the
/// session whose lock was taken over (it closes; the others answer
/// `SDM_SESSION`, not saved together, and stay open), `SDM_STORE` /
/// `SDM_TIMEOUT` for a failing store, `SDM_SESSION` for keys a Redis
/// Cluster cannot write in one step (different hash slots; the message
/// names them). Argument errors: `SDM_NULL_ARGUMENT` (`ctx`, `sessions`
/// with `count` > 0, or an element), `SDM_INVALID_ARGUMENT` (a session of
/// another context), `SDM_SHUTDOWN`.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `ctx` NULL or live; `sessions` NULL (with `count` 0) or `count`
/// readable handles, each NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_save_together(
    ctx: *mut sdm_context,
    sessions: *const *mut sdm_session,
    count: usize,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        crate::hold::release_callback_hold();
        // SAFETY: forwarded contract.
        let ctx = &unsafe { context_arg(ctx) }?.inner;
        // SAFETY: forwarded contract.
        let list = unsafe { sessions_arg(ctx, sessions, count) }?;
        blocking_on(ctx, out, save_together(Arc::clone(ctx), list))
    })
}

/// `sdm_context_save_together` without blocking: `callback(user_data,
/// code, data)` receives the response (see `sdm_session_open_async`).
///
/// # Safety
/// As `sdm_context_save_together`; `callback` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_save_together_async(
    ctx: *mut sdm_context,
    sessions: *const *mut sdm_session,
    count: usize,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let ctx = &unsafe { context_arg(ctx) }?.inner;
        // SAFETY: forwarded contract.
        let list = unsafe { sessions_arg(ctx, sessions, count) }?;
        spawn_on(
            ctx,
            callback,
            user_data,
            save_together(Arc::clone(ctx), list),
        )
    })
}

/// An atomic trade: `callback(user_data, values_json)` runs on the calling
/// thread with the values of the `count` sessions as one JSON array (in the
/// order given, a session given twice once), while every one of their
/// saves waits; it returns NULL to decline (nothing changes; response
/// ERROR, `SDM_SESSION`) or a JSON array of the new values, as many,
/// allocated with `malloc` (the library frees it). The new values are then
/// saved together in one atomic, fenced store step, as
/// `sdm_context_save_together`; if that does not answer SUCCESS, the
/// values are put back as they were before the callback. Blocking; the
/// callback must not call value functions of these sessions.
///
/// Errors as `sdm_context_save_together`, plus `SDM_NULL_ARGUMENT` for no
/// callback and `SDM_INVALID_UTF8` / `SDM_INVALID_JSON` /
/// `SDM_INVALID_ARGUMENT` for a returned text that is not a JSON array of
/// as many values (nothing changed, nothing written).
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// As `sdm_context_save_together`; `callback` NULL or valid; the returned
/// text NULL or a NUL-terminated `malloc` allocation.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_trade(
    ctx: *mut sdm_context,
    sessions: *const *mut sdm_session,
    count: usize,
    callback: sdm_mutate_fn,
    user_data: *mut c_void,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        crate::hold::release_callback_hold();
        // SAFETY: forwarded contract.
        let ctx = &unsafe { context_arg(ctx) }?.inner;
        // SAFETY: forwarded contract.
        let list = unsafe { sessions_arg(ctx, sessions, count) }?;
        let cb = callback.ok_or_else(|| Error::null("callback"))?;
        let user_data = UserData::new(user_data);
        let failed: Arc<Mutex<Option<Error>>> = Arc::default();
        let failure = Arc::clone(&failed);
        let registry = ctx.registry.clone();
        let trade = async move {
            let refs: Vec<&Session> = list.iter().collect();
            registry
                .trade(&refs, |values| {
                    // SAFETY: the host's callback, on this thread, with its
                    // own user_data.
                    match unsafe { changed_values(cb, user_data.get(), values) } {
                        Ok(Some(new)) => {
                            values.clone_from_slice(&new);
                            true
                        }
                        Ok(None) => false,
                        Err(e) => {
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            false
                        }
                    }
                })
                .await
        };
        let answered = blocking_on(ctx, out, trade);
        if let Some(e) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        answered
    })
}

/// Calls a trade callback with `values`; the new values (`None`: declined).
///
/// # Safety
/// `cb` valid; it returns NULL or a NUL-terminated `malloc` allocation.
unsafe fn changed_values(
    cb: unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char) -> *mut std::ffi::c_char,
    user_data: *mut c_void,
    values: &[Value],
) -> Result<Option<Vec<Value>>> {
    let list = Value::from(sdm_codec::Table::from_sequence(values.to_vec()));
    let current = c_text(&json::write(&list));
    // SAFETY: the host's callback with a text valid for the call.
    let returned = unsafe { cb(user_data, current.as_ptr()) };
    if returned.is_null() {
        return Ok(None);
    }
    // SAFETY: a NUL-terminated malloc'd text by the contract.
    let text = std::str::from_utf8(unsafe { CStr::from_ptr(returned) }.to_bytes())
        .map(str::to_owned)
        .map_err(|e| {
            Error::new(
                sdm_result::SDM_INVALID_UTF8,
                format!(
                    "the trade callback returned invalid UTF-8 (at byte {})",
                    e.valid_up_to()
                ),
            )
        });
    // SAFETY: malloc'd by the host, handed over to us.
    unsafe { free(returned.cast()) };
    let parsed: serde_json::Value = serde_json::from_str(&text?).map_err(|e| {
        Error::new(
            sdm_result::SDM_INVALID_JSON,
            format!("the trade callback returned invalid JSON: {e}"),
        )
    })?;
    let serde_json::Value::Array(items) = parsed else {
        return Err(Error::new(
            sdm_result::SDM_INVALID_ARGUMENT,
            "the trade callback must return a JSON array of the new values",
        ));
    };
    if items.len() != values.len() {
        return Err(Error::new(
            sdm_result::SDM_INVALID_ARGUMENT,
            format!(
                "the trade callback returned {} values for {} sessions",
                items.len(),
                values.len()
            ),
        ));
    }
    Ok(Some(items.into_iter().map(Value::from).collect()))
}
