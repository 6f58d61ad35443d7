//! Pipelines of script runs sent together: the steps of a batch (renewals,
//! saves that come due together) grouped by server (on a cluster, by hash
//! slot), each group one pipeline of one script's runs with one `WAIT`,
//! the groups concurrently.

use redis::{Script, Value};

use super::replication::run_pipeline;
use super::scripts::Scripts;
use super::RedisBackend;
use crate::backend::BackendError;

/// One pipeline: `tag` (which steps it holds, for the caller), the
/// pipeline, and the key named in its errors.
pub(super) struct Group<T> {
    pub(super) tag: T,
    pub(super) pipe: redis::Pipeline,
    pub(super) what: String,
}

/// Runs every group's pipeline of runs of `script` (`name` in errors),
/// the groups concurrently when there are several; answers each group's
/// tag and replies (one per run). A group whose task panicked is left
/// out: the caller answers its steps as failed.
pub(super) async fn run_groups<T: Send + 'static>(
    backend: &RedisBackend,
    script: fn(&Scripts) -> &Script,
    name: &'static str,
    groups: Vec<Group<T>>,
) -> Vec<(T, Result<Vec<Value>, BackendError>)> {
    let mut done = Vec::with_capacity(groups.len());
    if groups.len() <= 1 {
        for group in groups {
            done.push(run_group(backend, script, name, group).await);
        }
        return done;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for group in groups {
        let backend = backend.clone();
        tasks.spawn(async move { run_group(&backend, script, name, group).await });
    }
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(group) => done.push(group),
            Err(e) => tracing::warn!(error = %e, "a {name} pipeline failed"),
        }
    }
    done
}

/// Runs one group's pipeline.
async fn run_group<T>(
    backend: &RedisBackend,
    script: fn(&Scripts) -> &Script,
    name: &'static str,
    group: Group<T>,
) -> (T, Result<Vec<Value>, BackendError>) {
    let replies = async {
        let mut conn = backend.conn().await?;
        let (replicas, timeout) = backend.replication();
        let script = script(&backend.inner.scripts);
        run_pipeline(
            group.pipe,
            script,
            &mut conn,
            replicas,
            timeout,
            name,
            &group.what,
        )
        .await
    }
    .await;
    (group.tag, replies)
}
