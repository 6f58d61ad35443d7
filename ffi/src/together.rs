//! Atomic trades from C: several sessions of one context saved in one
//! atomic, fenced store step (`Registry::save_together`).

use std::ffi::c_void;
use std::sync::Arc;

use ::sdm_session::Session;

use crate::boundary;
use crate::callback::sdm_completion_fn;
use crate::context::{context_arg, sdm_context, Context};
use crate::error::{Error, Result};
use crate::ops::{blocking_on, spawn_on};
use crate::response::sdm_response;
use crate::result::sdm_result;
use crate::session::sdm_session;

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
