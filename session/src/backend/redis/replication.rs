//! Replication safety: with replicas, a lock acquisition, a renewal and a
//! save are acknowledged only after at least one replica has them (`WAIT`
//! in the same round trip as the script), so a failover to a replica can
//! neither hand out a lock again nor lose a save that was acknowledged.
//!
//! What this promises, and what not: Redis replication is asynchronous,
//! `WAIT` only tells how many replicas had the write when it answered. A
//! write a replica did not confirm within the timeout is reported as a
//! store error ([`BackendError::Timeout`]) even though the master has it
//! (the engine retries, and a write is idempotent under its token); a
//! failover in that window may lose it, and the session keeps the value in
//! memory for its next save. Whatever happens, the fencing token still
//! refuses any owner whose lock was lost.

use std::io::Write as _;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{ErrorKind, Script, ToRedisArgs, Value};

use super::cluster::Master;
use super::reply::redis_error;
use crate::backend::BackendError;

/// Whether lock steps and saves wait for replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Replication {
    /// Wait for one replica when the server has replicas when the backend
    /// connects (`INFO replication`); else do not wait. The default.
    #[default]
    Auto,
    /// Never wait.
    Off,
    /// Always wait for this many replicas.
    Require(u32),
}

/// How long a write waits for its replicas by default.
pub const DEFAULT_REPLICATION_TIMEOUT: Duration = Duration::from_secs(2);

/// How many replicas to wait for, from the setting and what the server
/// said about its replicas (`INFO replication`).
pub(super) fn replicas_to_wait(setting: Replication, info: &str) -> u32 {
    match setting {
        Replication::Off => 0,
        Replication::Require(n) => n,
        Replication::Auto => {
            let connected = info
                .lines()
                .find_map(|l| l.trim().strip_prefix("connected_slaves:"))
                .and_then(|n| n.trim().parse::<u32>().ok())
                .unwrap_or(0);
            u32::from(connected > 0)
        }
    }
}

/// How many replicas to wait for on a Redis Cluster, from the setting and
/// its masters: with [`Replication::Auto`], one when every master serving
/// slots has a live replica (a `WAIT` runs on the master of the saved
/// key's slot, so a shard without replicas could never confirm).
pub(super) fn cluster_replicas_to_wait(setting: Replication, masters: &[Master]) -> u32 {
    match setting {
        Replication::Off => 0,
        Replication::Require(n) => n,
        Replication::Auto => {
            u32::from(!masters.is_empty() && masters.iter().all(|m| m.replicas > 0))
        }
    }
}

/// A script call built for a round trip of its own (`EVALSHA`, then
/// `WAIT` when replicas must confirm).
pub(super) struct Call<'a> {
    script: &'a Script,
    /// The keys and the arguments, each written one after another into one
    /// buffer (a command's), not one allocation each.
    keys: redis::Cmd,
    args: redis::Cmd,
}

/// A key written as two parts (a key base and a suffix), without building
/// it as a string first.
pub(super) struct Joined<'a>(pub(super) &'a str, pub(super) &'a str);

impl ToRedisArgs for Joined<'_> {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // Writing into a command's buffer cannot fail.
        let _ = arg.write_all(self.0.as_bytes());
        let _ = arg.write_all(self.1.as_bytes());
    }
}

impl<'a> Call<'a> {
    pub(super) fn new(script: &'a Script) -> Self {
        // A save's keys (token keys, history, user ids) and arguments fit
        // without growing.
        Call::with_capacity(script, 8, 32, 512)
    }

    /// A call sized for `keys` keys and `args` arguments of `bytes` bytes
    /// in all (a batch's run of many steps).
    pub(super) fn with_capacity(
        script: &'a Script,
        keys: usize,
        args: usize,
        bytes: usize,
    ) -> Self {
        Call {
            script,
            keys: redis::Cmd::with_capacity(keys, keys * 48),
            args: redis::Cmd::with_capacity(args, bytes),
        }
    }

