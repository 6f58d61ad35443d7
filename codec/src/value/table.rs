//! [`Table`]: a sequence part and an insertion-ordered keyed part.

use super::keyed::{self, Keyed};
use super::{Key, KeyRef, Value};
use std::fmt;

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
    pub(crate) seq: Vec<Value>,
    pub(crate) map: Keyed,
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
