//! Fencing-token cases (see [fencing tokens](crate::backend#fencing-tokens)):
//! an owner whose lock lapsed (paused, partitioned, slow) never overwrites
//! or removes what a newer owner made, whatever the newer owner did since;
//! tokens only grow, even when the store loses its counter.

use std::sync::Arc;

use super::{
    acquire, fence, get, held, lock, ok, record, set_value, write, written, Control, LONG,
    PAST_SHORT, SHORT,
};
use crate::backend::{Backend, RenewOutcome, SessionId, Write, WriteOutcome};

/// A's story before the lapse: it takes the lock for [`SHORT`] and saves
/// `"a"`. Answers A's token.
async fn a_saves_then_lapses(b: &Arc<dyn Backend>, id: &SessionId) -> u64 {
    let a = acquire(b, id, "owner-a", SHORT).await;
    written(b, id, &set_value("\"a\""), fence("owner-a", a, false)).await;
    // A stalls past its lock's expiry (a GC pause, a stopped VM...).
    tokio::time::sleep(PAST_SHORT).await;
    a
}

/// A's stale save, stale removal and stale renewal are all refused with
/// the newer token, and change nothing.
async fn stale_owner_is_refused(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    a: u64,
    newer: u64,
    holder: Option<&str>,
) {
    let before = get(b, id).await;
    let refused = WriteOutcome::Fenced {
        token: newer,
        owner: holder.map(str::to_owned),
    };
    let stale = set_value("\"stale\"");
    assert_eq!(
        write(b, id, &stale, fence("owner-a", a, false)).await,
        refused,
        "a stale save is refused"
    );
    assert_eq!(
        write(b, id, &stale, fence("owner-a", a, true)).await,
        refused,
        "a stale save+release is refused"
    );
    assert_eq!(
        write(b, id, &Write::Remove, fence("owner-a", a, true)).await,
        refused,
        "a stale removal is refused"
    );
    assert_eq!(
        ok(b.renew(id, "owner-a", a, LONG).await, "renew"),
        RenewOutcome::Superseded {
            token: newer,
            owner: holder.map(str::to_owned)
        },
        "a stale renewal is refused"
    );
    assert_eq!(get(b, id).await, before, "nothing changed");
}

/// The owner's writes carry its token, which the record keeps.
pub async fn owner_writes_under_its_token(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_owner");
    // A key never locked: token 0 is the latest, so it may write.
    written(&b, &id, &set_value("\"first\""), fence("owner-a", 0, false)).await;
    assert_eq!(record(&b, &id).await.token, 0);
    let a = acquire(&b, &id, "owner-a", LONG).await;
    assert!(a > 0, "the first token is above 0");
    let outcome = write(&b, &id, &set_value("\"a\""), fence("owner-a", a, false)).await;
    assert!(
        matches!(outcome, WriteOutcome::Written { token, .. } if token == a),
        "{outcome:?}"
    );
    let r = record(&b, &id).await;
    assert_eq!((r.value.as_str(), r.token), ("\"a\"", a));
}

/// Lapse, then a newer owner holds the lock.
pub async fn lapse_then_newer_owner_holds(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_holds");
    let a = a_saves_then_lapses(&b, &id).await;
    let t = acquire(&b, &id, "owner-b", LONG).await;
    assert!(t > a);
    stale_owner_is_refused(&b, &id, a, t, Some("owner-b")).await;
    assert_eq!(record(&b, &id).await.value, "\"a\"");
    assert_eq!(
        lock(&b, &id, "owner-c", LONG).await,
        held("owner-b"),
        "the refused release kept B's lock"
    );
    // B writes freely.
    written(&b, &id, &set_value("\"b\""), fence("owner-b", t, false)).await;
}

/// Lapse, then a newer owner wrote and released: nobody holds the lock,
/// yet A must not write.
pub async fn lapse_then_newer_owner_wrote_and_released(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_wrote");
    let a = a_saves_then_lapses(&b, &id).await;
    let t = acquire(&b, &id, "owner-b", LONG).await;
    written(&b, &id, &set_value("\"b\""), fence("owner-b", t, true)).await;
    stale_owner_is_refused(&b, &id, a, t, None).await;
    let r = record(&b, &id).await;
    assert_eq!(
        (r.value.as_str(), r.token),
        ("\"b\"", t),
        "B's save is kept"
    );
}

/// Lapse, then a newer owner released without writing.
pub async fn lapse_then_newer_owner_released_without_writing(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_released");
    let a = a_saves_then_lapses(&b, &id).await;
    let t = acquire(&b, &id, "owner-b", LONG).await;
    assert!(ok(b.unlock(&id, "owner-b").await, "unlock"));
    stale_owner_is_refused(&b, &id, a, t, None).await;
    assert_eq!(record(&b, &id).await.value, "\"a\"");
}

