//! # sdm-codec
//!
//! The compressed value format of Suphi's DataStore Module (Level 1 /
//! Level 2, Decimals, Safety), byte-compatible with the original Luau code,
//! usable on its own from Rust.
//!
//! Two ways in:
//!
//! - the Luau value model: [`Value`] (nil, boolean, [`Number`], string,
//!   [`Table`]) with [`compress`] and [`decompress`] (or a configured
//!   [`Decoder`]);
//! - serde: [`to_string`] and [`from_str`] write and read any `Serialize` /
//!   `Deserialize` type directly (no detour through [`Value`]).
//!
//! ```
//! use sdm_codec::{compress, decompress, Options, Value};
//!
//! let save = Value::from(serde_json::json!({"Coins": 250, "Inventory": ["Sword", "Shield"]}));
//! let text = compress(&save, &Options::default())?; // Level 2, Decimals 3, Safety on
//! assert_eq!(text, "*#Coins\u{7f}>13#Inventory\u{7f}|#Sword\u{7f}#Shield\u{7f}\u{7f}\u{7f}");
//! assert_eq!(decompress(&text, 3)?, save);
//! # Ok::<(), sdm_codec::Error>(())
//! ```
//!
//! With serde and a derived struct (`None` fields are absent keys, `Vec`s
//! read Level 1 and Level 2 tables, 64-bit integers stay exact):
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use sdm_codec::{from_str, to_string, Level, Options};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct PlayerData {
//!     coins: u64,
//!     title: Option<String>,
//!     inventory: Vec<String>,
//! }
//!
//! let data = PlayerData { coins: u64::MAX, title: None, inventory: vec!["Sword".into()] };
//! for level in [Level::One, Level::Two] {
//!     let text = to_string(&data, &Options { level, ..Options::default() })?;
//!     assert_eq!(from_str::<PlayerData>(&text, 3)?, data);
//! }
//! # Ok::<(), sdm_codec::Error>(())
//! ```
//!
//! Non-integral numbers keep `Decimals` places (`1.23456` reads back as
//! `1.235`); [`expected_roundtrip`] computes what a value reads back as.
//! Errors ([`Error`]) carry the byte offset when reading and the path of
//! the bad value (`Stats.Speed`) when writing. The [`json`] module reads and
//! writes JSON with object order kept, as the CLI and C API need.
#![warn(missing_docs)]
#![deny(unsafe_code)]

#[cfg(feature = "arbitrary")]
mod arbitrary_impls;
mod de;
mod digits;
mod error;
mod format;
pub mod json;
mod number;
mod read;
mod roundtrip;
mod ser;
mod value;
mod write;

#[cfg(feature = "arbitrary")]
pub use arbitrary_impls::MAX_DEPTH as ARBITRARY_MAX_DEPTH;
pub use de::{from_slice, from_str, Deserializer, SERDE_DEPTH_LIMIT};
pub use error::{Error, ErrorKind, Found, PathSegment, Result};
pub use number::Number;
pub use read::Decoder;
pub use roundtrip::expected_roundtrip;
pub use ser::{to_string, to_vec, to_writer, Serializer};
pub use value::{Key, KeyRef, Table, Value};

/// The default nesting limit of the reader (tables inside tables).
pub const DEFAULT_DEPTH_LIMIT: usize = 512;

/// The module's size limit of one key: 4,194,303 JSON characters.
pub const SIZE_LIMIT: usize = 4_194_303;

/// The compression level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// Level 1: every table in the `*` (key, value) form.
    One = 1,
    /// Level 2: non-empty sequences in the shorter `|` form.
    Two = 2,
}

impl TryFrom<u8> for Level {
    type Error = Error;

    fn try_from(v: u8) -> Result<Self> {
        match v {
            1 => Ok(Level::One),
            2 => Ok(Level::Two),
            other => Err(Error::new(ErrorKind::Level(other))),
        }
    }
}

/// Settings of the writer, as the module's `Metadata.Compress` holds them.
///
/// ```
/// let o = sdm_codec::Options::default();
/// assert_eq!((o.level, o.decimals, o.safety), (sdm_codec::Level::Two, 3, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Options {
    /// Level 1 or 2 (default 2).
    pub level: Level,
    /// Decimal places kept of non-integral numbers, 0..=15 (default 3).
    pub decimals: u32,
    /// Replace DEL bytes in strings by spaces (default on); when off, a
    /// string holding DEL is an error.
    pub safety: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            level: Level::Two,
            decimals: 3,
            safety: true,
        }
    }
}

/// Writes a value in the compressed format.
///
/// Nil writes the empty string. NaN, infinities and (with Safety off) strings
/// holding DEL are errors that name the value's path; a Decimals setting
/// above 15 is an error.
///
/// ```
/// use sdm_codec::{compress, Options, Value};
/// assert_eq!(compress(&Value::from(vec![1.5, 2.0]), &Options::default())?, "|)6i>2\u{7f}");
/// # Ok::<(), sdm_codec::Error>(())
/// ```
pub fn compress(value: &Value, options: &Options) -> Result<String> {
    write::compress(value, options)
}

/// Reads the compressed format; `decimals` must be the Decimals it was
/// written with. The empty string reads as nil. Uses the default nesting
/// limit; see [`Decoder`] for another.
///
/// ```
/// let v = sdm_codec::decompress("|)6i>2\u{7f}", 3)?;
/// assert_eq!(v[1].as_f64(), Some(1.5));
/// # Ok::<(), sdm_codec::Error>(())
/// ```
pub fn decompress(text: &str, decimals: u32) -> Result<Value> {
    Decoder::new(decimals).decode(text)
}

/// Reads the compressed format from bytes, checking that strings are UTF-8
/// (for input that is not known to be text, such as a fuzzer's).
pub fn decompress_bytes(bytes: &[u8], decimals: u32) -> Result<Value> {
    Decoder::new(decimals).decode_bytes(bytes)
}
