//! Opening the store named by a context's URL.

use std::sync::Arc;

use ::sdm_session::backend::{connect_async, Backend, BackendError, StoreOptions};
use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::result::sdm_result;

/// The store used when `sdm_context_new` gets a NULL URL: the embedded
/// default, a SQLite file `sdm.db` in the working directory.
pub const DEFAULT_STORE_URL: &str = "sqlite://sdm.db";

/// Opens the store behind `url` on `runtime` (a Redis server is connected
/// before this returns, so an unreachable one fails here).
pub fn open(runtime: &Runtime, url: &str) -> Result<Arc<dyn Backend>> {
    let url_owned = url.to_owned();
    runtime
        .block_on(async move { connect_async(&url_owned, &StoreOptions::default()).await })
        .map_err(|e| {
            let code = match e {
                BackendError::Invalid(_) => sdm_result::SDM_UNSUPPORTED_STORE,
                BackendError::Timeout(_) => sdm_result::SDM_TIMEOUT,
                _ => sdm_result::SDM_STORE,
            };
            Error::new(code, format!("cannot open store `{url}`: {e}"))
        })
}
