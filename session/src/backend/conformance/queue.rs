//! Queue cases: order, limits, expiry, arguments, invisibility, removal,
//! waiting reads.

use std::sync::Arc;
use std::time::Duration;

use super::{ok, read_now, some, LONG};
use crate::backend::{Backend, BackendError, MAX_QUEUE_EXPIRATION};

/// Reads now; there must be values.
async fn read_some(
    b: &Arc<dyn Backend>,
    id: &crate::backend::SessionId,
    count: usize,
    invisibility: Duration,
) -> crate::backend::QueueBatch {
    some(read_now(b, id, count, invisibility).await, "queue values")
}

/// Highest priority first, oldest first within one priority.
pub async fn order_by_priority_then_fifo(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_order");
    for (value, priority) in [
        ("a", 0.0),
        ("b", 5.0),
        ("c", 0.0),
        ("d", 5.0),
        ("e", -1.0),
        ("f", 0.5),
        ("g", -0.0),
    ] {
        let text = format!("\"{value}\"");
        ok(b.queue_push(&id, &text, LONG, priority).await, "push");
    }
    let batch = read_some(&b, &id, 100, LONG).await;
    let expected: Vec<String> = ["b", "d", "f", "a", "c", "g", "e"]
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect();
    assert_eq!(batch.values, expected);
    assert!(!batch.read_id.is_empty());
}

/// A read hands out at most `count` values, in order.
pub async fn count_limit(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_count");
    for n in 1..=5 {
        ok(b.queue_push(&id, &n.to_string(), LONG, 0.0).await, "push");
    }
    let first = read_some(&b, &id, 2, LONG).await;
    assert_eq!(first.values, ["1", "2"]);
    let second = read_some(&b, &id, 2, LONG).await;
    assert_eq!(second.values, ["3", "4"]);
    assert_ne!(first.read_id, second.read_id);
    let third = read_some(&b, &id, 2, LONG).await;
    assert_eq!(third.values, ["5"]);
    assert_eq!(read_now(&b, &id, 2, LONG).await, None);
}

/// Each value expires on its own.
pub async fn per_value_expiry(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_expiry");
    let short = Duration::from_millis(800);
    ok(b.queue_push(&id, "\"short\"", short, 9.0).await, "push");
    ok(b.queue_push(&id, "\"long\"", LONG, 0.0).await, "push");
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let batch = read_some(&b, &id, 10, LONG).await;
    assert_eq!(batch.values, ["\"long\""]);
}

/// Expirations past 45 days and NaN priorities are refused; 45 days is
/// allowed.
pub async fn arguments_checked(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_args");
    let too_long = MAX_QUEUE_EXPIRATION + Duration::from_secs(1);
    assert!(matches!(
        b.queue_push(&id, "1", too_long, 0.0).await,
        Err(BackendError::Invalid(_))
    ));
    assert!(matches!(
        b.queue_push(&id, "1", LONG, f64::NAN).await,
        Err(BackendError::Invalid(_))
    ));
    let longest = b.queue_push(&id, "1", MAX_QUEUE_EXPIRATION, 0.0);
    ok(longest.await, "45 days is allowed");
}

/// Values read stay invisible, then come back under a new read id.
pub async fn invisibility_and_return(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_invisible");
    ok(b.queue_push(&id, "\"x\"", LONG, 0.0).await, "push");
    let first = read_some(&b, &id, 10, Duration::from_millis(1000)).await;
    assert_eq!(first.values, ["\"x\""]);
    assert_eq!(
        read_now(&b, &id, 10, LONG).await,
        None,
        "invisible after a read"
    );
    ok(b.queue_push(&id, "\"y\"", LONG, 0.0).await, "push");
    let other = read_some(&b, &id, 10, LONG).await;
    assert_eq!(other.values, ["\"y\""], "new values are visible");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let again = read_some(&b, &id, 10, LONG).await;
    assert_eq!(again.values, ["\"x\""], "came back");
    assert_ne!(again.read_id, first.read_id);
}

/// Removing by read id drops exactly the values handed out under it.
pub async fn removal_by_read_id(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_remove");
    let short = Duration::from_millis(800);
    ok(b.queue_push(&id, "1", LONG, 0.0).await, "push");
    ok(b.queue_push(&id, "2", LONG, 0.0).await, "push");
    let first = read_some(&b, &id, 1, short).await;
    let second = read_some(&b, &id, 1, short).await;
    assert_eq!(
        (first.values.as_slice(), second.values.as_slice()),
        (&["1".to_owned()][..], &["2".to_owned()][..])
    );
    ok(b.queue_remove(&id, &first.read_id).await, "remove");
    let unknown = b.queue_remove(&id, "no-such-read-id");
    ok(unknown.await, "remove of an unknown id is fine");
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let back = read_some(&b, &id, 10, LONG).await;
    assert_eq!(back.values, ["2"], "the unremoved value comes back");
    ok(b.queue_remove(&id, &back.read_id).await, "remove");
    assert_eq!(read_now(&b, &id, 10, LONG).await, None);
}

/// A waiting read returns nothing after its wait, and is woken by a push.
pub async fn waiting_read_woken_by_push(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_wait");
    let empty = b.queue_read(&id, 10, Duration::from_millis(300), LONG);
    assert_eq!(ok(empty.await, "read"), None, "nothing arrived in time");
    let reader = {
        let (b, id) = (Arc::clone(&b), id.clone());
        tokio::spawn(async move { b.queue_read(&id, 10, Duration::from_secs(60), LONG).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    ok(b.queue_push(&id, "\"wake\"", LONG, 0.0).await, "push");
    // Far less than the 60 s wait: the push must wake the reader.
    let woken = tokio::time::timeout(Duration::from_secs(5), reader).await;
    let read = ok(ok(woken, "the push woke the reader"), "reader task");
    let batch = some(ok(read, "read"), "values");
    assert_eq!(batch.values, ["\"wake\""]);
}

/// A read tells how long each value waited since its push (the queue
/// lag), by the store's clock.
pub async fn every_value_read_tells_its_age(b: Arc<dyn Backend>) {
    let id = super::fresh_id("queue_age");
    ok(b.queue_push(&id, "\"old\"", LONG, 0.0).await, "push");
    tokio::time::sleep(Duration::from_millis(60)).await;
    ok(b.queue_push(&id, "\"new\"", LONG, 0.0).await, "push");
    let batch = read_some(&b, &id, 10, LONG).await;
    assert_eq!(batch.values, ["\"old\"", "\"new\""]);
    assert_eq!(batch.ages.len(), 2, "one age per value: {:?}", batch.ages);
    let (Some(old), Some(new)) = (batch.ages[0], batch.ages[1]) else {
        panic!("every value pushed now has an age: {:?}", batch.ages);
    };
    assert!(old >= Duration::from_millis(50), "{old:?}");
    assert!(old < LONG && new <= old, "{old:?} {new:?}");
}
