//! Lock cases: one owner at a time, expiry by the store's clock, renewal,
//! release only by the owner, a close in one step.

use std::sync::Arc;
use std::time::Duration;

use super::{
    acquire, fence, get, held, lock, ok, read_now, record, set_value, written, LONG, PAST_SHORT,
    SHORT,
};
use crate::backend::{
    Backend, BackendError, Fence, LockOutcome, RenewOutcome, RenewStep, RenewingRewrite,
    RewriteStep, SaveStep, SessionId, Write, WriteOutcome,
};

/// One owner holds the lock; another is told who; it expires by the store.
pub async fn contention_and_expiry(b: Arc<dyn Backend>) {
    let id = super::fresh_id("lock_contention");
    acquire(&b, &id, "owner-a", SHORT).await;
    assert_eq!(lock(&b, &id, "owner-b", SHORT).await, held("owner-a"));
    assert_eq!(
        lock(&b, &id, "owner-b", LONG).await,
        held("owner-a"),
        "a longer ttl does not help"
    );
    tokio::time::sleep(PAST_SHORT).await;
    acquire(&b, &id, "owner-b", LONG).await;
    assert_eq!(lock(&b, &id, "owner-a", LONG).await, held("owner-b"));
}

/// The owner renews its lock under its token, pushing the expiry out.
pub async fn renew_by_owner(b: Arc<dyn Backend>) {
    let id = super::fresh_id("renew");
    let token = acquire(&b, &id, "owner-a", SHORT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        ok(b.renew(&id, "owner-a", token, SHORT).await, "renew"),
        RenewOutcome::Renewed,
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
    let next = acquire(&b, &id, "owner-b", SHORT).await;
    assert!(
        next > token,
        "renewal kept token {token}, the next is {next}"
    );
}

/// Renewals sent together are answered each as alone: renewed, superseded
/// (naming the newer token), or refused for a zero ttl; the renewed locks
/// outlive their first expiry, sessions spread over many keys (and so, on
/// Redis Cluster, over hash slots and servers).
pub async fn renew_many_answers_each_step(b: Arc<dyn Backend>) {
    let ids: Vec<SessionId> = (0..12)
        .map(|i| super::fresh_id(&format!("renew_many_{i}")))
        .collect();
    let mut tokens = Vec::new();
    for id in &ids {
        tokens.push(acquire(&b, id, "owner-a", SHORT).await);
    }
    // The last key was taken over after a lapse: its renewal is refused.
    let (last, taken) = (&ids[ids.len() - 1], tokens[ids.len() - 1]);
    ok(b.force_unlock(last).await, "force_unlock");
    let newer = acquire(&b, last, "owner-b", LONG).await;
    let mut steps: Vec<RenewStep<'_>> = ids
        .iter()
        .zip(&tokens)
        .map(|(id, token)| RenewStep {
            id,
            owner: "owner-a",
            token: *token,
            ttl: LONG,
        })
        .collect();
    steps[ids.len() - 1].token = taken;
    // A zero ttl is refused for its step only.
    let bad = super::fresh_id("renew_many_bad");
    steps.push(RenewStep {
        id: &bad,
        owner: "owner-a",
        token: 1,
        ttl: Duration::ZERO,
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let answers = b.renew_many(&steps).await;
    assert_eq!(answers.len(), steps.len(), "one answer per step");
    for (id, answer) in ids[..ids.len() - 1].iter().zip(&answers) {
        assert_eq!(answer, &Ok(RenewOutcome::Renewed), "{id}");
    }
    match &answers[ids.len() - 1] {
        Ok(RenewOutcome::Superseded { token, owner }) => {
            assert_eq!(*token, newer);
            assert_eq!(owner.as_deref(), Some("owner-b"));
        }
        other => panic!("a taken-over lock was renewed: {other:?}"),
    }
    assert!(
        matches!(answers[ids.len()], Err(BackendError::Invalid(_))),
        "{:?}",
        answers[ids.len()]
    );
    assert!(b.renew_many(&[]).await.is_empty());
    // Past the first expiry, only the renewal keeps them.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for id in &ids[..ids.len() - 1] {
        assert_eq!(
            lock(&b, id, "owner-c", SHORT).await,
            held("owner-a"),
            "{id}"
        );
    }
}

/// The answer to one renewal (for [`LONG`]) sent alone in a batch
/// ([`Backend::renew_many`]).
async fn renewed_in_a_batch(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    owner: &str,
    token: u64,
) -> RenewOutcome {
    let step = RenewStep {
        id,
        owner,
        token,
        ttl: LONG,
    };
    let mut answers = b.renew_many(&[step]).await;
    assert_eq!(answers.len(), 1, "one answer per step");
    ok(answers.remove(0), "step")
}

/// The engine's unlock ([`Backend::unlock_under`]) releases only the
/// entry taken under its token, and is final even when that entry had
/// lapsed before it landed: a renewal under the token landing afterwards is
/// refused (nobody has the key, the next owner takes it at once). The same
/// owner's newer entry is not removed by an unlock under an older token.
pub async fn an_unlock_under_a_token_is_final_even_after_a_lapse(b: Arc<dyn Backend>) {
    let released = |token: u64| RenewOutcome::Superseded { token, owner: None };

    // Live: removed, and final.
    let id = super::fresh_id("unlock_under_live");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    assert!(ok(b.unlock_under(&id, "owner-a", t).await, "unlock_under"));
    assert_eq!(
        ok(b.renew(&id, "owner-a", t, LONG).await, "renew"),
        released(t),
        "a renewal after the unlock"
    );

    // Lapsed before the unlock landed: nothing to remove, still final.
    let id = super::fresh_id("unlock_under_lapsed");
    let t = acquire(&b, &id, "owner-a", SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        !ok(b.unlock_under(&id, "owner-a", t).await, "unlock_under"),
        "a lapsed entry is not live, so nothing was removed"
    );
    assert_eq!(
        ok(b.renew(&id, "owner-a", t, LONG).await, "renew"),
        released(t),
        "a renewal after a lapse and the unlock"
    );
    assert_eq!(
        renewed_in_a_batch(&b, &id, "owner-a", t).await,
        released(t),
        "a batched renewal after a lapse and the unlock"
    );
    let next = acquire(&b, &id, "owner-b", LONG).await;
    assert!(next > t, "the lock was free for the next owner");

    // An older token's unlock leaves the owner's newer entry alone.
    let id = super::fresh_id("unlock_under_older");
    let old = acquire(&b, &id, "owner-a", SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    let new = acquire(&b, &id, "owner-a", LONG).await;
    assert!(new > old);
    assert!(
        !ok(b.unlock_under(&id, "owner-a", old).await, "unlock_under"),
        "an older token removes nothing"
    );
    assert_eq!(lock(&b, &id, "owner-b", LONG).await, held("owner-a"));
    assert_eq!(
        ok(b.renew(&id, "owner-a", new, LONG).await, "renew"),
        RenewOutcome::Renewed,
        "the newer entry still renews"
    );
    assert!(ok(
        b.unlock_under(&id, "owner-a", new).await,
        "unlock_under"
    ));
    acquire(&b, &id, "owner-b", LONG).await;
}

/// Only the owner's release removes the lock.
pub async fn release_only_by_owner(b: Arc<dyn Backend>) {
    let id = super::fresh_id("release");
    acquire(&b, &id, "owner-a", LONG).await;
    assert!(
        !ok(b.unlock(&id, "owner-b").await, "unlock"),
        "a stranger cannot release"
    );
    assert_eq!(lock(&b, &id, "owner-b", LONG).await, held("owner-a"));
    assert!(
        ok(b.unlock(&id, "owner-a").await, "unlock"),
        "the owner releases"
    );
    assert!(
        !ok(b.unlock(&id, "owner-a").await, "unlock"),
        "nothing left to release"
    );
    acquire(&b, &id, "owner-b", LONG).await;
    let never = super::fresh_id("release_never_locked");
    assert!(!ok(
        b.unlock(&never, "owner-a").await,
        "unlock of an absent lock"
    ));
}

/// A close is one call: the write and the release together.
pub async fn close_writes_and_releases(b: Arc<dyn Backend>) {
    let id = super::fresh_id("close");
    let a = acquire(&b, &id, "owner-a", LONG).await;
    written(&b, &id, &set_value("\"closed\""), fence("owner-a", a, true)).await;
    assert_eq!(record(&b, &id).await.value, "\"closed\"");
    let t = acquire(&b, &id, "owner-b", LONG).await;
    // Closing with a removal also releases.
    written(&b, &id, &Write::Remove, fence("owner-b", t, true)).await;
    assert_eq!(get(&b, &id).await, None);
    assert!(matches!(
        lock(&b, &id, "owner-c", LONG).await,
        LockOutcome::Acquired { .. }
    ));
}

/// Sessions do not see each other's records, locks or queues.
pub async fn sessions_are_independent(b: Arc<dyn Backend>) {
    let one = super::fresh_id("independent");
    let two = SessionId::new(one.name.clone(), Some(&one.scope), "independent-2");
    written(&b, &one, &set_value("1"), None).await;
    assert_eq!(get(&b, &two).await, None);
    acquire(&b, &one, "owner-a", LONG).await;
    acquire(&b, &two, "owner-b", LONG).await;
    ok(b.queue_push(&one, "1", LONG, 0.0).await, "push");
    assert_eq!(read_now(&b, &two, 10, LONG).await, None);
}

/// A rewrite that may renew its lock ([`Backend::rewrite_renew_each`])
/// renews only a step it writes, and then exactly as a renewal would: for
/// the step's ttl (a shorter ttl makes the entry expire sooner), an expired
/// entry written again for its owner; a step fenced out or with a zero ttl
/// renews nothing. A store that does not renew with rewrites answers
/// `renewed: false` everywhere and leaves every lock as it was.
pub async fn rewrite_renew_each_renews_only_what_it_writes(b: Arc<dyn Backend>) {
    let ids: Vec<SessionId> = (0..5)
        .map(|i| super::fresh_id(&format!("rewrite_renew_{i}")))
        .collect();
    let owners: Vec<String> = (0..ids.len()).map(|i| format!("owner-{i}")).collect();
    let w = set_value("\"kept\"");
    let mut tokens = Vec::new();
    let mut versions = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        // Four's entry lives long; the others' expire before the rewrite.
        let ttl = if i == 4 { LONG } else { SHORT };
        let token = acquire(&b, id, &owners[i], ttl).await;
        versions.push(written(&b, id, &w, fence(&owners[i], token, false)).await);
        tokens.push(token);
    }
    tokio::time::sleep(PAST_SHORT).await;
    // Two's lapsed lock was taken by another; three's record was written
    // by someone without a lock.
    let newer = acquire(&b, &ids[2], "owner-x", LONG).await;
    written(&b, &ids[3], &set_value("\"other\""), None).await;
    let ttls = [LONG, Duration::ZERO, LONG, LONG, SHORT];
    let steps: Vec<RenewingRewrite<'_>> = (0..ids.len())
        .map(|i| RenewingRewrite {
            rewrite: RewriteStep {
                save: SaveStep {
                    id: &ids[i],
                    write: &w,
                    fence: Fence {
                        owner: &owners[i],
                        token: tokens[i],
                        release: false,
                    },
                    acks: &[],
                },
                replaces: &versions[i],
            },
            ttl: ttls[i],
        })
        .collect();
    let answers = b.rewrite_renew_each(&steps).await;
    assert_eq!(answers.len(), ids.len(), "one answer per step");
    let mut renewed = Vec::new();
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = ok(answer, "rewrite_renew_each step");
        match (i, &answer.outcome) {
            (2, WriteOutcome::Fenced { token, .. }) => assert!(*token >= newer),
            (2, other) => panic!("the fenced-out step answered {other:?}"),
            (_, WriteOutcome::Written { .. }) => {}
            (_, other) => panic!("step {i} answered {other:?}"),
        }
        let written = matches!(answer.outcome, WriteOutcome::Written { .. });
        assert!(
            written || !answer.renewed,
            "step {i}: renewed without a write"
        );
        renewed.push(answer.renewed);
    }
    assert!(!renewed[1], "a zero ttl renews nothing");
    assert!(!renewed[2], "a fenced-out step renews nothing");
    let free = |o: &LockOutcome| matches!(o, LockOutcome::Acquired { .. });
    for i in [0, 3] {
        let now = lock(&b, &ids[i], "owner-b", LONG).await;
        match renewed[i] {
            true => assert_eq!(now, held(&owners[i]), "step {i}: renewed"),
            false => assert!(free(&now), "step {i}: not renewed, lapsed: {now:?}"),
        }
    }
    let now = lock(&b, &ids[1], "owner-b", LONG).await;
    assert!(free(&now), "step 1's lapsed lock stays free: {now:?}");
    assert_eq!(
        lock(&b, &ids[2], "owner-b", LONG).await,
        held("owner-x"),
        "the newer owner keeps step 2's lock"
    );
    // Four's long entry was renewed for the short ttl: it lapses now.
    tokio::time::sleep(PAST_SHORT).await;
    let now = lock(&b, &ids[4], "owner-b", LONG).await;
    match renewed[4] {
        true => assert!(free(&now), "step 4: renewed for the short ttl: {now:?}"),
        false => assert_eq!(now, held("owner-4"), "step 4: not renewed"),
    }
}

/// A renewal (alone, batched, or riding a rewrite) that lands after its
/// owner released the lock, by an unlock or a save that releases, does not
/// take the lock again: it is refused with the newest token and no holder,
/// and the next owner takes the lock at once; so does one after a closing
/// save that landed once the entry had lapsed. A lapsed entry is still
/// renewed (only a release is final), and the owner's next acquisition
/// renews as usual.
pub async fn a_late_renewal_does_not_undo_a_release(b: Arc<dyn Backend>) {
    let released = |token: u64| RenewOutcome::Superseded { token, owner: None };
    let w = set_value("\"kept\"");

    // Released by an unlock.
    let id = super::fresh_id("late_renewal_unlock");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    let version = written(&b, &id, &w, fence("owner-a", t, false)).await;
    assert!(ok(b.unlock(&id, "owner-a").await, "unlock"));
    assert_eq!(
        ok(b.renew(&id, "owner-a", t, LONG).await, "renew"),
        released(t),
        "a renewal after the unlock"
    );
    assert_eq!(
        renewed_in_a_batch(&b, &id, "owner-a", t).await,
        released(t),
        "a batched renewal after the unlock"
    );
    let rewrite = RenewingRewrite {
        rewrite: RewriteStep {
            save: SaveStep {
                id: &id,
                write: &w,
                fence: Fence {
                    owner: "owner-a",
                    token: t,
                    release: false,
                },
                acks: &[],
            },
            replaces: &version,
        },
        ttl: LONG,
    };
    for answer in b.rewrite_renew_each(&[rewrite]).await {
        assert!(
            !ok(answer, "rewrite_renew_each").renewed,
            "a rewrite after the unlock renews nothing"
        );
    }
    let next = acquire(&b, &id, "owner-b", LONG).await;
    assert!(next > t, "the lock was free for the next owner");

    // Released by the save that closes the session.
    let id = super::fresh_id("late_renewal_close");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    written(&b, &id, &w, fence("owner-a", t, true)).await;
    assert_eq!(
        ok(b.renew(&id, "owner-a", t, LONG).await, "renew"),
        released(t),
        "a renewal after the closing save"
    );
    // The owner comes back: its new entry renews.
    let again = acquire(&b, &id, "owner-a", LONG).await;
    assert!(again > t);
    assert_eq!(
        ok(b.renew(&id, "owner-a", again, LONG).await, "renew"),
        RenewOutcome::Renewed,
        "the owner's next acquisition renews"
    );

    // Lapsed, not released: the renewal writes the entry again. Lapsed,
    // then closed by a save that releases (admitted: nobody took the key
    // meanwhile): final too.
    let lapsed = super::fresh_id("late_renewal_lapsed");
    let closed = super::fresh_id("late_renewal_lapsed_close");
    let t = acquire(&b, &lapsed, "owner-a", SHORT).await;
    let c = acquire(&b, &closed, "owner-a", SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        ok(b.renew(&lapsed, "owner-a", t, LONG).await, "renew"),
        RenewOutcome::Renewed,
        "a renewal after a lapse"
    );
    assert_eq!(lock(&b, &lapsed, "owner-b", LONG).await, held("owner-a"));
    written(&b, &closed, &w, fence("owner-a", c, true)).await;
    assert_eq!(
        ok(b.renew(&closed, "owner-a", c, LONG).await, "renew"),
        released(c),
        "a renewal after a lapse and the closing save"
    );
    let next = acquire(&b, &closed, "owner-b", LONG).await;
    assert!(next > c, "the lock was free for the next owner");
}
