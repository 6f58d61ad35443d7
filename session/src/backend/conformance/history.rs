//! History cases: versions kept in order and trimmed (by count and by age),
//! restore fenced and forced, exact imports, erase leaving nothing, the
//! user-id index, key listing paged.
//!
//! The cases of [`HISTORY_CASES`](super::HISTORY_CASES) need a store kept
//! with the default history (at least 4 versions, no age limit); the
//! trimming cases ([`TRIM_CASES`](super::TRIM_CASES)) one kept with
//! [`TRIM`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::{acquire, fence, get, ok, read_now, record, write, written, LONG};
use crate::admin::{self, AdminError};
use crate::backend::{
    Backend, DataVersion, HistoryConfig, KeyQuery, Record, SessionId, VersionQuery, Write,
    WriteOutcome,
};

/// The retention the trimming cases expect: 3 versions, 1.5 s.
pub const TRIM: HistoryConfig = HistoryConfig {
    keep: 3,
    max_age: Some(Duration::from_millis(1500)),
};

fn set_with(value: &str, user_ids: &[i64]) -> Write {
    Write::Set {
        value: value.to_owned(),
        metadata: "{\"m\":1}".to_owned(),
        user_ids: user_ids.to_vec(),
        data_version: DataVersion {
            version: 2,
            readable_from: 1,
        },
    }
}

async fn values(b: &Arc<dyn Backend>, id: &SessionId, q: &VersionQuery) -> Vec<String> {
    ok(b.versions(id, q).await, "versions")
        .into_iter()
        .map(|v| v.record.value)
        .collect()
}

/// Every write keeps the record it replaced, whole, newest first; a
/// removal keeps the removed record; a query filters by time and limit.
pub async fn versions_kept_in_order(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_order");
    let all = VersionQuery::default();
    assert!(values(&b, &id, &all).await.is_empty(), "nothing yet");
    written(&b, &id, &set_with("1", &[11]), None).await;
    assert!(
        values(&b, &id, &all).await.is_empty(),
        "a first write replaces nothing"
    );
    let first = record(&b, &id).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    written(&b, &id, &set_with("2", &[12]), None).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    written(&b, &id, &set_with("3", &[13]), None).await;
    assert_eq!(values(&b, &id, &all).await, ["2", "1"]);
    let kept = ok(b.versions(&id, &all).await, "versions");
    assert_eq!(kept[1].record, first, "the version is the whole record");
    assert!(!kept[1].removed);
    assert!(kept[1].replaced_ms >= first.updated_ms);
    let WriteOutcome::Written { .. } = write(&b, &id, &Write::Remove, None).await else {
        panic!("removal refused");
    };
    let kept = ok(b.versions(&id, &all).await, "versions");
    assert_eq!(kept.len(), 3);
    assert!(kept[0].removed, "a removal keeps the removed record");
    assert_eq!(kept[0].record.value, "3");
    let one = VersionQuery {
        limit: Some(1),
        ..all
    };
    assert_eq!(values(&b, &id, &one).await, ["3"]);
    let older = VersionQuery {
        until_ms: Some(first.updated_ms),
        ..all
    };
    assert_eq!(values(&b, &id, &older).await, ["1"]);
    let newer = VersionQuery {
        since_ms: Some(kept[1].record.updated_ms),
        ..all
    };
    assert_eq!(values(&b, &id, &newer).await, ["3", "2"]);
    let named = ok(b.version(&id, &first.version).await, "version");
    assert_eq!(named.map(|v| v.record), Some(first));
    assert_eq!(ok(b.version(&id, "no-such").await, "version"), None);
}

/// (A [`TRIM`] store.) Only the newest `keep` versions stay.
pub async fn trimmed_by_count(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_count");
    for i in 1..=6 {
        written(&b, &id, &set_with(&i.to_string(), &[]), None).await;
    }
    assert_eq!(
        values(&b, &id, &VersionQuery::default()).await,
        ["5", "4", "3"]
    );
}

/// (A store keeping no history, `history_keep=0`.) Writes and removals
/// keep no versions at all.
pub async fn none_kept(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_none");
    for i in 1..=3 {
        written(&b, &id, &set_with(&i.to_string(), &[]), None).await;
    }
    assert_eq!(record(&b, &id).await.value, "3");
    let WriteOutcome::Written { .. } = write(&b, &id, &Write::Remove, None).await else {
        panic!("removal refused");
    };
    assert!(values(&b, &id, &VersionQuery::default()).await.is_empty());
}

