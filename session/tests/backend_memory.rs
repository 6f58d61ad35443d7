//! The memory store passes the conformance suite. (Real time: the memory
//! store stamps records with the wall clock, which a paused tokio clock does
//! not move.)

use std::sync::Arc;

use sdm_session::backend::conformance::{self, Control};
use sdm_session::backend::memory::MemoryBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_passes_the_conformance_suite() {
    let store = Arc::new(MemoryBackend::new());
    let forget = Arc::clone(&store);
    let control = Control::new(move |id| {
        forget.forget_token_counter(&id);
        async {}
    });
    conformance::run_all(store, control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_passes_the_history_cases() {
    let store = Arc::new(MemoryBackend::new());
    conformance::run_cases(store, conformance::HISTORY_CASES).await;
    let trimmed = Arc::new(MemoryBackend::with_history(conformance::history::TRIM));
    conformance::run_cases(trimmed, conformance::TRIM_CASES).await;
    conformance::run_history_url_cases("memory://", &Default::default()).await;
}

/// With rewrites renewing their lock (as on Redis), the lock cases hold,
/// and the rewrite case sees its written steps renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_renewing_with_rewrites_passes_the_lock_cases() {
    let store = Arc::new(MemoryBackend::new());
    store.set_renew_with_rewrites(true);
    let cases: Vec<(&str, conformance::Case)> = conformance::CASES
        .iter()
        .filter(|(name, _)| name.contains("renew") || name.contains("rewrite"))
        .copied()
        .collect();
    assert!(cases.len() >= 4, "{}", cases.len());
    conformance::run_cases(store, &cases).await;
}
