//! The Lua scripts of the Redis store, one `.lua` file each (readable and
//! testable alone), with the preludes they share prepended at compile time.
//! Every script but `save_many.lua`, `save_each.lua`, `touch_each.lua` and
//! `renew_each.lua`
//! touches the keys of one hash slot only: one session's, or one node's; a
//! multi-key save touches each of its sessions' (see
//! `RedisBackend::set_cluster_slot_check`), and the saves and renewals that
//! come due together run in scripts of one hash slot each (on a cluster).
//! The cluster tests (`tests/backend_redis_cluster.rs`) run every script on
//! a Redis Cluster, which refuses a script touching two slots.

use redis::Script;

/// The fencing prelude: `parse_lock`, `tokens`, `admits`, `issue`,
/// `put_lock`, `announce_release`.
macro_rules! with_tokens {
    ($file:literal) => {
        concat!(include_str!("tokens.lua"), include_str!($file))
    };
}

/// The queue prelude: `now` and the purge of expired values.
macro_rules! with_queue {
    ($file:literal) => {
        concat!(
            include_str!("now.lua"),
            include_str!("purge.lua"),
            include_str!($file)
        )
    };
}

/// Take the lock under a new token (a claim with its node, perhaps
/// replacing a dead owner's entry).
pub(crate) const LOCK: &str = with_tokens!("lock.lua");
/// Renew the lock under its token.
pub(crate) const RENEW: &str = with_tokens!("renew.lua");
/// Renew several locks, each under its own token and answered on its own
/// (the renewals that come due together, in one script run).
pub(crate) const RENEW_EACH: &str = with_tokens!("renew_each.lua");
/// Release our lock (announced).
pub(crate) const UNLOCK: &str = with_tokens!("unlock.lua");
/// The save prelude (`parse_step`, `save`, `touch`, their answers) and what it needs:
/// `now`, the fencing prelude and `ack`.
macro_rules! with_save {
    ($file:literal) => {
        concat!(
            include_str!("now.lua"),
            include_str!("tokens.lua"),
            include_str!("ack.lua"),
            include_str!("history.lua"),
            include_str!("save.lua"),
            include_str!($file)
        )
    };
}

/// Write or remove the record, fenced, and acknowledge queue values.
pub(crate) const SET: &str = with_save!("set.lua");
/// Several sessions' saves, all or nothing.
pub(crate) const SAVE_MANY: &str = with_save!("save_many.lua");
/// Several sessions' saves, each fenced and answered on its own (the saves
/// that come due together, in one script run).
pub(crate) const SAVE_EACH: &str = with_save!("save_each.lua");
/// Several unchanged records touched (the rewrites of unchanged
/// auto-saves: a new version without the value), each fenced and answered
/// on its own.
pub(crate) const TOUCH_EACH: &str = with_save!("touch_each.lua");
/// Push a queue value.
pub(crate) const PUSH: &str = with_queue!("push.lua");
/// Read queue values (the fencing prelude parses the lock entry holding
/// values).
pub(crate) const READ: &str = concat!(
    include_str!("now.lua"),
    include_str!("purge.lua"),
    include_str!("tokens.lua"),
    include_str!("read.lua")
);
/// Remove the values of a read id.
pub(crate) const REMOVE: &str = concat!(include_str!("ack.lua"), include_str!("remove.lua"));
/// Admin unlock: remove the entry and fence its owner.
pub(crate) const FORCE_UNLOCK: &str = with_tokens!("force_unlock.lua");
/// Erase a key: record, versions, queue, user-id index entries (fencing a
/// live owner out).
pub(crate) const ERASE: &str = with_tokens!("erase.lua");
/// List a queue without handing anything out.
pub(crate) const QUEUE_ITEMS: &str = concat!(
    include_str!("now.lua"),
    include_str!("tokens.lua"),
    include_str!("queue_items.lua")
);
/// Remove one queue value by member.
pub(crate) const QUEUE_DELETE: &str = include_str!("queue_delete.lua");
/// Read a lock entry with its remaining life.
pub(crate) const ENTRY: &str = include_str!("entry.lua");
/// Add a release request for a node (announced).
pub(crate) const REQUEST: &str = concat!(include_str!("now.lua"), include_str!("request.lua"));
/// Take a node's pending release requests.
pub(crate) const REQUESTS: &str = concat!(include_str!("now.lua"), include_str!("requests.lua"));

/// Every script source, for loading them all when connecting.
pub(crate) const ALL: [&str; 18] = [
    LOCK,
    RENEW,
    RENEW_EACH,
    UNLOCK,
    SET,
    SAVE_MANY,
    SAVE_EACH,
    TOUCH_EACH,
    PUSH,
    READ,
    REMOVE,
    FORCE_UNLOCK,
    ENTRY,
    REQUEST,
    REQUESTS,
    ERASE,
    QUEUE_ITEMS,
    QUEUE_DELETE,
];

/// The scripts, ready to invoke (by SHA, loading on NOSCRIPT).
pub(crate) struct Scripts {
    pub(crate) lock: Script,
    pub(crate) renew: Script,
    pub(crate) renew_each: Script,
    pub(crate) unlock: Script,
    pub(crate) set: Script,
    pub(crate) save_many: Script,
    pub(crate) save_each: Script,
    pub(crate) touch_each: Script,
    pub(crate) push: Script,
    pub(crate) read: Script,
    pub(crate) remove: Script,
    pub(crate) force_unlock: Script,
    pub(crate) entry: Script,
    pub(crate) request: Script,
    pub(crate) requests: Script,
    pub(crate) erase: Script,
    pub(crate) queue_items: Script,
    pub(crate) queue_delete: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            lock: Script::new(LOCK),
            renew: Script::new(RENEW),
            renew_each: Script::new(RENEW_EACH),
            unlock: Script::new(UNLOCK),
            set: Script::new(SET),
            save_many: Script::new(SAVE_MANY),
            save_each: Script::new(SAVE_EACH),
            touch_each: Script::new(TOUCH_EACH),
            push: Script::new(PUSH),
            read: Script::new(READ),
            remove: Script::new(REMOVE),
            force_unlock: Script::new(FORCE_UNLOCK),
            entry: Script::new(ENTRY),
            request: Script::new(REQUEST),
            requests: Script::new(REQUESTS),
            erase: Script::new(ERASE),
            queue_items: Script::new(QUEUE_ITEMS),
            queue_delete: Script::new(QUEUE_DELETE),
        }
    }
}
