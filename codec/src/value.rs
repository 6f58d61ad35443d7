//! The value model: [`Value`], [`Table`] and [`Key`], faithful to Luau.

use crate::keyed::{self, Keyed};
use crate::Number;
use std::fmt;

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

/// A Luau table: a sequence part (keys 1..n) and an insertion-ordered keyed
/// part holding every other key.
///
/// The table keeps Luau's rules: the sequence part always holds exactly the
/// keys 1..n, so inserting key `n + 1` extends it (pulling in any keys
/// `n + 2, ...` already present), and removing a key inside it moves the keys
/// after it to the keyed part. Iteration yields the sequence first, then the
/// other entries in insertion order.
///
/// ```
/// use sdm_codec::{Key, Table, Value};
/// let mut t = Table::new();
/// t.insert(2, "b");
/// assert_eq!(t.sequence().len(), 0);
/// t.insert(1, "a");
/// assert_eq!(t.sequence().len(), 2); // 1 and 2 now form the sequence
/// t.insert("x", 5);
/// let keys: Vec<Key> = t.iter().map(|(k, _)| k.into_owned()).collect();
/// assert_eq!(keys, vec![Key::from(1), Key::from(2), Key::from("x")]);
/// ```
#[derive(Clone, Default)]
pub struct Table {
    seq: Vec<Value>,
    map: Keyed,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table whose sequence part is `values` (nil elements make holes, as in
    /// Luau, so they end the sequence part).
    pub fn from_sequence(values: Vec<Value>) -> Self {
        if !values.iter().any(Value::is_nil) {
            return Table {
                seq: values,
                map: Keyed::default(),
            };
        }
        let mut t = Table::new();
        for (i, v) in values.into_iter().enumerate() {
            t.insert(Key::from(i as u64 + 1), v);
        }
        t
    }

    /// Number of entries (sequence and keyed parts).
    pub fn len(&self) -> usize {
        self.seq.len() + self.map.len()
    }

    /// True when the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty() && self.map.is_empty()
    }

    /// The sequence part: the values under keys 1..n.
    pub fn sequence(&self) -> &[Value] {
        &self.seq
    }

    /// The sequence part, mutable in place. Elements cannot be added or
    /// removed through it; use [`Table::push`], [`Table::insert`] and
    /// [`Table::remove`]. Setting an element to nil through it is undone by
    /// the writer, which treats nil elements as holes.
    pub fn sequence_mut(&mut self) -> &mut [Value] {
        &mut self.seq
    }

    /// True when the table is a non-empty sequence (keys exactly 1..n).
    pub fn is_sequence(&self) -> bool {
        !self.seq.is_empty() && self.map.is_empty()
    }

    /// The keyed part (every key that is not in 1..n), in insertion order.
    pub fn keyed(&self) -> impl ExactSizeIterator<Item = (&Key, &Value)> {
        self.map.iter()
    }

    /// Number of entries in the keyed part.
    pub fn keyed_len(&self) -> usize {
        self.map.len()
    }

    /// Every entry: the sequence part as keys 1..n, then the keyed part.
    pub fn iter(&self) -> impl Iterator<Item = (KeyRef<'_>, &Value)> {
        self.seq
            .iter()
            .enumerate()
            .map(|(i, v)| (KeyRef::Index(i as u64 + 1), v))
            .chain(self.map.iter().map(|(k, v)| (KeyRef::Key(k), v)))
    }

    /// Appends a value at key n + 1 (a nil value does nothing).
    pub fn push(&mut self, value: impl Into<Value>) {
        let n = self.seq.len() as u64;
        self.insert(Key::from(n + 1), value);
    }

    /// The value under a key, if any.
    pub fn get(&self, key: impl Into<Key>) -> Option<&Value> {
        self.get_key(&key.into())
    }

    /// The value under a key, mutable in place.
    pub fn get_mut(&mut self, key: impl Into<Key>) -> Option<&mut Value> {
        let key = key.into();
        match self.seq_index(&key) {
            Some(i) => self.seq.get_mut(i),
            None => self.map.get_mut(&key),
        }
    }

    /// The value under a string key (no allocation).
    pub fn get_str(&self, key: &str) -> Option<&Value> {
        self.map.get_str(key)
    }

    fn get_key(&self, key: &Key) -> Option<&Value> {
        match self.seq_index(key) {
            Some(i) => self.seq.get(i),
            None => self.map.get(key),
        }
    }

    /// True when the key holds a value.
    pub fn contains_key(&self, key: impl Into<Key>) -> bool {
        self.get(key).is_some()
    }

