//! A serde [`Deserializer`](serde::Deserializer) that reads the compressed
//! text directly (strings are borrowed, no [`Value`](crate::Value) is built).
//!
//! serde drives deserialization recursively, so each nested table costs stack;
//! the nesting limit ([`SERDE_DEPTH_LIMIT`] unless set with
//! [`Deserializer::depth_limit`]) is what bounds the stack used. The default
//! fits a 2 MiB thread stack even in unoptimized builds; raise it only with a
//! bigger stack (the [`Decoder`](crate::Decoder), which is iterative, reads
//! [`DEFAULT_DEPTH_LIMIT`](crate::DEFAULT_DEPTH_LIMIT) levels anywhere).

mod access;
mod key;

use access::{Enum, PipeSeq, StarMap, StarSeq};

use crate::digits::{self, Digits};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{factor, DEL, NEG_FRAC, POS_FRAC, POS_INT, STRING, TABLE};
use crate::read::{invalid_utf8, number_digits, string_end, unexpected};
use base64::Engine as _;
use serde::de::{self, IntoDeserializer, Visitor};
use serde::Deserialize;

/// The default nesting limit of the serde [`Deserializer`]: 256 tables,
/// which keeps serde's recursion within a 2 MiB stack in debug builds.
pub const SERDE_DEPTH_LIMIT: usize = 256;

/// Reads any `T: Deserialize` from compressed text written with this
/// Decimals setting.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Save { coins: u64, title: Option<String> }
/// let save: Save = sdm_codec::from_str("*#coins\u{7f}>13\u{7f}", 3)?;
/// assert_eq!(save, Save { coins: 250, title: None });
/// # Ok::<(), sdm_codec::Error>(())
/// ```
pub fn from_str<'de, T: Deserialize<'de>>(text: &'de str, decimals: u32) -> Result<T> {
    Deserializer::from_str(text, decimals)?.read_to_end()
}

/// Reads any `T: Deserialize` from bytes (strings are checked to be UTF-8).
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8], decimals: u32) -> Result<T> {
    Deserializer::from_slice(bytes, decimals)?.read_to_end()
}

/// The deserializer behind [`from_str`]; use it through `&mut Deserializer`.
#[derive(Debug)]
pub struct Deserializer<'de> {
    bytes: &'de [u8],
    text: Option<&'de str>,
    pos: usize,
    factor: f64,
    depth: usize,
    limit: usize,
}

