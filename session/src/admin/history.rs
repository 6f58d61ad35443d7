//! **History tools**: restore a kept version (fenced, refused while a live
//! session owns the key unless forced), and the JSON Lines dump format of
//! `sdm export` / `sdm import` ([`DumpLine`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::{
    Backend, BackendError, DataVersion, Fence, LockOutcome, Record, SessionId, Write, WriteOutcome,
};

/// Why a history tool refused or failed, naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The store failed.
    #[error("{id}: {source}")]
    Store {
        /// The key.
        id: String,
        /// The store's error.
        source: BackendError,
    },
    /// No kept version (nor the current record) has that version string.
    #[error("{id} has no version {version:?} (list them with `sdm versions`)")]
    NoSuchVersion {
        /// The key.
        id: String,
        /// The version asked for.
        version: String,
    },
    /// A live session owns the key (pass `force` to take it over).
    #[error("{id} is held by {owner}; refused (force it to fence the holder out)")]
    Held {
        /// The key.
        id: String,
        /// The lock entry's owner.
        owner: String,
    },
    /// A newer lock was granted while writing: nothing was written.
    #[error("{id}: a lock was granted to {} while writing; nothing written", owner.as_deref().unwrap_or("another writer"))]
    Fenced {
        /// The key.
        id: String,
        /// Who holds it now, if anyone.
        owner: Option<String>,
    },
}

fn store(id: &SessionId) -> impl FnOnce(BackendError) -> AdminError + '_ {
    move |source| AdminError::Store {
        id: id.to_string(),
        source,
    }
}

/// How long the admin lock of a restore or import lives (it is released in
/// the write's step).
const ADMIN_TTL: Duration = Duration::from_secs(30);

/// The owner name of admin writes: `sdm-admin:<random>`.
fn admin_owner() -> String {
    format!("sdm-admin:{}", uuid::Uuid::new_v4().simple())
}

/// What an admin write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The version string of the record written.
    pub version: String,
    /// The fencing token it was written under.
    pub token: u64,
    /// The owner fenced out by `force`, if a live one held the key.
    pub fenced: Option<String>,
}

/// Writes `record`'s contents to `id` under a lock of its own: takes the
/// lock (after a forced unlock, which fences a live owner out), writes
/// with `exact` through [`Backend::put`] or as a new version through
/// [`Backend::set`], and releases in the same step.
async fn admin_write(
    backend: &dyn Backend,
    id: &SessionId,
    record: &Record,
    exact: bool,
    force: bool,
) -> Result<Restored, AdminError> {
    let fenced = if force {
        backend
            .force_unlock(id)
            .await
            .map_err(store(id))?
            .map(|e| e.owner)
    } else {
        None
    };
    let owner = admin_owner();
    let token = match backend
        .lock(id, &owner, ADMIN_TTL)
        .await
        .map_err(store(id))?
    {
        LockOutcome::Acquired { token } => token,
        LockOutcome::Held { owner } => {
            return Err(AdminError::Held {
                id: id.to_string(),
                owner,
            })
        }
    };
    let fence = Fence {
        owner: &owner,
        token,
        release: true,
    };
    let outcome = if exact {
        backend.put(id, record, Some(fence)).await
    } else {
        let write = Write::Set {
            value: record.value.clone(),
            metadata: record.metadata.clone(),
            user_ids: record.user_ids.clone(),
            data_version: record.data_version,
        };
        backend.set(id, &write, Some(fence)).await
    }
    .map_err(store(id))?;
    match outcome {
        WriteOutcome::Written { version, token, .. } => Ok(Restored {
            version,
            token,
            fenced,
        }),
        WriteOutcome::Fenced { owner, .. } => Err(AdminError::Fenced {
            id: id.to_string(),
            owner,
        }),
    }
}

