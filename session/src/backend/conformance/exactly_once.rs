//! Exactly-once cases: a save acknowledges queue values in its own fenced
//! step, values read by the lock holder stay invisible while its lock
//! lives, and several keys save together or not at all.

use std::sync::Arc;
use std::time::Duration;

use super::{acquire, get, ok, record, set_value, some, LONG, PAST_SHORT, SHORT};
use crate::backend::{
    Backend, BatchOutcome, Claim, DataVersion, Fence, QueueBatch, RewriteStep, SaveStep, SessionId,
    Write, WriteOutcome,
};

async fn push(b: &Arc<dyn Backend>, id: &SessionId, values: &[&str]) {
    for v in values {
        ok(b.queue_push(id, v, LONG, 0.0).await, "push");
    }
}

async fn read_held(
    b: &Arc<dyn Backend>,
    id: &SessionId,
    invisibility: Duration,
    holder: (&str, u64),
) -> Option<QueueBatch> {
    ok(
        b.queue_read_held(id, 100, Duration::ZERO, invisibility, holder)
            .await,
        "held queue read",
    )
}

fn fence(owner: &str, token: u64) -> Fence<'_> {
    Fence {
        owner,
        token,
        release: false,
    }
}

/// A save's acks remove the values in the same step; without acks a save
/// removes nothing.
pub async fn save_acknowledges_queue_values(b: Arc<dyn Backend>) {
    let id = super::fresh_id("save_acks");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    push(&b, &id, &["1", "2"]).await;
    let batch = some(read_held(&b, &id, LONG, ("owner-a", t)).await, "values");
    assert_eq!(batch.values, vec!["1", "2"]);
    let none: &[String] = &[];
    let w = set_value("{\"Coins\":3}");
    let saved = ok(b.save(&id, &w, fence("owner-a", t), none).await, "save");
    assert!(matches!(saved, WriteOutcome::Written { .. }), "{saved:?}");
    let acks = [batch.read_id.clone()];
    let saved = ok(b.save(&id, &w, fence("owner-a", t), &acks).await, "save");
    assert!(matches!(saved, WriteOutcome::Written { .. }), "{saved:?}");
    assert_eq!(record(&b, &id).await.value, "{\"Coins\":3}");
    ok(b.unlock(&id, "owner-a").await, "unlock");
    let after = ok(
        b.queue_read(&id, 100, Duration::ZERO, LONG).await,
        "queue read",
    );
    assert_eq!(after, None, "acknowledged values are gone");
}

/// A save refused by fencing removes nothing: the next owner gets the
/// values, once.
pub async fn refused_save_acknowledges_nothing(b: Arc<dyn Backend>) {
    let id = super::fresh_id("refused_acks");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    push(&b, &id, &["\"gift\""]).await;
    let batch = some(read_held(&b, &id, LONG, ("owner-a", t)).await, "values");
    // A's process is declared dead: B replaces its entry.
    let claim = Claim::new("owner-b").replacing("owner-a", t);
    let tb = match ok(b.acquire(&id, &claim, LONG).await, "acquire") {
        crate::backend::Acquisition::Acquired { token } => token,
        other => panic!("B could not replace A: {other:?}"),
    };
    let acks = [batch.read_id.clone()];
    let w = set_value("{\"stale\":true}");
    let refused = ok(b.save(&id, &w, fence("owner-a", t), &acks).await, "save");
    assert!(
        matches!(refused, WriteOutcome::Fenced { .. }),
        "{refused:?}"
    );
    assert_eq!(get(&b, &id).await, None, "nothing written");
    let again = some(read_held(&b, &id, LONG, ("owner-b", tb)).await, "values");
    assert_eq!(again.values, vec!["\"gift\""], "B receives the gift once");
    assert_eq!(read_held(&b, &id, LONG, ("owner-b", tb)).await, None);
}

/// Values read by the holder stay invisible while its lock lives (past
/// the invisibility time) and come back once it is released.
pub async fn held_values_stay_invisible_while_the_lock_lives(b: Arc<dyn Backend>) {
    let id = super::fresh_id("held_invisible");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    push(&b, &id, &["1"]).await;
    assert!(read_held(&b, &id, SHORT, ("owner-a", t)).await.is_some());
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        read_held(&b, &id, SHORT, ("owner-a", t)).await,
        None,
        "still invisible while the lock lives"
    );
    let plain = ok(b.queue_read(&id, 100, Duration::ZERO, SHORT).await, "read");
    assert_eq!(plain, None, "invisible to other readers too");
    ok(b.unlock(&id, "owner-a").await, "unlock");
    let back = ok(b.queue_read(&id, 100, Duration::ZERO, LONG).await, "read");
    assert_eq!(back.map(|q| q.values), Some(vec!["1".to_owned()]), "back");
}

