//! Saves: the fenced write of one session with the acknowledgement of its
//! queue values (`set.lua`, one script run), several sessions' saves
//! all or nothing (`save_many.lua`), refused up front when the keys span
//! hash slots and the backend checks slots (Redis Cluster), and several
//! sessions' saves each on its own (`save_each.lua`: the saves of a
//! process that come due together, a few dozen to a script run, the runs
//! of one server in one pipeline).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use redis::Value;

use super::groups::{run_groups, Group};
use super::liveness::lock_changed;
use super::queue::ack_keys;
use super::replication::{Call, Joined};
use super::reply::{answered, array, corrupt, each_answers, int, text, unsigned, EachAnswer};
use super::scripts::Scripts;
use super::RedisBackend;
use crate::backend::checks::{check_ttl, new_version, user_ids_json};
use crate::backend::{
    BackendError, BatchOutcome, Fence, Record, RenewingRewrite, RewriteStep, Rewritten, SaveStep,
    SessionId, Write, WriteOutcome,
};
use redis::Script;

/// What a save step stores: a write (new times and version), or a record
/// exactly as given (`put`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Change<'a> {
    /// A save's write or removal.
    Write(&'a Write),
    /// An import's record, every field as given.
    Put(&'a Record),
}

/// The steps of one [`each`] call: saves (`save_each.lua`), or touches of
/// unchanged records, each naming the version its record must still hold
/// (`touch_each.lua`).
#[derive(Clone, Copy)]
enum Each<'a> {
    Save(&'a [Change<'a>]),
    Touch(&'a [Touch<'a>]),
}

/// One touch step's own arguments: the version the record must still
/// hold, and the lock's ttl in ms when the touch renews it (else 0).
#[derive(Clone, Copy)]
struct Touch<'a> {
    replaces: &'a str,
    ttl_ms: u64,
}

/// One step's answer of [`each`]: the outcome and whether the lock was
/// renewed with it, or `None` for a touch whose record no longer holds the
/// version it names.
type EachOutcome = Option<(WriteOutcome, bool)>;

/// The number of hash slots of a Redis Cluster.
const SLOTS: u16 = 16384;

/// CRC16 as Redis Cluster computes it (CCITT, polynomial 0x1021, initial
/// value 0: "XMODEM").
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        (0..8).fold(crc ^ (u16::from(b) << 8), |crc, _| {
            if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            }
        })
    })
}

/// The hash slot of `key`, as Redis Cluster computes it: the CRC16 of the
/// text between the first `{` and the next `}` when that text is not empty,
/// else of the whole key, modulo 16384.
pub(super) fn hash_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &bytes[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16(tagged.unwrap_or(bytes)) % SLOTS
}

impl RedisBackend {
    /// Refuses multi-key saves ([`save_many`](crate::backend::Backend::save_many))
    /// whose sessions lie in different hash slots, as Redis Cluster would
    /// (a script may only touch keys of one slot there), with
    /// [`BackendError::Invalid`] naming the keys and their slots, before
    /// anything is written. Off by default on a single Redis, which runs
    /// such a batch in one script: turn it on to test that a game's batches
    /// would run on a cluster. Always on on a Redis Cluster
    /// (`redis+cluster://`), whatever is set here. Each session's keys are tagged
    /// with the whole session id, so two sessions share a slot only when
    /// their tags happen to hash alike; see the [module
    /// documentation](super#redis-cluster-and-multi-key-saves).
    pub fn set_cluster_slot_check(&self, on: bool) {
        self.inner.cluster_slot_check.store(on, Ordering::Relaxed);
    }

    /// The Redis Cluster hash slot of `id`'s keys (all share it): the CRC16
    /// of its hash tag (`prefix:name/scope/key`) modulo 16384.
    pub fn key_slot(&self, id: &SessionId) -> u16 {
        hash_slot(&self.key_base(id))
    }