/// Restores `id` to its kept version `version` (or its current record's,
/// which writes it again): a fenced write of the old contents (value,
/// metadata, user ids, data version) as the newest version, the record it
/// replaces kept as a version in turn. Refused with [`AdminError::Held`]
/// while a session owns the key, unless `force`, which removes its lock
/// entry and raises the fencing token first, so the owner's later saves
/// are refused (it closes and keeps its value in memory).
///
/// ```
/// use sdm_session::admin::restore;
/// use sdm_session::backend::{memory::MemoryBackend, Backend, DataVersion, SessionId, Write};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryBackend::new();
/// let id = SessionId::new("Player", None, "1");
/// let set = |v: &str| Write::Set { value: v.into(), metadata: "{}".into(), user_ids: vec![], data_version: DataVersion::default() };
/// store.set(&id, &set(r#"{"Coins":100}"#), None).await?;
/// store.set(&id, &set(r#"{"Coins":0}"#), None).await?;
/// let good = store.versions(&id, &Default::default()).await?[0].record.version.clone();
/// restore(&store, &id, &good, false).await?;
/// assert_eq!(store.get(&id).await?.map(|r| r.value).as_deref(), Some(r#"{"Coins":100}"#));
/// # Ok(())
/// # }
/// ```
pub async fn restore(
    backend: &dyn Backend,
    id: &SessionId,
    version: &str,
    force: bool,
) -> Result<Restored, AdminError> {
    let kept = backend.version(id, version).await.map_err(store(id))?;
    let record = match kept {
        Some(v) => v.record,
        None => match backend.get(id).await.map_err(store(id))? {
            Some(current) if current.version == version => current,
            _ => {
                return Err(AdminError::NoSuchVersion {
                    id: id.to_string(),
                    version: version.to_owned(),
                })
            }
        },
    };
    admin_write(backend, id, &record, false, force).await
}

/// Writes `record` to `id` exactly as given (times, version, token:
/// [`Backend::put`]), under an admin lock released in the same step;
/// refused with [`AdminError::Held`] while a session owns the key unless
/// `force` (which fences that owner out). For `sdm import`.
pub async fn import(
    backend: &dyn Backend,
    id: &SessionId,
    record: &Record,
    force: bool,
) -> Result<Restored, AdminError> {
    admin_write(backend, id, record, true, force).await
}

/// One line of an `sdm export` dump (JSON Lines): one key with every field
/// of its record, the value and metadata as the exact text stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpLine {
    /// The data store name.
    pub name: String,
    /// The scope.
    pub scope: String,
    /// The key.
    pub key: String,
    /// The value as the JSON text stored.
    pub value: String,
    /// The metadata as the JSON object text stored.
    pub metadata: String,
    /// The user ids.
    pub user_ids: Vec<i64>,
    /// Creation time (ms since the epoch).
    pub created_ms: i64,
    /// Last update time (ms since the epoch).
    pub updated_ms: i64,
    /// The version string.
    pub version: String,
    /// The fencing token of the write that made it.
    pub token: u64,
    /// The data version (migration steps).
    pub data_version: u32,
    /// The oldest data version that may read it.
    pub readable_from: u32,
}

impl DumpLine {
    /// The line of `id`'s `record`.
    pub fn new(id: &SessionId, record: &Record) -> Self {
        DumpLine {
            name: id.name.clone(),
            scope: id.scope.clone(),
            key: id.key.clone(),
            value: record.value.clone(),
            metadata: record.metadata.clone(),
            user_ids: record.user_ids.clone(),
            created_ms: record.created_ms,
            updated_ms: record.updated_ms,
            version: record.version.clone(),
            token: record.token,
            data_version: record.data_version.version,
            readable_from: record.data_version.readable_from,
        }
    }

    /// The key of the line.
    pub fn id(&self) -> SessionId {
        SessionId {
            name: self.name.clone(),
            scope: self.scope.clone(),
            key: self.key.clone(),
        }
    }

    /// The record of the line.
    pub fn record(&self) -> Record {
        Record {
            value: self.value.clone(),
            metadata: self.metadata.clone(),
            user_ids: self.user_ids.clone(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            version: self.version.clone(),
            token: self.token,
            data_version: DataVersion {
                version: self.data_version,
                readable_from: self.readable_from,
            },
        }
    }
}
