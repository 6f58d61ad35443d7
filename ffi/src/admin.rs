//! Admin tools on a context's store, for support and operators: the held
//! locks with their holders, and admin unlock.

use std::ffi::c_char;
use std::sync::Arc;

use ::sdm_session::admin;
use ::sdm_session::backend::{BackendError, SessionId};

use crate::boundary::{self, opt_str_arg, out_arg, str_arg};
use crate::context::{context_arg, sdm_context};
use crate::error::Error;
use crate::holder::{empty_holder, holder, holder_json, sdm_lock_holder};
use crate::result::sdm_result;
use crate::strings;

fn store_error(e: &BackendError) -> Error {
    let code = match e {
        BackendError::Timeout(_) => sdm_result::SDM_TIMEOUT,
        _ => sdm_result::SDM_STORE,
    };
    Error::new(code, format!("admin: {e}"))
}

/// Lists every held lock on the context's store (of the data store `name`
/// only, when not NULL), sorted by key, as a JSON array of objects:
/// `{"id": "name/scope/key", "name", "scope", "key", "owner": UniqueId,
/// "token", "node": node id or null, "host": or null, "pid": or null,
/// "live": heartbeat alive, "since_ms": acquisition time (ms since the
/// Unix epoch, 0 if unknown)}`. Blocking.
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_SHUTDOWN`,
/// `SDM_STORE` / `SDM_TIMEOUT`.
///
/// # Safety
/// `ctx` NULL or live; `name` NULL or NUL-terminated; `out_json` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_admin_locks(
    ctx: *mut sdm_context,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx, name) = unsafe {
            (
                out_arg(out_json, std::ptr::null_mut(), "out_json")?,
                context_arg(ctx)?,
                opt_str_arg(name, "name")?.map(str::to_owned),
            )
        };
        ctx.inner.check_running()?;
        let backend = Arc::clone(ctx.inner.registry.backend());
        let held = ctx
            .inner
            .block_on(async move { admin::locks(&*backend, name.as_deref()).await })?
            .map_err(|e| store_error(&e))?;
        let list: Vec<serde_json::Value> = held
            .iter()
            .map(|l| {
                let mut v = holder_json(&l.holder);
                if let Some(o) = v.as_object_mut() {
                    o.insert("id".into(), l.id.to_string().into());
                    o.insert("name".into(), l.id.name.clone().into());
                    o.insert("scope".into(), l.id.scope.clone().into());
                    o.insert("key".into(), l.id.key.clone().into());
                }
                v
            })
            .collect();
        *out = strings::alloc(serde_json::Value::Array(list).to_string().as_bytes());
        Ok(())
    })
}

/// Frees the lock of `name`/`scope`/`key` (scope NULL: "global") whoever
/// holds it, in one step that also fences the holder: its saves and
/// renewals are refused from then on, and it closes at its next store step
/// keeping its value in memory (close reason `SDM_CLOSE_REASON_LOCK_LOST`).
/// Blocking.
///
/// `*out_was_held` tells whether anybody held it; `out_holder` (NULL if
/// not wanted) receives who did (empty when nobody), with its liveness as
/// read before the unlock.
///
/// Ownership: the strings of `*out_holder` are owned by the caller
/// (`sdm_lock_holder_clear`).
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_SHUTDOWN`,
/// `SDM_STORE` / `SDM_TIMEOUT`.
///
/// # Safety
/// `ctx` NULL or live; the strings NULL or NUL-terminated; `out_was_held`
/// NULL or writable; `out_holder` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_admin_unlock(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    out_was_held: *mut bool,
    out_holder: *mut sdm_lock_holder,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: NULL or writable by the contract.
        let out_holder = unsafe { out_holder.as_mut() }.map(|h| {
            *h = empty_holder();
            h
        });
        // SAFETY: the caller's contract above.
        let (was_held, ctx) = unsafe {
            (
                out_arg(out_was_held, false, "out_was_held")?,
                context_arg(ctx)?,
            )
        };
        // SAFETY: the caller's contract above.
        let id = unsafe {
            SessionId::new(
                str_arg(name, "name")?,
                opt_str_arg(scope, "scope")?,
                str_arg(key, "key")?,
            )
        };
        ctx.inner.check_running()?;
        let backend = Arc::clone(ctx.inner.registry.backend());
        let removed = ctx
            .inner
            .block_on(async move { admin::unlock(&*backend, &id).await })?
            .map_err(|e| store_error(&e))?;
        *was_held = removed.is_some();
        if let (Some(h), Some(o)) = (removed, out_holder) {
            *o = holder(&h);
        }
        Ok(())
    })
}