/// Retention lowered to none: `before` and `after` are the same store
/// (one file, one Redis) opened with the default retention and with
/// `history_keep=0`. The first write under `after` drops every version
/// kept under `before`, and later writes keep none.
pub async fn lowered_to_none(before: Arc<dyn Backend>, after: Arc<dyn Backend>) {
    let id = super::fresh_id("history_lowered");
    for i in 1..=3 {
        written(&before, &id, &set_with(&i.to_string(), &[]), None).await;
    }
    assert_eq!(
        values(&before, &id, &VersionQuery::default()).await,
        ["2", "1"]
    );
    written(&after, &id, &set_with("4", &[]), None).await;
    assert!(values(&after, &id, &VersionQuery::default())
        .await
        .is_empty());
    written(&after, &id, &set_with("5", &[]), None).await;
    assert!(values(&after, &id, &VersionQuery::default())
        .await
        .is_empty());
    assert_eq!(record(&after, &id).await.value, "5");
    written(&before, &id, &set_with("6", &[]), None).await;
    assert_eq!(values(&before, &id, &VersionQuery::default()).await, ["5"]);
}

/// (A [`TRIM`] store.) Versions replaced longer ago than the maximum age
/// are dropped at the next write.
pub async fn trimmed_by_age(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_age");
    written(&b, &id, &set_with("1", &[]), None).await;
    written(&b, &id, &set_with("2", &[]), None).await;
    assert_eq!(values(&b, &id, &VersionQuery::default()).await, ["1"]);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    written(&b, &id, &set_with("3", &[]), None).await;
    assert_eq!(
        values(&b, &id, &VersionQuery::default()).await,
        ["2"],
        "the version replaced 1.8 s ago is gone, the one replaced now stays"
    );
}

/// A restore writes the old contents as the newest version, fenced: it is
/// refused while a session owns the key, and forced it fences the owner
/// out (its next save is refused).
pub async fn restore_fenced_and_forced(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_restore");
    let token = acquire(&b, &id, "owner", LONG).await;
    written(
        &b,
        &id,
        &set_with("\"good\"", &[1]),
        fence("owner", token, false),
    )
    .await;
    written(
        &b,
        &id,
        &set_with("\"bad\"", &[1]),
        fence("owner", token, false),
    )
    .await;
    let good = ok(b.versions(&id, &VersionQuery::default()).await, "versions")[0]
        .record
        .clone();
    let refused = admin::restore(&*b, &id, &good.version, false).await;
    assert!(
        matches!(&refused, Err(AdminError::Held { owner, .. }) if owner == "owner"),
        "{refused:?}"
    );
    assert_eq!(record(&b, &id).await.value, "\"bad\"", "nothing written");
    let missing = admin::restore(&*b, &id, "no-such-version", true).await;
    assert!(
        matches!(missing, Err(AdminError::NoSuchVersion { .. })),
        "{missing:?}"
    );
    let restored = ok(
        admin::restore(&*b, &id, &good.version, true).await,
        "forced restore",
    );
    assert_eq!(restored.fenced.as_deref(), Some("owner"));
    assert!(restored.token > token);
    let now = record(&b, &id).await;
    assert_eq!(
        (now.value.as_str(), now.metadata.as_str()),
        ("\"good\"", good.metadata.as_str())
    );
    assert_eq!(
        (now.user_ids, now.data_version),
        (good.user_ids, good.data_version)
    );
    assert_ne!(now.version, good.version, "a restore is a new version");
    assert_eq!(now.created_ms, good.created_ms, "the key's creation stays");
    assert_eq!(
        values(&b, &id, &VersionQuery::default()).await[0],
        "\"bad\"",
        "the replaced record is kept"
    );
    let stale = write(
        &b,
        &id,
        &set_with("\"stale\"", &[]),
        fence("owner", token, true),
    )
    .await;
    assert!(matches!(stale, WriteOutcome::Fenced { .. }), "{stale:?}");
    assert_eq!(record(&b, &id).await.value, "\"good\"");
    assert_eq!(
        ok(b.lock_entry(&id).await, "entry"),
        None,
        "the admin lock is released"
    );
}

