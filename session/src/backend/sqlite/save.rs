//! Saves: the fenced write of one key and the acknowledgement of its queue
//! values in one step ([`write_step`], shared by `set` and `save`), and
//! several keys' saves in one step (`save_many`). See the
//! [fencing rule](crate::backend#fencing-tokens).

use rusqlite::{params, Transaction};

use super::conn::sql_error;
use super::group::{in_savepoint, MAX_BATCH};
use super::history::{index_users, keep_version};
use super::tokens::{issue, to_sql, tokens};
use super::SqliteBackend;
use crate::backend::checks::{new_version, user_ids_json};
use crate::backend::{
    BackendError, BatchOutcome, Fence, HistoryConfig, Record, RewriteStep, SaveStep, SessionId,
    Write, WriteOutcome,
};

/// What a write step stores: a write (new times and version) or a record
/// exactly as given (`put`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Change<'a> {
    /// A save's write or removal.
    Write(&'a Write),
    /// An import's record, every field as given.
    Put(&'a Record),
}

/// A [`Fence`] the writer thread can own.
#[derive(Clone, Debug)]
pub(super) struct OwnedFence {
    /// The writer's UniqueId.
    owner: String,
    /// The writer's fencing token.
    token: u64,
    /// Also delete the writer's lock row.
    pub(super) release: bool,
}

impl From<&Fence<'_>> for OwnedFence {
    fn from(f: &Fence<'_>) -> Self {
        OwnedFence {
            owner: f.owner.to_owned(),
            token: f.token,
            release: f.release,
        }
    }
}

/// One key's save in the caller's transaction: the write (or removal) of
/// `key` under `fence` (unconditional without one), keeping the replaced
/// record as a version (trimmed by `history`) and indexing the user ids,
/// then, only when the write is accepted, the removal of the queue values
/// handed out under each of `acks`, and with `fence.release` the deletion
/// of the writer's lock row. A refused fence changes nothing. With no acks
/// it runs exactly the statements of a plain `set`.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_step(
    tx: &Transaction<'_>,
    now: i64,
    id: &SessionId,
    key: &str,
    change: Change<'_>,
    fence: Option<&OwnedFence>,
    acks: &[String],
    history: &HistoryConfig,
) -> rusqlite::Result<WriteOutcome> {
    let known = tokens(tx, key, now)?;
    let token = match fence {
        Some(f) => {
            if let Err(refused) = known.admit(&f.owner, f.token) {
                return Ok(WriteOutcome::Fenced {
                    token: refused.token,
                    owner: refused.owner,
                });
            }
            issue(tx, key, &known, f.token)?;
            f.token
        }
        None => known.latest(),
    };
    let removal = matches!(change, Change::Write(Write::Remove));
    keep_version(tx, key, now, removal, history)?;
    let outcome = match change {
        Change::Put(record) => {
            put_record(tx, key, record)?;
            index_users(tx, id, key, &record.user_ids)?;
            WriteOutcome::Written {
                created_ms: record.created_ms,
                updated_ms: record.updated_ms,
                version: record.version.clone(),
                token: record.token,
            }
        }
        Change::Write(Write::Remove) => {
            tx.prepare_cached("DELETE FROM sdm_records WHERE id = ?1")?
                .execute(params![key])?;
            WriteOutcome::Written {
                created_ms: 0,
                updated_ms: 0,
                version: String::new(),
                token,
            }
        }
        Change::Write(Write::Set {
            value,
            metadata,
            user_ids,
            data_version: dv,
        }) => {
            index_users(tx, id, key, user_ids)?;
            let version = new_version();
            let (created_ms, updated_ms) = tx
                .prepare_cached(
                    "INSERT INTO sdm_records (id, value, metadata, user_ids, created_ms, updated_ms, version, token, data_version, readable_from)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO UPDATE SET value = excluded.value, metadata = excluded.metadata,
                       user_ids = excluded.user_ids, updated_ms = excluded.updated_ms,
                       version = excluded.version, token = excluded.token,
                       data_version = excluded.data_version, readable_from = excluded.readable_from
                     RETURNING created_ms, updated_ms",
                )?
                .query_row(
                    params![
                        key,
                        value,
                        metadata,
                        user_ids_json(user_ids),
                        now,
                        version,
                        to_sql(token),
                        dv.version,
                        dv.readable_from
                    ],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )?;
            WriteOutcome::Written {
                created_ms,
                updated_ms,
                version,
                token,
            }
        }
    };
    if !acks.is_empty() {
        let mut remove =
            tx.prepare_cached("DELETE FROM sdm_queue WHERE session = ?1 AND read_id = ?2")?;
        for read_id in acks {
            remove.execute(params![key, read_id])?;
        }
    }
    if let Some(f) = fence.filter(|f| f.release) {
        tx.prepare_cached("DELETE FROM sdm_locks WHERE id = ?1 AND owner = ?2")?
            .execute(params![key, f.owner])?;
        super::tokens::mark_released(tx, key, f.token)?;
    }
    Ok(outcome)
}

