//! The hooks of each data store name: an optional validator and an ordered
//! list of migrations, registered on the [`Registry`](crate::Registry) and
//! shared by every session of that name.
//!
//! Migration `n` (counted from 1) takes the data from version `n - 1` to
//! `n`; the data version is stored with the record, beside the value. A
//! step marked backwards-compatible lets servers that do not know it yet
//! still load (and save) data it produced (Lapis's rule): a record is
//! readable from the version before its trailing run of
//! backwards-compatible steps.

use crate::backend::DataVersion;
use sdm_codec::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A validator: `Ok` for a valid value, else why it is not.
pub type ValidatorFn = dyn Fn(&Value) -> Result<(), String> + Send + Sync;

/// A migration step: the value of version `n - 1` made into version `n`, or
/// why it cannot be.
pub type MigrationFn = dyn Fn(Value) -> Result<Value, String> + Send + Sync;

/// One migration step.
#[derive(Clone)]
pub(crate) struct Migration {
    step: Arc<MigrationFn>,
    backwards_compatible: bool,
}

/// The hooks of one data store name.
#[derive(Clone, Default)]
pub(crate) struct NameHooks {
    pub(crate) validator: Option<Arc<ValidatorFn>>,
    migrations: Vec<Migration>,
}

/// Why stored data could not be brought to this server's version.
#[derive(Debug)]
pub(crate) enum MigrateError {
    /// Step `step` failed with a message.
    Step(u32, String),
    /// Written by a newer server and not readable by this one.
    Newer { stored: DataVersion, known: u32 },
}

/// Every name's hooks.
#[derive(Default)]
pub(crate) struct Hooks {
    by_name: Mutex<HashMap<String, NameHooks>>,
    /// Set once any name was given a validator: until then no lookup is
    /// needed to know a name has none (an auto-save's hot path asks).
    any_validator: std::sync::atomic::AtomicBool,
}

impl Hooks {
    fn map(&self) -> MutexGuard<'_, HashMap<String, NameHooks>> {
        self.by_name.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The hooks of `name` now (a copy: calls run outside the lock).
    pub(crate) fn of(&self, name: &str) -> NameHooks {
        self.map().get(name).cloned().unwrap_or_default()
    }

    /// Whether `name` has a validator (without copying its hooks).
    pub(crate) fn has_validator(&self, name: &str) -> bool {
        self.any_validator
            .load(std::sync::atomic::Ordering::Acquire)
            && self.map().get(name).is_some_and(|h| h.validator.is_some())
    }

    pub(crate) fn set_validator(&self, name: &str, validator: Option<Arc<ValidatorFn>>) {
        let mut map = self.map();
        if validator.is_some() {
            self.any_validator
                .store(true, std::sync::atomic::Ordering::Release);
        }
        map.entry(name.to_owned()).or_default().validator = validator;
    }

    /// Appends a migration step; answers its number (the data version it
    /// produces).
    pub(crate) fn add_migration(
        &self,
        name: &str,
        step: Arc<MigrationFn>,
        backwards_compatible: bool,
    ) -> u32 {
        let mut map = self.map();
        let hooks = map.entry(name.to_owned()).or_default();
        hooks.migrations.push(Migration {
            step,
            backwards_compatible,
        });
        hooks.known()
    }
}

impl NameHooks {
    /// Runs the validator on `value`; a nil value (no data, or a removal)
    /// is not validated.
    pub(crate) fn validate(&self, value: &Value) -> Result<(), String> {
        match &self.validator {
            Some(v) if !value.is_nil() => v(value),
            _ => Ok(()),
        }
    }

    /// How many migration steps this server knows.
    pub(crate) fn known(&self) -> u32 {
        u32::try_from(self.migrations.len()).unwrap_or(u32::MAX)
    }

    /// The version data of this server is written with: every step known,
    /// readable from before the trailing backwards-compatible steps.
    pub(crate) fn current_version(&self) -> DataVersion {
        let compatible = self
            .migrations
            .iter()
            .rev()
            .take_while(|m| m.backwards_compatible)
            .count();
        let known = self.known();
        DataVersion {
            version: known,
            readable_from: known.saturating_sub(u32::try_from(compatible).unwrap_or(u32::MAX)),
        }
    }

    /// Brings a loaded value of version `stored` to this server's version.
    /// Data newer than this server is kept as it is when readable by it.
    /// A nil value (no data) is born at the current version.
    pub(crate) fn migrate(
        &self,
        value: Value,
        stored: DataVersion,
    ) -> Result<(Value, DataVersion), MigrateError> {
        let known = self.known();
        if value.is_nil() {
            return Ok((value, self.current_version()));
        }
        if stored.version > known {
            return if stored.readable_from <= known {
                Ok((value, stored))
            } else {
                Err(MigrateError::Newer { stored, known })
            };
        }
        let mut value = value;
        for (n, m) in (1u32..).zip(&self.migrations).skip(stored.version as usize) {
            value = (m.step)(value).map_err(|message| MigrateError::Step(n, message))?;
        }
        Ok((value, self.current_version()))
    }
}
