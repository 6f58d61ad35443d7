//! Group commit: the write steps of one process share transactions. One
//! writer thread per backend takes every step waiting when it is free,
//! runs them in one `BEGIN IMMEDIATE` transaction (each inside its own
//! savepoint, so a failing step undoes only itself, and a step refused by
//! fencing writes nothing) and commits once: one fsync answers them all,
//! and every answer still means "on disk". A lone writer waits for nobody.
//! A job may hold several steps of its own (a batch of rewrites, each in
//! its own savepoint: `save.rs`); it counts as all of them against the
//! steps one transaction takes.
//! Across processes, writers take turns through SQLite's lock (the busy
//! timeout).

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::conn::{open_connection, sql_error, NOW_MS};
use crate::backend::BackendError;

/// The most steps one transaction takes (a job of several steps, e.g. a
/// batch of rewrites, counts as all of them; a job is never split).
pub(super) const MAX_BATCH: usize = 256;

/// What a step answers, before it is known whether its transaction
/// committed.
type Answer = Result<Box<dyn Any + Send>, BackendError>;

/// A step: runs in the shared transaction with SQLite's clock (ms).
type Step = Box<dyn FnOnce(&Transaction<'_>, i64) -> rusqlite::Result<Box<dyn Any + Send>> + Send>;

/// One write step waiting for the next group commit.
struct Job {
    what: &'static str,
    key: String,
    /// How many steps the job holds (for [`MAX_BATCH`]).
    weight: usize,
    step: Step,
    done: SyncSender<Answer>,
}

/// The writer of one backend; dropping it ends the writer thread.
pub(super) struct GroupWriter {
    jobs: Sender<Job>,
    stats: Arc<Stats>,
}

/// How much group commit grouped.
#[derive(Default)]
pub(super) struct Stats {
    /// Write steps answered.
    pub(super) steps: AtomicU64,
    /// Transactions committed (or tried).
    pub(super) commits: AtomicU64,
}

impl GroupWriter {
    /// Starts the writer thread for the file at `path`.
    pub(super) fn start(path: PathBuf) -> Result<Self, BackendError> {
        let (jobs, queue) = channel();
        let stats = Arc::new(Stats::default());
        let counted = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("sdm-sqlite-writer".into())
            .spawn(move || run(&path, &queue, &counted))
            .map_err(|e| BackendError::Other(format!("sqlite writer thread: {e}")))?;
        Ok(GroupWriter { jobs, stats })
    }

    /// Steps answered and transactions committed so far.
    pub(super) fn stats(&self) -> (u64, u64) {
        (
            self.stats.steps.load(Ordering::Relaxed),
            self.stats.commits.load(Ordering::Relaxed),
        )
    }

    /// Runs `step` in the next group commit and answers once it is on disk.
    /// The caller waits on tokio's blocking pool, as a blocking call does
    /// (so a paused test clock does not run ahead of the disk).
    pub(super) async fn write<T, F>(
        &self,
        what: &'static str,
        key: String,
        step: F,
    ) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, i64) -> rusqlite::Result<T> + Send + 'static,
    {
        self.write_weighted(what, key, 1, step).await
    }

    /// [`write`](Self::write) of a job that holds `weight` steps of its own
    /// (it still wakes the writer once and is waited for once: what
    /// several steps sent as one job save over one job each).
    pub(super) async fn write_weighted<T, F>(
        &self,
        what: &'static str,
        key: String,
        weight: usize,
        step: F,
    ) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, i64) -> rusqlite::Result<T> + Send + 'static,
    {
        let (done, answer) = sync_channel(1);
        let step: Step =
            Box::new(move |tx, now| step(tx, now).map(|v| Box::new(v) as Box<dyn Any + Send>));
        let job = Job {
            what,
            key,
            weight,
            step,
            done,
        };
        let gone = || BackendError::Other(format!("sqlite {what}: the writer thread is gone"));
        self.jobs.send(job).map_err(|_| gone())?;
        let waited = tokio::task::spawn_blocking(move || answer.recv()).await;
        let value = waited.map_err(|_| gone())?.map_err(|_| gone())??;
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| BackendError::Other(format!("sqlite {what}: answer of another type")))
    }
}

/// The writer thread: a batch of every waiting step per transaction.
fn run(path: &Path, queue: &Receiver<Job>, stats: &Stats) {
    let mut conn: Option<Connection> = None;
    while let Ok(first) = queue.recv() {
        let mut weight = first.weight;
        let mut batch = vec![first];
        while weight < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => {
                    weight += job.weight;
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let c = match conn.take().map_or_else(|| open_connection(path), Ok) {
            Ok(c) => conn.insert(c),
            Err(e) => {
                for job in batch {
                    let _ = job.done.send(Err(e.clone()));
                }
                continue;
            }
        };
        stats.steps.fetch_add(weight as u64, Ordering::Relaxed);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        commit(c, path, batch);
    }
}

/// Runs a batch in one transaction and answers every step.
fn commit(conn: &mut Connection, path: &Path, batch: Vec<Job>) {
    let failed = |batch: Vec<Job>, e: rusqlite::Error| {
        for job in batch {
            let context = format!("{} {} (group commit)", job.what, job.key);
            let _ = job
                .done
                .send(Err(sql_error(path, &context, e.clone_shallow())));
        }
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return failed(batch, e),
    };
    let now: i64 = match tx.query_row(&format!("SELECT {NOW_MS}"), [], |r| r.get(0)) {
        Ok(now) => now,
        Err(e) => return failed(batch, e),
    };
    let mut answered = Vec::with_capacity(batch.len());
    for job in batch {
        let answer = in_savepoint(&tx, || (job.step)(&tx, now))
            .map_err(|e| sql_error(path, &format!("{} {}", job.what, job.key), e));
        answered.push((job.done, answer));
    }
    match tx.commit() {
        Ok(()) => {
            for (done, answer) in answered {
                let _ = done.send(answer);
            }
        }
        Err(e) => {
            for (done, answer) in answered {
                let error = sql_error(path, "commit (group commit)", e.clone_shallow());
                let _ = done.send(answer.and(Err(error)));
            }
        }
    }
}

/// Runs `step` inside a savepoint of its own, so that a step that fails
/// undoes only itself: answers its value, or its error once undone. (Each
/// job runs in one; a job of several steps runs each in one more, nested:
/// savepoints may share a name, SQLite takes the newest.)
pub(super) fn in_savepoint<T>(
    tx: &Transaction<'_>,
    step: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    tx.execute_batch("SAVEPOINT step")?;
    match step() {
        Ok(v) => tx.execute_batch("RELEASE step").map(|()| v),
        Err(e) => {
            let _ = tx.execute_batch("ROLLBACK TO step; RELEASE step");
            Err(e)
        }
    }
}

/// A copy of an error good enough for messages and its kind (rusqlite's
/// errors are not `Clone`).
trait CloneShallow {
    fn clone_shallow(&self) -> rusqlite::Error;
}

impl CloneShallow for rusqlite::Error {
    fn clone_shallow(&self) -> rusqlite::Error {
        match self {
            rusqlite::Error::SqliteFailure(code, message) => {
                rusqlite::Error::SqliteFailure(*code, message.clone())
            }
            other => rusqlite::Error::InvalidParameterName(other.to_string()),
        }
    }
}
