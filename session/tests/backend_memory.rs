//! The memory store passes the conformance suite. (Real time: the memory
//! store stamps records with the wall clock, which a paused tokio clock does
//! not move.)

mod conformance;

use std::sync::Arc;

use sdm_session::backend::memory::MemoryBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_passes_the_conformance_suite() {
    conformance::run_all(Arc::new(MemoryBackend::new())).await;
}
