//! The value model: [`Value`], [`Table`] and [`Key`], faithful to Luau.
//!
//! - `mod.rs`: [`Value`] and its accessors;
//! - [`key`](self::key): [`Key`] and [`KeyRef`];
//! - [`table`](self::table): [`Table`], with Luau's sequence rules;
//! - `keyed`: a table's keyed part (linear when small, hashed when large);
//! - `convert`: conversions from Rust values and to and from `serde_json`;
//! - `serde`: `Serialize` / `Deserialize` for the model.

mod convert;
mod key;
pub(crate) mod keyed;
mod serde;
mod table;

pub use key::{Key, KeyRef};
pub use table::Table;

use crate::Number;

/// A Luau value: nil, boolean, number, string or table.
///
/// ```
/// use sdm_codec::{Table, Value};
/// let mut inventory = Table::new();
/// inventory.push("Sword");
/// inventory.push("Shield");
/// let mut save = Table::new();
/// save.insert("Coins", 250);
/// save.insert("Inventory", inventory);
/// let save = Value::from(save);
/// assert_eq!(save["Coins"].as_f64(), Some(250.0));
/// assert_eq!(save["Inventory"][1].as_str(), Some("Sword"));
/// assert!(save["Missing"].is_nil());
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// Luau's `nil`: no value.
    #[default]
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// A number (a double, with 64-bit integers kept exact).
    Number(Number),
    /// A UTF-8 string.
    String(String),
    /// A table.
    Table(Table),
}

impl Value {
    /// True for nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as a double, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(|n| n.as_f64())
    }

    /// The number as an `i64`, if this is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(|n| n.as_i64())
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The table, if this is one.
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The table, mutable, if this is one.
    pub fn as_table_mut(&mut self) -> Option<&mut Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The Luau type name: `nil`, `boolean`, `number`, `string` or `table`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Table(_) => "table",
        }
    }

    /// Takes the value out, leaving nil.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

static NIL: Value = Value::Nil;

impl<K: Into<Key>> std::ops::Index<K> for Value {
    type Output = Value;

    /// `value[key]`: the value under the key, or nil when this is not a table
    /// or the key is absent (Luau would raise for a non-table; we answer nil).
    fn index(&self, key: K) -> &Value {
        match self {
            Value::Table(t) => t.get(key).unwrap_or(&NIL),
            _ => &NIL,
        }
    }
}

#[cfg(test)]
#[path = "../tests/value.rs"]
mod tests;
