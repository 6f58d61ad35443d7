//! Read-only views of a context's store for in-game admin panels: one key
//! inspected (`sdm_admin_inspect`), its versions kept
//! (`sdm_admin_versions`), and the keys of a data store a page at a time
//! (`sdm_admin_keys`), each as JSON (the shapes `sdm inspect --json`,
//! `sdm versions --json` and a page of `sdm keys` print).

use std::ffi::c_char;
use std::sync::Arc;

use ::sdm_session::admin::{self, AdminError};
use ::sdm_session::backend::{BackendError, KeyQuery, SessionId, VersionQuery};
use serde_json::json;

use crate::boundary::{self, opt_str_arg, out_arg, str_arg};
use crate::context::{context_arg, sdm_context};
use crate::error::Error;
use crate::result::sdm_result;
use crate::strings;

fn store_error(e: &BackendError) -> Error {
    let code = match e {
        BackendError::Timeout(_) => sdm_result::SDM_TIMEOUT,
        BackendError::Invalid(_) => sdm_result::SDM_INVALID_ARGUMENT,
        _ => sdm_result::SDM_STORE,
    };
    Error::new(code, format!("admin: {e}"))
}

fn admin_error(e: &AdminError) -> Error {
    match e {
        AdminError::Store { source, .. } => {
            let mut err = store_error(source);
            err.message = format!("admin: {e}");
            err
        }
        other => Error::new(sdm_result::SDM_STORE, format!("admin: {other}")),
    }
}

/// The session id of the C arguments.
///
/// # Safety
/// The strings NULL or NUL-terminated.
unsafe fn id_arg(
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
) -> Result<SessionId, Error> {
    // SAFETY: the caller's contract.
    unsafe {
        Ok(SessionId::new(
            str_arg(name, "name")?,
            opt_str_arg(scope, "scope")?,
            str_arg(key, "key")?,
        ))
    }
}

/// Inspects `name`/`scope`/`key` (scope NULL: "global") on the context's
/// store, as a JSON object: `id`, `name`, `scope`, `key`, `exists`; when it
/// exists `value` (decoded: a compressed value decompressed), `compressed`
/// (`level`, `decimals`, `safety`, `chars`, or null), `metadata`,
/// `user_ids`, `created_ms`, `updated_ms`, `version`, `token`,
/// `data_version`, `readable_from`; then `lock` (`owner`, `token`, `node`,
/// `live`, `since_ms`, or null), `queue_length` and `versions` (how many
/// kept). Blocking; a few reads, not one atomic step.
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_SHUTDOWN`,
/// `SDM_STORE` / `SDM_TIMEOUT`.
///
/// # Safety
/// `ctx` NULL or live; the strings NULL or NUL-terminated; `out_json` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_admin_inspect(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx, id) = unsafe {
            (
                out_arg(out_json, std::ptr::null_mut(), "out_json")?,
                context_arg(ctx)?,
                id_arg(name, scope, key)?,
            )
        };
        ctx.inner.check_running()?;
        let backend = Arc::clone(ctx.inner.registry.backend());
        let seen = ctx
            .inner
            .block_on(async move { admin::inspect(&*backend, &id).await })?
            .map_err(|e| admin_error(&e))?;
        *out = strings::alloc(seen.to_json().to_string().as_bytes());
        Ok(())
    })
}

/// Lists the versions kept of `name`/`scope`/`key` (scope NULL:
/// "global"), newest first, of records written in `[since_ms, until_ms]`
/// (0 for no bound), at most `limit` (0 for all), as a JSON object: `id`,
/// `current` (the current record as `sdm_admin_inspect` shows its fields,
/// or null) and `versions` (an array of records, each with `replaced_ms`
/// and `removed`). Blocking.
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_SHUTDOWN`,
/// `SDM_STORE` / `SDM_TIMEOUT`.
///
/// # Safety
/// `ctx` NULL or live; the strings NULL or NUL-terminated; `out_json` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_admin_versions(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    since_ms: i64,
    until_ms: i64,
    limit: usize,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx, id) = unsafe {
            (
                out_arg(out_json, std::ptr::null_mut(), "out_json")?,
                context_arg(ctx)?,
                id_arg(name, scope, key)?,
            )
        };
        ctx.inner.check_running()?;
        let backend = Arc::clone(ctx.inner.registry.backend());
        let query = VersionQuery {
            since_ms: (since_ms != 0).then_some(since_ms),
            until_ms: (until_ms != 0).then_some(until_ms),
            limit: (limit != 0).then_some(limit),
        };
        let view = ctx
            .inner
            .block_on(async move {
                let current = backend.get(&id).await?;
                let kept = backend.versions(&id, &query).await?;
                Ok::<_, BackendError>(json!({
                    "id": id.to_string(),
                    "current": current.as_ref().map(admin::record_json),
                    "versions": kept.iter().map(admin::version_json).collect::<Vec<_>>(),
                }))
            })?
            .map_err(|e| store_error(&e))?;
        *out = strings::alloc(view.to_string().as_bytes());
        Ok(())
    })
}

/// One page of the keys of data store `name` holding a value (of `scope`
/// and starting with `prefix` when not NULL), about `limit` of them (0:
/// 1000), continuing after `cursor` (NULL for the first page), as a JSON
/// object: `keys` (an array of `{id, name, scope, key}`) and `next` (the
/// cursor of the next page, or null after the last). Blocking.
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_SHUTDOWN`,
/// `SDM_INVALID_ARGUMENT` (a cursor the store did not give),
/// `SDM_STORE` / `SDM_TIMEOUT`.
///
/// # Safety
/// `ctx` NULL or live; the strings NULL or NUL-terminated; `out_json` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_admin_keys(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    prefix: *const c_char,
    cursor: *const c_char,
    limit: usize,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx, mut query) = unsafe {
            let out = out_arg(out_json, std::ptr::null_mut(), "out_json")?;
            let ctx = context_arg(ctx)?;
            let mut q = KeyQuery::new(str_arg(name, "name")?);
            q.scope = opt_str_arg(scope, "scope")?.map(str::to_owned);
            q.prefix = opt_str_arg(prefix, "prefix")?.map(str::to_owned);
            q.cursor = opt_str_arg(cursor, "cursor")?.map(str::to_owned);
            (out, ctx, q)
        };
        if limit != 0 {
            query.limit = limit;
        }
        ctx.inner.check_running()?;
        let backend = Arc::clone(ctx.inner.registry.backend());
        let page = ctx
            .inner
            .block_on(async move { backend.keys(&query).await })?
            .map_err(|e| store_error(&e))?;
        *out = strings::alloc(admin::keys_json(&page).to_string().as_bytes());
        Ok(())
    })
}
