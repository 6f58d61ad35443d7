//! The blocking API, for callers without a tokio runtime: the same
//! registry and sessions, each async operation run to completion on a
//! multi-thread runtime the registry owns (timers, lock renewal and queue
//! reading run there too).
//!
//! [`Session`] derefs to the async [`crate::Session`] for everything that
//! does not wait (properties, value access, events); the operations
//! (`open`, `save`, ...) are blocking methods of their own. Do not call
//! them from inside a tokio runtime.
//!
//! ```
//! use sdm_session::{backend::memory::MemoryBackend, blocking::Registry, Response};
//! use std::sync::Arc;
//!
//! let registry = Registry::new(Arc::new(MemoryBackend::new()))?;
//! let session = registry.session("Player", None, 1234);
//! assert_eq!(session.open(None), Response::Success);
//! session.set_value(sdm_codec::Value::from(serde_json::json!({"Coins": 10})));
//! assert!(session.save().is_saved());
//! assert!(session.destroy().is_saved());
//! registry.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::backend::Backend;
use crate::{Response, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// A blocking registry: owns a tokio runtime. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Registry {
    rt: Arc<Runtime>,
    inner: crate::Registry,
}

/// A blocking session handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Session {
    rt: Arc<Runtime>,
    inner: crate::Session,
}

