//! A context's owner liveness from C: its heartbeat settings, its node id,
//! and the open wait of its sessions.

use std::ffi::c_char;
use std::time::Duration;

use ::sdm_session::LivenessConfig;

use crate::boundary::{self, out_arg};
use crate::context::{context_arg, sdm_context};
use crate::error::Error;
use crate::handoff::{millis, open_wait};
use crate::result::sdm_result;
use crate::strings;

/// How a context proves its process lives and hands sessions over; start
/// from `sdm_liveness_config_default()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct sdm_liveness_config {
    /// The heartbeat's expiry in the store, in milliseconds (default
    /// 10 000): how soon after this process dies its keys can be taken
    /// over by other servers.
    pub heartbeat_ttl_ms: u64,
    /// Time between heartbeats, in milliseconds (default 3 000); less than
    /// the TTL.
    pub heartbeat_interval_ms: u64,
    /// The longest release-request listeners may defer a handoff, in
    /// milliseconds (default 10 000); the session then closes anyway.
    pub handoff_defer_limit_ms: u64,
    /// False turns heartbeats off: locks name no process, and a dead
    /// owner's keys free only when their locks expire (the module's
    /// behaviour). Default true.
    pub enabled: bool,
}

impl From<LivenessConfig> for sdm_liveness_config {
    fn from(c: LivenessConfig) -> Self {
        sdm_liveness_config {
            heartbeat_ttl_ms: millis(c.heartbeat_ttl),
            heartbeat_interval_ms: millis(c.heartbeat_interval),
            handoff_defer_limit_ms: millis(c.handoff_defer_limit),
            enabled: c.enabled,
        }
    }
}

/// The default liveness settings: TTL 10 s, interval 3 s, defer limit
/// 10 s, enabled.
#[no_mangle]
pub extern "C" fn sdm_liveness_config_default() -> sdm_liveness_config {
    sdm_liveness_config::from(LivenessConfig::default())
}

/// Sets the context's liveness settings. Set them before the first Open
/// (the heartbeat starts then); the defer limit applies to later requests.
///
/// Errors: `SDM_NULL_ARGUMENT`; `SDM_INVALID_ARGUMENT` when the TTL or the
/// interval is 0, or the interval is not less than the TTL (nothing
/// changes).
///
/// # Safety
/// `ctx` NULL or live; `config` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_set_liveness_config(
    ctx: *mut sdm_context,
    config: *const sdm_liveness_config,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let ctx = unsafe { context_arg(ctx) }?;
        // SAFETY: NULL or a readable struct of plain values.
        let c = unsafe { config.as_ref() }
            .copied()
            .ok_or_else(|| Error::null("config"))?;
        if c.heartbeat_ttl_ms == 0
            || c.heartbeat_interval_ms == 0
            || c.heartbeat_interval_ms >= c.heartbeat_ttl_ms
        {
            return Err(Error::new(
                sdm_result::SDM_INVALID_ARGUMENT,
                format!(
                    "heartbeat_ttl_ms and heartbeat_interval_ms must be > 0 with the interval less than the TTL, got ttl {} and interval {}",
                    c.heartbeat_ttl_ms, c.heartbeat_interval_ms
                ),
            ));
        }
        ctx.inner.registry.set_liveness_config(LivenessConfig {
            heartbeat_ttl: Duration::from_millis(c.heartbeat_ttl_ms),
            heartbeat_interval: Duration::from_millis(c.heartbeat_interval_ms),
            handoff_defer_limit: Duration::from_millis(c.handoff_defer_limit_ms),
            enabled: c.enabled,
        });
        Ok(())
    })
}

/// Gets the context's liveness settings.
///
/// # Safety
/// `ctx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_get_liveness_config(
    ctx: *const sdm_context,
    out: *mut sdm_liveness_config,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx) = unsafe {
            (
                out_arg(out, sdm_liveness_config_default(), "out")?,
                context_arg(ctx)?,
            )
        };
        *out = sdm_liveness_config::from(ctx.inner.registry.liveness_config());
        Ok(())
    })
}

/// Sets how Opens of the context's sessions treat a lock held by a live
/// owner (a session's own `sdm_session_set_open_wait` wins): wait up to
/// `deadline_ms` for it, asking the owner to hand over when `handoff`;
/// `deadline_ms` 0 (the default) answers LOCKED at once.
///
/// # Safety
/// `ctx` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_set_open_wait(
    ctx: *mut sdm_context,
    deadline_ms: u64,
    handoff: bool,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let ctx = unsafe { context_arg(ctx) }?;
        ctx.inner
            .registry
            .set_open_wait(open_wait(deadline_ms, handoff));
        Ok(())
    })
}

/// Gets the context's open wait (0 and false: none).
///
/// # Safety
/// `ctx` NULL or live; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_get_open_wait(
    ctx: *const sdm_context,
    out_deadline_ms: *mut u64,
    out_handoff: *mut bool,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (deadline, handoff, ctx) = unsafe {
            (
                out_arg(out_deadline_ms, 0, "out_deadline_ms")?,
                out_arg(out_handoff, false, "out_handoff")?,
                context_arg(ctx)?,
            )
        };
        if let Some(w) = ctx.inner.registry.open_wait() {
            *deadline = millis(w.deadline);
            *handoff = w.handoff;
        }
        Ok(())
    })
}

/// Gets the context's node id: the id of this process's heartbeat, named
/// by every lock its sessions take (`sdm_lock_holder.node_id` elsewhere).
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `ctx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_get_node_id(
    ctx: *const sdm_context,
    out: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx) = unsafe {
            (
                out_arg(out, std::ptr::null_mut(), "out")?,
                context_arg(ctx)?,
            )
        };
        *out = strings::alloc(ctx.inner.registry.node().id.as_bytes());
        Ok(())
    })
}

/// Whether this process's heartbeat could not be renewed for a whole TTL:
/// its locks may have been taken over (each session finds out at its next
/// store step; nothing stale can be written).
///
/// # Safety
/// `ctx` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_heartbeat_lapsed(
    ctx: *const sdm_context,
    out: *mut bool,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let (out, ctx) = unsafe { (out_arg(out, false, "out")?, context_arg(ctx)?) };
        *out = ctx.inner.registry.heartbeat_lapsed();
        Ok(())
    })
}
