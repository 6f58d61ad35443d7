//! **Read-only views** of a key for support tools and admin panels
//! (`sdm inspect`, `sdm versions`, `sdm keys` and the C ABI's views): the
//! record with its value decoded (a compressed value decompressed, its
//! settings shown), who holds the lock and whether its process lives, the
//! queue length and the versions kept, all as JSON.

use serde_json::{json, Map, Value as Json};

use super::history::AdminError;
use crate::backend::{Backend, KeyPage, Record, SessionId, Version, VersionQuery};
use crate::record::{compress_options, decode, parse_metadata, to_json_text};
use crate::response::Holder;

/// What [`inspect`] found about one key.
#[derive(Clone, Debug, PartialEq)]
pub struct Inspection {
    /// The key.
    pub id: SessionId,
    /// Its current record (`None`: never written, removed or erased).
    pub record: Option<Record>,
    /// Who holds its lock, with liveness (`None`: free).
    pub holder: Option<Holder>,
    /// Values in its queue that have not expired.
    pub queue_length: usize,
    /// Versions kept.
    pub versions: usize,
}

/// Reads everything about `id` (record, lock with its process's
/// liveness, queue length, versions kept): a few reads, not one atomic
/// step.
pub async fn inspect(backend: &dyn Backend, id: &SessionId) -> Result<Inspection, AdminError> {
    let fail = |source| AdminError::Store {
        id: id.to_string(),
        source,
    };
    let record = backend.get(id).await.map_err(fail)?;
    let entry = backend.lock_entry(id).await.map_err(fail)?;
    let holder = match entry {
        Some(e) => {
            let live = match &e.node {
                Some(n) => backend.node_alive(&n.id).await.map_err(fail)?,
                None => true,
            };
            Some(Holder::from_entry(e, live))
        }
        None => None,
    };
    let queue_length = backend.queue_items(id).await.map_err(fail)?.len();
    let versions = backend
        .versions(id, &VersionQuery::default())
        .await
        .map_err(fail)?
        .len();
    Ok(Inspection {
        id: id.clone(),
        record,
        holder,
        queue_length,
        versions,
    })
}

impl Inspection {
    /// As JSON: `id`, `name`, `scope`, `key`, `exists`, the record's fields
    /// ([`record_json`]) when it exists, `lock` ([`holder_json`] or null),
    /// `queue_length` and `versions`.
    pub fn to_json(&self) -> Json {
        let mut out = json!({
            "id": self.id.to_string(),
            "name": self.id.name,
            "scope": self.id.scope,
            "key": self.id.key,
            "exists": self.record.is_some(),
        });
        if let (Some(o), Some(r)) = (out.as_object_mut(), &self.record) {
            if let Json::Object(fields) = record_json(r) {
                o.extend(fields);
            }
        }
        if let Some(o) = out.as_object_mut() {
            o.insert(
                "lock".into(),
                self.holder.as_ref().map_or(Json::Null, holder_json),
            );
            o.insert("queue_length".into(), json!(self.queue_length));
            o.insert("versions".into(), json!(self.versions));
        }
        out
    }
}

/// A lock holder as JSON: `owner`, `token`, `node` (`id`, `host`, `pid`,
/// or null), `live`, `since_ms`.
pub fn holder_json(h: &Holder) -> Json {
    json!({
        "owner": h.unique_id,
        "token": h.token,
        "node": h.node.as_ref().map(|n| json!({"id": n.id, "host": n.host, "pid": n.pid})),
        "live": h.live,
        "since_ms": h.since_ms,
    })
}

/// A record as JSON: `value` (decoded: a compressed value decompressed;
/// null with `value_error` and `value_text` when it cannot be read),
/// `compressed` (`level`, `decimals`, `safety`, `chars`, or null),
/// `metadata` (an object), `user_ids`, `created_ms`, `updated_ms`,
/// `version`, `token`, `data_version`, `readable_from`.
pub fn record_json(r: &Record) -> Json {
    let mut out = Map::new();
    let metadata = parse_metadata(&r.metadata);
    let (value, compressed) = match &metadata {
        Ok(m) => decoded(&r.value, m),
        Err(e) => (Err(e.clone()), Json::Null),
    };
    match value {
        Ok(v) => {
            out.insert("value".into(), v);
        }
        Err(e) => {
            out.insert("value".into(), Json::Null);
            out.insert("value_error".into(), json!(e));
            out.insert("value_text".into(), json!(r.value));
        }
    }
    out.insert("compressed".into(), compressed);
    out.insert(
        "metadata".into(),
        metadata.map_or_else(|_| json!(r.metadata), Json::Object),
    );
    out.insert("user_ids".into(), json!(r.user_ids));
    out.insert("created_ms".into(), json!(r.created_ms));
    out.insert("updated_ms".into(), json!(r.updated_ms));
    out.insert("version".into(), json!(r.version));
    out.insert("token".into(), json!(r.token));
    out.insert("data_version".into(), json!(r.data_version.version));
    out.insert("readable_from".into(), json!(r.data_version.readable_from));
    Json::Object(out)
}

/// The value decoded as JSON, and the compression settings (or null).
fn decoded(text: &str, metadata: &Map<String, Json>) -> (Result<Json, String>, Json) {
    let settings = match compress_options(metadata) {
        Ok(Some(o)) => Some(o),
        Ok(None) => None,
        Err(e) => return (Err(e), Json::Null),
    };
    let (value, compressed) = match decode(text, metadata) {
        Ok(v) => v,
        Err(e) => return (Err(e), Json::Null),
    };
    let info = match (settings, compressed) {
        (Some(o), Some(c)) => json!({
            "level": if o.level == sdm_codec::Level::One { 1 } else { 2 },
            "decimals": o.decimals,
            "safety": o.safety,
            "chars": c.chars().count(),
        }),
        _ => Json::Null,
    };
    let json =
        to_json_text(&value).and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()));
    (json, info)
}

/// A version as JSON: the record's fields ([`record_json`]) with
/// `replaced_ms` and `removed`.
pub fn version_json(v: &Version) -> Json {
    let mut out = record_json(&v.record);
    if let Some(o) = out.as_object_mut() {
        o.insert("replaced_ms".into(), json!(v.replaced_ms));
        o.insert("removed".into(), json!(v.removed));
    }
    out
}

/// A page of keys as JSON: `keys` (each `id`, `name`, `scope`, `key`) and
/// `next` (the cursor of the next page, or null).
pub fn keys_json(page: &KeyPage) -> Json {
    let keys: Vec<Json> = page
        .ids
        .iter()
        .map(|id| json!({"id": id.to_string(), "name": id.name, "scope": id.scope, "key": id.key}))
        .collect();
    json!({"keys": keys, "next": page.next})
}
