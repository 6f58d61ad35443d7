//! Liveness and handoff cases: lock entries carry their node and age, a
//! claim may replace exactly one dead entry, heartbeats expire by the
//! store's clock, admin unlock fences the old owner, release waits and
//! release requests wake their waiters.

use std::sync::Arc;
use std::time::Duration;

use super::{acquire, fence, ok, set_value, write, LONG, PAST_SHORT, SHORT};
use crate::backend::{
    Acquisition, Backend, Claim, LockEntry, NodeInfo, RenewOutcome, SessionId, WriteOutcome,
};

/// A node for tests.
fn node(name: &str) -> NodeInfo {
    NodeInfo {
        id: format!("{name}-{}", uuid::Uuid::new_v4().simple()),
        host: format!("host-{name}"),
        pid: 4242,
    }
}

async fn claim(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    claim: Claim<'_>,
    ttl: Duration,
) -> Acquisition {
    ok(b.acquire(id, &claim, ttl).await, "acquire call")
}

async fn entry(b: &Arc<dyn Backend>, id: &SessionId) -> Option<LockEntry> {
    ok(b.lock_entry(id).await, "lock_entry call")
}

fn token_of(a: &Acquisition, who: &str) -> u64 {
    match a {
        Acquisition::Acquired { token } => *token,
        Acquisition::Held(e) => panic!("{who} could not take the lock: held by {e:?}"),
    }
}

/// A claim with a node writes it, with the acquisition time, into the
/// entry; another claim is answered with that entry.
pub async fn entry_carries_node_and_age(b: Arc<dyn Backend>) {
    let id = super::fresh_id("entry_node");
    let a = node("a");
    let before = super::now_ms();
    let token = token_of(
        &claim(&b, &id, Claim::new("owner-a").on(&a), LONG).await,
        "a",
    );
    let after = super::now_ms();
    let e = entry(&b, &id).await.expect("a live entry"); // ok: a conformance case; no entry is a failed case
    assert_eq!((e.owner.as_str(), e.token), ("owner-a", token));
    assert_eq!(e.node.as_ref(), Some(&a), "the entry names its node");
    assert!(
        e.since_ms >= before - 5_000 && e.since_ms <= after + 5_000,
        "acquired at {} (between {before} and {after})",
        e.since_ms
    );
    match claim(&b, &id, Claim::new("owner-b").on(&node("b")), LONG).await {
        Acquisition::Held(held) => assert_eq!(held, e, "Held answers the whole entry"),
        other => panic!("b took a held lock: {other:?}"),
    }
    let plain = acquire(&b, &super::fresh_id("entry_plain"), "owner-c", LONG).await;
    assert!(plain > 0);
}

/// The owner's renewal keeps its node and acquisition time.
pub async fn renewal_keeps_the_entry(b: Arc<dyn Backend>) {
    let id = super::fresh_id("renew_entry");
    let a = node("a");
    let token = token_of(
        &claim(&b, &id, Claim::new("owner-a").on(&a), SHORT).await,
        "a",
    );
    let first = entry(&b, &id).await.expect("a live entry"); // ok: a conformance case; no entry is a failed case
    let renewed = ok(b.renew(&id, "owner-a", token, LONG).await, "renew");
    assert_eq!(renewed, RenewOutcome::Renewed);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(entry(&b, &id).await, Some(first), "renewed, same entry");
}

