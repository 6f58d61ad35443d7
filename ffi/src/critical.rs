//! The store's critical state (ProfileStore's IsCriticalState) from C:
//! read it, configure it and listen for its changes.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ::sdm_session::CriticalConfig;

use crate::boundary::{self, out_arg};
use crate::callback::UserData;
use crate::context::{context_arg, sdm_context};
use crate::error::Error;
use crate::result::sdm_result;

/// Critical-state event: `(user_data, critical)`; `true` when raised,
/// `false` when cleared.
pub type sdm_critical_changed_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, critical: bool)>;

/// Whether the store is in critical state: store calls failed `threshold`
/// times within the window and have not recovered since (see
/// `sdm_context_set_critical_config`). A game may stop trades and warn
/// players meanwhile.
///
/// # Safety
/// `ctx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_is_critical(
    ctx: *const sdm_context,
    out: *mut bool,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx) = unsafe { (out_arg(out, false, "out")?, context_arg(ctx)?) };
        *out = ctx.inner.registry.is_critical();
        Ok(())
    })
}

/// Sets when the critical state is raised (`threshold` failed store calls
/// within `window_ms`; 0 counts as 1) and cleared (a call succeeds
/// `recovery_ms` after the last failure). Defaults: 5, 120 000, 120 000.
///
/// # Safety
/// `ctx` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_set_critical_config(
    ctx: *mut sdm_context,
    threshold: u32,
    window_ms: u64,
    recovery_ms: u64,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let ctx = unsafe { context_arg(ctx) }?;
        ctx.inner.registry.set_critical_config(CriticalConfig {
            threshold,
            window: Duration::from_millis(window_ms),
            recovery: Duration::from_millis(recovery_ms),
        });
        Ok(())
    })
}

/// Listens for the critical state: `callback(user_data, critical)` each
/// time it is raised or cleared, delivered like session events (on the
/// callback thread, or inside `sdm_context_dispatch`). The listener stays
/// connected for the life of the context.
///
/// # Safety
/// `ctx` NULL or live; `callback` NULL or valid for the life of the
/// context; `user_data` usable where callbacks run.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_on_critical_changed(
    ctx: *mut sdm_context,
    callback: sdm_critical_changed_fn,
    user_data: *mut c_void,
) -> sdm_result {
    let ud = UserData::new(user_data);
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let ctx = unsafe { context_arg(ctx) }?;
        let cb = callback.ok_or_else(|| Error::null("callback"))?;
        ctx.inner.check_running()?;
        let sink = Arc::clone(&ctx.inner.sink);
        ctx.inner.registry.on_critical_changed(move |critical| {
            // SAFETY: the host's callback with its own user_data.
            sink.deliver(Box::new(move || unsafe { cb(ud.get(), critical) }));
        });
        Ok(())
    })
}