/// Lapse, then the newer owner removed the key.
pub async fn lapse_then_key_removed_by_newer_owner(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_removed");
    let a = a_saves_then_lapses(&b, &id).await;
    let t = acquire(&b, &id, "owner-b", LONG).await;
    written(&b, &id, &Write::Remove, fence("owner-b", t, true)).await;
    stale_owner_is_refused(&b, &id, a, t, None).await;
    assert_eq!(get(&b, &id).await, None, "the removal stands");
    let next = acquire(&b, &id, "owner-c", LONG).await;
    assert!(next > t, "token {next} after the removal's {t}");
}

/// Tokens strictly increase across expiry, release, removal and a re-take
/// by the same owner.
pub async fn tokens_strictly_increase(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_increase");
    let mut tokens = vec![acquire(&b, &id, "owner-a", LONG).await];
    assert!(ok(b.unlock(&id, "owner-a").await, "release"));
    tokens.push(acquire(&b, &id, "owner-b", SHORT).await);
    tokio::time::sleep(PAST_SHORT).await; // expiry
    let c = acquire(&b, &id, "owner-c", LONG).await;
    tokens.push(c);
    written(&b, &id, &set_value("1"), fence("owner-c", c, false)).await;
    tokens.push(acquire(&b, &id, "owner-c", LONG).await); // the same owner again
    let last = *tokens.last().unwrap_or(&0);
    written(&b, &id, &Write::Remove, fence("owner-c", last, true)).await;
    tokens.push(acquire(&b, &id, "owner-d", LONG).await);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens must strictly increase: {tokens:?}"
    );
}

/// A renewal after a lapse and a newer acquisition is refused, even when
/// the newer owner is gone again.
pub async fn renewal_after_lapse_and_newer_acquisition_is_refused(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_renew");
    let a = acquire(&b, &id, "owner-a", SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    let t = acquire(&b, &id, "owner-b", SHORT).await;
    assert_eq!(
        ok(b.renew(&id, "owner-a", a, LONG).await, "renew"),
        RenewOutcome::Superseded {
            token: t,
            owner: Some("owner-b".into())
        }
    );
    tokio::time::sleep(PAST_SHORT).await; // B's lock lapses too
    assert_eq!(
        ok(b.renew(&id, "owner-a", a, LONG).await, "renew"),
        RenewOutcome::Superseded {
            token: t,
            owner: None
        }
    );
    assert!(
        get(&b, &id).await.is_none(),
        "the refused renewals wrote nothing"
    );
    let c = acquire(&b, &id, "owner-c", LONG).await;
    assert!(c > t, "the refused renewal did not take the lock back");
}

/// A lock that lapsed while nobody took it may be renewed under the same
/// token: nobody acquired since, so nothing can be overwritten.
pub async fn renewal_after_a_quiet_lapse_retakes_the_lock(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_quiet");
    let a = acquire(&b, &id, "owner-a", SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        ok(b.renew(&id, "owner-a", a, LONG).await, "renew"),
        RenewOutcome::Renewed
    );
    assert_eq!(lock(&b, &id, "owner-b", LONG).await, held("owner-a"));
    written(&b, &id, &set_value("1"), fence("owner-a", a, false)).await;
}

/// An unfenced write (a tool writing a key nobody owns) records the key's
/// latest token and never moves tokens backwards.
pub async fn unfenced_writes_keep_the_latest_token(b: Arc<dyn Backend>) {
    let id = super::fresh_id("fencing_unfenced");
    let a = acquire(&b, &id, "owner-a", LONG).await;
    assert!(ok(b.unlock(&id, "owner-a").await, "release"));
    let outcome = write(&b, &id, &set_value("\"tool\""), None).await;
    assert!(
        matches!(outcome, WriteOutcome::Written { token, .. } if token == a),
        "{outcome:?}"
    );
    assert_eq!(record(&b, &id).await.token, a);
    let next = acquire(&b, &id, "owner-b", LONG).await;
    assert!(next > a);
}

/// With the stored counter deleted (what a Redis restart without
/// persistence does to it), the next token is still above the one on the
/// data record, and the holder of a live entry keeps its lock.
pub async fn lost_counter_never_repeats_a_written_token(b: Arc<dyn Backend>, control: Control) {
    let id = super::fresh_id("fencing_lost_counter");
    let first = acquire(&b, &id, "owner-a", LONG).await;
    let a = acquire(&b, &id, "owner-a", LONG).await; // a second token
    assert!(a > first);
    written(&b, &id, &set_value("\"a\""), fence("owner-a", a, true)).await;
    control.forget_token_counter(&id).await;
    let t = acquire(&b, &id, "owner-b", LONG).await;
    assert!(t > a, "token {t} must be above the record's {a}");
    // The live entry proves nobody acquired since: B keeps working even
    // after its counter is lost too.
    control.forget_token_counter(&id).await;
    assert_eq!(
        ok(b.renew(&id, "owner-b", t, LONG).await, "renew"),
        RenewOutcome::Renewed
    );
    written(&b, &id, &set_value("\"b\""), fence("owner-b", t, true)).await;
    assert_eq!(record(&b, &id).await.token, t);
    let next = acquire(&b, &id, "owner-c", LONG).await;
    assert!(next > t);
}
