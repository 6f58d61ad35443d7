//! Lock renewals, one ([`Backend::renew`](crate::backend::Backend::renew))
//! or several together
//! ([`Backend::renew_many`](crate::backend::Backend::renew_many)): the
//! renewals due in the same tick go in one pipeline of `renew.lua` runs
//! with one `WAIT` after them (on a cluster, one pipeline per hash slot,
//! the pipelines concurrently), so a process with many open sessions pays
//! one round trip per tick rather than one per session.

use std::collections::HashMap;

use redis::Value;

use super::replication::{run_batch, Call};
use super::reply::{array, corrupt, int, text, unsigned};
use super::save::hash_slot;
use super::RedisBackend;
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

/// One renewal, owned (for a cluster's concurrent per-slot pipelines).
#[derive(Clone)]
struct Owned {
    index: usize,
    id: SessionId,
    owner: String,
    token: u64,
    ttl: i64,
}

/// Runs one group's renewals in one pipeline; answers (index, outcome).
async fn run_group(
    backend: &RedisBackend,
    group: &[Owned],
) -> Vec<(usize, Result<RenewOutcome, BackendError>)> {
    let bases: Vec<String> = group.iter().map(|s| backend.key_base(&s.id)).collect();
    let calls: Vec<Call<'_>> = group
        .iter()
        .zip(&bases)
        .map(|(step, base)| {
            let mut call = Call::new(&backend.inner.scripts.renew);
            backend.token_keys(&mut call, base);
            call.arg(step.owner.as_str()).arg(step.token).arg(step.ttl);
            call
        })
        .collect();
    let what = match bases.as_slice() {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        [] => return Vec::new(),
    };
    let replies = async {
        let mut conn = backend.conn().await?;
        let (replicas, timeout) = backend.replication();
        run_batch(&calls, &mut conn, replicas, timeout, "renew", &what).await
    }
    .await;
    match replies {
        Ok(replies) => group
            .iter()
            .zip(replies)
            .map(|(step, reply)| (step.index, outcome(&step.id, reply)))
            .collect(),
        Err(e) => group
            .iter()
            .map(|step| (step.index, Err(e.clone())))
            .collect(),
    }
}

/// [`Backend::renew_many`](crate::backend::Backend::renew_many).
pub(super) async fn renew_many(
    backend: &RedisBackend,
    steps: &[RenewStep<'_>],
) -> Vec<Result<RenewOutcome, BackendError>> {
    let mut answers: Vec<Option<Result<RenewOutcome, BackendError>>> = vec![None; steps.len()];
    // Steps with a bad ttl are answered alone; the others grouped (by hash
    // slot on a cluster, all together on one server).
    let mut groups: HashMap<u16, Vec<Owned>> = HashMap::new();
    let cluster = backend.is_cluster();
    for (index, step) in steps.iter().enumerate() {
        match check_ttl(step.id, step.ttl) {
            Err(e) => answers[index] = Some(Err(e)),
            Ok(ttl) => {
                let slot = if cluster {
                    hash_slot(&backend.key_base(step.id))
                } else {
                    0
                };
                groups.entry(slot).or_default().push(Owned {
                    index,
                    id: step.id.clone(),
                    owner: step.owner.to_owned(),
                    token: step.token,
                    ttl,
                });
            }
        }
    }
    let mut done = Vec::new();
    if groups.len() <= 1 {
        for group in groups.values() {
            done.extend(run_group(backend, group).await);
        }
    } else {
        let mut tasks = tokio::task::JoinSet::new();
        for (_, group) in groups {
            let backend = backend.clone();
            tasks.spawn(async move { run_group(&backend, &group).await });
        }
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(group) => done.extend(group),
                // A group's task panicked: its steps stay unanswered and
                // are answered as an error below.
                Err(e) => tracing::warn!(error = %e, "a renewal pipeline failed"),
            }
        }
    }
    for (index, answer) in done {
        if let Some(slot) = answers.get_mut(index) {
            *slot = Some(answer);
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