    /// Whether multi-key saves are refused when they span hash slots (see
    /// [`set_cluster_slot_check`](Self::set_cluster_slot_check)).
    /// Always on when connected to a Redis Cluster (`redis+cluster://`).
    pub fn cluster_slot_check(&self) -> bool {
        self.is_cluster() || self.inner.cluster_slot_check.load(Ordering::Relaxed)
    }

    /// Whether this backend talks to a Redis Cluster (`redis+cluster://`).
    pub fn is_cluster(&self) -> bool {
        matches!(
            self.inner.endpoint,
            super::cluster::Endpoint::Cluster { .. }
        )
    }

    /// Adds one touch step's keys and arguments to `call` (the layout
    /// `touch_each.lua` reads): the record must still hold `replaces`; a
    /// `ttl_ms` above zero renews the lock with the write.
    fn touch_step(&self, call: &mut Call<'_>, base: &str, touch: Touch<'_>, fence: &Fence<'_>) {
        self.token_keys(call, base);
        call.key(Joined(base, ":hist"));
        call.arg(fence.owner)
            .arg(fence.token)
            .arg(new_version())
            .arg(touch.replaces)
            .arg(touch.ttl_ms);
    }

    /// Adds a script run's settings to `call` (the save prelude's
    /// `settings`, read once for every step of the run): the history's
    /// retention (keep, max age in ms) and whether each user id's index
    /// key follows a step's keys (not on a Redis Cluster).
    pub(super) fn save_settings(&self, call: &mut Call<'_>) {
        let history = self.history();
        call.arg(history.keep)
            .arg(history.max_age_ms())
            .arg(if self.is_cluster() { "0" } else { "1" });
    }

    /// Adds one save step's keys and arguments to `call` (the layout the
    /// save prelude, `save.lua`, reads; the run's settings come first, from
    /// [`save_settings`](Self::save_settings)). Only what the step needs
    /// goes: no user-id arguments without user ids, no times but a put's.
    pub(super) fn save_step(
        &self,
        call: &mut Call<'_>,
        id: &SessionId,
        base: &str,
        change: Change<'_>,
        fence: Option<&Fence<'_>>,
        acks: &[String],
    ) {
        self.token_keys(call, base);
        if !acks.is_empty() {
            for key in ack_keys(base) {
                call.key(key);
            }
        }
        call.arg(match change {
            Change::Write(Write::Remove) => "r",
            Change::Write(_) => "s",
            Change::Put(_) => "p",
        });
        match fence {
            Some(f) => {
                call.arg("1")
                    .arg(f.owner)
                    .arg(f.token)
                    .arg(if f.release { "1" } else { "0" })
            }
            None => call.arg("0").arg("").arg(0).arg("0"),
        };
        let no_ids: &[i64] = &[];
        let user_ids = match change {
            Change::Write(Write::Set {
                value,
                metadata,
                user_ids,
                data_version,
            }) => {
                call.arg(new_version())
                    .arg(value)
                    .arg(metadata)
                    .arg(user_ids_json(user_ids))
                    .arg(data_version.version)
                    .arg(data_version.readable_from);
                user_ids.as_slice()
            }
            Change::Put(r) => {
                call.arg(&r.version)
                    .arg(&r.value)
                    .arg(&r.metadata)
                    .arg(user_ids_json(&r.user_ids))
                    .arg(r.data_version.version)
                    .arg(r.data_version.readable_from);
                r.user_ids.as_slice()
            }
            // No version, value, metadata, user ids nor data version.
            Change::Write(Write::Remove) => {
                call.arg("").arg("").arg("").arg("").arg("").arg("");
                no_ids
            }
        };
        call.arg(acks.len());
        for read_id in acks {
            call.arg(read_id);
        }
        // On a cluster the user-id index keys lie in other slots: only the
        // key's own `uids` set is kept (`keys_for_user` scans those).
        call.arg(user_ids.len());
        call.key(Joined(base, ":hist")).key(Joined(base, ":uids"));
        if !user_ids.is_empty() {
            call.arg(index_member(id));
            let indexed = !self.is_cluster();
            for user in user_ids {
                call.arg(*user);
                if indexed {
                    call.key(self.user_key(*user));
                }
            }
        }
        if let Change::Put(r) = change {
            call.arg(r.created_ms).arg(r.updated_ms).arg(r.token);
        }
    }
}

