//! The conformance suite every backend passes (object_store style): each
//! `pub async fn` takes any backend and asserts one documented behaviour of
//! [`Backend`]. [`run_all`] runs them all at once and reports every failure.
//!
//! Expiry is tested with short real TTLs (hundreds of ms): a real store keeps
//! its own clock. The waits use `tokio::time::sleep`, so a backend on
//! tokio's clock (the memory backend) also runs them on a paused clock.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sdm_session::backend::{
    Backend, BackendError, Fence, LockOutcome, QueueBatch, SessionId, Write, WriteOutcome,
    MAX_QUEUE_EXPIRATION,
};

/// A short lock TTL for expiry tests.
const SHORT: Duration = Duration::from_millis(1200);
/// Long enough for anything not meant to expire during a test.
const LONG: Duration = Duration::from_secs(60);
/// Sleep a bit more than `SHORT` to see it expire.
const PAST_SHORT: Duration = Duration::from_millis(1800);

/// A session id unique to this test run (tests may share one store).
pub fn fresh_id(test: &str) -> SessionId {
    let run = uuid::Uuid::new_v4().simple().to_string();
    SessionId::new("Conformance", Some(&run[..12]), test)
}

fn set_value(value: &str) -> Write {
    Write::Set {
        value: value.to_owned(),
        metadata: "{}".to_owned(),
        user_ids: Vec::new(),
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

async fn lock(b: &Arc<dyn Backend>, id: &SessionId, owner: &str, ttl: Duration) -> LockOutcome {
    b.lock(id, owner, ttl).await.expect("lock call succeeds")
}

fn held(owner: &str) -> LockOutcome {
    LockOutcome::Held {
        owner: owner.to_owned(),
    }
}

async fn write(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    w: &Write,
    fence: Option<Fence<'_>>,
) -> WriteOutcome {
    b.set(id, w, fence).await.expect("write call succeeds")
}

async fn read_now(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    count: usize,
    invisibility: Duration,
) -> Option<QueueBatch> {
    b.queue_read(id, count, Duration::ZERO, invisibility)
        .await
        .expect("queue read succeeds")
}

/// One owner holds the lock; another is told who; it expires by the store.
pub async fn lock_contention_and_expiry(b: Arc<dyn Backend>) {
    let id = fresh_id("lock_contention");
    assert_eq!(lock(&b, &id, "owner-a", SHORT).await, LockOutcome::Acquired);
    assert_eq!(lock(&b, &id, "owner-b", SHORT).await, held("owner-a"));
    assert_eq!(
        lock(&b, &id, "owner-b", LONG).await,
        held("owner-a"),
        "a longer ttl does not help"
    );
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        lock(&b, &id, "owner-b", LONG).await,
        LockOutcome::Acquired,
        "expired lock is free"
    );
    assert_eq!(lock(&b, &id, "owner-a", LONG).await, held("owner-b"));
}

/// The owner renews its lock, pushing the expiry out.
pub async fn renew_by_owner(b: Arc<dyn Backend>) {
    let id = fresh_id("renew");
    assert_eq!(lock(&b, &id, "owner-a", SHORT).await, LockOutcome::Acquired);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        lock(&b, &id, "owner-a", SHORT).await,
        LockOutcome::Acquired,
        "renewal by the owner"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    // 1600 ms after the first take: only the renewal keeps it.
    assert_eq!(
        lock(&b, &id, "owner-b", SHORT).await,
        held("owner-a"),
        "renewal extended the expiry"
    );
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(lock(&b, &id, "owner-b", SHORT).await, LockOutcome::Acquired);
}

/// Only the owner's release removes the lock.
pub async fn release_only_by_owner(b: Arc<dyn Backend>) {
    let id = fresh_id("release");
    assert_eq!(lock(&b, &id, "owner-a", LONG).await, LockOutcome::Acquired);
    assert!(
        !b.unlock(&id, "owner-b").await.expect("unlock"),
        "a stranger cannot release"
    );
    assert_eq!(lock(&b, &id, "owner-b", LONG).await, held("owner-a"));
    assert!(
        b.unlock(&id, "owner-a").await.expect("unlock"),
        "the owner releases"
    );
    assert!(
        !b.unlock(&id, "owner-a").await.expect("unlock"),
        "nothing left to release"
    );
    assert_eq!(lock(&b, &id, "owner-b", LONG).await, LockOutcome::Acquired);
    let never = fresh_id("release_never_locked");
    assert!(!b
        .unlock(&never, "owner-a")
        .await
        .expect("unlock of an absent lock"));
}

/// Every write gets a new, non-empty version; get reports the latest.
pub async fn versions_change_on_every_write(b: Arc<dyn Backend>) {
    let id = fresh_id("versions");
    let w = set_value("{\"coins\":1}");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let WriteOutcome::Written { version, .. } = write(&b, &id, &w, None).await else {
            panic!("unfenced write refused");
        };
        assert!(!version.is_empty());
        assert!(!seen.contains(&version), "version {version} repeated");
        seen.push(version);
    }
    let record = b.get(&id).await.expect("get").expect("record exists");
    assert_eq!(Some(&record.version), seen.last());
}