/// A claim replacing (owner, token) takes exactly that entry, under a new
/// token; the replaced owner is fenced; a stale replacement is refused.
pub async fn replacing_takes_only_that_entry(b: Arc<dyn Backend>) {
    let id = super::fresh_id("replace");
    let (a, bn, c) = (node("a"), node("b"), node("c"));
    let ta = token_of(
        &claim(&b, &id, Claim::new("owner-a").on(&a), LONG).await,
        "a",
    );
    let wrong = Claim::new("owner-b").on(&bn).replacing("owner-a", ta + 1);
    assert!(
        matches!(claim(&b, &id, wrong, LONG).await, Acquisition::Held(_)),
        "a replacement naming another token is refused"
    );
    let other = Claim::new("owner-b").on(&bn).replacing("owner-x", ta);
    assert!(
        matches!(claim(&b, &id, other, LONG).await, Acquisition::Held(_)),
        "a replacement naming another owner is refused"
    );
    let tb = token_of(
        &claim(
            &b,
            &id,
            Claim::new("owner-b").on(&bn).replacing("owner-a", ta),
            LONG,
        )
        .await,
        "b replacing a",
    );
    assert!(tb > ta, "the new token {tb} is above the replaced {ta}");
    let late = Claim::new("owner-c").on(&c).replacing("owner-a", ta);
    match claim(&b, &id, late, LONG).await {
        Acquisition::Held(e) => assert_eq!((e.owner.as_str(), e.token), ("owner-b", tb)),
        other => panic!("a second replacement of the same entry won: {other:?}"),
    }
    let refused = write(
        &b,
        &id,
        &set_value("\"stale\""),
        fence("owner-a", ta, false),
    )
    .await;
    assert!(
        matches!(refused, WriteOutcome::Fenced { token, .. } if token >= tb),
        "the replaced owner's write is fenced: {refused:?}"
    );
    let renewal = ok(b.renew(&id, "owner-a", ta, LONG).await, "renew");
    assert!(
        matches!(renewal, RenewOutcome::Superseded { .. }),
        "{renewal:?}"
    );
}

