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

mod compound;
mod key;

pub use compound::{MapSer, SeqSer};

use crate::error::{Error, ErrorKind, Result};
use crate::format::{factor, FALSE, NEG_INT, POS_INT, SEQUENCE, TABLE, TRUE};
use crate::write::{Out, Refused, INITIAL_CAPACITY};
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

/// The error of tables nested deeper than the limit.
#[cold]
fn too_deep() -> Error {
    Error::new(ErrorKind::DepthLimit(DEFAULT_DEPTH_LIMIT))
}

/// The error of a scalar the format cannot hold.
#[cold]
fn refused(r: Refused) -> Error {
    Error::new(r.into())
}

/// The serializer behind [`to_string`]; use it through `&mut Serializer`.
#[derive(Debug)]
pub struct Serializer {
    out: Out,
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
            out: Out::with_capacity(INITIAL_CAPACITY),
            factor: factor(options.decimals)?,
            level2: options.level == Level::Two,
            safety: options.safety,
            depth: 0,
        })
    }

    /// The text written so far.
    pub fn into_string(self) -> String {
        self.out.into_string()
    }

    #[inline]
    fn uint(&mut self, u: u64) {
        self.out.int(POS_INT, u);
    }

    #[inline]
    fn int(&mut self, i: i64) {
        self.out
            .int(if i < 0 { NEG_INT } else { POS_INT }, i.unsigned_abs());
    }

    #[inline]
    fn str(&mut self, s: &str) -> Result<()> {
        self.out.str(s, self.safety).map_err(refused)
    }

    /// Starts `*#variant DEL` of an enum's content.
    fn variant_key(&mut self, variant: &str) -> Result<()> {
        self.out.byte(TABLE);
        self.str(variant)
    }

    /// Opens a table; serde recursion is bounded by the codec's nesting
    /// limit, as the reader's is. This and the methods that open tables
    /// are inlined: the compound they return inside a `Result` would
    /// otherwise go through memory in pieces and be read back whole, which
    /// stalls.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn enter(&mut self) -> Result<()> {
        if self.depth >= DEFAULT_DEPTH_LIMIT {
            return Err(too_deep());
        }
        self.depth += 1;
        Ok(())
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn seq(&mut self, variant: Option<&'static str>) -> Result<SeqSer<'_>> {
        self.enter()?;
        if let Some(v) = variant {
            self.variant_key(v)?;
        }
        let start = self.out.len();
        let star = !self.level2;
        self.out.byte(if star { TABLE } else { SEQUENCE });
        Ok(SeqSer {
            ser: self,
            start,
            index: 0,
            star,
            hole: false,
            variant,
        })
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn map(&mut self, variant: Option<&'static str>) -> Result<MapSer<'_>> {
        self.enter()?;
        if let Some(v) = variant {
            self.variant_key(v)?;
        }
        self.out.byte(TABLE);
        Ok(MapSer {
            ser: self,
            before_key: 0,
            after_key: 0,
            variant,
        })
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

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.byte(if v { TRUE } else { FALSE });
        Ok(())
    }
    #[inline]
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.out
            .int128(if v < 0 { NEG_INT } else { POS_INT }, v.unsigned_abs());
        Ok(())
    }
    #[inline]
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.uint(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.out.int128(POS_INT, v);
        Ok(())
    }
    #[inline]
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(v.into())
    }
    #[inline]
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.out.float(v, self.factor).map_err(refused)
    }
    #[inline]
    fn serialize_char(self, v: char) -> Result<()> {
        self.str(v.encode_utf8(&mut [0; 4]))
    }
    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(v);
        self.str(&encoded)
    }
    #[inline]
    fn serialize_none(self) -> Result<()> {
        Ok(())
    }
    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    #[inline]
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }
    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }
    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.str(variant)
    }
    #[inline]
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
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqSer<'a>> {
        self.seq(None)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn serialize_tuple(self, _len: usize) -> Result<SeqSer<'a>> {
        self.seq(None)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
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
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer<'a>> {
        self.map(None)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
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
