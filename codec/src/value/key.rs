//! Table keys: the owned [`Key`] and the borrowed [`KeyRef`].

use super::keyed::KEY_TAG_STRING;
use super::Value;
use crate::Number;
use std::fmt;

/// A table key: a boolean, a number or a string (never nil, never NaN).
#[derive(Clone, PartialEq, Eq)]
pub enum Key {
    /// A boolean key.
    Bool(bool),
    /// A number key; integral keys 1..n of a table live in its sequence part.
    Number(Number),
    /// A string key.
    String(String),
}

/// A borrowed view of a table key as [`Table::iter`](super::Table::iter) yields it: a sequence
/// index, or a key of the keyed part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyRef<'a> {
    /// Key `i` of the sequence part (1-based).
    Index(u64),
    /// A key of the keyed part.
    Key(&'a Key),
}

impl KeyRef<'_> {
    /// The owned key.
    pub fn into_owned(self) -> Key {
        match self {
            KeyRef::Index(i) => Key::from(i),
            KeyRef::Key(k) => k.clone(),
        }
    }
}

impl fmt::Display for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Index(i) => write!(f, "{i}"),
            KeyRef::Key(k) => fmt::Display::fmt(k, f),
        }
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Key::Bool(b) => {
                state.write_u8(0);
                b.hash(state);
            }
            Key::Number(n) => {
                state.write_u8(1);
                n.hash(state);
            }
            Key::String(s) => {
                state.write_u8(KEY_TAG_STRING);
                s.hash(state);
            }
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Bool(b) => write!(f, "{b}"),
            Key::Number(n) => write!(f, "{n}"),
            Key::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl fmt::Display for Key {
    /// Keys as they appear in an error path: strings bare, others as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Bool(b) => write!(f, "[{b}]"),
            Key::Number(n) => write!(f, "{n}"),
            Key::String(s) => f.write_str(s),
        }
    }
}

impl Key {
    /// The key as a value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Number(n) => Value::Number(*n),
            Key::String(s) => Value::String(s.clone()),
        }
    }

    /// The string, if this is a string key.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Key::String(s) => Some(s),
            _ => None,
        }
    }
}

impl TryFrom<Value> for Key {
    type Error = Value;

    /// A boolean, number (not NaN) or string becomes a key; nil, NaN and
    /// tables come back as the error.
    fn try_from(v: Value) -> Result<Self, Value> {
        match v {
            Value::Bool(b) => Ok(Key::Bool(b)),
            Value::Number(n) if !n.is_nan() => Ok(Key::Number(n)),
            Value::String(s) => Ok(Key::String(s)),
            other => Err(other),
        }
    }
}