/// `put` writes every field as given (an import) and keeps history.
pub async fn put_writes_every_field(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_put");
    written(&b, &id, &set_with("\"before\"", &[]), None).await;
    let r = Record {
        value: "{\"a\":[1,2.5,\"x\"]}".into(),
        metadata: "{\"Compress\":{\"Level\":2}}".into(),
        user_ids: vec![5, -6],
        created_ms: 1_600_000_000_000,
        updated_ms: 1_700_000_000_123,
        version: "imported-version".into(),
        token: 42,
        data_version: DataVersion {
            version: 3,
            readable_from: 2,
        },
    };
    let out = ok(b.put(&id, &r, None).await, "put");
    assert_eq!(
        out,
        WriteOutcome::Written {
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
            version: r.version.clone(),
            token: 42
        }
    );
    assert_eq!(record(&b, &id).await, r);
    assert_eq!(
        values(&b, &id, &VersionQuery::default()).await,
        ["\"before\""]
    );
    assert!(ok(b.keys_for_user(-6, Some(&id.name)).await, "index").contains(&id));
    let t = acquire(&b, &id, "later", LONG).await;
    assert!(t > 42, "tokens stay above the imported one: {t}");
}

/// A fenced `put` that releases (a session closing by writing a whole
/// record) makes the release final under the fence's token, whatever token
/// the record it writes holds: a renewal under the fence's token landing
/// later is refused, and the next owner takes the key at once.
pub async fn put_that_releases_is_final_for_the_fence_token(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_put_release");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    let t = if t > 1 {
        t
    } else {
        acquire(&b, &id, "owner-a", LONG).await
    };
    let r = Record {
        value: "\"closing\"".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        created_ms: 1_600_000_000_000,
        updated_ms: 1_700_000_000_000,
        version: "closing-version".into(),
        token: 1,
        data_version: DataVersion::default(),
    };
    let out = ok(b.put(&id, &r, fence("owner-a", t, true)).await, "put");
    assert!(matches!(out, WriteOutcome::Written { .. }), "{out:?}");
    assert_eq!(ok(b.lock_entry(&id).await, "entry"), None, "released");
    let late = ok(b.renew(&id, "owner-a", t, LONG).await, "renew");
    assert!(
        matches!(
            late,
            crate::backend::RenewOutcome::Superseded { owner: None, .. }
        ),
        "a renewal under the fence's token after the release: {late:?}"
    );
    let next = acquire(&b, &id, "owner-b", LONG).await;
    assert!(next > t, "the key was free for the next owner");
}

/// Erase removes the record, every version, the queue and the user-id
/// index entries, and fences a live owner out.
pub async fn erase_leaves_nothing(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_erase");
    let other = SessionId::new(id.name.clone(), Some(&id.scope), "other");
    let user = 900_000_000_000 + i64::from(rand_u16());
    let token = acquire(&b, &id, "owner", LONG).await;
    written(
        &b,
        &id,
        &set_with("1", &[user]),
        fence("owner", token, false),
    )
    .await;
    written(
        &b,
        &id,
        &set_with("2", &[user, 7]),
        fence("owner", token, false),
    )
    .await;
    written(&b, &other, &set_with("3", &[user]), None).await;
    ok(b.queue_push(&id, "\"gift\"", LONG, 0.0).await, "push");
    let found = ok(b.keys_for_user(user, None).await, "keys_for_user");
    assert_eq!(
        found,
        vec![id.clone(), other.clone()]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let erased = ok(b.erase(&id).await, "erase");
    assert!(erased.record);
    assert_eq!((erased.versions, erased.queued), (1, 1));
    assert_eq!(
        erased.user_ids.iter().copied().collect::<BTreeSet<_>>(),
        [7, user].into()
    );
    assert_eq!(erased.holder.as_deref(), Some("owner"));
    assert_eq!(get(&b, &id).await, None);
    assert!(ok(b.versions(&id, &VersionQuery::default()).await, "versions").is_empty());
    assert_eq!(read_now(&b, &id, 10, LONG).await, None, "queue gone");
    assert_eq!(
        ok(b.keys_for_user(user, None).await, "index"),
        vec![other.clone()]
    );
    assert!(!ok(b.keys_for_user(7, Some(&id.name)).await, "index").contains(&id));
    let stale = write(
        &b,
        &id,
        &set_with("\"back\"", &[]),
        fence("owner", token, true),
    )
    .await;
    assert!(matches!(stale, WriteOutcome::Fenced { .. }), "{stale:?}");
    assert_eq!(get(&b, &id).await, None);
    let again = ok(b.erase(&id).await, "erase again");
    assert!(!again.record && again.versions == 0 && again.holder.is_none());
}

fn rand_u16() -> u16 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u16::from_le_bytes([bytes[0], bytes[1]])
}

