//! The registry: one per game server. It holds the backend and the
//! sessions, so that every caller asking for the same id gets the same
//! session ("multiple script support"), and it shuts them all down.

use crate::backend::{Backend, NodeInfo, SessionId};
use crate::health::{CriticalChangedFn, CriticalConfig, CriticalConnection};
use crate::hooks::{MigrationFn, ValidatorFn};
use crate::liveness::LivenessConfig;
use crate::session::{Inner, Registered};
use crate::shared::Shared;
use crate::{OpenWait, Session, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The sessions of one server. Cheap to clone (shared inside).
///
/// A registry's timers (every open session's auto-save and lock renewal)
/// run on two tasks, its clocks, started on the tokio runtime of the
/// session that first needs them. Keep a registry's sessions on one
/// runtime (or on runtimes that live as long as the registry, as the
/// [blocking API](crate::blocking)'s own runtime does): if the runtime a
/// clock runs on shuts down while sessions of the registry stay open on
/// another, their timers wait until the next deadline is set there (a
/// session opened, a save ended), which starts both clocks again there.
#[derive(Clone)]
pub struct Registry(Arc<RegistryInner>);

pub(crate) struct RegistryInner {
    shared: Arc<Shared>,
    sessions: Mutex<HashMap<SessionId, Session>>,
    hidden: Mutex<Vec<Weak<Inner>>>,
    shutting_down: AtomicBool,
}

impl Registered for RegistryInner {
    fn forget(&self, inner: &Arc<Inner>) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&inner.id).is_some_and(|s| Arc::ptr_eq(&s.0, inner)) {
            map.remove(&inner.id);
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("backend", &self.0.shared.backend.kind())
            .field("sessions", &self.len())
            .finish()
    }
}