    /// Sets `table[key] = value` with Luau's rules: a nil value removes the
    /// key. Returns the value that was there.
    ///
    /// A NaN key is refused (the table is unchanged and `Err` returns the
    /// value), as Luau refuses it.
    pub fn try_insert(&mut self, key: Key, value: Value) -> Result<Option<Value>, Value> {
        if let Key::Number(n) = &key {
            if n.is_nan() {
                return Err(value);
            }
        }
        if value.is_nil() {
            return Ok(self.remove_key(&key));
        }
        let len = self.seq.len();
        if let Some(i) = self.seq_index(&key) {
            if i < len {
                return Ok(Some(std::mem::replace(&mut self.seq[i], value)));
            }
            if i == len {
                self.seq.push(value);
                self.absorb_following();
                return Ok(None);
            }
        }
        Ok(self.map.insert(key, value))
    }

    /// Sets `table[key] = value` (a nil value removes the key) and returns
    /// the value that was there. A NaN key is ignored, as nothing can be
    /// stored under it.
    pub fn insert(&mut self, key: impl Into<Key>, value: impl Into<Value>) -> Option<Value> {
        self.try_insert(key.into(), value.into())
            .unwrap_or_default()
    }

    /// Removes a key and returns its value. Removing a key inside the
    /// sequence part leaves a hole: the keys after it move to the keyed part.
    pub fn remove(&mut self, key: impl Into<Key>) -> Option<Value> {
        self.remove_key(&key.into())
    }

    fn remove_key(&mut self, key: &Key) -> Option<Value> {
        match self.seq_index(key) {
            Some(i) if i < self.seq.len() => {
                let tail = self.seq.split_off(i + 1);
                let removed = self.seq.pop();
                for (j, v) in tail.into_iter().enumerate() {
                    self.map.insert(Key::from((i + 2 + j) as u64), v);
                }
                removed
            }
            _ => self.map.shift_remove(key),
        }
    }

    /// Moves keys n+1, n+2, ... from the keyed part into the sequence part.
    fn absorb_following(&mut self) {
        if self.map.is_empty() {
            return;
        }
        loop {
            let next = Key::from(self.seq.len() as u64 + 1);
            match self.map.shift_remove(&next) {
                Some(v) => self.seq.push(v),
                None => break,
            }
        }
    }

    /// The index in the sequence part that `key` would occupy, when it is an
    /// integer in 1..=n+1.
    #[inline]
    fn seq_index(&self, key: &Key) -> Option<usize> {
        let Key::Number(n) = key else { return None };
        let u = n.as_u64()?;
        if u >= 1 && u <= self.seq.len() as u64 + 1 {
            Some((u - 1) as usize)
        } else {
            None
        }
    }

    /// A table whose sequence part is `seq` (no nil elements), without checks.
    #[inline]
    pub(crate) fn from_vec_unchecked(seq: Vec<Value>) -> Self {
        Table {
            seq,
            map: Keyed::default(),
        }
    }

    /// A table of at most [`keyed::SMALL`] entries with distinct keys that
    /// are not numbers (so none belongs in the sequence part), without
    /// checks: what inserting them in order would build.
    #[inline]
    pub(crate) fn from_small_keyed_unchecked(entries: Vec<(Key, Value)>) -> Self {
        debug_assert!(entries.len() <= keyed::SMALL);
        Table {
            seq: Vec::new(),
            map: Keyed::Small(entries),
        }
    }

    /// An empty table with room for `n` keyed entries.
    #[inline]
    pub(crate) fn with_keyed_capacity(n: usize) -> Self {
        Table {
            seq: Vec::new(),
            map: Keyed::with_capacity(n),
        }
    }

    /// The keyed part's iterator.
    #[inline]
    pub(crate) fn keyed_iter(&self) -> keyed::Iter<'_> {
        self.map.iter()
    }
}

/// A borrowed view of a table key as [`Table::iter`] yields it: a sequence
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

use crate::keyed::KEY_TAG_STRING;

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

impl PartialEq for Table {
    /// Tables are equal when they hold the same key/value pairs, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.map.len() == other.map.len()
            && self.map.iter().all(|(k, v)| other.map.get(k) == Some(v))
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.iter() {
            m.entry(&k, v);
        }
        m.finish()
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
        crate::number::N::PosInt(u) => u.into(),
        crate::number::N::NegInt(i) => i.into(),
        crate::number::N::Float(f) => serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
    }
}

#[cfg(test)]
#[path = "tests/value.rs"]
mod tests;