/// A reader whose lock is gone (taken over, released or never held)
/// reads nothing, even values visible to everyone else: its session can
/// never save what it would apply, and a reading loop must not spin on
/// values it keeps getting back.
pub async fn a_holder_without_the_lock_reads_nothing(b: Arc<dyn Backend>) {
    let id = super::fresh_id("holder_without_lock");
    let t = acquire(&b, &id, "owner-a", LONG).await;
    push(&b, &id, &["1"]).await;
    assert_eq!(
        read_held(&b, &id, LONG, ("owner-a", t + 1)).await,
        None,
        "another token of the same owner"
    );
    assert_eq!(
        read_held(&b, &id, LONG, ("owner-z", t)).await,
        None,
        "another owner"
    );
    ok(b.unlock(&id, "owner-a").await, "unlock");
    assert_eq!(
        read_held(&b, &id, LONG, ("owner-a", t)).await,
        None,
        "after release"
    );
    let plain = ok(b.queue_read(&id, 100, Duration::ZERO, LONG).await, "read");
    assert_eq!(
        plain.map(|q| q.values),
        Some(vec!["1".to_owned()]),
        "still there"
    );
}

/// Several keys save together or not at all; acks and releases ride along.
pub async fn save_many_is_all_or_nothing(b: Arc<dyn Backend>) {
    let one = super::fresh_id("many_one");
    let two = super::fresh_id("many_two");
    save_many_is_all_or_nothing_for(b, one, two).await;
}

/// [`save_many_is_all_or_nothing`] on two given sessions (fresh ones, not
/// used before): for a store that saves together only sessions placed
/// together, such as Redis Cluster (one hash slot).
pub async fn save_many_is_all_or_nothing_for(b: Arc<dyn Backend>, one: SessionId, two: SessionId) {
    let t1 = acquire(&b, &one, "owner-1", LONG).await;
    let t2 = acquire(&b, &two, "owner-2", LONG).await;
    push(&b, &one, &["\"g\""]).await;
    let batch = some(read_held(&b, &one, LONG, ("owner-1", t1)).await, "values");
    let (w1, w2) = (set_value("1"), set_value("2"));
    let acks = [batch.read_id.clone()];
    let none: &[String] = &[];
    // Two's lock is taken over: nothing is written, nothing removed.
    let claim = Claim::new("owner-x").replacing("owner-2", t2);
    let tx = match ok(b.acquire(&two, &claim, LONG).await, "acquire") {
        crate::backend::Acquisition::Acquired { token } => token,
        other => panic!("could not replace: {other:?}"),
    };
    let steps = [
        SaveStep {
            id: &one,
            write: &w1,
            fence: fence("owner-1", t1),
            acks: &acks,
        },
        SaveStep {
            id: &two,
            write: &w2,
            fence: fence("owner-2", t2),
            acks: none,
        },
    ];
    match ok(b.save_many(&steps).await, "save_many") {
        BatchOutcome::Refused { id, token, .. } => {
            assert_eq!(id, two);
            assert!(token >= tx);
        }
        other => panic!("a refused fence wrote: {other:?}"),
    }
    assert_eq!(get(&b, &one).await, None, "one not written either");
    assert_eq!(get(&b, &two).await, None);
    ok(b.force_unlock(&two).await, "force_unlock");
    let t2 = acquire(&b, &two, "owner-2", LONG).await;
    let steps = [
        SaveStep {
            id: &one,
            write: &w1,
            fence: fence("owner-1", t1),
            acks: &acks,
        },
        SaveStep {
            id: &two,
            write: &w2,
            fence: Fence {
                owner: "owner-2",
                token: t2,
                release: true,
            },
            acks: none,
        },
    ];
    match ok(b.save_many(&steps).await, "save_many") {
        BatchOutcome::Written(outcomes) => {
            assert_eq!(outcomes.len(), 2);
            assert!(outcomes
                .iter()
                .all(|o| matches!(o, WriteOutcome::Written { .. })));
        }
        other => panic!("refused: {other:?}"),
    }
    assert_eq!(record(&b, &one).await.value, "1");
    assert_eq!(record(&b, &two).await.value, "2");
    assert_eq!(ok(b.lock_entry(&two).await, "entry"), None, "released");
    ok(b.unlock(&one, "owner-1").await, "unlock");
    let gone = ok(b.queue_read(&one, 100, Duration::ZERO, LONG).await, "read");
    assert_eq!(gone, None, "the ack rode in the batch");
}