/// A heartbeat lives for its TTL by the store's clock, is refreshed by the
/// next one, and is gone at once after `node_gone`.
pub async fn heartbeat_expires(b: Arc<dyn Backend>) {
    let n = node("hb");
    assert!(!ok(b.node_alive(&n.id).await, "node_alive"), "never seen");
    ok(b.heartbeat(&n, SHORT).await, "heartbeat");
    assert!(
        ok(b.node_alive(&n.id).await, "node_alive"),
        "alive after a heartbeat"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    ok(b.heartbeat(&n, SHORT).await, "heartbeat");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(ok(b.node_alive(&n.id).await, "node_alive"), "refreshed");
    tokio::time::sleep(PAST_SHORT).await;
    assert!(!ok(b.node_alive(&n.id).await, "node_alive"), "expired");
    ok(b.heartbeat(&n, LONG).await, "heartbeat");
    ok(b.node_gone(&n.id).await, "node_gone");
    assert!(!ok(b.node_alive(&n.id).await, "node_alive"), "gone");
}

/// Admin unlock answers the entry it removed, frees the key and fences the
/// old owner's writes and renewals.
pub async fn force_unlock_fences_the_owner(b: Arc<dyn Backend>) {
    let id = super::fresh_id("force_unlock");
    let a = node("a");
    let ta = token_of(
        &claim(&b, &id, Claim::new("owner-a").on(&a), LONG).await,
        "a",
    );
    let removed = ok(b.force_unlock(&id).await, "force_unlock").expect("the removed entry"); // ok: a conformance case; no entry is a failed case
    assert_eq!((removed.owner.as_str(), removed.token), ("owner-a", ta));
    assert_eq!(removed.node.as_ref(), Some(&a));
    assert_eq!(entry(&b, &id).await, None, "freed");
    let refused = write(&b, &id, &set_value("\"stale\""), fence("owner-a", ta, true)).await;
    assert!(
        matches!(refused, WriteOutcome::Fenced { .. }),
        "{refused:?}"
    );
    let renewal = ok(b.renew(&id, "owner-a", ta, LONG).await, "renew");
    assert!(
        matches!(renewal, RenewOutcome::Superseded { .. }),
        "{renewal:?}"
    );
    let next = acquire(&b, &id, "owner-b", LONG).await;
    assert!(next > ta, "next token {next} above {ta}");
    let free = super::fresh_id("force_unlock_free");
    assert_eq!(ok(b.force_unlock(&free).await, "force_unlock"), None);
}

/// `locks` lists the live entries, filtered by data store name.
pub async fn locks_lists_live_entries(b: Arc<dyn Backend>) {
    let name = format!("Locks{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let one = SessionId::new(name.clone(), None, "1");
    let two = SessionId::new(name.clone(), Some("s"), "2");
    let short = SessionId::new(name.clone(), None, "3");
    let a = node("a");
    let t1 = token_of(
        &claim(&b, &one, Claim::new("owner-1").on(&a), LONG).await,
        "1",
    );
    token_of(&claim(&b, &two, Claim::new("owner-2"), LONG).await, "2");
    token_of(&claim(&b, &short, Claim::new("owner-3"), SHORT).await, "3");
    tokio::time::sleep(PAST_SHORT).await;
    let mut listed = ok(b.locks(Some(&name)).await, "locks");
    listed.sort_by(|x, y| x.0.cmp(&y.0));
    let ids: Vec<&SessionId> = listed.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![&one, &two], "the live entries of {name}");
    assert_eq!(listed[0].1.token, t1);
    assert_eq!(listed[0].1.node.as_ref(), Some(&a));
    let all = ok(b.locks(None).await, "locks");
    assert!(
        all.iter().any(|(id, _)| id == &one),
        "unfiltered lists it too"
    );
}

/// A release wait ends when the owner releases, when the entry expires, or
/// at once when the entry is already another; else after the wait, false.
pub async fn wait_released_wakes(b: Arc<dyn Backend>) {
    let id = super::fresh_id("wait_released");
    let ta = acquire(&b, &id, "owner-a", LONG).await;
    let unchanged = ok(
        b.wait_released(&id, "owner-a", ta, Duration::from_millis(300))
            .await,
        "wait_released",
    );
    assert!(!unchanged, "nothing changed within the wait");
    let waiter = {
        let (b, id) = (Arc::clone(&b), id.clone());
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let changed = b.wait_released(&id, "owner-a", ta, LONG).await;
            (changed, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = write(&b, &id, &set_value("1"), fence("owner-a", ta, true)).await;
    assert!(matches!(closed, WriteOutcome::Written { .. }), "{closed:?}");
    let (changed, took) = ok(waiter.await, "waiter task");
    assert!(ok(changed, "wait_released"), "woken by the release");
    assert!(took < Duration::from_secs(5), "woken within {took:?}");
    assert!(
        ok(
            b.wait_released(&id, "owner-a", ta, LONG).await,
            "wait_released"
        ),
        "already released: at once"
    );
    let expiring = super::fresh_id("wait_expiry");
    let te = acquire(&b, &expiring, "owner-e", SHORT).await;
    let changed = ok(
        b.wait_released(&expiring, "owner-e", te, Duration::from_secs(10))
            .await,
        "wait_released",
    );
    assert!(changed, "woken by the expiry");
}

/// A release request reaches the node's waiting reader, once.
pub async fn release_requests_delivered_once(b: Arc<dyn Backend>) {
    let n = node("owner");
    let id = super::fresh_id("release_request");
    ok(b.request_release(&id, &n.id).await, "request_release");
    let got = ok(
        b.release_requests(&n.id, Duration::ZERO).await,
        "release_requests",
    );
    assert_eq!(got, vec![id.clone()]);
    let again = ok(
        b.release_requests(&n.id, Duration::from_millis(200)).await,
        "release_requests",
    );
    assert!(again.is_empty(), "handed out once: {again:?}");
    let reader = {
        let (b, node_id) = (Arc::clone(&b), n.id.clone());
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let got = b.release_requests(&node_id, LONG).await;
            (got, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    ok(b.request_release(&id, &n.id).await, "request_release");
    let (got, took) = ok(reader.await, "reader task");
    assert_eq!(ok(got, "release_requests"), vec![id]);
    assert!(took < Duration::from_secs(5), "woken within {took:?}");
    let other = node("other");
    let none = ok(
        b.release_requests(&other.id, Duration::ZERO).await,
        "release_requests",
    );
    assert!(none.is_empty(), "requests are per node");
}