/// Writes `record` as `key`'s, every field as given.
fn put_record(tx: &Transaction<'_>, key: &str, r: &Record) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO sdm_records (id, value, metadata, user_ids, created_ms, updated_ms, version, token, data_version, readable_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        key,
        r.value,
        r.metadata,
        user_ids_json(&r.user_ids),
        r.created_ms,
        r.updated_ms,
        r.version,
        to_sql(r.token),
        r.data_version.version,
        r.data_version.readable_from
    ])?;
    Ok(())
}

/// What a save step is called in errors and in the group writer: `set`
/// without acks, `save` with them.
fn save_what(acks: &[String]) -> &'static str {
    if acks.is_empty() {
        "set"
    } else {
        "save"
    }
}

/// One step of a `save_many` or a batch of rewrites, owned by the writer
/// thread.
struct OwnedStep {
    id: SessionId,
    key: String,
    write: Write,
    fence: OwnedFence,
    acks: Vec<String>,
}

impl OwnedStep {
    /// The writer thread's copy of `step`.
    fn of(step: &SaveStep<'_>) -> Self {
        OwnedStep {
            id: step.id.clone(),
            key: step.id.to_string(),
            write: step.write.clone(),
            fence: OwnedFence::from(&step.fence),
            acks: step.acks.to_vec(),
        }
    }

    /// Its [`write_step`], fenced.
    fn write(
        &self,
        tx: &Transaction<'_>,
        now: i64,
        history: &HistoryConfig,
    ) -> rusqlite::Result<WriteOutcome> {
        write_step(
            tx,
            now,
            &self.id,
            &self.key,
            Change::Write(&self.write),
            Some(&self.fence),
            &self.acks,
            history,
        )
    }
}

impl SqliteBackend {
    /// `set` (no acks) and `save`: one [`write_step`] in the next group
    /// commit; a release wakes this backend's waits on the lock and the
    /// key's queue readers (values held by the entry are visible again).
    pub(super) async fn save_step(
        &self,
        id: &SessionId,
        write: &Write,
        fence: Option<&Fence<'_>>,
        acks: &[String],
    ) -> Result<WriteOutcome, BackendError> {
        let key = id.to_string();
        let owned = id.clone();
        let write = write.clone();
        let fence = fence.map(OwnedFence::from);
        let release = fence.as_ref().is_some_and(|f| f.release);
        let acks = acks.to_vec();
        let what = save_what(&acks);
        let history = self.history();
        let outcome = self
            .inner
            .group
            .write(what, key.clone(), move |tx, now| {
                let change = Change::Write(&write);
                write_step(
                    tx,
                    now,
                    &owned,
                    &key,
                    change,
                    fence.as_ref(),
                    &acks,
                    &history,
                )
            })
            .await?;
        if release {
            self.wake_lock(id);
        }
        Ok(outcome)
    }

