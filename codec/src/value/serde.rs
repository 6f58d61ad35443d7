//! serde for the value model: [`Value`], [`Table`], [`Key`] and [`Number`]
//! serialize and deserialize with any serde format.
//!
//! Nil is unit; numbers keep integer or float; a non-empty sequence (no
//! holes) is a serde sequence and every other table a map whose keys keep
//! their own type (formats such as JSON turn number keys into strings; an
//! empty table is an empty map). Reading back: a sequence becomes a sequence
//! (nil elements are holes), a map a table (nil values are absent; a nil, NaN
//! or table key is an error).

use crate::number::N;
use crate::{Key, KeyRef, Number, Table, Value};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            N::PosInt(u) => s.serialize_u64(u),
            N::NegInt(i) => s.serialize_i64(i),
            N::Float(f) => s.serialize_f64(f),
        }
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Bool(b) => s.serialize_bool(*b),
            Key::Number(n) => n.serialize(s),
            Key::String(x) => s.serialize_str(x),
        }
    }
}

impl Serialize for KeyRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KeyRef::Index(i) => s.serialize_u64(*i),
            KeyRef::Key(k) => k.serialize(s),
        }
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let seq = self.sequence();
        let holes = seq.iter().filter(|v| v.is_nil()).count();
        if self.is_sequence() && holes == 0 {
            let mut out = s.serialize_seq(Some(seq.len()))?;
            for v in seq {
                out.serialize_element(v)?;
            }
            return out.end();
        }
        let live = self.keyed().filter(|(_, v)| !v.is_nil()).count();
        let mut out = s.serialize_map(Some(seq.len() - holes + live))?;
        for (k, v) in self.iter() {
            if !v.is_nil() {
                out.serialize_entry(&k, v)?;
            }
        }
        out.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(x) => s.serialize_str(x),
            Value::Table(t) => t.serialize(s),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Luau value (nil, boolean, number, string or table)")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => Value::from(i),
            (_, Ok(u)) => Value::from(u),
            _ => Value::from(v as f64),
        })
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map_or(Value::from(v as f64), Value::from))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Table(Table::from_sequence(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut t = Table::new();
        while let Some(k) = map.next_key::<Key>()? {
            let v = map.next_value::<Value>()?;
            t.insert(k, v);
        }
        Ok(Value::Table(t))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Table {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Table, D::Error> {
        match d.deserialize_any(ValueVisitor)? {
            Value::Table(t) => Ok(t),
            other => Err(de::Error::custom(format_args!(
                "expected a table, found a {}",
                other.type_name()
            ))),
        }
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table key (boolean, number other than NaN, or string)")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
        Ok(Key::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
        Ok(Key::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
        Ok(Key::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Key, E> {
        ValueVisitor
            .visit_i128(v)
            .and_then(|v| Key::try_from(v).map_err(|_| E::custom("invalid key")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Key, E> {
        ValueVisitor
            .visit_u128(v)
            .and_then(|v| Key::try_from(v).map_err(|_| E::custom("invalid key")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
        if v.is_nan() {
            return Err(E::custom("NaN cannot be a table key"));
        }
        Ok(Key::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Key, E> {
        Ok(Key::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
        Err(E::custom("nil cannot be a table key"))
    }
    fn visit_none<E: de::Error>(self) -> Result<Key, E> {
        Err(E::custom("nil cannot be a table key"))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        Key::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Key, A::Error> {
        Err(de::Error::custom("a table cannot be a table key"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Key, A::Error> {
        Err(de::Error::custom("a table cannot be a table key"))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        match d.deserialize_any(ValueVisitor)? {
            Value::Number(n) => Ok(n),
            other => Err(de::Error::custom(format_args!(
                "expected a number, found a {}",
                other.type_name()
            ))),
        }
    }
}
