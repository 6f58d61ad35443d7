//! **Admin tools** on a store, for support and operators (`sdm locks`,
//! `sdm unlock`, `sdm rollback`, `sdm import`): list the held locks with
//! who holds them, free a key whatever holds it, [`restore`] a kept
//! version and [`import`] a dumped record ([`DumpLine`]).
//!
//! ```
//! use sdm_session::{admin, backend::memory::MemoryBackend, backend::SessionId, Registry, Response};
//! use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryBackend::new());
//! let registry = Registry::new(store.clone());
//! let session = registry.session("Player", None, 1);
//! assert_eq!(session.open(None).await, Response::Success);
//!
//! let held = admin::locks(&*store, Some("Player")).await?;
//! assert_eq!(held.len(), 1);
//! assert!(held[0].holder == session.unique_id() && held[0].holder.live);
//!
//! // Free it: the owner is fenced (its saves are refused) and closes.
//! let id = SessionId::new("Player", None, "1");
//! let was = admin::unlock(&*store, &id).await?;
//! assert!(was.is_some_and(|h| h == session.unique_id()));
//! assert!(!session.save().await.is_saved());
//! # Ok(())
//! # }
//! ```

mod history;
mod views;

pub use history::{import, restore, AdminError, DumpLine, Restored};
pub use views::{holder_json, inspect, keys_json, record_json, version_json, Inspection};

use crate::backend::{Backend, BackendError, LockEntry, SessionId};
use crate::response::Holder;
use std::collections::HashMap;

/// One held lock ([`locks`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLock {
    /// The key.
    pub id: SessionId,
    /// Who holds it, whether its process lives, since when.
    pub holder: Holder,
}

/// Every held lock on `backend` (of the data store `name` only, when
/// given), sorted by key, each with its holder's liveness (one heartbeat
/// read per node).
pub async fn locks(
    backend: &dyn Backend,
    name: Option<&str>,
) -> Result<Vec<HeldLock>, BackendError> {
    let entries = backend.locks(name).await?;
    let mut live: HashMap<String, bool> = HashMap::new();
    for (_, entry) in &entries {
        if let Some(node) = &entry.node {
            if !live.contains_key(&node.id) {
                let alive = backend.node_alive(&node.id).await?;
                live.insert(node.id.clone(), alive);
            }
        }
    }
    let mut out: Vec<HeldLock> = entries
        .into_iter()
        .map(|(id, entry)| {
            let alive = liveness(&live, &entry);
            HeldLock {
                id,
                holder: Holder::from_entry(entry, alive),
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn liveness(live: &HashMap<String, bool>, entry: &LockEntry) -> bool {
    entry
        .node
        .as_ref()
        .is_none_or(|n| live.get(&n.id).copied().unwrap_or(true))
}

/// Frees `id`'s lock whoever holds it, in one step that also fences the
/// holder: its saves and renewals are refused from now on (it closes at its
/// next store step, keeping its value in memory). Answers who held it
/// (with its liveness as read before the unlock), or `None` if nobody did.
pub async fn unlock(backend: &dyn Backend, id: &SessionId) -> Result<Option<Holder>, BackendError> {
    let before = backend.lock_entry(id).await?;
    let alive = match before.as_ref().and_then(|e| e.node.as_ref()) {
        Some(n) => backend.node_alive(&n.id).await?,
        None => true,
    };
    let removed = backend.force_unlock(id).await?;
    Ok(removed.map(|e| Holder::from_entry(e, alive)))
}
