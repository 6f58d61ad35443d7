//! The keyed part of a [`Table`](crate::Table): up to [`SMALL`] entries live
//! in a plain vector searched linearly (one allocation, no hashing: most
//! tables in a game save are small records); larger ones move to an
//! insertion-ordered hash map seeded at random, so keys chosen by players
//! cannot be aimed at one bucket.

use super::{Key, Value};
use indexmap::IndexMap;

/// The hasher of large keyed parts.
type KeyHasher = foldhash::fast::RandomState;

/// The map of a large keyed part.
type Map = IndexMap<Key, Value, KeyHasher>;

/// Entries kept in the linear form. Sixteen covers the top level of a
/// typical save (a dozen or so fields): one allocation of the exact size
/// instead of three (box, index table, entries) plus a hash per key, while
/// a lookup still scans at most sixteen keys, comparing lengths first.
pub(crate) const SMALL: usize = 16;

/// The keyed part, in insertion order.
#[derive(Clone)]
pub(crate) enum Keyed {
    Small(Vec<(Key, Value)>),
    Large(Box<Map>),
}

impl Default for Keyed {
    fn default() -> Self {
        Keyed::Small(Vec::new())
    }
}

impl Keyed {
    /// An empty keyed part with room for `n` entries.
    pub(crate) fn with_capacity(n: usize) -> Self {
        if n <= SMALL {
            Keyed::Small(Vec::with_capacity(n))
        } else {
            Keyed::Large(Box::new(Map::with_capacity_and_hasher(
                n,
                KeyHasher::default(),
            )))
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Keyed::Small(v) => v.len(),
            Keyed::Large(m) => m.len(),
        }
    }

    /// Where the entries live and how many bytes they take (for the
    /// writer's prefetch hints), when there are any.
    #[inline]
    pub(crate) fn data(&self) -> Option<(*const u8, usize)> {
        match self {
            Keyed::Small(v) if !v.is_empty() => {
                Some((v.as_ptr().cast(), std::mem::size_of_val(v.as_slice())))
            }
            Keyed::Small(_) => None,
            Keyed::Large(m) => Some(((&**m as *const Map).cast(), std::mem::size_of::<Map>())),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(crate) fn iter(&self) -> Iter<'_> {
        match self {
            Keyed::Small(v) => Iter::Small(v.iter()),
            Keyed::Large(m) => Iter::Large(m.iter()),
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: &Key) -> Option<&Value> {
        match self {
            Keyed::Small(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Keyed::Large(m) => m.get(key),
        }
    }

    #[inline]
    pub(crate) fn get_str(&self, key: &str) -> Option<&Value> {
        match self {
            Keyed::Small(v) => v
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            Keyed::Large(m) => m.get(&StrKey(key)),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut Value> {
        match self {
            Keyed::Small(v) => v.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            Keyed::Large(m) => m.get_mut(key),
        }
    }

    /// Removes a key, keeping the order of the others.
    pub(crate) fn shift_remove(&mut self, key: &Key) -> Option<Value> {
        match self {
            Keyed::Small(v) => {
                let i = v.iter().position(|(k, _)| k == key)?;
                Some(v.remove(i).1)
            }
            Keyed::Large(m) => m.shift_remove(key),
        }
    }

    /// Sets a key (a new key goes last; an existing one keeps its place).
    #[inline]
    pub(crate) fn insert(&mut self, key: Key, value: Value) -> Option<Value> {
        match self {
            Keyed::Small(v) => {
                if let Some((_, slot)) = v.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(slot, value));
                }
                if v.len() < SMALL {
                    v.push((key, value));
                    return None;
                }
                let mut m = Map::with_capacity_and_hasher(v.len() * 2, KeyHasher::default());
                m.extend(v.drain(..));
                m.insert(key, value);
                *self = Keyed::Large(Box::new(m));
                None
            }
            Keyed::Large(m) => m.insert(key, value),
        }
    }

    /// The entries, in order.
    pub(crate) fn into_entries(self) -> Vec<(Key, Value)> {
        match self {
            Keyed::Small(v) => v,
            Keyed::Large(m) => m.into_iter().collect(),
        }
    }
}

/// Iterator over a keyed part.
#[derive(Clone)]
pub(crate) enum Iter<'a> {
    Small(std::slice::Iter<'a, (Key, Value)>),
    Large(indexmap::map::Iter<'a, Key, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(i) => i.next().map(|(k, v)| (k, v)),
            Iter::Large(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(i) => i.size_hint(),
            Iter::Large(i) => i.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// A string key to look up without building a [`Key`]; hashes as
/// `Key::String` does.
struct StrKey<'a>(&'a str);

impl std::hash::Hash for StrKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u8(KEY_TAG_STRING);
        self.0.hash(state);
    }
}

impl indexmap::Equivalent<Key> for StrKey<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        key.as_str() == Some(self.0)
    }
}

/// The hash tag of string keys (see `impl Hash for Key`).
pub(crate) const KEY_TAG_STRING: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_small_to_large_keeping_order() {
        let mut k = Keyed::default();
        for i in 0..20u64 {
            assert_eq!(k.insert(Key::from(format!("k{i}")), Value::from(i)), None);
        }
        assert!(matches!(k, Keyed::Large(_)));
        assert_eq!(
            k.insert(Key::from("k3"), Value::from(0)),
            Some(Value::from(3))
        );
        let keys: Vec<_> = k.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys[..4], ["k0", "k1", "k2", "k3"]);
        assert_eq!(k.get_str("k19"), Some(&Value::from(19)));
        assert_eq!(k.shift_remove(&Key::from("k0")), Some(Value::from(0)));
        assert_eq!(k.len(), 19);
    }
}
