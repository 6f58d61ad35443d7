//! The hooks of a data store name from C: the validator and the
//! migrations. Hooks are called synchronously on the library's runtime
//! threads (never through dispatch): they must be thread-safe and quick,
//! and must not call blocking functions of the library.

use std::ffi::{c_char, c_void, CStr};

use crate::boundary::{self, str_arg};
use crate::callback::{c_text, UserData};
use crate::context::{context_arg, sdm_context};
use crate::json;
use crate::result::sdm_result;

extern "C" {
    fn free(ptr: *mut c_void);
}

/// Validator: `(user_data, value as JSON)` (borrowed for the call); returns
/// NULL when the value is valid, else a message allocated with `malloc`
/// (e.g. `strdup`), which the library takes over and frees with `free`.
pub type sdm_validate_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, value_json: *const c_char) -> *mut c_char>;

/// Takes over a `malloc`'d message from a hook: NULL is `None`.
///
/// # Safety
/// `returned` is NULL or a NUL-terminated `malloc` allocation handed over.
pub(crate) unsafe fn take_message(returned: *mut c_char) -> Option<String> {
    if returned.is_null() {
        return None;
    }
    // SAFETY: NUL-terminated by the contract.
    let text = unsafe { CStr::from_ptr(returned) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: malloc'd by the host, handed over to us.
    unsafe { free(returned.cast()) };
    Some(text)
}

/// Sets the validator of the data store `name` (replacing any; NULL
/// `callback` removes it). It runs after migrations and templates on every
/// load (an invalid value refuses the open or read with `SDM_SESSION`, leaving no lock held) and before every save (nothing is
/// written; the save answers `SDM_SESSION` with the message and Saved fires with
/// it). A nil value is not validated. See the module notes on threads.
///
/// # Safety
/// `ctx` NULL or live; `name` NULL or a C string; `callback` NULL or valid
/// for the life of the context; `user_data` usable from any thread.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_set_validator(
    ctx: *mut sdm_context,
    name: *const c_char,
    callback: sdm_validate_fn,
    user_data: *mut c_void,
) -> sdm_result {
    let ud = UserData::new(user_data);
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (ctx, name) = unsafe { (context_arg(ctx)?, str_arg(name, "name")?) };
        let registry = &ctx.inner.registry;
        let Some(cb) = callback else {
            registry.clear_validator(name);
            return Ok(());
        };
        registry.set_validator(name, move |value| {
            let text = c_text(&json::write(value));
            // SAFETY: the host's callback with its own user_data; it returns
            // NULL or a malloc'd message it hands over.
            match unsafe { take_message(cb(ud.get(), text.as_ptr())) } {
                None => Ok(()),
                Some(message) => Err(message),
            }
        });
        Ok(())
    })
}

/// Migration step: `(user_data, value as JSON, error)` (the text borrowed
/// for the call). Returns the migrated value as JSON allocated with
/// `malloc`, which the library takes over; or NULL when the step fails,
/// optionally setting `*error` to a `malloc`'d message.
pub type sdm_migrate_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        value_json: *const c_char,
        error: *mut *mut c_char,
    ) -> *mut c_char,
>;

/// Appends a migration step to the data store `name`: the `n`th step takes
/// data of version `n - 1` to `n`, and `*out_version` (may be NULL) gets
/// `n`. Loaded data older than the steps known is migrated before templates
/// and the validator, and saved at the new version with the next save. A
/// failing step refuses the load (`SDM_SESSION`, the message naming the
/// step), the stored data untouched and no lock held. Data written by a
/// server knowing more steps is refused unless those steps were added with
/// `backwards_compatible` (then it loads as it is). Add every step before
/// the first session of `name` opens. See the module notes on threads.
///
/// # Safety
/// `ctx` NULL or live; `name` NULL or a C string; `callback` NULL or valid
/// for the life of the context; `user_data` usable from any thread;
/// `out_version` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_add_migration(
    ctx: *mut sdm_context,
    name: *const c_char,
    callback: sdm_migrate_fn,
    user_data: *mut c_void,
    backwards_compatible: bool,
    out_version: *mut u32,
) -> sdm_result {
    let ud = UserData::new(user_data);
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (ctx, name) = unsafe { (context_arg(ctx)?, str_arg(name, "name")?) };
        let cb = callback.ok_or_else(|| crate::error::Error::null("callback"))?;
        let step = move |value: &::sdm_session::Value| {
            let text = c_text(&json::write(value));
            let mut error: *mut c_char = std::ptr::null_mut();
            // SAFETY: the host's callback with its own user_data; it returns
            // NULL or a malloc'd text it hands over, and may set `error` to
            // a malloc'd message.
            let returned = unsafe { take_message(cb(ud.get(), text.as_ptr(), &mut error)) };
            // SAFETY: as above.
            let error = unsafe { take_message(error) };
            match returned {
                Some(migrated) => json::parse(&migrated, "returned by the migration callback")
                    .map_err(|e| e.message),
                None => Err(error.unwrap_or_else(|| "the migration callback returned NULL".into())),
            }
        };
        let registry = &ctx.inner.registry;
        let n = if backwards_compatible {
            registry.add_compatible_migration(name, move |v| step(&v))
        } else {
            registry.add_migration(name, move |v| step(&v))
        };
        if !out_version.is_null() {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { out_version.write(n) };
        }
        Ok(())
    })
}
