//! Lock renewals, one ([`Backend::renew`](crate::backend::Backend::renew))
//! or several together
//! ([`Backend::renew_many`](crate::backend::Backend::renew_many)): the
//! renewals due in the same tick go in one pipeline of `renew.lua` runs
//! with one `WAIT` after them (on a cluster, one pipeline per hash slot,
//! the pipelines concurrently), so a process with many open sessions pays
//! one round trip per tick rather than one per session.

use std::collections::HashMap;

use redis::Value;

use super::replication::run_pipeline;
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

/// The renewals of one pipeline: which steps (by index), their commands,
/// and the key named in errors (the first one's base).
struct Group {
    indices: Vec<usize>,
    pipe: redis::Pipeline,
    what: String,
}

/// Runs one group's pipeline; answers its indices and the replies.
async fn run_group(
    backend: &RedisBackend,
    group: Group,
) -> (Vec<usize>, Result<Vec<Value>, BackendError>) {
    let what = match group.indices.len() {
        0 | 1 => group.what,
        n => format!("{} (and {} more)", group.what, n - 1),
    };
    let replies = async {
        let mut conn = backend.conn().await?;
        let (replicas, timeout) = backend.replication();
        let script = &backend.inner.scripts.renew;
        run_pipeline(
            group.pipe, script, &mut conn, replicas, timeout, "renew", &what,
        )
        .await
    }
    .await;
    (group.indices, replies)
}

/// [`Backend::renew_many`](crate::backend::Backend::renew_many).
pub(super) async fn renew_many(
    backend: &RedisBackend,
    steps: &[RenewStep<'_>],
) -> Vec<Result<RenewOutcome, BackendError>> {
    let mut answers: Vec<Option<Result<RenewOutcome, BackendError>>> = vec![None; steps.len()];
    // Steps with a bad ttl are answered alone; the others grouped (by hash
    // slot on a cluster, all together on one server).
    let mut groups: HashMap<u16, Group> = HashMap::new();
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
                    indices: Vec::new(),
                    pipe: redis::Pipeline::with_capacity(if cluster { 4 } else { steps.len() + 1 }),
                    what: base,
                });
                group.indices.push(index);
                group.pipe.add_command(cmd);
            }
        }
    }
    let mut done = Vec::with_capacity(groups.len());
    if groups.len() <= 1 {
        for (_, group) in groups {
            done.push(run_group(backend, group).await);
        }
    } else {
        let mut tasks = tokio::task::JoinSet::new();
        for (_, group) in groups {
            let backend = backend.clone();
            tasks.spawn(async move { run_group(&backend, group).await });
        }
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(group) => done.push(group),
                // A group's task panicked: its steps stay unanswered and
                // are answered as an error below.
                Err(e) => tracing::warn!(error = %e, "a renewal pipeline failed"),
            }
        }
    }
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
