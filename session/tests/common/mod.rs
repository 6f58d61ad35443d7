//! Shared helpers of the session tests.
#![allow(dead_code)]

use sdm_session::backend::memory::MemoryBackend;
use sdm_session::backend::testing::{CountingBackend, FaultyBackend};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{Registry, Value};
use std::sync::Arc;

/// A store with a counting wrapper and a faulty wrapper on top.
pub struct Rig {
    pub memory: Arc<MemoryBackend>,
    pub counting: Arc<CountingBackend>,
    pub faulty: Arc<FaultyBackend>,
}

impl Rig {
    pub fn new() -> Rig {
        let memory = Arc::new(MemoryBackend::new());
        let counting = Arc::new(CountingBackend::new(memory.clone()));
        let faulty = Arc::new(FaultyBackend::new(counting.clone()));
        Rig {
            memory,
            counting,
            faulty,
        }
    }

    /// A registry ("a server") on the faulty wrapper.
    pub fn registry(&self) -> Registry {
        Registry::new(self.faulty.clone())
    }

    /// A registry ("another server") with its own faulty wrapper on the same store.
    pub fn other_server(&self) -> (Registry, Arc<FaultyBackend>) {
        let faulty = Arc::new(FaultyBackend::new(self.memory.clone() as Arc<dyn Backend>));
        (Registry::new(faulty.clone()), faulty)
    }

    /// The stored value of `Player/global/<key>` as JSON, if any.
    pub async fn stored(&self, key: &str) -> Option<serde_json::Value> {
        let r = self
            .memory
            .get(&SessionId::new("Player", None, key))
            .await
            .unwrap()?;
        Some(serde_json::from_str(&r.value).unwrap())
    }
}

pub fn v(j: serde_json::Value) -> Value {
    Value::from(j)
}

pub fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

/// A current-thread runtime of its own, on the paused clock.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}