/// Several sessions' saves each on its own ([`Backend::save_each`]): a
/// refused fence refuses only its own step (its ack is not removed), the
/// others are written, their acks removed and their releases done, and
/// every step gets its own answer, in order.
pub async fn save_each_answers_each_step(b: Arc<dyn Backend>) {
    let ids: Vec<SessionId> = (0..5)
        .map(|i| super::fresh_id(&format!("each_{i}")))
        .collect();
    let mut tokens = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        tokens.push(acquire(&b, id, &format!("owner-{i}"), LONG).await);
    }
    // One and three hold a queue value each, handed out to their owners.
    let mut acks: Vec<Vec<String>> = vec![Vec::new(); ids.len()];
    for i in [1, 3] {
        push(&b, &ids[i], &["\"gift\""]).await;
        let owner = format!("owner-{i}");
        let batch = some(
            read_held(&b, &ids[i], LONG, (&owner, tokens[i])).await,
            "values",
        );
        acks[i] = vec![batch.read_id];
    }
    // Three's lock is taken over: only its step is refused.
    let claim = Claim::new("owner-x").replacing("owner-3", tokens[3]);
    let newer = match ok(b.acquire(&ids[3], &claim, LONG).await, "acquire") {
        crate::backend::Acquisition::Acquired { token } => token,
        other => panic!("could not replace: {other:?}"),
    };
    let writes: Vec<Write> = (0..ids.len()).map(|i| set_value(&i.to_string())).collect();
    let owners: Vec<String> = (0..ids.len()).map(|i| format!("owner-{i}")).collect();
    let steps: Vec<SaveStep<'_>> = (0..ids.len())
        .map(|i| SaveStep {
            id: &ids[i],
            write: &writes[i],
            fence: Fence {
                owner: &owners[i],
                token: tokens[i],
                // Four also releases its lock.
                release: i == 4,
            },
            acks: &acks[i],
        })
        .collect();
    let answers = b.save_each(&steps).await;
    assert_eq!(answers.len(), ids.len(), "one answer per step");
    for (i, answer) in answers.iter().enumerate() {
        match (i, answer) {
            (3, Ok(WriteOutcome::Fenced { token, .. })) => assert!(*token >= newer),
            (3, other) => panic!("the refused step answered {other:?}"),
            (_, Ok(WriteOutcome::Written { token, .. })) => assert_eq!(*token, tokens[i]),
            (_, other) => panic!("step {i} answered {other:?}"),
        }
    }
    for i in [0, 1, 2, 4] {
        assert_eq!(record(&b, &ids[i]).await.value, i.to_string(), "step {i}");
    }
    assert_eq!(
        get(&b, &ids[3]).await,
        None,
        "the refused step wrote nothing"
    );
    assert_eq!(
        ok(b.lock_entry(&ids[4]).await, "entry"),
        None,
        "four released"
    );
    assert!(
        ok(b.lock_entry(&ids[0]).await, "entry").is_some(),
        "zero still held"
    );
    // One's ack rode in its step; three's did not: its value is there for
    // the new owner.
    ok(b.unlock(&ids[1], "owner-1").await, "unlock");
    let gone = ok(
        b.queue_read(&ids[1], 100, Duration::ZERO, LONG).await,
        "read",
    );
    assert_eq!(gone, None, "one's ack was removed");
    let kept = some(
        read_held(&b, &ids[3], LONG, ("owner-x", newer)).await,
        "three's value, still queued",
    );
    assert_eq!(kept.values, vec!["\"gift\"".to_owned()]);
    assert!(b.save_each(&[]).await.is_empty(), "an empty batch");
    owners_unlock(&b, &ids, &owners).await;
    let _ = b.unlock(&ids[3], "owner-x").await;
}

