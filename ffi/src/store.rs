//! Opening the store named by a context's URL.

use std::sync::Arc;

use ::sdm_session::backend::memory::MemoryBackend;
use ::sdm_session::backend::Backend;

use crate::error::{Error, Result};
use crate::result::sdm_result;

/// The store used when `sdm_context_new` gets a NULL URL.
pub const DEFAULT_STORE_URL: &str = "memory://";

/// Opens the store behind `url`.
pub fn open(url: &str) -> Result<Arc<dyn Backend>> {
    if url == "memory://" || url.starts_with("memory://") {
        return Ok(Arc::new(MemoryBackend::new()));
    }
    Err(Error::new(
        sdm_result::SDM_UNSUPPORTED_STORE,
        format!("store URL `{url}` is not supported by this build (supported: memory://)"),
    ))
}
