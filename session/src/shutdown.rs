//! Shutdown ("bind to close"): every live session is destroyed (saved if
//! SaveOnClose, lock released) and shutdown returns only when all are done.
//! New sessions made after shutdown has begun are not tracked. A helper
//! runs it on SIGINT/SIGTERM.

use crate::Registry;

impl Registry {
    /// Bind to close: destroys every live session (saving if SaveOnClose and
    /// releasing its lock), concurrently, and returns when all are done.
    pub async fn shutdown(&self) {
        let all = self.take_all();
        let mut set = tokio::task::JoinSet::new();
        for s in all {
            set.spawn(async move { s.destroy().await });
        }
        while set.join_next().await.is_some() {}
    }

    /// Runs [`shutdown`](Self::shutdown) when the process gets SIGINT
    /// (Ctrl-C) or SIGTERM. Await the handle to know shutdown finished.
    pub fn shutdown_on_signal(&self) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            registry.shutdown().await;
        })
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
