//! The engine's metrics from C: C hosts cannot install a Rust `metrics`
//! recorder, so the library offers one on request (a Prometheus recorder);
//! nothing is recorded until it is installed.

use std::ffi::c_char;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::boundary::{self, out_arg};
use crate::error::Error;
use crate::result::sdm_result;
use crate::strings;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs a Prometheus recorder for the engine's metrics in this process
/// (counters of operations, saves, retries, ...; see the README's
/// Observability section). Calling it again does nothing.
///
/// Errors: `SDM_INVALID_ARGUMENT` when another `metrics` recorder is already
/// installed in the process (by Rust code linked in).
#[no_mangle]
pub extern "C" fn sdm_metrics_install() -> sdm_result {
    boundary::call(|| {
        if PROMETHEUS.get().is_some() {
            return Ok(());
        }
        let handle = PrometheusBuilder::new().install_recorder().map_err(|e| {
            Error::new(
                sdm_result::SDM_INVALID_ARGUMENT,
                format!("cannot install the metrics recorder: {e}"),
            )
        })?;
        let _ = PROMETHEUS.set(handle);
        Ok(())
    })
}

/// The engine's metrics in the Prometheus text format (empty until
/// `sdm_metrics_install`).
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_metrics_render(out: *mut *mut c_char) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out, std::ptr::null_mut(), "out") }?;
        let text = PROMETHEUS
            .get()
            .map(PrometheusHandle::render)
            .unwrap_or_default();
        *out = strings::alloc(text.as_bytes());
        Ok(())
    })
}