/// The bytes a save step's value and metadata take among its arguments.
fn step_bytes(change: Change<'_>) -> usize {
    match change {
        Change::Write(Write::Set {
            value, metadata, ..
        }) => value.len() + metadata.len(),
        Change::Put(r) => r.value.len() + r.metadata.len(),
        Change::Write(Write::Remove) => 0,
    }
}

/// A key as the user-id index holds it: the JSON array `[name, scope, key]`.
pub(super) fn index_member(id: &SessionId) -> String {
    // A tuple is written as a JSON array, without building a `Value`;
    // writing strings into a `String` cannot fail.
    serde_json::to_string(&(&id.name, &id.scope, &id.key)).unwrap_or_default()
}

/// A save step's answer (`{0, token, holder}` or `{1, created, updated,
/// version, token}`).
fn write_outcome(id: &SessionId, reply: &[Value]) -> Result<WriteOutcome, BackendError> {
    let number = |v: &Value, what: &str| {
        int(v).ok_or_else(|| corrupt(id, format!("{what} is not an integer: {v:?}")))
    };
    match reply {
        [flag, token, holder] if int(flag) == Some(0) => Ok(WriteOutcome::Fenced {
            token: unsigned(number(token, "token")?),
            owner: text(holder).filter(|h| !h.is_empty()),
        }),
        [_, created, updated, version, token] => Ok(WriteOutcome::Written {
            created_ms: number(created, "created_ms")?,
            updated_ms: number(updated, "updated_ms")?,
            version: text(version).unwrap_or_default(),
            token: unsigned(number(token, "token")?),
        }),
        other => Err(corrupt(id, format!("write answered {other:?}"))),
    }
}

/// [`Backend::set`](crate::backend::Backend::set) and
/// [`Backend::save`](crate::backend::Backend::save): one `set.lua` run
/// (with `WAIT` for replicas when they must confirm) that writes, releases
/// when asked and removes the values handed out under `acks`, unless the
/// fence refuses.
pub(super) async fn save(
    backend: &RedisBackend,
    id: &SessionId,
    write: &Write,
    fence: Option<&Fence<'_>>,
    acks: &[String],
) -> Result<WriteOutcome, BackendError> {
    save_change(backend, id, Change::Write(write), fence, acks).await
}

/// [`save`] of a write or a put (`set.lua`).
pub(super) async fn save_change(
    backend: &RedisBackend,
    id: &SessionId,
    change: Change<'_>,
    fence: Option<&Fence<'_>>,
    acks: &[String],
) -> Result<WriteOutcome, BackendError> {
    let base = backend.key_base(id);
    let mut call = Call::new(&backend.inner.scripts.set);
    backend.save_settings(&mut call);
    backend.save_step(&mut call, id, &base, change, fence, acks);
    let reply = array(id, backend.replicated(&call, "set", &base).await?)?;
    if fence.is_some_and(|f| f.release) {
        // Perhaps released: wake this process's waits.
        lock_changed(backend, &base);
    }
    write_outcome(id, &reply)
}

