//! The compound serializers: sequences and tuples ([`SeqSer`]), maps and
//! structs ([`MapSer`]).

use super::key::KeySer;
use super::Serializer;
use crate::error::{Error, PathSegment, Result};
use crate::format::{find_del, DEL, POS_INT, TABLE};
use crate::{digits, write::Out};
use serde::ser::{self, Serialize};

/// Serializes a sequence or tuple.
#[doc(hidden)]
pub struct SeqSer<'a> {
    pub(super) ser: &'a mut Serializer,
    /// Offset of the table's tag.
    pub(super) start: usize,
    /// Elements seen, holes included.
    pub(super) index: u64,
    /// Writing the `*` form with explicit keys.
    pub(super) star: bool,
    /// A hole seen while writing the `|` form.
    pub(super) hole: bool,
    pub(super) variant: Option<&'static str>,
}

impl SeqSer<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.index += 1;
        let index = self.index;
        let within = |e: Error| e.within(PathSegment::Other(index.to_string()));
        let out_len = self.ser.out.len();
        if self.star {
            self.ser.uint(index);
            let after_key = self.ser.out.len();
            value.serialize(&mut *self.ser).map_err(within)?;
            if self.ser.out.len() == after_key {
                self.ser.out.truncate(out_len);
            }
        } else {
            value.serialize(&mut *self.ser).map_err(within)?;
            if self.ser.out.len() == out_len {
                self.hole = true;
            } else if self.hole {
                self.switch_to_star_form(out_len);
            }
        }
        Ok(())
    }

    /// Rewrites `|e1 e2 .. ek` + element `index` (from `elem_start`) as the
    /// `*` form with keys.
    #[cold]
    fn switch_to_star_form(&mut self, elem_start: usize) {
        let bytes = self.ser.out.bytes();
        let mut new = Out::with_capacity(bytes.len() - self.start + 16);
        new.byte(TABLE);
        let mut pos = self.start + 1;
        let mut i = 0u64;
        while pos < elem_start {
            let end = skip_value(bytes, pos);
            i += 1;
            new.int(POS_INT, i);
            new.extend(bytes.get(pos..end).unwrap_or_default());
            pos = end;
        }
        new.int(POS_INT, self.index);
        new.extend(bytes.get(elem_start..).unwrap_or_default());
        self.ser.out.replace_from(self.start, new.bytes());
        self.star = true;
    }

    #[inline]
    pub(super) fn finish(self) -> Result<()> {
        self.ser.depth -= 1;
        let out = &mut self.ser.out;
        if !self.star && out.len() == self.start + 1 {
            // Empty at Level 2: `*` DEL.
            out.truncate(self.start);
            out.byte(TABLE);
        }
        out.byte(DEL);
        if self.variant.is_some() {
            out.byte(DEL);
        }
        Ok(())
    }
}

/// The end of the value starting at `pos` in text this serializer wrote.
fn skip_value(b: &[u8], mut pos: usize) -> usize {
    let mut depth = 0usize;
    loop {
        match b.get(pos) {
            None => return pos,
            Some(b'#') => {
                pos = b
                    .get(pos + 1..)
                    .and_then(find_del)
                    .map_or(b.len(), |e| pos + 1 + e + 1);
            }
            Some(b'|' | b'*') => {
                depth += 1;
                pos += 1;
                continue;
            }
            Some(&DEL) => {
                depth = depth.saturating_sub(1);
                pos += 1;
            }
            Some(b'>' | b'<' | b')' | b'(') => {
                pos += 1;
                while b.get(pos).is_some_and(|&c| digits::is_digit(c)) {
                    pos += 1;
                }
            }
            Some(_) => pos += 1,
        }
        if depth == 0 {
            return pos;
        }
    }
}

/// Serializes a map or struct.
#[doc(hidden)]
pub struct MapSer<'a> {
    pub(super) ser: &'a mut Serializer,
    pub(super) before_key: usize,
    pub(super) after_key: usize,
    pub(super) variant: Option<&'static str>,
}

impl MapSer<'_> {
    pub(super) fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let r = value.serialize(&mut *self.ser);
        if let Err(e) = r {
            let key = self
                .ser
                .out
                .bytes()
                .get(self.before_key..self.after_key)
                .unwrap_or_default();
            let seg = match key.strip_prefix(b"#").and_then(|k| k.strip_suffix(&[DEL])) {
                Some(s) => PathSegment::Key(String::from_utf8_lossy(s).into_owned()),
                None => PathSegment::Other(String::from_utf8_lossy(key).into_owned()),
            };
            return Err(e.within(seg));
        }
        if self.ser.out.len() == self.after_key {
            self.ser.out.truncate(self.before_key);
        }
        Ok(())
    }

    #[inline]
    pub(super) fn finish(self) -> Result<()> {
        self.ser.depth -= 1;
        self.ser.out.byte(DEL);
        if self.variant.is_some() {
            self.ser.out.byte(DEL);
        }
        Ok(())
    }
}

/// The element-wise compound traits, all writing elements in order.
macro_rules! seq_traits {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for SeqSer<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }
            #[inline]
            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    )*};
}
seq_traits!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeTupleVariant for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let variant = self.variant.unwrap_or_default();
        self.element(value)
            .map_err(|e| e.within(PathSegment::Key(variant.to_owned())))
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.before_key = self.ser.out.len();
        key.serialize(KeySer {
            ser: &mut *self.ser,
        })?;
        self.after_key = self.ser.out.len();
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.value(value)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl MapSer<'_> {
    /// Writes a struct field: its name as a string key, then its value.
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.before_key = self.ser.out.len();
        self.ser.str(key)?;
        self.after_key = self.ser.out.len();
        self.value(value)
    }
}

/// The field-wise compound traits: a struct's fields, or a struct
/// variant's (whose errors also name the variant).
macro_rules! struct_traits {
    ($($trait:ident: |$map:ident, $key:ident, $value:ident| $body:expr),*) => {$(
        impl ser::$trait for MapSer<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                let ($map, $key, $value) = (self, key, value);
                $body
            }
            #[inline]
            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    )*};
}
struct_traits!(
    SerializeStruct: |map, key, value| map.field(key, value),
    SerializeStructVariant: |map, key, value| {
        let variant = map.variant.unwrap_or_default();
        map.field(key, value)
            .map_err(|e| e.within(PathSegment::Key(variant.to_owned())))
    }
);
