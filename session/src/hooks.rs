//! The hooks of each data store name: an optional validator (and the
//! migrations), registered on the [`Registry`](crate::Registry) and shared
//! by every session of that name.

use sdm_codec::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A validator: `Ok` for a valid value, else why it is not.
pub type ValidatorFn = dyn Fn(&Value) -> Result<(), String> + Send + Sync;

/// The hooks of one data store name.
#[derive(Clone, Default)]
pub(crate) struct NameHooks {
    pub(crate) validator: Option<Arc<ValidatorFn>>,
}

/// Every name's hooks.
#[derive(Default)]
pub(crate) struct Hooks {
    by_name: Mutex<HashMap<String, NameHooks>>,
}

impl Hooks {
    fn map(&self) -> MutexGuard<'_, HashMap<String, NameHooks>> {
        self.by_name.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The hooks of `name` now (a copy: calls run outside the lock).
    pub(crate) fn of(&self, name: &str) -> NameHooks {
        self.map().get(name).cloned().unwrap_or_default()
    }

    pub(crate) fn set_validator(&self, name: &str, validator: Option<Arc<ValidatorFn>>) {
        self.map().entry(name.to_owned()).or_default().validator = validator;
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
}
