//! `shutdown_on_signal`: SIGTERM runs shutdown (saves and releases).
#![cfg(unix)]

use sdm_session::backend::memory::MemoryBackend;
use sdm_session::backend::Backend;
use sdm_session::{Registry, Value};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn sigterm_runs_shutdown_which_saves_and_releases_every_session() {
    let store = Arc::new(MemoryBackend::new());
    let registry = Registry::new(store.clone());
    let s = registry.session("Player", None, 1);
    s.open(None).await;
    s.set_value(Value::from(42));
    let handle = registry.shutdown_on_signal();
    // Let the handler install itself before the signal is sent.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(30), handle)
        .await
        .expect("shutdown ran")
        .expect("no panic");
    let record = store.get(s.id()).await.unwrap().expect("saved");
    assert_eq!(record.value, "42");
    assert_eq!(store.lock_holder(s.id()), None);
    assert!(registry.is_shutting_down());
}