impl Registry {
    /// A registry on `backend`, with a runtime of two worker threads.
    pub fn new(backend: Arc<dyn Backend>) -> std::io::Result<Registry> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Registry {
            rt: Arc::new(rt),
            inner: crate::Registry::new(backend),
        })
    }

    fn wrap(&self, inner: crate::Session) -> Session {
        Session {
            rt: self.rt.clone(),
            inner,
        }
    }

    /// The module's `new`: see [`crate::Registry::session`].
    pub fn session(&self, name: &str, scope: Option<&str>, key: impl std::fmt::Display) -> Session {
        self.wrap(self.inner.session(name, scope, key))
    }

    /// The module's `hidden`: see [`crate::Registry::hidden`].
    pub fn hidden(&self, name: &str, scope: Option<&str>, key: impl std::fmt::Display) -> Session {
        self.wrap(self.inner.hidden(name, scope, key))
    }

    /// The module's `find`: see [`crate::Registry::find`].
    pub fn find(
        &self,
        name: &str,
        scope: Option<&str>,
        key: impl std::fmt::Display,
    ) -> Option<Session> {
        self.inner.find(name, scope, key).map(|s| self.wrap(s))
    }

    /// Destroys every live session and returns when all are done or the
    /// default deadline passed: see [`crate::Registry::shutdown`].
    pub fn shutdown(&self) -> crate::ShutdownReport {
        self.rt.block_on(self.inner.shutdown())
    }

    /// Shutdown within `deadline`: see [`crate::Registry::shutdown_within`].
    pub fn shutdown_within(&self, deadline: Duration) -> crate::ShutdownReport {
        self.rt.block_on(self.inner.shutdown_within(deadline))
    }

    /// Saves `sessions` in one atomic, fenced store step, blocking: all are
    /// written or none is (atomic trades). See
    /// [`crate::Registry::save_together`].
    ///
    /// ```
    /// use sdm_session::{backend::memory::MemoryBackend, blocking::Registry, Response, Value};
    /// use std::sync::Arc;
    ///
    /// let registry = Registry::new(Arc::new(MemoryBackend::new()))?;
    /// let (a, b) = (registry.session("Player", None, 1), registry.session("Player", None, 2));
    /// a.open(Some(Value::from(100)));
    /// b.open(Some(Value::from(0)));
    /// a.set_value(Value::from(60)); // a gives 40 coins to b
    /// b.set_value(Value::from(40));
    /// assert_eq!(registry.save_together(&[&a, &b]), Response::Success);
    /// registry.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn save_together(&self, sessions: &[&Session]) -> Response {
        let inner: Vec<&crate::Session> = sessions.iter().map(|s| &s.inner).collect();
        self.rt.block_on(self.inner.save_together(&inner))
    }

    /// An atomic trade, blocking: changes the values of `sessions` with
    /// `change` and saves them in one atomic, fenced store step. See
    /// [`crate::Registry::trade`].
    pub fn trade(
        &self,
        sessions: &[&Session],
        change: impl FnOnce(&mut [Value]) -> bool,
    ) -> Response {
        let inner: Vec<&crate::Session> = sessions.iter().map(|s| &s.inner).collect();
        self.rt.block_on(self.inner.trade(&inner, change))
    }

    /// Runs [`shutdown`](Self::shutdown) on SIGINT/SIGTERM, in the background.
    pub fn shutdown_on_signal(&self) {
        let _guard = self.rt.enter();
        drop(self.inner.shutdown_on_signal());
    }

    /// Whether the store is in critical state: see
    /// [`crate::Registry::is_critical`].
    pub fn is_critical(&self) -> bool {
        self.inner.is_critical()
    }

    /// Listens for the critical state: see
    /// [`crate::Registry::on_critical_changed`].
    pub fn on_critical_changed(
        &self,
        f: impl Fn(bool) + Send + Sync + 'static,
    ) -> crate::CriticalConnection {
        self.inner.on_critical_changed(f)
    }

    /// This registry's node (heartbeat identity): see
    /// [`crate::Registry::node`].
    pub fn node(&self) -> &crate::backend::NodeInfo {
        self.inner.node()
    }

    /// Sets heartbeats and handoff limits: see
    /// [`crate::Registry::set_liveness_config`].
    pub fn set_liveness_config(&self, config: crate::LivenessConfig) {
        self.inner.set_liveness_config(config);
    }

    /// Whether this process's heartbeat lapsed: see
    /// [`crate::Registry::heartbeat_lapsed`].
    pub fn heartbeat_lapsed(&self) -> bool {
        self.inner.heartbeat_lapsed()
    }

    /// How Opens wait for a held lock: see
    /// [`crate::Registry::set_open_wait`].
    pub fn set_open_wait(&self, wait: Option<crate::OpenWait>) {
        self.inner.set_open_wait(wait);
    }

    /// Sets when the critical state is raised and cleared: see
    /// [`crate::Registry::set_critical_config`].
    pub fn set_critical_config(&self, config: crate::CriticalConfig) {
        self.inner.set_critical_config(config);
    }

    /// Sets the validator of a data store name: see
    /// [`crate::Registry::set_validator`].
    pub fn set_validator(
        &self,
        name: &str,
        validator: impl Fn(&Value) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.inner.set_validator(name, validator);
    }

    /// Removes the validator of a data store name.
    pub fn clear_validator(&self, name: &str) {
        self.inner.clear_validator(name);
    }

    /// Appends a migration step: see [`crate::Registry::add_migration`].
    pub fn add_migration(
        &self,
        name: &str,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> u32 {
        self.inner.add_migration(name, step)
    }

    /// Appends a backwards-compatible migration step: see
    /// [`crate::Registry::add_compatible_migration`].
    pub fn add_compatible_migration(
        &self,
        name: &str,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> u32 {
        self.inner.add_compatible_migration(name, step)
    }

    /// The async registry behind this one.
    pub fn as_async(&self) -> &crate::Registry {
        &self.inner
    }

    /// The runtime this registry runs on.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }
}

impl std::ops::Deref for Session {
    type Target = crate::Session;
    fn deref(&self) -> &crate::Session {
        &self.inner
    }
}

impl Session {
    /// Open, blocking: see [`crate::Session::open`].
    pub fn open(&self, template: Option<Value>) -> Response {
        self.rt.block_on(self.inner.open(template))
    }

    /// Read, blocking: see [`crate::Session::read`].
    pub fn read(&self, template: Option<Value>) -> Response {
        self.rt.block_on(self.inner.read(template))
    }

    /// Save, blocking: see [`crate::Session::save`].
    pub fn save(&self) -> Response {
        self.rt.block_on(self.inner.save())
    }

    /// Close, blocking: see [`crate::Session::close`].
    pub fn close(&self) -> Response {
        self.rt.block_on(self.inner.close())
    }

    /// Destroy, blocking: see [`crate::Session::destroy`].
    pub fn destroy(&self) -> Response {
        self.rt.block_on(self.inner.destroy())
    }

    /// Queue, blocking: see [`crate::Session::queue`].
    pub fn queue(
        &self,
        value: Value,
        expiration: Option<Duration>,
        priority: Option<f64>,
    ) -> Response {
        self.rt
            .block_on(self.inner.queue(value, expiration, priority))
    }

    /// Remove, blocking: see [`crate::Session::remove`].
    pub fn remove(&self, read_id: &str) -> Response {
        self.rt.block_on(self.inner.remove(read_id))
    }

    /// Waits for the next StateChanged: see [`crate::Session::state_changed`].
    pub fn state_changed(&self) -> crate::State {
        self.rt.block_on(self.inner.state_changed())
    }

    /// The async session behind this one.
    pub fn as_async(&self) -> &crate::Session {
        &self.inner
    }
}
