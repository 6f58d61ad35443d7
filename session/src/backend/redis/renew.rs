//! Lock renewals, one ([`Backend::renew`](crate::backend::Backend::renew))
//! or several together
//! ([`Backend::renew_many`](crate::backend::Backend::renew_many)): the
//! renewals due in the same tick go in one pipeline of `renew.lua` runs
//! with one `WAIT` after them (on a cluster, one pipeline per hash slot,
//! the pipelines concurrently), so a process with many open sessions pays
//! one round trip per tick rather than one per session.

use std::collections::HashMap;

use redis::Value;

use super::groups::{run_groups, Group};
use super::reply::{array, corrupt, int, text, unsigned};
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

/// One renewal's `EVALSHA`, written straight into a command sized for it
/// (`key`: a buffer for the key names, reused from one renewal to the
/// next). Not built through `replication::Call`, which owns a `String`
/// per key and a buffer per call: renewals are the whole store traffic of
/// an idle process, up to a thousand per pipeline.
fn renew_cmd(
    backend: &RedisBackend,
    base: &str,
    step: &RenewStep<'_>,
    ttl: i64,
    key: &mut String,
) -> redis::Cmd {
    let script = &backend.inner.scripts.renew;
    let mut cmd = redis::Cmd::with_capacity(9, 3 * base.len() + step.owner.len() + 112);
    cmd.arg("EVALSHA")
        .arg(script.get_hash())
        .arg(TOKEN_KEYS.len());
    for suffix in TOKEN_KEYS {
        key.clear();
        key.push_str(base);
        key.push_str(suffix);
        cmd.arg(key.as_str());
    }
    cmd.arg(step.owner).arg(step.token).arg(ttl);
    cmd
}

/// [`Backend::renew_many`](crate::backend::Backend::renew_many).
pub(super) async fn renew_many(
    backend: &RedisBackend,
    steps: &[RenewStep<'_>],
) -> Vec<Result<RenewOutcome, BackendError>> {
    let mut answers: Vec<Option<Result<RenewOutcome, BackendError>>> = vec![None; steps.len()];
    // Steps with a bad ttl are answered alone; the others grouped (by hash
    // slot on a cluster, all together on one server).
    let mut groups: HashMap<u16, Group<Vec<usize>>> = HashMap::new();
    let cluster = backend.is_cluster();
    let mut key = String::new();
    for (index, step) in steps.iter().enumerate() {
        match check_ttl(step.id, step.ttl) {
            Err(e) => answers[index] = Some(Err(e)),
            Ok(ttl) => {
                let base = backend.key_base(step.id);
                let slot = if cluster { hash_slot(&base) } else { 0 };
                let cmd = renew_cmd(backend, &base, step, ttl, &mut key);
                let group = groups.entry(slot).or_insert_with(|| Group {
                    tag: Vec::new(),
                    pipe: redis::Pipeline::with_capacity(if cluster { 4 } else { steps.len() + 1 }),
                    what: base,
                });
                group.tag.push(index);
                group.pipe.add_command(cmd);
            }
        }
    }
    let groups = groups
        .into_values()
        .map(|mut group| {
            if group.tag.len() > 1 {
                group.what = format!("{} (and {} more)", group.what, group.tag.len() - 1);
            }
            group
        })
        .collect();
    let done = run_groups(backend, |s| &s.renew, "renew", groups).await;
    for (indices, replies) in done {
        match replies {
            Ok(replies) => {
                for (index, reply) in indices.into_iter().zip(replies) {
                    if let (Some(slot), Some(step)) = (answers.get_mut(index), steps.get(index)) {
                        *slot = Some(outcome(step.id, reply));
                    }
                }
            }
            Err(e) => {
                for index in indices {
                    if let Some(slot) = answers.get_mut(index) {
                        *slot = Some(Err(e.clone()));
                    }
                }
            }
        }
    }
    answers
        .into_iter()
        .zip(steps)
        .map(|(answer, step)| {
            answer.unwrap_or_else(|| {
                Err(BackendError::Other(format!(
                    "redis renew {}: the renewal pipeline failed",
                    backend.key_base(step.id)
                )))
            })
        })
        .collect()
}