impl Registry {
    /// What this registry's sessions share (for the crate's own tests).
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0.shared
    }

    /// A registry on `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Registry {
        Registry(Arc::new(RegistryInner {
            shared: Shared::new(backend),
            sessions: Mutex::new(HashMap::new()),
            hidden: Mutex::new(Vec::new()),
            shutting_down: AtomicBool::new(false),
        }))
    }

    /// This registry's node: the identity its heartbeat and every lock its
    /// sessions take carry (see [`LivenessConfig`]).
    pub fn node(&self) -> &NodeInfo {
        &self.0.shared.node.info
    }

    /// How this registry proves it lives and hands sessions over. Set it
    /// before the first Open (the heartbeat starts then).
    pub fn set_liveness_config(&self, config: LivenessConfig) {
        self.0.shared.node.set_config(config);
    }

    /// The liveness settings.
    pub fn liveness_config(&self) -> LivenessConfig {
        self.0.shared.node.config()
    }

    /// True while this process's heartbeat could not be renewed for a whole
    /// TTL: its locks may have been taken over (each session finds out at
    /// its next store step; nothing stale can be written).
    pub fn heartbeat_lapsed(&self) -> bool {
        self.0.shared.node.lapsed()
    }

    /// How Opens of this registry's sessions treat a lock held by a live
    /// owner (a session's own [`Session::set_open_wait`] wins). `None`, the
    /// default, answers `Locked` at once as the module does.
    pub fn set_open_wait(&self, wait: Option<OpenWait>) {
        *self
            .0
            .shared
            .open_wait
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = wait;
    }

    /// The registry's open-wait setting.
    pub fn open_wait(&self) -> Option<OpenWait> {
        *self
            .0
            .shared
            .open_wait
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the heartbeat and release listener and removes the heartbeat
    /// entry (shutdown, once every session is closed).
    pub(crate) async fn stop_node(&self, limit: std::time::Duration) {
        let shared = &self.0.shared;
        shared.node.stop(&shared.backend, limit).await;
    }

    /// The backend sessions use.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.0.shared.backend
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Session>> {
        self.0.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The module's `new(name, scope?, key)`: the session registered under
    /// `name/scope/key` (scope defaults to `global`), else a new one,
    /// registered. Once shutdown has begun new sessions are not tracked.
    pub fn session(&self, name: &str, scope: Option<&str>, key: impl std::fmt::Display) -> Session {
        let id = SessionId::new(name, scope, key.to_string());
        if self.0.shutting_down.load(Ordering::SeqCst) {
            return Session(Arc::new(Inner::new(
                id,
                false,
                self.0.shared.clone(),
                Weak::<RegistryInner>::new(),
            )));
        }
        self.map()
            .entry(id)
            .or_insert_with_key(|id| {
                Session(Arc::new(Inner::new(
                    id.clone(),
                    false,
                    self.0.shared.clone(),
                    Arc::downgrade(&self.0) as Weak<dyn Registered>,
                )))
            })
            .clone()
    }

    /// The module's `hidden`: always a new session that `session` and
    /// `find` never return (shutdown still closes it while it lives).
    pub fn hidden(&self, name: &str, scope: Option<&str>, key: impl std::fmt::Display) -> Session {
        let id = SessionId::new(name, scope, key.to_string());
        let inner = Arc::new(Inner::new(
            id,
            true,
            self.0.shared.clone(),
            Arc::downgrade(&self.0) as Weak<dyn Registered>,
        ));
        if !self.0.shutting_down.load(Ordering::SeqCst) {
            let mut hidden = self.0.hidden.lock().unwrap_or_else(|p| p.into_inner());
            hidden.retain(|w| w.strong_count() > 0);
            hidden.push(Arc::downgrade(&inner));
        }
        Session(inner)
    }

    /// The module's `find`: the registered session, if any.
    pub fn find(
        &self,
        name: &str,
        scope: Option<&str>,
        key: impl std::fmt::Display,
    ) -> Option<Session> {
        self.map()
            .get(&SessionId::new(name, scope, key.to_string()))
            .cloned()
    }

    /// Number of registered sessions.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// True when no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every registered session.
    pub fn sessions(&self) -> Vec<Session> {
        self.map().values().cloned().collect()
    }

    /// Takes every live session out of the registry (the registered and
    /// the hidden ones) and stops tracking new ones: shutdown has begun.
    pub(crate) fn take_all(&self) -> Vec<Session> {
        self.0.shutting_down.store(true, Ordering::SeqCst);
        let mut all: Vec<Session> = self.map().drain().map(|(_, s)| s).collect();
        let hidden = std::mem::take(&mut *self.0.hidden.lock().unwrap_or_else(|p| p.into_inner()));
        all.extend(hidden.iter().filter_map(Weak::upgrade).map(Session));
        all
    }

    /// True once [`shutdown`](Self::shutdown) has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::SeqCst)
    }

    /// True while the store is in critical state: store calls failed
    /// [`CriticalConfig::threshold`] times within its window and have not
    /// recovered since (ProfileStore's IsCriticalState). A game may stop
    /// trades and warn players meanwhile.
    pub fn is_critical(&self) -> bool {
        self.0.shared.health.is_critical()
    }

    /// Connects a listener called with `true` when the critical state is
    /// raised and `false` when it is cleared (on the task whose store call
    /// changed it).
    pub fn on_critical_changed(
        &self,
        f: impl Fn(bool) + Send + Sync + 'static,
    ) -> CriticalConnection {
        let f: Arc<CriticalChangedFn> = Arc::new(f);
        self.0.shared.health.connect(f)
    }

    /// Sets when the critical state is raised and cleared (a threshold of
    /// 0 counts as 1).
    pub fn set_critical_config(&self, config: CriticalConfig) {
        self.0.shared.health.set_config(config);
    }

    /// When the critical state is raised and cleared.
    pub fn critical_config(&self) -> CriticalConfig {
        self.0.shared.health.config()
    }

    /// Sets the validator of the data store `name` (replacing any): run
    /// after migrations and templates on every load (an invalid value
    /// refuses the open or read, leaving no lock held) and before every
    /// save (an invalid value is not written; the save answers `Error` with
    /// the validator's message, and Saved fires with it). A nil value is
    /// not validated.
    pub fn set_validator(
        &self,
        name: &str,
        validator: impl Fn(&Value) -> Result<(), String> + Send + Sync + 'static,
    ) {
        let f: Arc<ValidatorFn> = Arc::new(validator);
        self.0.shared.hooks.set_validator(name, Some(f));
    }

    /// Removes the validator of the data store `name`.
    pub fn clear_validator(&self, name: &str) {
        self.0.shared.hooks.set_validator(name, None);
    }

    /// Appends a migration step to the data store `name`: the `n`th step
    /// added takes data of version `n - 1` to `n`. Answers `n`. Loaded data
    /// older than the steps known is migrated (before templates and the
    /// validator) and saved with the next save at the new version; a
    /// failing step refuses the load with `Error(Migration)` naming it, the
    /// stored data untouched (an open releases its lock). Data newer than
    /// the steps known is refused with `Error(NewerData)` (never
    /// overwritten) unless the steps past ours were all added with
    /// [`add_compatible_migration`](Self::add_compatible_migration).
    /// Register every step before the first session of `name` opens.
    pub fn add_migration(
        &self,
        name: &str,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> u32 {
        let f: Arc<MigrationFn> = Arc::new(step);
        self.0.shared.hooks.add_migration(name, f, false)
    }

    /// [`add_migration`](Self::add_migration), for a step whose output older
    /// servers (which do not know it) may still load and save: data it
    /// produced stays readable by a server knowing one step fewer (Lapis's
    /// `backwardsCompatible`).
    pub fn add_compatible_migration(
        &self,
        name: &str,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> u32 {
        let f: Arc<MigrationFn> = Arc::new(step);
        self.0.shared.hooks.add_migration(name, f, true)
    }

    /// The data version this server writes for the data store `name`: the
    /// number of migration steps it knows.
    pub fn data_version(&self, name: &str) -> u32 {
        self.0.shared.hooks.of(name).known()
    }
}
