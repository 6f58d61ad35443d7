//! The access types serde's visitors read tables through: `|` and `*`
//! sequences, `*` maps, and enums.

use super::key::MapKey;
use super::Deserializer;
use crate::digits::Digits;
use crate::error::{Error, ErrorKind, Result};
use crate::format::DEL;
use serde::de::{self, DeserializeSeed, Visitor};

/// Elements of a `|` table.
pub(super) struct PipeSeq<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
}

impl<'de> de::SeqAccess<'de> for PipeSeq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.de.peek() {
            Some(DEL) => Ok(None),
            None => Err(self.de.err_here("a value or DEL")),
            Some(_) => seed.deserialize(&mut *self.de).map(Some),
        }
    }
}

/// The longest run of holes a `*` sequence may skip with one key (holes are
/// read as nil elements; the cap keeps memory linear in the input).
const MAX_GAP: u64 = 1024;

/// Elements of a `*` table whose keys are increasing integers from 1 (Level
/// 1 output, or a sequence with holes): missing keys read as nil elements,
/// so `Vec<Option<T>>` gets `None` back for each hole.
pub(super) struct StarSeq<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
    /// The index of the next element.
    pub(super) next: u64,
    /// The key read ahead of a gap: the element at it comes after the holes.
    pub(super) key: Option<u64>,
}

impl<'de> de::SeqAccess<'de> for StarSeq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let key = match self.key {
            Some(k) => k,
            None => {
                let de = &mut *self.de;
                match de.peek() {
                    Some(DEL) => return Ok(None),
                    Some(b'>') => {
                        let at = de.pos;
                        match de.digits()? {
                            Digits::Int(k) if k >= self.next && k - self.next <= MAX_GAP => k,
                            _ => {
                                return Err(Error::at(
                                    ErrorKind::Message(format!(
                                    "expected key {} of a sequence (or a key a little after it)",
                                    self.next
                                )),
                                    at,
                                ))
                            }
                        }
                    }
                    _ => return Err(de.err_here("a sequence key or DEL")),
                }
            }
        };
        self.next += 1;
        if key + 1 > self.next {
            self.key = Some(key);
            return seed.deserialize(Nil).map(Some);
        }
        self.key = None;
        seed.deserialize(&mut *self.de).map(Some)
    }
}

/// A hole: deserializes as unit / `None`.
struct Nil;

impl<'de> de::Deserializer<'de> for Nil {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Entries of a `*` table.
pub(super) struct StarMap<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
}

impl<'de> de::MapAccess<'de> for StarMap<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.de.peek() {
            Some(DEL) => Ok(None),
            Some(b'|' | b'*') => Err(Error::at(ErrorKind::TableKey, self.de.pos)),
            None => Err(self.de.err_here("a key or DEL")),
            Some(_) => seed.deserialize(MapKey { de: &mut *self.de }).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        match self.de.peek() {
            Some(DEL) | None => Err(self.de.err_here("a value")),
            Some(_) => seed.deserialize(&mut *self.de),
        }
    }
}

/// An enum written as `*#Variant DEL <content> DEL`.
pub(super) struct Enum<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Enum<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        if self.de.peek() != Some(b'#') {
            return Err(self.de.err_here("the variant name (a string)"));
        }
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}