/// Refuses `steps` spanning hash slots when the backend checks slots.
fn check_slots(backend: &RedisBackend, steps: &[SaveStep<'_>]) -> Result<(), BackendError> {
    if !backend.cluster_slot_check() {
        return Ok(());
    }
    let slots: Vec<(String, u16)> = steps
        .iter()
        .map(|s| (backend.key_base(s.id), backend.key_slot(s.id)))
        .collect();
    if slots.windows(2).all(|w| w[0].1 == w[1].1) {
        return Ok(());
    }
    let named: Vec<String> = slots
        .iter()
        .map(|(base, slot)| format!("{base} (slot {slot})"))
        .collect();
    Err(BackendError::Invalid(format!(
        "a multi-key save spans hash slots, which Redis Cluster refuses: {}",
        named.join(", ")
    )))
}

/// [`Backend::save_many`](crate::backend::Backend::save_many): one
/// `save_many.lua` run checking every fence before writing anything.
pub(super) async fn save_many(
    backend: &RedisBackend,
    steps: &[SaveStep<'_>],
) -> Result<BatchOutcome, BackendError> {
    let Some(first) = steps.first() else {
        return Ok(BatchOutcome::Written(Vec::new()));
    };
    check_slots(backend, steps)?;
    let bases: Vec<String> = steps.iter().map(|s| backend.key_base(s.id)).collect();
    let mut call = Call::new(&backend.inner.scripts.save_many);
    call.arg(steps.len());
    backend.save_settings(&mut call);
    for (step, base) in steps.iter().zip(&bases) {
        let change = Change::Write(step.write);
        backend.save_step(
            &mut call,
            step.id,
            base,
            change,
            Some(&step.fence),
            step.acks,
        );
    }
    let what = if steps.len() > 1 {
        format!("{} (and {} more)", bases[0], steps.len() - 1)
    } else {
        bases[0].clone()
    };
    let reply = array(
        first.id,
        backend.replicated(&call, "save_many", &what).await?,
    )?;
    for (step, base) in steps.iter().zip(&bases) {
        if step.fence.release {
            lock_changed(backend, base);
        }
    }
    match reply.as_slice() {
        [flag, index, token, holder] if int(flag) == Some(0) => {
            let step = int(index)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| steps.get(i))
                .ok_or_else(|| corrupt(first.id, format!("save_many refused step {index:?}")))?;
            Ok(BatchOutcome::Refused {
                id: step.id.clone(),
                token: int(token)
                    .map(unsigned)
                    .ok_or_else(|| corrupt(step.id, format!("token {token:?}")))?,
                owner: text(holder).filter(|h| !h.is_empty()),
            })
        }
        [_, Value::Array(outcomes)] if outcomes.len() == steps.len() => {
            let written = steps
                .iter()
                .zip(outcomes)
                .map(|(step, out)| match out {
                    Value::Array(fields) => write_outcome(step.id, fields),
                    other => Err(corrupt(step.id, format!("save answered {other:?}"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(BatchOutcome::Written(written))
        }
        other => Err(corrupt(first.id, format!("save_many answered {other:?}"))),
    }
}

/// The most steps of one `save_each.lua` run: Redis runs nothing else
/// while a script runs, so a large batch goes as several runs (in one
/// pipeline), each short.
const EACH_RUN: usize = 32;

/// [`Backend::save_each`](crate::backend::Backend::save_each): the steps
/// in `save_each.lua` runs of up to [`EACH_RUN`] steps, every run of one
/// server (on a cluster: of one hash slot) in one pipeline with one `WAIT`
/// after them when replicas must confirm; each step is fenced and
/// answered on its own.
pub(super) async fn save_each(
    backend: &RedisBackend,
    steps: &[SaveStep<'_>],
) -> Vec<Result<WriteOutcome, BackendError>> {
    let changes: Vec<Change<'_>> = steps.iter().map(|s| Change::Write(s.write)).collect();
    each(backend, steps, Each::Save(&changes))
        .await
        .into_iter()
        .zip(steps)
        .map(|(answer, step)| {
            answer?.map(|(outcome, _)| outcome).ok_or_else(|| {
                BackendError::Other(format!(
                    "redis set {}: a save answered as a rewrite",
                    step.id
                ))
            })
        })
        .collect()
}

/// [`Backend::rewrite_each`](crate::backend::Backend::rewrite_each):
/// each write of a value goes as a touch (`touch_each.lua`: the version
/// the session's last write left, not the value), in runs as
/// [`save_each`]'s; the steps whose record no longer holds that version (a
/// store that lost its data, a record written by someone else) then go
/// again as full saves, in one more round, with any removal.
pub(super) async fn rewrite_each(
    backend: &RedisBackend,
    steps: &[RewriteStep<'_>],
) -> Vec<Result<WriteOutcome, BackendError>> {
    rewrite(backend, steps, &vec![0; steps.len()])
        .await
        .into_iter()
        .map(|r| r.map(|r| r.outcome))
        .collect()
}

/// [`Backend::rewrite_renew_each`](crate::backend::Backend::rewrite_renew_each):
/// [`rewrite_each`] whose touches renew their lock when written (a step
/// written in full in the second round renews nothing).
pub(super) async fn rewrite_renew_each(
    backend: &RedisBackend,
    steps: &[RenewingRewrite<'_>],
) -> Vec<Result<Rewritten, BackendError>> {
    let rewrites: Vec<RewriteStep<'_>> = steps.iter().map(|s| s.rewrite.clone()).collect();
    // A ttl the store cannot take (zero) renews nothing.
    let ttls: Vec<u64> = steps
        .iter()
        .map(|s| check_ttl(s.rewrite.save.id, s.ttl).map_or(0, |ms| u64::try_from(ms).unwrap_or(0)))
        .collect();
    rewrite(backend, &rewrites, &ttls).await
}

/// The rewrites of `steps`, each touch renewing its lock for `ttls[i]` ms
/// (0: not renewed).
async fn rewrite(
    backend: &RedisBackend,
    steps: &[RewriteStep<'_>],
    ttls: &[u64],
) -> Vec<Result<Rewritten, BackendError>> {
    let (sets, removals): (Vec<usize>, Vec<usize>) =
        (0..steps.len()).partition(|&i| matches!(steps[i].save.write, Write::Set { .. }));
    let touches: Vec<SaveStep<'_>> = sets.iter().map(|&i| steps[i].save.clone()).collect();
    let args: Vec<Touch<'_>> = sets
        .iter()
        .map(|&i| Touch {
            replaces: steps[i].replaces,
            ttl_ms: ttls.get(i).copied().unwrap_or(0),
        })
        .collect();
    let touched = each(backend, &touches, Each::Touch(&args)).await;
    let mut answers: Vec<Option<Result<Rewritten, BackendError>>> = vec![None; steps.len()];
    let mut full = removals;
    for (&i, answer) in sets.iter().zip(touched) {
        match answer {
            Ok(Some((outcome, renewed))) => answers[i] = Some(Ok(Rewritten { outcome, renewed })),
            Err(e) => answers[i] = Some(Err(e)),
            Ok(None) => full.push(i),
        }
    }
    if !full.is_empty() {
        let saves: Vec<SaveStep<'_>> = full.iter().map(|&i| steps[i].save.clone()).collect();
        for (&i, answer) in full.iter().zip(save_each(backend, &saves).await) {
            answers[i] = Some(answer.map(|outcome| Rewritten {
                outcome,
                renewed: false,
            }));
        }
    }
    answered(answers, |i| {
        format!(
            "redis set {}: the rewrite went unanswered",
            steps[i].save.id
        )
    })
}

/// Runs `steps` (as `what` says, one each) in script runs of up to
/// [`EACH_RUN`], every run of one server (on a cluster: of one hash slot)
/// in one pipeline: each answer is the step's outcome, or `None` for a
/// touch whose record no longer holds the version it names.
async fn each(
    backend: &RedisBackend,
    steps: &[SaveStep<'_>],
    what: Each<'_>,
) -> Vec<Result<EachOutcome, BackendError>> {
    let scripts = &backend.inner.scripts;
    let cluster = backend.is_cluster();
    let bases: Vec<String> = steps.iter().map(|s| backend.key_base(s.id)).collect();
    // Steps by hash slot (all in one on a single server), each slot's in
    // order.
    let mut slots: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (index, base) in bases.iter().enumerate() {
        let slot = if cluster { hash_slot(base) } else { 0 };
        slots.entry(slot).or_default().push(index);
    }
    let groups = slots.into_values().map(|indices| {
        let mut pipe = redis::Pipeline::with_capacity(indices.len().div_ceil(EACH_RUN) + 1);
        let mut runs = Vec::new();
        for run in indices.chunks(EACH_RUN) {
            let call = match what {
                Each::Save(changes) => {
                    // Sized for the run: a step's keys, arguments and their
                    // bytes (the value and metadata, about 200 more), so
                    // the buffers never grow.
                    let bytes: usize = run.iter().map(|&i| step_bytes(changes[i]) + 256).sum();
                    let mut call = Call::with_capacity(
                        &scripts.save_each,
                        6 * run.len(),
                        16 * run.len() + 4,
                        bytes,
                    );
                    call.arg(run.len());
                    backend.save_settings(&mut call);
                    for &i in run {
                        let step = &steps[i];
                        backend.save_step(
                            &mut call,
                            step.id,
                            &bases[i],
                            changes[i],
                            Some(&step.fence),
                            step.acks,
                        );
                    }
                    call
                }
                Each::Touch(touches) => {
                    let mut call = Call::with_capacity(
                        &scripts.touch_each,
                        4 * run.len(),
                        5 * run.len() + 4,
                        104 * run.len() + 32,
                    );
                    call.arg(run.len());
                    backend.save_settings(&mut call);
                    for &i in run {
                        backend.touch_step(&mut call, &bases[i], touches[i], &steps[i].fence);
                    }
                    call
                }
            };
            call.push_to(&mut pipe);
            runs.push(run.to_vec());
        }
        let first = indices.first().map_or(0, |&i| i);
        let what = match indices.len() {
            0 | 1 => bases[first].clone(),
            n => format!("{} (and {} more)", bases[first], n - 1),
        };
        Group {
            tag: runs,
            pipe,
            what,
        }
    });
    let groups: Vec<Group<Vec<Vec<usize>>>> = groups.collect();
    fn save_each(s: &Scripts) -> &Script {
        &s.save_each
    }
    fn touch_each(s: &Scripts) -> &Script {
        &s.touch_each
    }
    let script = match what {
        Each::Save(_) => save_each,
        Each::Touch(_) => touch_each,
    };
    let done = run_groups(backend, script, "set", groups).await;
    let mut answers: Vec<Option<Result<EachOutcome, BackendError>>> = vec![None; steps.len()];
    for (runs, replies) in done {
        match replies {
            Ok(replies) => {
                for (run, reply) in runs.iter().zip(replies) {
                    let lines = match &reply {
                        Value::BulkString(bytes) => each_answers(bytes, run.len()),
                        _ => None,
                    };
                    let Some(lines) = lines else {
                        for &i in run {
                            answers[i] = Some(Err(corrupt(
                                steps[i].id,
                                format!("save_each answered {reply:?}"),
                            )));
                        }
                        continue;
                    };
                    for (&i, answer) in run.iter().zip(lines) {
                        answers[i] = Some(each_outcome(&bases[i], answer));
                    }
                }
            }
            Err(e) => {
                for &i in runs.iter().flatten() {
                    answers[i] = Some(Err(e.clone()));
                }
            }
        }
    }
    for (step, base) in steps.iter().zip(&bases) {
        if step.fence.release {
            // Perhaps released: wake this process's waits.
            lock_changed(backend, base);
        }
    }
    answered(answers, |i| {
        format!("redis save {}: the save pipeline failed", bases[i])
    })
}

/// What one step's answer of `save_each.lua` means (see [`EachOutcome`]).
fn each_outcome(base: &str, answer: EachAnswer<'_>) -> Result<EachOutcome, BackendError> {
    let text = || String::from_utf8_lossy(answer.text).into_owned();
    let [a, b, c] = answer.numbers;
    match answer.flag {
        1 | 3 => Ok(Some((
            WriteOutcome::Written {
                created_ms: a,
                updated_ms: b,
                version: text(),
                token: unsigned(c),
            },
            answer.flag == 3,
        ))),
        0 => Ok(Some((
            WriteOutcome::Fenced {
                token: unsigned(a),
                owner: Some(text()).filter(|h| !h.is_empty()),
            },
            false,
        ))),
        2 => Ok(None),
        _ => Err(BackendError::Other(format!("redis set {base}: {}", text()))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::reply::{each_answers, EachAnswer};
    use super::{crc16, each_outcome, hash_slot};
    use crate::backend::{BackendError, WriteOutcome};

    #[test]
    fn save_each_answers_are_read_in_order_and_anything_else_is_refused() {
        let reply = b"1 1700000000000 1700000000123 7 32:0123456789abcdef0123456789abcdef\
0 9 0 0 6:holder-1 0 0 0 12:OOM command:1 5 6 8 0:";
        let answers = each_answers(reply, 4).expect("four answers"); // ok: fixed input
        assert_eq!(
            answers[1],
            EachAnswer {
                flag: 0,
                numbers: [9, 0, 0],
                text: b"holder"
            }
        );
        assert_eq!(
            each_outcome("{p:P/global/1}:", answers.into_iter().next().unwrap()), // ok: four answers
            Ok(Some((
                WriteOutcome::Written {
                    created_ms: 1_700_000_000_000,
                    updated_ms: 1_700_000_000_123,
                    version: "0123456789abcdef0123456789abcdef".into(),
                    token: 7,
                },
                false
            )))
        );
        let answers = each_answers(reply, 4).expect("four answers"); // ok: fixed input
        let outcomes: Vec<_> = answers
            .into_iter()
            .map(|a| each_outcome("{p:P/global/1}:", a))
            .collect();
        assert_eq!(
            outcomes[1],
            Ok(Some((
                WriteOutcome::Fenced {
                    token: 9,
                    owner: Some("holder".into())
                },
                false
            )))
        );
        assert!(
            matches!(&outcomes[2], Err(BackendError::Other(m)) if m.ends_with(": OOM command:"))
        );
        assert_eq!(
            outcomes[3],
            Ok(Some((
                WriteOutcome::Written {
                    created_ms: 5,
                    updated_ms: 6,
                    version: String::new(),
                    token: 8,
                },
                false
            )))
        );
        // A touch written that renewed its lock.
        let renewed = each_answers(b"3 5 6 8 2:v1", 1).expect("one answer"); // ok: fixed input
        assert_eq!(
            renewed
                .into_iter()
                .map(|a| each_outcome("{p:P/global/1}:", a))
                .collect::<Vec<_>>(),
            vec![Ok(Some((
                WriteOutcome::Written {
                    created_ms: 5,
                    updated_ms: 6,
                    version: "v1".into(),
                    token: 8,
                },
                true
            )))]
        );
        // A touch whose record changed.
        let changed = each_answers(b"2 0 0 0 0:", 1).expect("one answer"); // ok: fixed input
        assert_eq!(
            changed
                .into_iter()
                .map(|a| each_outcome("{p:P/global/1}:", a))
                .collect::<Vec<_>>(),
            vec![Ok(None)]
        );
        // A text holding a colon and a space is read by its length.
        assert_eq!(each_answers(b"0 3 0 0 3:a b", 1).unwrap()[0].text, b"a b"); // ok: fixed input
        for bad in [
            &b"1 2 3 4 5:abc"[..],
            b"1 2 3 4",
            b"x 2 3 4 0:",
            b"1 2 3 4 -1:",
            b"1 2 3 4 0:1 2 3 4 0:",
        ] {
            assert_eq!(
                each_answers(bad, 1),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(each_answers(b"", 0), Some(vec![]));
    }

    #[test]
    fn slots_are_computed_as_redis_cluster_does() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(hash_slot("foo"), 12182);
        assert_eq!(hash_slot("bar"), 5061);
        // Only the hash tag counts.
        assert_eq!(hash_slot("{foo}:rec"), hash_slot("foo"));
        assert_eq!(hash_slot("{foo}:lock"), hash_slot("{foo}:q"));
        // An empty tag hashes the whole key.
        assert_eq!(hash_slot("{}foo"), crc16(b"{}foo") % 16384);
    }
}