/// Keys are listed by name (scope, prefix), page by page, each once; a
/// removed key is not listed.
pub async fn keys_listed_in_pages(b: Arc<dyn Backend>) {
    let name = format!("Keys{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut want = BTreeSet::new();
    for i in 0..57 {
        let scope = if i % 3 == 0 { "s" } else { "global" };
        let id = SessionId::new(name.clone(), Some(scope), format!("k{i:03}"));
        written(&b, &id, &set_with("1", &[]), None).await;
        want.insert(id);
    }
    let gone = SessionId::new(name.clone(), None, "removed");
    written(&b, &gone, &set_with("1", &[]), None).await;
    write(&b, &gone, &Write::Remove, None).await;
    let elsewhere = SessionId::new(format!("{name}x"), None, "k000");
    written(&b, &elsewhere, &set_with("1", &[]), None).await;
    let list = |q: KeyQuery| {
        let b = Arc::clone(&b);
        async move {
            let mut q = q;
            let mut got = Vec::new();
            let mut pages = 0;
            loop {
                let page = ok(b.keys(&q).await, "keys");
                pages += 1;
                got.extend(page.ids);
                match page.next {
                    Some(next) => q.cursor = Some(next),
                    None => break,
                }
                assert!(pages < 1000, "paging never ends");
            }
            (got, pages)
        }
    };
    let mut q = KeyQuery::new(name.clone());
    q.limit = 10;
    let (got, pages) = list(q.clone()).await;
    let set: BTreeSet<SessionId> = got.iter().cloned().collect();
    assert_eq!(set.len(), got.len(), "each key once");
    assert_eq!(set, want);
    assert!(pages >= 2, "paged: {pages} page(s)");
    let mut scoped = q.clone();
    scoped.scope = Some("s".into());
    let (got, _) = list(scoped).await;
    assert_eq!(got.len(), 19, "{got:?}");
    let mut prefixed = q;
    prefixed.prefix = Some("k05".into());
    let (got, _) = list(prefixed).await;
    let keys: BTreeSet<String> = got.into_iter().map(|id| id.key).collect();
    assert_eq!(keys, (50..57).map(|i| format!("k{i:03}")).collect());
}

/// `queue_items` lists the live values in reading order without handing
/// any out (marking the ones a reader holds); `queue_delete` removes one.
pub async fn queue_listed_and_fixed(b: Arc<dyn Backend>) {
    let id = super::fresh_id("history_queue");
    assert!(ok(b.queue_items(&id).await, "items").is_empty());
    ok(b.queue_push(&id, "\"low\"", LONG, 1.0).await, "push");
    ok(b.queue_push(&id, "\"high\"", LONG, 5.5).await, "push");
    ok(b.queue_push(&id, "\"low2\"", LONG, 1.0).await, "push");
    ok(
        b.queue_push(&id, "\"gone\"", Duration::from_millis(300), 9.0)
            .await,
        "push",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let items = ok(b.queue_items(&id).await, "items");
    let values: Vec<&str> = items.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values, ["\"high\"", "\"low\"", "\"low2\""]);
    assert_eq!(items[0].priority, 5.5);
    assert!(items[0].expires_ms > super::now_ms());
    assert!(items.iter().all(|i| !i.invisible));
    let batch = read_now(&b, &id, 1, LONG).await.expect("a value"); // ok: a conformance case; a missing value is a failed case
    assert_eq!(batch.values, ["\"high\""]);
    let items = ok(b.queue_items(&id).await, "items");
    assert!(items[0].invisible && !items[1].invisible, "{items:?}");
    assert!(ok(b.queue_delete(&id, &items[1].item).await, "delete"));
    assert!(!ok(
        b.queue_delete(&id, &items[1].item).await,
        "delete again"
    ));
    let left: Vec<String> = ok(b.queue_items(&id).await, "items")
        .into_iter()
        .map(|i| i.value)
        .collect();
    assert_eq!(left, ["\"high\"", "\"low2\""]);
}