    pub(super) fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.keys.arg(key);
        self
    }

    pub(super) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.args.arg(arg);
        self
    }

    /// Adds this call's `EVALSHA` to `pipe`, as one command sized for it.
    pub(super) fn push_to(&self, pipe: &mut redis::Pipeline) {
        let bytes = |arg: redis::Arg<&[u8]>| match arg {
            redis::Arg::Simple(b) => b.len(),
            redis::Arg::Cursor => 0,
        };
        let size = 64
            + self.keys.args_iter().map(bytes).sum::<usize>()
            + self.args.args_iter().map(bytes).sum::<usize>();
        let keys = self.keys.args_iter().len();
        let count = 3 + keys + self.args.args_iter().len();
        let mut cmd = redis::Cmd::with_capacity(count, size);
        cmd.arg("EVALSHA").arg(self.script.get_hash()).arg(keys);
        for arg in self.keys.args_iter().chain(self.args.args_iter()) {
            if let redis::Arg::Simple(b) = arg {
                cmd.arg(b);
            }
        }
        pipe.add_command(cmd);
    }

    fn pipeline(&self, replicas: u32, timeout: Duration) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        self.push_to(&mut pipe);
        push_wait(&mut pipe, replicas, timeout);
        pipe
    }

    /// Runs the script (loading it if the server forgot it) and, with
    /// `replicas`, waits for them in the same round trip; answers the
    /// script's reply.
    pub(super) async fn run(
        &self,
        conn: &mut impl ConnectionLike,
        replicas: u32,
        timeout: Duration,
        what: &str,
        base: &str,
    ) -> Result<Value, BackendError> {
        let pipe = self.pipeline(replicas, timeout);
        let mut replies: Vec<Value> = match pipe.query_async(conn).await {
            Err(e) if e.kind() == ErrorKind::NoScriptError => {
                self.script
                    .load_async(conn)
                    .await
                    .map_err(|e| redis_error(what, base, &e))?;
                pipe.query_async(conn).await
            }
            other => other,
        }
        .map_err(|e| redis_error(what, base, &e))?;
        check_wait(&mut replies, replicas, timeout, what, base)?;
        replies
            .pop()
            .ok_or_else(|| BackendError::Other(format!("redis {what} {base}: no reply")))
    }
}

/// Adds `WAIT` for `replicas` (none when 0) to `pipe`.
fn push_wait(pipe: &mut redis::Pipeline, replicas: u32, timeout: Duration) {
    if replicas > 0 {
        pipe.cmd("WAIT")
            .arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    }
}

/// Takes the `WAIT` reply off the end of `replies` (when there is one)
/// and checks that enough replicas confirmed.
fn check_wait(
    replies: &mut Vec<Value>,
    replicas: u32,
    timeout: Duration,
    what: &str,
    base: &str,
) -> Result<(), BackendError> {
    if replicas == 0 {
        return Ok(());
    }
    let acked = match replies.pop() {
        Some(Value::Int(n)) => n,
        other => {
            return Err(BackendError::Other(format!(
                "redis {what} {base}: WAIT answered {other:?}"
            )))
        }
    };
    if acked < i64::from(replicas) {
        return Err(BackendError::Timeout(format!(
            "redis {what} {base}: written on the master but confirmed by {acked} of {replicas} replica(s) within {timeout:?}"
        )));
    }
    Ok(())
}

/// Runs several calls of one script in one pipeline (one round trip):
/// `pipe`, calls of `script` only (loaded again if the server forgot it),
/// with one `WAIT` after them all when replicas must confirm (it covers
/// every write before it on the connection); answers each call's reply,
/// in order. On a cluster every call's keys must be in one hash slot.
pub(super) async fn run_pipeline(
    mut pipe: redis::Pipeline,
    script: &Script,
    conn: &mut impl ConnectionLike,
    replicas: u32,
    timeout: Duration,
    what: &str,
    base: &str,
) -> Result<Vec<Value>, BackendError> {
    let calls = pipe.len();
    push_wait(&mut pipe, replicas, timeout);
    let mut replies: Vec<Value> = match pipe.query_async(conn).await {
        Err(e) if e.kind() == ErrorKind::NoScriptError => {
            script
                .load_async(conn)
                .await
                .map_err(|e| redis_error(what, base, &e))?;
            pipe.query_async(conn).await
        }
        other => other,
    }
    .map_err(|e| redis_error(what, base, &e))?;
    check_wait(&mut replies, replicas, timeout, what, base)?;
    if replies.len() != calls {
        return Err(BackendError::Other(format!(
            "redis {what} {base}: {} replies to {calls} calls",
            replies.len(),
        )));
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_waits_for_one_replica_only_when_there_are_some() {
        let with = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n";
        let without = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
        assert_eq!(replicas_to_wait(Replication::Auto, with), 1);
        assert_eq!(replicas_to_wait(Replication::Auto, without), 0);
        assert_eq!(replicas_to_wait(Replication::Auto, ""), 0);
        assert_eq!(replicas_to_wait(Replication::Off, with), 0);
        assert_eq!(replicas_to_wait(Replication::Require(2), without), 2);
    }
}
