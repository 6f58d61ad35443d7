//! A serde [`Serializer`](serde::Serializer) that writes the compressed text
//! directly, without building a [`Value`](crate::Value).
//!
//! Mapping: structs and maps are `*` tables (a field or entry whose value is
//! `None` or `()` is left out, so `None` fields are absent keys); sequences and
//! tuples are `|` tables at Level 2 (`*` with keys 1..n at Level 1; an empty
//! one is `*` DEL); a `None` element leaves a hole, which turns the table into
//! the `*` form if anything follows it. Integers of any width write exact
//! digits; floats go through Decimals. Bytes are base64 strings (standard
//! alphabet, padded). Enums are externally tagged: a unit variant is its name
//! as a string, others are `*#Variant DEL <content> DEL`.

use crate::digits;
use crate::error::{Error, ErrorKind, PathSegment, Result};
use crate::write::{factor, write_f64, write_str, DEL_CHAR};
use crate::{Level, Options, DEFAULT_DEPTH_LIMIT};
use base64::Engine as _;
use serde::ser::{self, Serialize};

/// Writes any `T: Serialize` in the compressed format.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Save { coins: u64, title: Option<String> }
/// let text = sdm_codec::to_string(&Save { coins: 250, title: None }, &Default::default())?;
/// assert_eq!(text, "*#coins\u{7f}>13\u{7f}");
/// # Ok::<(), sdm_codec::Error>(())
/// ```
pub fn to_string<T: Serialize + ?Sized>(value: &T, options: &Options) -> Result<String> {
    let mut ser = Serializer::new(options)?;
    value.serialize(&mut ser)?;
    Ok(ser.into_string())
}

/// Writes any `T: Serialize` in the compressed format, as bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, options: &Options) -> Result<Vec<u8>> {
    to_string(value, options).map(String::into_bytes)
}

/// Writes any `T: Serialize` in the compressed format to an `io::Write`.
pub fn to_writer<W: std::io::Write, T: Serialize + ?Sized>(
    mut writer: W,
    value: &T,
    options: &Options,
) -> Result<()> {
    let text = to_string(value, options)?;
    writer
        .write_all(text.as_bytes())
        .map_err(|e| Error::new(ErrorKind::Message(format!("write failed: {e}"))))
}

/// The serializer behind [`to_string`]; use it through `&mut Serializer`.
#[derive(Debug)]
pub struct Serializer {
    out: String,
    factor: f64,
    level2: bool,
    safety: bool,
    /// Tables open around the value being written.
    depth: usize,
}

impl Serializer {
    /// A serializer with these settings (fails on a Decimals above 15).
    pub fn new(options: &Options) -> Result<Self> {
        Ok(Serializer {
            out: String::with_capacity(64),
            factor: factor(options.decimals)?,
            level2: options.level == Level::Two,
            safety: options.safety,
            depth: 0,
        })
    }

    /// The text written so far.
    pub fn into_string(self) -> String {
        self.out
    }

    #[inline]
    fn uint(&mut self, u: u64) {
        self.out.push('>');
        digits::write_u64(&mut self.out, u);
    }

    #[inline]
    fn int(&mut self, i: i64) {
        if i < 0 {
            self.out.push('<');
            digits::write_u64(&mut self.out, i.unsigned_abs());
        } else {
            self.uint(i as u64);
        }
    }

    #[inline]
    fn str(&mut self, s: &str) -> Result<()> {
        write_str(&mut self.out, s, self.safety).map_err(Error::new)
    }

    /// Starts `*#variant DEL` of an enum's content.
    fn variant_key(&mut self, variant: &str) -> Result<()> {
        self.out.push('*');
        self.str(variant)
    }

    /// Opens a table; serde recursion is bounded by the codec's nesting
    /// limit, as the reader's is.
    fn enter(&mut self) -> Result<()> {
        if self.depth >= DEFAULT_DEPTH_LIMIT {
            return Err(Error::new(ErrorKind::DepthLimit(DEFAULT_DEPTH_LIMIT)));
        }
        self.depth += 1;
        Ok(())
    }

    fn seq(&mut self, variant: Option<&'static str>) -> Result<SeqSer<'_>> {
        self.enter()?;
        if let Some(v) = variant {
            self.variant_key(v)?;
        }
        let start = self.out.len();
        let star = !self.level2;
        self.out.push(if star { '*' } else { '|' });
        Ok(SeqSer {
            ser: self,
            start,
            index: 0,
            star,
            hole: false,
            variant,
        })
    }

    fn map(&mut self, variant: Option<&'static str>) -> Result<MapSer<'_>> {
        self.enter()?;
        if let Some(v) = variant {
            self.variant_key(v)?;
        }
        self.out.push('*');
        Ok(MapSer {
            ser: self,
            before_key: 0,
            after_key: 0,
            variant,
        })
    }
}

/// Serializes a sequence or tuple.
#[doc(hidden)]
pub struct SeqSer<'a> {
    ser: &'a mut Serializer,
    /// Offset of the table's tag.
    start: usize,
    /// Elements seen, holes included.
    index: u64,
    /// Writing the `*` form with explicit keys.
    star: bool,
    /// A hole seen while writing the `|` form.
    hole: bool,
    variant: Option<&'static str>,
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
        let out = &self.ser.out;
        let mut new = String::with_capacity(out.len() - self.start + 16);
        new.push('*');
        let bytes = out.as_bytes();
        let mut pos = self.start + 1;
        let mut i = 0u64;
        while pos < elem_start {
            let end = skip_value(bytes, pos);
            i += 1;
            new.push('>');
            digits::write_u64(&mut new, i);
            new.push_str(out.get(pos..end).unwrap_or_default());
            pos = end;
        }
        new.push('>');
        digits::write_u64(&mut new, self.index);
        new.push_str(out.get(elem_start..).unwrap_or_default());
        self.ser.out.truncate(self.start);
        self.ser.out.push_str(&new);
        self.star = true;
    }

