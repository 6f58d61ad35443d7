//! **Version history** and the admin views of a store: the types of
//! [`Backend::versions`](super::Backend::versions),
//! [`Backend::put`](super::Backend::put), [`Backend::keys`](super::Backend::keys),
//! [`Backend::keys_for_user`](super::Backend::keys_for_user) and
//! [`Backend::erase`](super::Backend::erase), and the retention setting
//! every store takes ([`HistoryConfig`]).
//!
//! Every accepted write (a save, a removal, an admin write) keeps the
//! record it replaces as a [`Version`], in the same atomic step as the write
//! (the same transaction on SQLite, the same script and hash tag on Redis).
//! Retention trims the oldest versions in that same step: beyond the last
//! [`HistoryConfig::keep`] versions, and those replaced longer than
//! [`HistoryConfig::max_age`] ago. A removal keeps the removed record as a
//! version until the key is [erased](super::Backend::erase).
//!
//! Every write also adds the key to the **user-id index** under each of its
//! user ids, so [`keys_for_user`](super::Backend::keys_for_user) finds the
//! keys that ever held a user id (in the current record or a version)
//! without reading any value. Only an erase takes a key out of the index.

use std::time::Duration;

use super::{Record, SessionId};

/// How much history a store keeps for each key. The default keeps the
/// last 30 versions, whatever their age.
///
/// ```
/// use sdm_session::backend::HistoryConfig;
/// use std::time::Duration;
/// let week = HistoryConfig::default().with_max_age(Duration::from_secs(7 * 86_400));
/// assert_eq!(week.keep, 30);
/// assert_eq!(HistoryConfig::off().keep, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// The most versions kept per key (the newest); 0 keeps none.
    pub keep: u32,
    /// Versions replaced longer ago than this are dropped at the key's next
    /// write; `None` keeps them whatever their age.
    pub max_age: Option<Duration>,
}

impl HistoryConfig {
    /// The default number of versions kept per key.
    pub const DEFAULT_KEEP: u32 = 30;

    /// No history at all (and no cost).
    pub const fn off() -> Self {
        HistoryConfig {
            keep: 0,
            max_age: None,
        }
    }

    /// Keeps at most `keep` versions per key.
    pub const fn with_keep(mut self, keep: u32) -> Self {
        self.keep = keep;
        self
    }

    /// Drops versions replaced more than `max_age` ago.
    pub const fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The maximum age in milliseconds, 0 for none (the stores' encoding).
    pub(crate) fn max_age_ms(&self) -> i64 {
        self.max_age.map_or(0, |d| super::checks::millis(d).max(1))
    }
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            keep: Self::DEFAULT_KEEP,
            max_age: None,
        }
    }
}

/// One kept version of a key: a record that a later write replaced (or a
/// removal removed).
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// The record as it was (its [`Record::version`] names the version).
    pub record: Record,
    /// When it was replaced or removed (ms since the epoch, the store's
    /// clock).
    pub replaced_ms: i64,
    /// Whether a removal (rather than a write) replaced it.
    pub removed: bool,
}

/// Which versions [`Backend::versions`](super::Backend::versions) lists:
/// newest first, of records written (their [`Record::updated_ms`]) in
/// `[since_ms, until_ms]`, at most `limit`. The default lists them all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionQuery {
    /// Only versions written at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only versions written at or before this time (ms since the epoch).
    pub until_ms: Option<i64>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

impl VersionQuery {
    /// Whether `v` is in the time range.
    pub fn admits(&self, v: &Version) -> bool {
        let t = v.record.updated_ms;
        self.since_ms.is_none_or(|s| t >= s) && self.until_ms.is_none_or(|u| t <= u)
    }

    /// Applies the range and the limit to versions listed newest first.
    pub fn apply(&self, newest_first: Vec<Version>) -> Vec<Version> {
        newest_first
            .into_iter()
            .filter(|v| self.admits(v))
            .take(self.limit.unwrap_or(usize::MAX))
            .collect()
    }
}

/// Which keys [`Backend::keys`](super::Backend::keys) lists: those of data
/// store `name` (in `scope` when given) whose key starts with `prefix`,
/// one page at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyQuery {
    /// The data store name.
    pub name: String,
    /// Only this scope; every scope when `None`.
    pub scope: Option<String>,
    /// Only keys starting with this text.
    pub prefix: Option<String>,
    /// Where to continue: the [`KeyPage::next`] of the previous page;
    /// `None` for the first page.
    pub cursor: Option<String>,
    /// About how many keys a page holds (at least 1; Redis may return a
    /// few more or fewer, as `SCAN` does).
    pub limit: usize,
}

impl KeyQuery {
    /// The first page of the keys of `name`, 1000 a page.
    pub fn new(name: impl Into<String>) -> Self {
        KeyQuery {
            name: name.into(),
            limit: 1000,
            ..KeyQuery::default()
        }
    }

    /// Whether `id` is one of the keys asked for (cursor aside).
    pub fn matches(&self, id: &SessionId) -> bool {
        id.name == self.name
            && self.scope.as_ref().is_none_or(|s| &id.scope == s)
            && self.prefix.as_ref().is_none_or(|p| id.key.starts_with(p))
    }
}

/// One page of [`Backend::keys`](super::Backend::keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys of this page (sorted on memory and SQLite; in `SCAN` order
    /// on Redis). A key is listed when it holds a record (not after a
    /// removal).
    pub ids: Vec<SessionId>,
    /// The cursor of the next page; `None` when this was the last.
    pub next: Option<String>,
}

/// What [`Backend::erase`](super::Backend::erase) removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    /// Whether a current record was there.
    pub record: bool,
    /// How many versions were removed.
    pub versions: usize,
    /// How many queue values were removed.
    pub queued: usize,
    /// The user ids whose index entries for the key were removed.
    pub user_ids: Vec<i64>,
    /// The live lock entry's owner, if one held the key (it is fenced out).
    pub holder: Option<String>,
}

/// A queue value as [`Backend::queue_items`](super::Backend::queue_items)
/// lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedValue {
    /// The store's name for the value (pass to
    /// [`Backend::queue_delete`](super::Backend::queue_delete)).
    pub item: String,
    /// The value as JSON text.
    pub value: String,
    /// Its priority (higher is read first).
    pub priority: f64,
    /// When it expires (ms since the epoch, the store's clock).
    pub expires_ms: i64,
    /// Whether a reader holds it now (handed out, not yet removed nor back).
    pub invisible: bool,
}

/// Where the two halves of a listing cursor meet (memory and SQLite use
/// the last id listed, as `name/scope/key`).
pub(crate) fn id_cursor(id: &SessionId) -> String {
    id.to_string()
}
