//! Conversions: Rust values into the model, and the model to and from
//! `serde_json` values.

use super::{Key, Table, Value};
use crate::number::{Number, N};

impl From<bool> for Key {
    fn from(b: bool) -> Self {
        Key::Bool(b)
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::String(s.to_owned())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::String(s)
    }
}

impl From<Number> for Key {
    fn from(n: Number) -> Self {
        Key::Number(n)
    }
}

macro_rules! key_from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Key {
            fn from(v: $t) -> Self {
                Key::Number(Number::from(v))
            }
        }
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Number(Number::from(v))
            }
        }
    )*};
}
key_from_number!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

impl From<Key> for Value {
    fn from(k: Key) -> Self {
        match k {
            Key::Bool(b) => Value::Bool(b),
            Key::Number(n) => Value::Number(n),
            Key::String(s) => Value::String(s),
        }
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Table> for Value {
    fn from(t: Table) -> Self {
        Value::Table(t)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Nil, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Table(Table::from_sequence(
            v.into_iter().map(Into::into).collect(),
        ))
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Table {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut t = Table::new();
        for (k, v) in iter {
            t.insert(k, v);
        }
        t
    }
}

impl From<serde_json::Value> for Value {
    /// JSON to Luau: null is nil, arrays are sequences (a null element is a
    /// hole), objects are tables with string keys in their order (null
    /// members are absent, as Luau cannot store nil in a table).
    fn from(j: serde_json::Value) -> Self {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(Number::from(&n)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Table(Table::from_sequence(
                a.into_iter().map(Value::from).collect(),
            )),
            serde_json::Value::Object(o) => {
                let mut t = Table::new();
                for (k, v) in o {
                    t.insert(Key::String(k), Value::from(v));
                }
                Value::Table(t)
            }
        }
    }
}

impl From<&serde_json::Number> for Number {
    fn from(n: &serde_json::Number) -> Self {
        if let Some(u) = n.as_u64() {
            Number::from(u)
        } else if let Some(i) = n.as_i64() {
            Number::from(i)
        } else {
            Number::from(n.as_f64().unwrap_or(f64::NAN))
        }
    }
}

impl From<Value> for serde_json::Value {
    /// Luau to JSON: nil is null, a non-empty sequence is an array, any other
    /// table is an object (non-string keys written as text, as Roblox's
    /// JSONEncode does for numbers; `true`/`false` keys as `"true"`/`"false"`).
    /// NaN and infinities, which JSON cannot hold, become null.
    fn from(v: Value) -> Self {
        match v {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => number_to_json(n),
            Value::String(s) => serde_json::Value::String(s),
            Value::Table(t) => {
                if t.is_sequence() {
                    serde_json::Value::Array(t.seq.into_iter().map(Into::into).collect())
                } else {
                    let mut m = serde_json::Map::with_capacity(t.len());
                    for (i, v) in t.seq.into_iter().enumerate() {
                        m.insert((i + 1).to_string(), v.into());
                    }
                    for (k, v) in t.map.into_entries() {
                        let k = match k {
                            Key::String(s) => s,
                            Key::Bool(b) => b.to_string(),
                            Key::Number(n) => n.to_string(),
                        };
                        m.insert(k, v.into());
                    }
                    serde_json::Value::Object(m)
                }
            }
        }
    }
}

pub(crate) fn number_to_json(n: Number) -> serde_json::Value {
    match n.0 {
        N::PosInt(u) => u.into(),
        N::NegInt(i) => i.into(),
        N::Float(f) => serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
    }
}
