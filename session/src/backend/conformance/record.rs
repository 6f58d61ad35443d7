//! Record cases: versions, times, what reads back, removal.

use std::sync::Arc;
use std::time::Duration;

use super::{get, now_ms, record, set_value, write, written};
use crate::backend::{Backend, DataVersion, Write, WriteOutcome};

/// Every write gets a new, non-empty version; get reports the latest.
pub async fn versions_change_on_every_write(b: Arc<dyn Backend>) {
    let id = super::fresh_id("versions");
    let w = set_value("{\"coins\":1}");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let version = written(&b, &id, &w, None).await;
        assert!(!version.is_empty());
        assert!(!seen.contains(&version), "version {version} repeated");
        seen.push(version);
    }
    assert_eq!(Some(&record(&b, &id).await.version), seen.last());
}

/// Created time stays, updated time moves, both are the store's ms time.
pub async fn created_and_updated_times(b: Arc<dyn Backend>) {
    let id = super::fresh_id("times");
    let before = now_ms();
    let WriteOutcome::Written {
        created_ms,
        updated_ms,
        ..
    } = write(&b, &id, &set_value("1"), None).await
    else {
        panic!("write refused");
    };
    assert_eq!(created_ms, updated_ms, "first write: created = updated");
    assert!(
        (created_ms - before).abs() < 60_000,
        "created {created_ms} is ms since the epoch (now {before})"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let WriteOutcome::Written {
        created_ms: created2,
        updated_ms: updated2,
        ..
    } = write(&b, &id, &set_value("2"), None).await
    else {
        panic!("write refused");
    };
    assert_eq!(created2, created_ms, "created time is kept");
    assert!(
        updated2 > updated_ms,
        "updated time moves: {updated2} after {updated_ms}"
    );
    let r = record(&b, &id).await;
    assert_eq!((r.created_ms, r.updated_ms), (created2, updated2));
}

/// Value, metadata and user ids read back as written.
pub async fn metadata_and_user_ids_round_trip(b: Arc<dyn Backend>) {
    let id = super::fresh_id("round_trip");
    let value = r#"{"name":"Ünïcødé ✓","list":[1,2.5,-3e-7],"nested":{"a":null,"b":true}}"#;
    let metadata = r#"{"Compress":{"Level":2,"Decimals":3,"Safety":true},"tag":"x"}"#;
    let user_ids = vec![1, -5, 9_007_199_254_740_993, i64::MAX, i64::MIN];
    let w = Write::Set {
        value: value.to_owned(),
        metadata: metadata.to_owned(),
        user_ids: user_ids.clone(),
        data_version: DataVersion {
            version: 7,
            readable_from: 5,
        },
    };
    written(&b, &id, &w, None).await;
    let r = record(&b, &id).await;
    assert_eq!(r.value, value);
    let stored: Result<serde_json::Value, _> = serde_json::from_str(&r.metadata);
    let expected: Result<serde_json::Value, _> = serde_json::from_str(metadata);
    assert_eq!(stored.ok(), expected.ok(), "metadata reads back as JSON");
    assert_eq!(r.user_ids, user_ids);
    assert_eq!(
        r.data_version,
        DataVersion {
            version: 7,
            readable_from: 5
        },
        "the data version reads back as written"
    );
    // A compressed value is stored as a JSON string.
    let compressed = Write::Set {
        value: "\"#a!b\\\"c\"".to_owned(),
        metadata: "{}".to_owned(),
        user_ids: vec![],
        data_version: DataVersion::default(),
    };
    written(&b, &id, &compressed, None).await;
    let r = record(&b, &id).await;
    assert_eq!(r.value, "\"#a!b\\\"c\"");
    assert_eq!(r.user_ids, Vec::<i64>::new());
    assert_eq!(r.data_version, DataVersion::default(), "overwritten too");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.metadata).ok(),
        Some(serde_json::json!({}))
    );
}

/// Remove deletes the record and answers zero times and no version.
pub async fn remove(b: Arc<dyn Backend>) {
    let id = super::fresh_id("remove");
    assert_eq!(get(&b, &id).await, None, "never written");
    written(&b, &id, &set_value("[1]"), None).await;
    let outcome = write(&b, &id, &Write::Remove, None).await;
    assert!(
        matches!(
            &outcome,
            WriteOutcome::Written { created_ms: 0, updated_ms: 0, version, .. } if version.is_empty()
        ),
        "a removal answers zero times and no version: {outcome:?}"
    );
    assert_eq!(get(&b, &id).await, None, "removed");
    // Removing an absent key is fine; writing again starts a new record.
    written(&b, &id, &Write::Remove, None).await;
    written(&b, &id, &set_value("2"), None).await;
    assert_eq!(record(&b, &id).await.value, "2");
}
