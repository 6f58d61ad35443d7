//! Direct value access: the value is changed in place (a guard or a
//! closure, never a copy), and typed access goes through serde in one call.
//!
//! ```
//! # use sdm_session::{backend::memory::MemoryBackend, Registry};
//! # use std::sync::Arc;
//! #[derive(serde::Serialize, serde::Deserialize, Default)]
//! struct PlayerData { coins: i64, level: u32 }
//!
//! let registry = Registry::new(Arc::new(MemoryBackend::new()));
//! let session = registry.session("Player", None, 1234);
//! session.set_as(&PlayerData::default())?;
//! session.update_as(|p: &mut PlayerData| p.coins += 250)?;
//! assert_eq!(session.get_as::<PlayerData>()?.coins, 250);
//! session.value()["coins"].as_f64(); // the live value, in place
//! # Ok::<(), sdm_session::SessionError>(())
//! ```

use crate::{Session, SessionError};
use sdm_codec::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::MutexGuard;

/// The live value, borrowed in place (derefs to [`Value`]). Other access to
/// this session's value waits while it is held: keep it short and never
/// hold it across an `.await`.
pub struct ValueGuard<'a>(MutexGuard<'a, Value>);

impl std::ops::Deref for ValueGuard<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0
    }
}

impl std::ops::DerefMut for ValueGuard<'_> {
    fn deref_mut(&mut self) -> &mut Value {
        &mut self.0
    }
}

impl Session {
    /// Value, in place: read or change it through the guard.
    pub fn value(&self) -> ValueGuard<'_> {
        ValueGuard(self.0.value())
    }

    /// Runs `f` on the value in place and returns its result.
    pub fn with_value<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        f(&mut self.0.value())
    }

    /// Replaces Value (nil makes the next save remove the key).
    pub fn set_value(&self, value: impl Into<Value>) {
        *self.0.value() = value.into();
    }

    fn serde_error(&self, e: serde_json::Error) -> SessionError {
        SessionError::Serde {
            id: self.0.id_text.clone(),
            message: e.to_string(),
        }
    }

    /// The value as the caller's own type (through serde). An empty table
    /// reads as an empty map or struct, or else as an empty sequence.
    pub fn get_as<T: DeserializeOwned>(&self) -> Result<T, SessionError> {
        let value = self.0.value_copy();
        from_value(value).map_err(|e| self.serde_error(e))
    }

    /// Replaces the value with `data` (through serde).
    pub fn set_as<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), SessionError> {
        let json = serde_json::to_value(data).map_err(|e| self.serde_error(e))?;
        *self.0.value() = Value::from(json);
        Ok(())
    }

    /// Reads the value as `T`, lets `f` change it, and stores it back, in
    /// one call holding the value. On a shape error nothing changes.
    ///
    /// `T` must hold the whole value: what it does not deserialize is
    /// dropped when it is stored back (keep unknown keys with a
    /// `#[serde(flatten)] rest: serde_json::Map<String, serde_json::Value>`
    /// field).
    pub fn update_as<T: Serialize + DeserializeOwned, R>(
        &self,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, SessionError> {
        let mut guard = self.0.value();
        let mut data: T = from_value(guard.clone()).map_err(|e| self.serde_error(e))?;
        let r = f(&mut data);
        let json = serde_json::to_value(&data).map_err(|e| self.serde_error(e))?;
        *guard = Value::from(json);
        Ok(r)
    }
}

/// Luau has one empty table for `[]` and `{}`: try it as `{}` first, then
/// with every empty table as `[]`.
///
/// Luau numbers are doubles: integral ones are handed to serde as integers,
/// so `coins + 100.0` still reads into a `u64` field.
fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    let mut json = serde_json::Value::from(value);
    integral_floats_to_integers(&mut json);
    match serde_json::from_value(json.clone()) {
        Ok(t) => Ok(t),
        Err(first) => {
            let mut json = json;
            if !empty_objects_to_arrays(&mut json) {
                return Err(first);
            }
            serde_json::from_value(json).map_err(|_| first)
        }
    }
}

/// Turns every integral double (within 2^53) into an integer.
fn integral_floats_to_integers(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                    *json = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Object(m) => m.values_mut().for_each(integral_floats_to_integers),
        serde_json::Value::Array(a) => a.iter_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// Turns every empty object into an empty array; answers whether any was.
fn empty_objects_to_arrays(json: &mut serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(m) if m.is_empty() => {
            *json = serde_json::Value::Array(Vec::new());
            true
        }
        serde_json::Value::Object(m) => m
            .values_mut()
            .fold(false, |any, v| empty_objects_to_arrays(v) | any),
        serde_json::Value::Array(a) => a
            .iter_mut()
            .fold(false, |any, v| empty_objects_to_arrays(v) | any),
        _ => false,
    }
}