    /// The rewrites of unchanged auto-saves (see
    /// [`Backend::rewrite_each`](crate::backend::Backend::rewrite_each);
    /// SQLite writes each in full, as a save): the timer grid sends them
    /// hundreds at a time, so they go to the writer as jobs of up to
    /// [`MAX_BATCH`] steps, each job waking the writer thread and waited
    /// for once, not once per save. (Explicit saves stay one job each:
    /// their batches are a few saves, and sent as one job they measured
    /// slower.) Each step runs inside a savepoint of its own and is
    /// answered alone: one the fence refuses writes nothing, one that fails
    /// is undone and answers its error, and the others go on. Every answer
    /// still means "on disk" (the job's transaction committed); a failed
    /// commit is every step's error.
    pub(super) async fn rewrite_step(
        &self,
        steps: &[RewriteStep<'_>],
    ) -> Vec<Result<WriteOutcome, BackendError>> {
        let jobs = steps.chunks(MAX_BATCH).map(|chunk| self.rewrite_job(chunk));
        let answers: Vec<_> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .flatten()
            .collect();
        for (step, answer) in steps.iter().zip(&answers) {
            if step.save.fence.release && answer.is_ok() {
                self.wake_lock(step.save.id);
            }
        }
        answers
    }

    /// One job of [`rewrite_step`](Self::rewrite_step).
    async fn rewrite_job(
        &self,
        steps: &[RewriteStep<'_>],
    ) -> Vec<Result<WriteOutcome, BackendError>> {
        let owned: Vec<OwnedStep> = steps.iter().map(|s| OwnedStep::of(&s.save)).collect();
        let count = owned.len();
        let key = match owned.as_slice() {
            [] => return Vec::new(),
            [one] => one.key.clone(),
            [first, rest @ ..] => format!("{} (and {} more)", first.key, rest.len()),
        };
        let history = self.history();
        let path = self.inner.path.clone();
        let done = self
            .inner
            .group
            .write_weighted("rewrite", key, count, move |tx, now| {
                let answers = owned.iter().map(|step| {
                    in_savepoint(tx, || step.write(tx, now, &history)).map_err(|e| {
                        let what = format!("{} {}", save_what(&step.acks), step.key);
                        sql_error(&path, &what, e)
                    })
                });
                Ok(answers.collect::<Vec<_>>())
            })
            .await;
        match done {
            Ok(answers) => answers,
            Err(e) => vec![Err(e); count],
        }
    }

    /// Several keys' saves in one step (see
    /// [`Backend::save_many`](crate::backend::Backend::save_many)): every
    /// fence is checked first, and a refusal writes nothing; else every
    /// step is applied (inside a savepoint of its own, so that a refusal
    /// met while applying, possible only when a key comes twice, still
    /// undoes them all).
    pub(super) async fn save_many_step(
        &self,
        steps: &[SaveStep<'_>],
    ) -> Result<BatchOutcome, BackendError> {
        if steps.is_empty() {
            return Ok(BatchOutcome::Written(Vec::new()));
        }
        let owned: Vec<OwnedStep> = steps.iter().map(OwnedStep::of).collect();
        let history = self.history();
        let keys = owned
            .iter()
            .map(|s| s.key.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let outcome = self
            .inner
            .group
            .write("save_many", keys, move |tx, now| {
                for step in &owned {
                    let known = tokens(tx, &step.key, now)?;
                    if let Err(refused) = known.admit(&step.fence.owner, step.fence.token) {
                        return Ok(BatchOutcome::Refused {
                            id: step.id.clone(),
                            token: refused.token,
                            owner: refused.owner,
                        });
                    }
                }
                tx.execute_batch("SAVEPOINT save_many")?;
                let mut written = Vec::with_capacity(owned.len());
                for step in &owned {
                    let outcome = step.write(tx, now, &history)?;
                    if let WriteOutcome::Fenced { token, owner } = outcome {
                        tx.execute_batch("ROLLBACK TO save_many; RELEASE save_many")?;
                        return Ok(BatchOutcome::Refused {
                            id: step.id.clone(),
                            token,
                            owner,
                        });
                    }
                    written.push(outcome);
                }
                tx.execute_batch("RELEASE save_many")?;
                Ok(BatchOutcome::Written(written))
            })
            .await?;
        if matches!(outcome, BatchOutcome::Written(_)) {
            for step in steps.iter().filter(|s| s.fence.release) {
                self.wake_lock(step.id);
            }
        }
        Ok(outcome)
    }
}