async fn owners_unlock(b: &Arc<dyn Backend>, ids: &[SessionId], owners: &[String]) {
    for (id, owner) in ids.iter().zip(owners) {
        let _ = b.unlock(id, owner).await;
    }
}

/// Unchanged auto-saves written again ([`Backend::rewrite_each`]), each
/// answered as [`Backend::save_each`] would: a record still as the last
/// write left it gets a new version and times with its value, metadata
/// and user ids unchanged; one written since by someone else (an
/// unfenced write) is written in full again; one whose lock was taken
/// over is refused and keeps the newer owner's value.
pub async fn rewrite_each_writes_the_last_write_again(b: Arc<dyn Backend>) {
    let ids: Vec<SessionId> = (0..4)
        .map(|i| super::fresh_id(&format!("rewrite_{i}")))
        .collect();
    let owners: Vec<String> = (0..ids.len()).map(|i| format!("owner-{i}")).collect();
    let writes: Vec<Write> = (0..ids.len())
        .map(|i| Write::Set {
            value: format!("{{\"coins\":{i}}}"),
            metadata: "{\"m\":1}".to_owned(),
            user_ids: vec![100 + i as i64],
            data_version: DataVersion::default(),
        })
        .collect();
    let mut tokens = Vec::new();
    let mut first = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let token = acquire(&b, id, &owners[i], LONG).await;
        let fence = Fence {
            owner: &owners[i],
            token,
            release: false,
        };
        first.push(match ok(b.save(id, &writes[i], fence, &[]).await, "save") {
            WriteOutcome::Written {
                created_ms,
                updated_ms,
                version,
                ..
            } => (created_ms, updated_ms, version),
            other => panic!("save {i} answered {other:?}"),
        });
        tokens.push(token);
    }
    // Two was written since by someone else, without a lock.
    ok(b.set(&ids[2], &set_value("\"other\""), None).await, "write");
    // Three's lock is taken over, and the new owner writes.
    let claim = Claim::new("owner-x").replacing("owner-3", tokens[3]);
    let newer = match ok(b.acquire(&ids[3], &claim, LONG).await, "acquire") {
        crate::backend::Acquisition::Acquired { token } => token,
        other => panic!("could not replace: {other:?}"),
    };
    let fence = Fence {
        owner: "owner-x",
        token: newer,
        release: false,
    };
    ok(
        b.save(&ids[3], &set_value("\"newer\""), fence, &[]).await,
        "save",
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let steps: Vec<RewriteStep<'_>> = (0..ids.len())
        .map(|i| RewriteStep {
            save: SaveStep {
                id: &ids[i],
                write: &writes[i],
                fence: Fence {
                    owner: &owners[i],
                    token: tokens[i],
                    release: false,
                },
                acks: &[],
            },
            replaces: &first[i].2,
        })
        .collect();
    let answers = b.rewrite_each(&steps).await;
    assert_eq!(answers.len(), ids.len(), "one answer per step");
    for (i, answer) in answers.iter().enumerate() {
        match (i, answer) {
            (3, Ok(WriteOutcome::Fenced { token, .. })) => assert!(*token >= newer),
            (3, other) => panic!("the refused step answered {other:?}"),
            (
                _,
                Ok(WriteOutcome::Written {
                    created_ms,
                    updated_ms,
                    version,
                    token,
                }),
            ) => {
                let (created, updated, before) = &first[i];
                assert_eq!(*token, tokens[i], "step {i}");
                assert_ne!(version, before, "step {i}: a new version");
                assert_eq!(created_ms, created, "step {i}: created stays");
                assert!(updated_ms >= updated, "step {i}: updated moves on");
                let stored = record(&b, &ids[i]).await;
                assert_eq!(&stored.version, version, "step {i}");
                assert_eq!(stored.updated_ms, *updated_ms, "step {i}");
            }
            (_, other) => panic!("step {i} answered {other:?}"),
        }
    }
    for (i, id) in ids.iter().enumerate().take(3) {
        let stored = record(&b, id).await;
        let value = format!("{{\"coins\":{i}}}");
        assert_eq!(stored.value, value, "step {i}: the last write's value");
        assert_eq!(stored.metadata, "{\"m\":1}", "step {i}");
        assert_eq!(stored.user_ids, vec![100 + i as i64], "step {i}");
    }
    assert_eq!(record(&b, &ids[3]).await.value, "\"newer\"", "refused");
}