/// Created time stays, updated time moves, both are the store's ms time.
pub async fn created_and_updated_times(b: Arc<dyn Backend>) {
    let id = fresh_id("times");
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
    let record = b.get(&id).await.expect("get").expect("record");
    assert_eq!((record.created_ms, record.updated_ms), (created2, updated2));
}

/// Value, metadata and user ids read back as written.
pub async fn metadata_and_user_ids_round_trip(b: Arc<dyn Backend>) {
    let id = fresh_id("round_trip");
    let value = r#"{"name":"Ünïcødé ✓","list":[1,2.5,-3e-7],"nested":{"a":null,"b":true}}"#;
    let metadata = r#"{"Compress":{"Level":2,"Decimals":3,"Safety":true},"tag":"x"}"#;
    let user_ids = vec![1, -5, 9_007_199_254_740_993, i64::MAX, i64::MIN];
    let w = Write::Set {
        value: value.to_owned(),
        metadata: metadata.to_owned(),
        user_ids: user_ids.clone(),
    };
    write(&b, &id, &w, None).await;
    let record = b.get(&id).await.expect("get").expect("record");
    assert_eq!(record.value, value);
    let stored: serde_json::Value =
        serde_json::from_str(&record.metadata).expect("metadata is JSON");
    let expected: serde_json::Value = serde_json::from_str(metadata).expect("test metadata");
    assert_eq!(stored, expected);
    assert_eq!(record.user_ids, user_ids);
    // A compressed value is stored as a JSON string.
    let compressed = Write::Set {
        value: "\"#a!b\\\"c\"".to_owned(),
        metadata: "{}".to_owned(),
        user_ids: vec![],
    };
    write(&b, &id, &compressed, None).await;
    let record = b.get(&id).await.expect("get").expect("record");
    assert_eq!(record.value, "\"#a!b\\\"c\"");
    assert_eq!(record.user_ids, Vec::<i64>::new());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&record.metadata).expect("json"),
        serde_json::json!({})
    );
}

/// Remove deletes the record and answers zero times and no version.
pub async fn remove(b: Arc<dyn Backend>) {
    let id = fresh_id("remove");
    assert_eq!(b.get(&id).await.expect("get"), None, "never written");
    write(&b, &id, &set_value("[1]"), None).await;
    let outcome = write(&b, &id, &Write::Remove, None).await;
    assert_eq!(
        outcome,
        WriteOutcome::Written {
            created_ms: 0,
            updated_ms: 0,
            version: String::new()
        }
    );
    assert_eq!(b.get(&id).await.expect("get"), None, "removed");
    // Removing an absent key is fine; writing again starts a new record.
    write(&b, &id, &Write::Remove, None).await;
    write(&b, &id, &set_value("2"), None).await;
    assert_eq!(b.get(&id).await.expect("get").expect("record").value, "2");
}

/// Highest priority first, oldest first within one priority.
pub async fn queue_order_by_priority_then_fifo(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_order");
    for (value, priority) in [
        ("a", 0.0),
        ("b", 5.0),
        ("c", 0.0),
        ("d", 5.0),
        ("e", -1.0),
        ("f", 0.5),
        ("g", -0.0),
    ] {
        b.queue_push(&id, &format!("\"{value}\""), LONG, priority)
            .await
            .expect("push");
    }
    let batch = read_now(&b, &id, 100, LONG).await.expect("values");
    let expected: Vec<String> = ["b", "d", "f", "a", "c", "g", "e"]
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect();
    assert_eq!(batch.values, expected);
    assert!(!batch.read_id.is_empty());
}

/// A read hands out at most `count` values, in order.
pub async fn queue_count_limit(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_count");
    for n in 1..=5 {
        b.queue_push(&id, &n.to_string(), LONG, 0.0)
            .await
            .expect("push");
    }
    let first = read_now(&b, &id, 2, LONG).await.expect("values");
    assert_eq!(first.values, ["1", "2"]);
    let second = read_now(&b, &id, 2, LONG).await.expect("values");
    assert_eq!(second.values, ["3", "4"]);
    assert_ne!(first.read_id, second.read_id);
    let third = read_now(&b, &id, 2, LONG).await.expect("values");
    assert_eq!(third.values, ["5"]);
    assert_eq!(read_now(&b, &id, 2, LONG).await, None);
}