    fn finish(self) -> Result<()> {
        self.ser.depth -= 1;
        let out = &mut self.ser.out;
        if !self.star && out.len() == self.start + 1 {
            // Empty at Level 2: `*` DEL.
            out.pop();
            out.push('*');
        }
        out.push(DEL_CHAR);
        if self.variant.is_some() {
            out.push(DEL_CHAR);
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
                pos = crate::read::string_end(b, pos + 1).map_or(b.len(), |e| e + 1);
            }
            Some(b'|' | b'*') => {
                depth += 1;
                pos += 1;
                continue;
            }
            Some(0x7F) => {
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
    ser: &'a mut Serializer,
    before_key: usize,
    after_key: usize,
    variant: Option<&'static str>,
}

impl MapSer<'_> {
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let r = value.serialize(&mut *self.ser);
        if let Err(e) = r {
            let key = self
                .ser
                .out
                .get(self.before_key..self.after_key)
                .unwrap_or_default();
            let seg = match key.strip_prefix('#').and_then(|k| k.strip_suffix(DEL_CHAR)) {
                Some(s) => PathSegment::Key(s.to_owned()),
                None => PathSegment::Other(key.to_owned()),
            };
            return Err(e.within(seg));
        }
        if self.ser.out.len() == self.after_key {
            self.ser.out.truncate(self.before_key);
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        self.ser.depth -= 1;
        self.ser.out.push(DEL_CHAR);
        if self.variant.is_some() {
            self.ser.out.push(DEL_CHAR);
        }
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqSer<'a>;
    type SerializeTuple = SeqSer<'a>;
    type SerializeTupleStruct = SeqSer<'a>;
    type SerializeTupleVariant = SeqSer<'a>;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = MapSer<'a>;
    type SerializeStructVariant = MapSer<'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.push(if v { '+' } else { '-' });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.out.push(if v < 0 { '<' } else { '>' });
        digits::write_u128(&mut self.out, v.unsigned_abs());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.uint(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.out.push('>');
        digits::write_u128(&mut self.out, v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        write_f64(&mut self.out, v, self.factor).map_err(Error::new)
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(v);
        self.str(&encoded)
    }
    fn serialize_none(self) -> Result<()> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        let mut map = self.map(None)?;
        map.before_key = map.ser.out.len();
        map.ser.str(variant)?;
        map.after_key = map.ser.out.len();
        map.value(value)?;
        map.finish()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqSer<'a>> {
        self.seq(None)
    }
    fn serialize_tuple(self, _len: usize) -> Result<SeqSer<'a>> {
        self.seq(None)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<SeqSer<'a>> {
        self.seq(None)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SeqSer<'a>> {
        self.seq(Some(variant))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer<'a>> {
        self.map(None)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer<'a>> {
        self.map(None)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSer<'a>> {
        self.map(Some(variant))
    }
}

impl ser::SerializeSeq for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let variant = self.variant.unwrap_or_default();
        self.element(value)
            .map_err(|e| e.within(PathSegment::Key(variant.to_owned())))
    }
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
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.before_key = self.ser.out.len();
        self.ser.str(key)?;
        self.after_key = self.ser.out.len();
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        let variant = self.variant.unwrap_or_default();
        ser::SerializeStruct::serialize_field(self, key, value)
            .map_err(|e| e.within(PathSegment::Key(variant.to_owned())))
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// Writes map keys: strings, booleans and numbers only.
struct KeySer<'a> {
    ser: &'a mut Serializer,
}

fn bad_key(what: &str) -> Error {
    Error::new(ErrorKind::Message(format!(
        "a map key must be a string, number or boolean, not {what}"
    )))
}

macro_rules! key_forward {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<()> {
            self.ser.$f(v)
        }
    )*};
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    key_forward!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_str: &str, serialize_bytes: &[u8]);

    fn serialize_none(self) -> Result<()> {
        Err(Error::new(ErrorKind::InvalidKey("nil")))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        Err(Error::new(ErrorKind::InvalidKey("nil")))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Err(Error::new(ErrorKind::InvalidKey("nil")))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.ser.str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(bad_key("an enum with data"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(bad_key("a sequence"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(bad_key("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(bad_key("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(bad_key("an enum with data"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Error::new(ErrorKind::TableKey))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(Error::new(ErrorKind::TableKey))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(bad_key("an enum with data"))
    }
}
