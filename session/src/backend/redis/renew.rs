//! Lock renewals, one ([`Backend::renew`](crate::backend::Backend::renew))
//! or several together
//! ([`Backend::renew_many`](crate::backend::Backend::renew_many)): the
//! renewals due in the same tick go in `renew_each.lua` runs of a few
//! dozen, in one pipeline with one `WAIT` after them (on a cluster, one
//! pipeline per hash slot, the pipelines concurrently), so a process with
//! many open sessions pays one round trip per tick rather than one per
//! session, and one script run per few dozen renewals.

use std::collections::BTreeMap;

use redis::Value;

use super::groups::{run_groups, Group};
use super::reply::{array, corrupt, each_answers, int, text, unsigned, EachAnswer};
use super::save::hash_slot;
use super::{RedisBackend, TOKEN_KEYS};
use crate::backend::checks::check_ttl;
use crate::backend::{BackendError, RenewOutcome, RenewStep, SessionId};

/// A renewal's answer (`{1}` or `{0, token, holder}`).
pub(super) fn outcome(id: &SessionId, reply: Value) -> Result<RenewOutcome, BackendError> {
    let reply = array(id, reply)?;
    match reply.as_slice() {
        [flag] if int(flag) == Some(1) => Ok(RenewOutcome::Renewed),
        [_, token, holder] => Ok(RenewOutcome::Superseded {
            token: int(token)
                .map(unsigned)
                .ok_or_else(|| corrupt(id, format!("renew token {token:?}")))?,
            owner: text(holder).filter(|h| !h.is_empty()),
        }),
        other => Err(corrupt(id, format!("renew answered {other:?}"))),
    }
}

/// A renewal of a batch: its index among the steps, its key base and its
/// ttl in ms.
type Member = (usize, String, i64);

/// Renewals in one `renew_each.lua` run (a few dozen keep the script's
/// run short, as `save_each`'s runs).
const EACH_RUN: usize = 32;

/// One `renew_each.lua` run of `run` (indices into `steps`, with their key
/// bases and checked ttls), written straight into a command sized for it
/// (`key`: a buffer for the key names, reused).
fn renew_each_cmd(
    backend: &RedisBackend,
    run: &[Member],
    steps: &[RenewStep<'_>],
    key: &mut String,
) -> redis::Cmd {
    let script = &backend.inner.scripts.renew_each;
    let bytes: usize = run
        .iter()
        .map(|(i, base, _)| 3 * base.len() + steps[*i].owner.len() + 48)
        .sum();
    let mut cmd = redis::Cmd::with_capacity(4 + 6 * run.len(), bytes + 96);
    cmd.arg("EVALSHA")
        .arg(script.get_hash())
        .arg(TOKEN_KEYS.len() * run.len());
    for (_, base, _) in run {
        for suffix in TOKEN_KEYS {
            key.clear();
            key.push_str(base);
            key.push_str(suffix);
            cmd.arg(key.as_str());
        }
    }
    cmd.arg(run.len());
    for (i, _, ttl) in run {
        let step = &steps[*i];
        cmd.arg(step.owner).arg(step.token).arg(*ttl);
    }
    cmd
}

/// One step's answer of `renew_each.lua`.
fn each_outcome(base: &str, answer: EachAnswer<'_>) -> Result<RenewOutcome, BackendError> {
    let text = || String::from_utf8_lossy(answer.text).into_owned();
    match answer.flag {
        1 => Ok(RenewOutcome::Renewed),
        0 => Ok(RenewOutcome::Superseded {
            token: unsigned(answer.numbers[0]),
            owner: Some(text()).filter(|h| !h.is_empty()),
        }),
        _ => Err(BackendError::Other(format!(
            "redis renew {base}: {}",
            text()
        ))),
    }
}

/// [`Backend::renew_many`](crate::backend::Backend::renew_many).
pub(super) async fn renew_many(
    backend: &RedisBackend,
    steps: &[RenewStep<'_>],
) -> Vec<Result<RenewOutcome, BackendError>> {
    let mut answers: Vec<Option<Result<RenewOutcome, BackendError>>> = vec![None; steps.len()];
    // Steps with a bad ttl are answered alone; the others grouped (by hash
    // slot on a cluster, all together on one server), each group's in
    // runs of a few dozen.
    let mut slots: BTreeMap<u16, Vec<Member>> = BTreeMap::new();
    let cluster = backend.is_cluster();
    for (index, step) in steps.iter().enumerate() {
        match check_ttl(step.id, step.ttl) {
            Err(e) => answers[index] = Some(Err(e)),
            Ok(ttl) => {
                let base = backend.key_base(step.id);
                let slot = if cluster { hash_slot(&base) } else { 0 };
                slots.entry(slot).or_default().push((index, base, ttl));
            }
        }
    }
    let mut key = String::new();
    let groups: Vec<Group<Vec<Vec<Member>>>> = slots
        .into_values()
        .map(|members| {
            let what = match members.as_slice() {
                [] => String::new(),
                [(_, base, _)] => base.clone(),
                [(_, base, _), rest @ ..] => format!("{base} (and {} more)", rest.len()),
            };
            let mut pipe = redis::Pipeline::with_capacity(members.len().div_ceil(EACH_RUN) + 1);
            let mut runs = Vec::new();
            for run in members.chunks(EACH_RUN) {
                pipe.add_command(renew_each_cmd(backend, run, steps, &mut key));
                runs.push(run.to_vec());
            }
            Group {
                tag: runs,
                pipe,
                what,
            }
        })
        .collect();
    let done = run_groups(backend, |s| &s.renew_each, "renew", groups).await;
    for (runs, replies) in done {
        match replies {
            Ok(replies) => {
                for (run, reply) in runs.iter().zip(replies) {
                    let lines = match &reply {
                        Value::BulkString(bytes) => each_answers(bytes, run.len()),
                        _ => None,
                    };
                    let Some(lines) = lines else {
                        for (i, _, _) in run {
                            answers[*i] = Some(Err(corrupt(
                                steps[*i].id,
                                format!("renew_each answered {reply:?}"),
                            )));
                        }
                        continue;
                    };
                    for ((i, base, _), line) in run.iter().zip(lines) {
                        answers[*i] = Some(each_outcome(base, line));
                    }
                }
            }
            Err(e) => {
                for (i, _, _) in runs.iter().flatten() {
                    answers[*i] = Some(Err(e.clone()));
                }
            }
        }
    }
    super::reply::answered(answers, |i| {
        format!(
            "redis renew {}: the renewal pipeline failed",
            backend.key_base(steps[i].id)
        )
    })
}