/// Each value expires on its own.
pub async fn queue_per_value_expiry(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_expiry");
    b.queue_push(&id, "\"short\"", Duration::from_millis(800), 9.0)
        .await
        .expect("push");
    b.queue_push(&id, "\"long\"", LONG, 0.0)
        .await
        .expect("push");
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let batch = read_now(&b, &id, 10, LONG).await.expect("values");
    assert_eq!(batch.values, ["\"long\""]);
}

/// Expirations past 45 days and NaN priorities are refused; 45 days is
/// allowed.
pub async fn queue_arguments_checked(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_args");
    let too_long = MAX_QUEUE_EXPIRATION + Duration::from_secs(1);
    assert!(matches!(
        b.queue_push(&id, "1", too_long, 0.0).await,
        Err(BackendError::Invalid(_))
    ));
    assert!(matches!(
        b.queue_push(&id, "1", LONG, f64::NAN).await,
        Err(BackendError::Invalid(_))
    ));
    b.queue_push(&id, "1", MAX_QUEUE_EXPIRATION, 0.0)
        .await
        .expect("45 days is allowed");
}

/// Values read stay invisible, then come back under a new read id.
pub async fn queue_invisibility_and_return(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_invisible");
    b.queue_push(&id, "\"x\"", LONG, 0.0).await.expect("push");
    let first = read_now(&b, &id, 10, Duration::from_millis(1000))
        .await
        .expect("values");
    assert_eq!(first.values, ["\"x\""]);
    assert_eq!(
        read_now(&b, &id, 10, LONG).await,
        None,
        "invisible after a read"
    );
    b.queue_push(&id, "\"y\"", LONG, 0.0).await.expect("push");
    let other = read_now(&b, &id, 10, LONG)
        .await
        .expect("new values are visible");
    assert_eq!(other.values, ["\"y\""]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let again = read_now(&b, &id, 10, LONG).await.expect("came back");
    assert_eq!(again.values, ["\"x\""]);
    assert_ne!(again.read_id, first.read_id);
}

/// Removing by read id drops exactly the values handed out under it.
pub async fn queue_removal_by_read_id(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_remove");
    let short = Duration::from_millis(800);
    b.queue_push(&id, "1", LONG, 0.0).await.expect("push");
    b.queue_push(&id, "2", LONG, 0.0).await.expect("push");
    let first = read_now(&b, &id, 1, short).await.expect("values");
    let second = read_now(&b, &id, 1, short).await.expect("values");
    assert_eq!(
        (first.values.as_slice(), second.values.as_slice()),
        (&["1".to_owned()][..], &["2".to_owned()][..])
    );
    b.queue_remove(&id, &first.read_id).await.expect("remove");
    b.queue_remove(&id, "no-such-read-id")
        .await
        .expect("remove of an unknown id is fine");
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let back = read_now(&b, &id, 10, LONG)
        .await
        .expect("the unremoved value comes back");
    assert_eq!(back.values, ["2"]);
    b.queue_remove(&id, &back.read_id).await.expect("remove");
    assert_eq!(read_now(&b, &id, 10, LONG).await, None);
}

/// A waiting read returns nothing after its wait, and is woken by a push.
pub async fn waiting_read_woken_by_push(b: Arc<dyn Backend>) {
    let id = fresh_id("queue_wait");
    let empty = b
        .queue_read(&id, 10, Duration::from_millis(300), LONG)
        .await
        .expect("read");
    assert_eq!(empty, None, "nothing arrived in time");
    let reader = {
        let (b, id) = (Arc::clone(&b), id.clone());
        tokio::spawn(async move { b.queue_read(&id, 10, Duration::from_secs(60), LONG).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.queue_push(&id, "\"wake\"", LONG, 0.0)
        .await
        .expect("push");
    // Far less than the 60 s wait: the push must wake the reader.
    let batch = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the push woke the reader")
        .expect("reader task")
        .expect("read")
        .expect("values");
    assert_eq!(batch.values, ["\"wake\""]);
}

/// A write under a lock another owner holds is refused and changes nothing;
/// an absent lock or our own lock lets it through.
pub async fn fencing_refuses_stale_owner(b: Arc<dyn Backend>) {
    let id = fresh_id("fencing");
    let fence = |owner| {
        Some(Fence {
            owner,
            release: false,
        })
    };
    // No lock entry: a fenced write goes through.
    assert!(matches!(
        write(&b, &id, &set_value("\"first\""), fence("owner-a")).await,
        WriteOutcome::Written { .. }
    ));
    assert_eq!(lock(&b, &id, "owner-a", SHORT).await, LockOutcome::Acquired);
    // Our own lock: goes through.
    let WriteOutcome::Written { version, .. } =
        write(&b, &id, &set_value("\"a\""), fence("owner-a")).await
    else {
        panic!("the owner's write was refused");
    };
    // A's lock expires and B takes it; A (paused, stale) tries to save.
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(lock(&b, &id, "owner-b", LONG).await, LockOutcome::Acquired);
    let refused = write(&b, &id, &set_value("\"stale\""), fence("owner-a")).await;
    assert_eq!(
        refused,
        WriteOutcome::Fenced {
            owner: "owner-b".to_owned()
        }
    );
    let refused = write(
        &b,
        &id,
        &Write::Remove,
        Some(Fence {
            owner: "owner-a",
            release: true,
        }),
    )
    .await;
    assert_eq!(
        refused,
        WriteOutcome::Fenced {
            owner: "owner-b".to_owned()
        },
        "a stale removal is refused too"
    );
    let record = b.get(&id).await.expect("get").expect("record kept");
    assert_eq!(
        (record.value.as_str(), record.version.as_str()),
        ("\"a\"", version.as_str()),
        "nothing changed"
    );
    assert_eq!(
        lock(&b, &id, "owner-a", LONG).await,
        held("owner-b"),
        "the refused release kept B's lock"
    );
    // The new owner writes; an unfenced write is never refused.
    assert!(matches!(
        write(&b, &id, &set_value("\"b\""), fence("owner-b")).await,
        WriteOutcome::Written { .. }
    ));
    assert!(matches!(
        write(&b, &id, &set_value("\"c\""), None).await,
        WriteOutcome::Written { .. }
    ));
}

/// A close is one call: the write and the release together.
pub async fn close_writes_and_releases(b: Arc<dyn Backend>) {
    let id = fresh_id("close");
    assert_eq!(lock(&b, &id, "owner-a", LONG).await, LockOutcome::Acquired);
    let close = Some(Fence {
        owner: "owner-a",
        release: true,
    });
    assert!(matches!(
        write(&b, &id, &set_value("\"closed\""), close).await,
        WriteOutcome::Written { .. }
    ));
    assert_eq!(
        b.get(&id).await.expect("get").expect("record").value,
        "\"closed\""
    );
    assert_eq!(
        lock(&b, &id, "owner-b", LONG).await,
        LockOutcome::Acquired,
        "released by the close"
    );
    // Closing with a removal also releases.
    let close_b = Some(Fence {
        owner: "owner-b",
        release: true,
    });
    assert!(matches!(
        write(&b, &id, &Write::Remove, close_b).await,
        WriteOutcome::Written { .. }
    ));
    assert_eq!(b.get(&id).await.expect("get"), None);
    assert_eq!(lock(&b, &id, "owner-c", LONG).await, LockOutcome::Acquired);
}

/// Sessions do not see each other's records, locks or queues.
pub async fn sessions_are_independent(b: Arc<dyn Backend>) {
    let one = fresh_id("independent");
    let two = SessionId::new(one.name.clone(), Some(&one.scope), "independent-2");
    write(&b, &one, &set_value("1"), None).await;
    assert_eq!(b.get(&two).await.expect("get"), None);
    assert_eq!(lock(&b, &one, "owner-a", LONG).await, LockOutcome::Acquired);
    assert_eq!(lock(&b, &two, "owner-b", LONG).await, LockOutcome::Acquired);
    b.queue_push(&one, "1", LONG, 0.0).await.expect("push");
    assert_eq!(read_now(&b, &two, 10, LONG).await, None);
}

type Case = fn(Arc<dyn Backend>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|b| Box::pin($name(b))) as Case)),*]
    };
}

/// Every case of the suite, by name.
pub const CASES: &[(&str, Case)] = cases![
    lock_contention_and_expiry,
    renew_by_owner,
    release_only_by_owner,
    versions_change_on_every_write,
    created_and_updated_times,
    metadata_and_user_ids_round_trip,
    remove,
    queue_order_by_priority_then_fifo,
    queue_count_limit,
    queue_per_value_expiry,
    queue_arguments_checked,
    queue_invisibility_and_return,
    queue_removal_by_read_id,
    waiting_read_woken_by_push,
    fencing_refuses_stale_owner,
    close_writes_and_releases,
    sessions_are_independent,
];

/// Runs every case concurrently (each on its own session ids) and fails
/// naming every case that failed.
pub async fn run_all(backend: Arc<dyn Backend>) {
    let mut tasks = Vec::new();
    for (name, case) in CASES {
        tasks.push((*name, tokio::spawn(case(Arc::clone(&backend)))));
    }
    let mut failed = Vec::new();
    for (name, task) in tasks {
        if let Err(e) = task.await {
            failed.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} conformance case(s) failed on {}:\n{}",
        failed.len(),
        backend.kind(),
        failed.join("\n")
    );
}