impl<'de> Deserializer<'de> {
    /// A deserializer over text (fails on a Decimals above 15).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &'de str, decimals: u32) -> Result<Self> {
        Ok(Deserializer {
            bytes: text.as_bytes(),
            text: Some(text),
            pos: 0,
            factor: factor(decimals)?,
            depth: 0,
            limit: SERDE_DEPTH_LIMIT,
        })
    }

    /// A deserializer over bytes; strings are checked to be UTF-8.
    pub fn from_slice(bytes: &'de [u8], decimals: u32) -> Result<Self> {
        Ok(Deserializer {
            bytes,
            text: None,
            pos: 0,
            factor: factor(decimals)?,
            depth: 0,
            limit: SERDE_DEPTH_LIMIT,
        })
    }

    /// Sets the nesting limit (tables inside tables). It bounds the stack
    /// serde's recursion uses, so keep it in the hundreds on small stacks.
    pub fn depth_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Reads one `T` and checks that nothing follows it.
    pub fn read_to_end<T: Deserialize<'de>>(mut self) -> Result<T> {
        let v = T::deserialize(&mut self).map_err(|e| e.with_offset(self.pos))?;
        if self.pos != self.bytes.len() {
            return Err(Error::at(ErrorKind::TrailingBytes, self.pos));
        }
        Ok(v)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_empty_top(&self) -> bool {
        self.bytes.is_empty()
    }

    #[inline]
    fn err_here(&self, expected: &'static str) -> Error {
        unexpected(self.bytes, self.pos, expected)
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn enter(&mut self) -> Result<()> {
        if self.depth >= self.limit {
            return Err(Error::at(ErrorKind::DepthLimit(self.limit), self.pos));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// Expects the DEL closing a table.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn leave(&mut self) -> Result<()> {
        if self.peek() != Some(DEL) {
            return Err(self.err_here("DEL ending the table"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// Reads a string whose `#` is at the current position.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn string(&mut self) -> Result<&'de str> {
        let start = self.pos + 1;
        let end = string_end(self.bytes, start)?;
        let s = match self.text {
            Some(t) => t.get(start..end).ok_or_else(|| invalid_utf8(start))?,
            None => {
                let raw = self.bytes.get(start..end).unwrap_or_default();
                std::str::from_utf8(raw).map_err(|e| invalid_utf8(start + e.valid_up_to()))?
            }
        };
        self.pos = end + 1;
        Ok(s)
    }

    /// Reads the digits after a number tag at the current position.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn digits(&mut self) -> Result<Digits> {
        let (d, end) = number_digits(self.bytes, self.pos)?;
        self.pos = end;
        Ok(d)
    }

    /// Reads an integral number tag and its digits exactly, when they fit a
    /// u128: (negative, magnitude). Leaves the position alone otherwise.
    fn exact_u128(&mut self) -> Result<Option<(bool, u128)>> {
        let Some(tag @ (b'>' | b'<')) = self.peek() else {
            return Ok(None);
        };
        let start = self.pos + 1;
        let mut end = start;
        while self.bytes.get(end).is_some_and(|&b| digits::is_digit(b)) {
            end += 1;
        }
        let Some(u) = digits::exact_u128(self.bytes.get(start..end).unwrap_or_default()) else {
            return Ok(None);
        };
        number_digits(self.bytes, self.pos)?;
        self.pos = end;
        Ok(Some((tag == b'<', u)))
    }

    /// Reads the value at the current position, whose tag is `TAG`: one
    /// of the tags `expect_first` tests for.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn visit_expected<V: Visitor<'de>, const TAG: u8>(&mut self, visitor: V) -> Result<V::Value> {
        match TAG {
            POS_INT => match self.digits()? {
                Digits::Int(u) => visitor.visit_u64(u),
                Digits::Big(f) => visitor.visit_f64(f),
            },
            POS_FRAC => {
                let d = self.digits()?;
                visitor.visit_f64(d.as_f64() / self.factor)
            }
            NEG_FRAC => {
                let d = self.digits()?;
                visitor.visit_f64(-(d.as_f64() / self.factor))
            }
            STRING => visitor.visit_borrowed_str(self.string()?),
            _ => self.visit_table(visitor, false),
        }
    }

    fn visit_table<V: Visitor<'de>>(&mut self, visitor: V, as_seq: bool) -> Result<V::Value> {
        let tag = self.peek();
        self.enter()?;
        let v = match (tag, as_seq) {
            (Some(b'|'), _) => visitor.visit_seq(PipeSeq { de: self })?,
            (_, true) => visitor.visit_seq(StarSeq {
                de: self,
                next: 1,
                key: None,
            })?,
            _ => visitor.visit_map(StarMap { de: self })?,
        };
        self.leave()?;
        Ok(v)
    }
}

/// `deserialize_*` methods that test first for the tag the type usually
/// finds (a non-negative integer for integer types, a string for strings,
/// ...) with a branch that predicts well, and read it directly; anything
/// else goes through `deserialize_any`, which dispatches on every tag.
macro_rules! expect_first {
    ($($tag:ident => $($method:ident)+),* $(,)?) => {$($(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            if self.peek() == Some($tag) {
                return self.visit_expected::<V, $tag>(visitor);
            }
            self.deserialize_any(visitor)
        }
    )+)*};
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let Some(tag) = self.peek() else {
            if self.at_empty_top() {
                return visitor.visit_unit();
            }
            return Err(self.err_here("a value"));
        };
        match tag {
            b'+' | b'-' => {
                self.pos += 1;
                visitor.visit_bool(tag == b'+')
            }
            b'>' => match self.digits()? {
                Digits::Int(u) => visitor.visit_u64(u),
                Digits::Big(f) => visitor.visit_f64(f),
            },
            b'<' => match self.digits()? {
                Digits::Int(0) => visitor.visit_f64(-0.0),
                Digits::Int(u) if u <= 1 << 63 => visitor.visit_i64((u as i64).wrapping_neg()),
                d => visitor.visit_f64(-d.as_f64()),
            },
            b')' => {
                let d = self.digits()?;
                visitor.visit_f64(d.as_f64() / self.factor)
            }
            b'(' => {
                let d = self.digits()?;
                visitor.visit_f64(-(d.as_f64() / self.factor))
            }
            b'#' => visitor.visit_borrowed_str(self.string()?),
            b'|' | b'*' => self.visit_table(visitor, false),
            _ => Err(self.err_here("a value")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.at_empty_top() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek() {
            Some(b'|' | b'*') => self.visit_table(visitor, true),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() == Some(b'#') {
            let start = self.pos;
            let s = self.string()?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| {
                    Error::at(ErrorKind::Message(format!("invalid base64: {e}")), start)
                })?;
            visitor.visit_byte_buf(bytes)
        } else {
            self.deserialize_seq(visitor)
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.exact_u128()? {
            Some((false, u)) => visitor.visit_u128(u),
            Some((true, 0)) => visitor.visit_u128(0),
            Some((true, u)) => match 0i128.checked_sub_unsigned(u) {
                Some(i) => visitor.visit_i128(i),
                None => visitor.visit_f64(-(u as f64)),
            },
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.exact_u128()? {
            Some((neg, u)) => match if neg {
                0i128.checked_sub_unsigned(u)
            } else {
                i128::try_from(u).ok()
            } {
                Some(i) => visitor.visit_i128(i),
                None if neg => visitor.visit_f64(-(u as f64)),
                None => visitor.visit_u128(u),
            },
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek() {
            Some(b'#') => {
                let s = self.string()?;
                visitor.visit_enum(s.into_deserializer())
            }
            Some(b'*') => {
                self.enter()?;
                let v = visitor.visit_enum(Enum { de: self })?;
                self.leave()?;
                Ok(v)
            }
            _ => Err(self.err_here("an enum: a string, or a `*` table with one entry")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    expect_first! {
        POS_INT => deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64,
        STRING => deserialize_str deserialize_string deserialize_identifier,
        TABLE => deserialize_map,
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Fractions of either sign first (positions, velocities), then
        // everything else.
        match self.peek() {
            Some(POS_FRAC) => self.visit_expected::<V, POS_FRAC>(visitor),
            Some(NEG_FRAC) => self.visit_expected::<V, NEG_FRAC>(visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    #[inline]
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool char unit unit_struct ignored_any
    }
}
