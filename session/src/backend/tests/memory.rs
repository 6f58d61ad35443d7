//! Unit tests of `memory.rs`.

use super::*;
use crate::backend::LockOutcome;
use std::sync::Arc;

fn id() -> SessionId {
    SessionId::new("Player", None, "1")
}

#[tokio::test(start_paused = true)]
async fn lock_expires_on_the_store_clock() {
    let m = MemoryBackend::new();
    let ttl = Duration::from_secs(330);
    assert_eq!(
        m.lock(&id(), "a", ttl).await,
        Ok(LockOutcome::Acquired { token: 1 })
    );
    tokio::time::sleep(Duration::from_secs(329)).await;
    assert_eq!(
        m.lock(&id(), "b", ttl).await,
        Ok(LockOutcome::Held { owner: "a".into() })
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        m.lock(&id(), "b", ttl).await,
        Ok(LockOutcome::Acquired { token: 2 })
    );
    assert_eq!(m.unlock(&id(), "a").await, Ok(false));
    assert_eq!(m.unlock(&id(), "b").await, Ok(true));
}

#[tokio::test(start_paused = true)]
async fn fenced_write_names_the_owner_and_changes_nothing() {
    let m = MemoryBackend::new();
    m.lock(&id(), "a", Duration::from_secs(60)).await.unwrap();
    let w = Write::Set {
        value: "1".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    let r = m
        .set(
            &id(),
            &w,
            Some(Fence {
                owner: "b",
                token: 1,
                release: false,
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        WriteOutcome::Fenced {
            token: 1,
            owner: Some("a".into())
        }
    );
    assert_eq!(m.get(&id()).await.unwrap(), None);
    let r = m
        .set(
            &id(),
            &w,
            Some(Fence {
                owner: "a",
                token: 1,
                release: true,
            }),
        )
        .await
        .unwrap();
    assert!(matches!(r, WriteOutcome::Written { .. }));
    assert_eq!(m.lock_holder(&id()), None);
}

#[tokio::test(start_paused = true)]
async fn queue_orders_by_priority_then_age_and_hides_read_values() {
    let m = MemoryBackend::new();
    let day = Duration::from_secs(86_400);
    m.queue_push(&id(), "\"low\"", day, 0.0).await.unwrap();
    m.queue_push(&id(), "\"high\"", day, 5.0).await.unwrap();
    m.queue_push(&id(), "\"low2\"", day, 0.0).await.unwrap();
    let inv = Duration::from_secs(30);
    let b = m
        .queue_read(&id(), 2, Duration::ZERO, inv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.values, vec!["\"high\"", "\"low\""]);
    let b2 = m
        .queue_read(&id(), 10, Duration::ZERO, inv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b2.values, vec!["\"low2\""]);
    m.queue_remove(&id(), &b2.read_id).await.unwrap();
    // The first batch was not removed: it comes back after 30 s.
    let start = Instant::now();
    let b3 = m
        .queue_read(&id(), 10, Duration::from_secs(60), inv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(b3.values, vec!["\"high\"", "\"low\""]);
}

#[tokio::test(start_paused = true)]
async fn queue_read_wakes_on_push_and_values_expire() {
    let m = Arc::new(MemoryBackend::new());
    let m2 = m.clone();
    let reader = tokio::spawn(async move {
        m2.queue_read(&id(), 10, Duration::from_secs(30), Duration::from_secs(30))
            .await
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    m.queue_push(&id(), "1", Duration::from_secs(10), 0.0)
        .await
        .unwrap();
    let b = reader.await.unwrap().unwrap().unwrap();
    assert_eq!(b.values, vec!["1"]);
    m.queue_push(&id(), "2", Duration::from_secs(10), 0.0)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(m.queue_len(&id()), 0);
    let none = m
        .queue_read(&id(), 10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(none, None);
}
