//! Table keys as serde reads them.

use super::Deserializer;
use crate::error::{Error, Result};
use crate::format::STRING;
use crate::read::to_key;
use serde::de::{self, Visitor};

/// A table key: as itself, or as text when a string is asked for (numbers
/// and booleans become their decimal text, as JSON object keys).
pub(super) struct MapKey<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
}

impl MapKey<'_, '_> {
    /// The key as text when it is not a string.
    fn key_text(&mut self) -> Result<Option<String>> {
        let start = self.de.pos;
        match self.de.peek() {
            Some(b'+') => {
                self.de.pos += 1;
                Ok(Some("true".into()))
            }
            Some(b'-') => {
                self.de.pos += 1;
                Ok(Some("false".into()))
            }
            Some(tag @ (b'>' | b'<' | b')' | b'(')) => {
                let d = self.de.digits()?;
                let n = crate::read::number_of(tag, d, self.de.factor);
                to_key(crate::Value::Number(n), start)?;
                Ok(Some(n.to_string()))
            }
            _ => Ok(None),
        }
    }
}

macro_rules! key_forward {
    ($($f:ident),*) => {$(
        fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            de::Deserializer::$f(self.de, visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for MapKey<'_, 'de> {
    type Error = Error;

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value> {
        if self.de.peek() == Some(STRING) {
            // The usual key: a string, borrowed.
            return visitor.visit_borrowed_str(self.de.string()?);
        }
        match self.key_text()? {
            Some(s) => visitor.visit_string(s),
            None => de::Deserializer::deserialize_str(self.de, visitor),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_enum(self.de, name, variants, visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_newtype_struct(self.de, name, visitor)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_unit_struct(self.de, name, visitor)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self.de, len, visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple_struct(self.de, name, len, visitor)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(self.de, name, fields, visitor)
    }
    key_forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_ignored_any
    );
}
