//! What every session of one registry shares: the store, its health (the
//! critical state) and the hooks of each data store name.

use crate::backend::Backend;
use crate::clock::Clock;
use crate::health::Health;
use crate::hooks::Hooks;
use crate::liveness::Node;
use crate::renewals::Renewals;
use crate::saves::Saves;
use crate::OpenWait;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// The registry's part of every session.
pub(crate) struct Shared {
    /// The store.
    pub(crate) backend: Arc<dyn Backend>,
    /// Store failures and the critical state.
    pub(crate) health: Arc<Health>,
    /// Each data store name's validator and migrations.
    pub(crate) hooks: Hooks,
    /// This process's node: heartbeat and release listener.
    pub(crate) node: Arc<Node>,
    /// How Opens of the registry's sessions wait for a held lock (a
    /// session's own setting wins).
    pub(crate) open_wait: Mutex<Option<OpenWait>>,
    /// The lock renewals of this tick, sent together.
    pub(crate) renewals: Renewals,
    /// The saves of this tick, sent together.
    pub(crate) saves: Saves,
    /// Every session's next auto-save.
    pub(crate) autosaves: Clock,
    /// Every session's next lock renewal.
    pub(crate) lock_renewals: Clock,
    /// The store has renewed a lock with a rewrite
    /// ([`Backend::rewrite_renew_each`]): a renewal due with an auto-save
    /// waits for it (`state::take_renewal`).
    ///
    /// [`Backend::rewrite_renew_each`]: crate::backend::Backend::rewrite_renew_each
    pub(crate) rewrites_renew: AtomicBool,
}

impl Shared {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Arc<Shared> {
        Arc::new(Shared {
            renewals: Renewals::new(Arc::clone(&backend)),
            saves: Saves::new(Arc::clone(&backend)),
            autosaves: Clock::new(crate::autosave::fire_due),
            lock_renewals: Clock::new(crate::lock::fire_due),
            backend,
            health: Arc::new(Health::default()),
            hooks: Hooks::default(),
            node: Arc::new(Node::new()),
            open_wait: Mutex::new(None),
            rewrites_renew: AtomicBool::new(false),
        })
    }
}
