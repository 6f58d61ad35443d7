//! [`Out`]: the output of both writers ([`compress`](crate::compress) and
//! the serde [`Serializer`](crate::Serializer)), with the format's scalars.
//!
//! The bytes are UTF-8 by construction (ASCII tags and digits, and whole
//! `&str`s), so turning them into a `String` at the end is one validation
//! pass and never fails. Short pieces (a tag with its digits, a string of up
//! to 16 bytes with its tag and DEL) are written straight into room made for
//! their longest form, then the buffer is cut back to their length: one
//! capacity check and a few stores instead of a call to `memcpy` and a check
//! per byte.

use crate::digits;
use crate::error::ErrorKind;
use crate::format::{del_bits, DEL, NEG_FRAC, NEG_INT, POS_FRAC, POS_INT, STRING};
use crate::number::{Number, N};

/// A scalar the format cannot hold (with these settings). One byte, so a
/// writer's `Result` comes back in a register; it becomes an
/// [`ErrorKind`] (with the value's path) only on the way out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// NaN.
    NaN,
    /// An infinity.
    Infinity,
    /// DEL in a string with Safety off.
    Del,
}

impl From<Refused> for ErrorKind {
    #[cold]
    fn from(r: Refused) -> ErrorKind {
        match r {
            Refused::NaN => ErrorKind::NaN,
            Refused::Infinity => ErrorKind::Infinity,
            Refused::Del => ErrorKind::DelInString,
        }
    }
}

/// 2^52: every double of this magnitude or more is integral.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// The room a writer starts with: a small save fits without growing (each
/// growth is an allocation and a copy), and the allocation costs the same
/// as a smaller one.
pub(crate) const INITIAL_CAPACITY: usize = 1024;

/// Strings up to this length take the fixed-size path.
const SHORT: usize = 16;

/// The output buffer of the writers.
#[derive(Debug, Default)]
pub(crate) struct Out {
    buf: Vec<u8>,
}

impl Out {
    /// An empty buffer with room for `n` bytes.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Out {
            buf: Vec::with_capacity(n),
        }
    }

    /// The bytes written so far.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes are written.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Cuts the output back to `len` bytes (a place it had before).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Appends bytes (a whole string's, or text the writers wrote).
    #[inline]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Replaces everything from `at` on by `tail`.
    pub(crate) fn replace_from(&mut self, at: usize, tail: &[u8]) {
        self.truncate(at);
        self.extend(tail);
    }

    /// The text. Never lossy: every byte came from a `&str` or is ASCII.
    pub(crate) fn into_string(self) -> String {
        match String::from_utf8(self.buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// Writes a short piece of at most `L` bytes straight into the buffer:
    /// makes room for `L` bytes (one capacity check and one fixed-size
    /// store of zeros), lets `f` write into them and say how many it used,
    /// and cuts the rest off. Built in place, the piece is never reloaded
    /// from a scratch array (whose byte stores a wide load would have to
    /// wait for).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn piece<const L: usize>(&mut self, f: impl FnOnce(&mut [u8; L]) -> usize) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0u8; L]);
        let used = match self.buf.get_mut(at..).map(<&mut [u8; L]>::try_from) {
            Some(Ok(room)) => f(room),
            _ => L,
        };
        self.buf.truncate(at + used);
    }

    /// Appends one byte (a tag or DEL).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Appends a tag and the digits of `n`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn int(&mut self, tag: u8, n: u64) {
        self.piece(|room: &mut [u8; 16]| {
            room[0] = tag;
            digits::encode_u64(room, 1, n)
        });
    }

    /// Appends a tag and the digits of a wide integer.
    pub(crate) fn int128(&mut self, tag: u8, n: u128) {
        let mut digits = Vec::with_capacity(24);
        digits.push(tag);
        digits::write_u128(&mut digits, n);
        self.extend(&digits);
    }

    /// Appends a number (its tag and digits).
    #[inline]
    pub(crate) fn number(&mut self, n: Number, factor: f64) -> Result<(), Refused> {
        match n.0 {
            N::PosInt(u) => {
                self.int(POS_INT, u);
                Ok(())
            }
            N::NegInt(i) => {
                self.int(NEG_INT, i.unsigned_abs());
                Ok(())
            }
            N::Float(f) => self.float(f, factor),
        }
    }

    /// Appends a double: integral ones exactly, others through Decimals
    /// (`factor` = 10^Decimals). NaN and infinities are errors.
    #[inline]
    pub(crate) fn float(&mut self, f: f64, factor: f64) -> Result<(), Refused> {
        let a = f.abs();
        if a < TWO_POW_52 {
            // Adding 2^52 rounds `a` to the nearest integer (ties to even)
            // and leaves that integer in the low mantissa bits: no
            // conversions between doubles and integers, no libm calls.
            let big = a + TWO_POW_52;
            if big - TWO_POW_52 == a {
                self.int(if f < 0.0 { NEG_INT } else { POS_INT }, mantissa(big));
                return Ok(());
            }
            let m = a * factor;
            let tag = if f > 0.0 { POS_FRAC } else { NEG_FRAC };
            if m < TWO_POW_52 {
                // Round half away from zero: the nearest integer, plus one
                // where m sat exactly halfway and ties-to-even went down
                // (r - m is exact: r and m are within 1/2 of each other).
                let big = m + TWO_POW_52;
                let r = big - TWO_POW_52;
                self.int(tag, mantissa(big) + u64::from(r - m == -0.5));
            } else {
                self.big(tag, m.round());
            }
            return Ok(());
        }
        if f.is_nan() {
            return Err(Refused::NaN);
        }
        if f.is_infinite() {
            return Err(Refused::Infinity);
        }
        self.big(if f < 0.0 { NEG_INT } else { POS_INT }, a);
        Ok(())
    }

    /// Appends a tag and the exact digits of a large integral double.
    #[cold]
    fn big(&mut self, tag: u8, f: f64) {
        let mut digits = Vec::with_capacity(32);
        digits.push(tag);
        digits::write_f64(&mut digits, f);
        self.extend(&digits);
    }

    /// Appends a string: `#`, the bytes (DEL replaced by a space with
    /// Safety; without it DEL is an error), DEL. The short path is inlined
    /// into the writers; long strings and strings holding DEL go out of line.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn str(&mut self, s: &str, safety: bool) -> Result<(), Refused> {
        let b = s.as_bytes();
        let n = b.len();
        if n <= SHORT {
            // `#`, up to 16 bytes, DEL: DEL looked for in the words that
            // are copied (two overlapping ones cover the string).
            let found = if n >= 8 {
                let (lo, hi) = (word(b, 0), word(b, n - 8));
                del_bits(lo) | del_bits(hi)
            } else if n >= 4 {
                // Zero padding is never DEL.
                del_bits(u64::from(half(b, 0)) | (u64::from(half(b, n - 4)) << 32))
            } else {
                u64::from(b.contains(&DEL))
            };
            if found == 0 {
                // As `piece` does, without a closure (this one is too big
                // for the compiler to inline on its own).
                let at = self.buf.len();
                self.buf.extend_from_slice(&[0u8; SHORT + 2]);
                if let Some(Ok(room)) = self.buf.get_mut(at..).map(<&mut [u8; SHORT + 2]>::try_from)
                {
                    room[0] = STRING;
                    if n >= 8 {
                        room[1..9].copy_from_slice(&word(b, 0).to_le_bytes());
                        room[n - 7..n + 1].copy_from_slice(&word(b, n - 8).to_le_bytes());
                    } else if n >= 4 {
                        room[1..5].copy_from_slice(&half(b, 0).to_le_bytes());
                        room[n - 3..n + 1].copy_from_slice(&half(b, n - 4).to_le_bytes());
                    } else {
                        for (i, &c) in b.iter().enumerate() {
                            room[1 + i] = c;
                        }
                    }
                    room[n + 1] = DEL;
                }
                self.buf.truncate(at + n + 2);
                return Ok(());
            }
        }
        self.str_long(b, safety)
    }

    /// [`Out::str`] of a long string, or of one holding DEL.
    #[inline(never)]
    fn str_long(&mut self, b: &[u8], safety: bool) -> Result<(), Refused> {
        let first = memchr::memchr(DEL, b);
        if first.is_some() && !safety {
            return Err(Refused::Del);
        }
        self.byte(STRING);
        let start = self.len();
        self.extend(b);
        if first.is_some() {
            if let Some(written) = self.buf.get_mut(start..) {
                for c in written.iter_mut().filter(|c| **c == DEL) {
                    *c = b' ';
                }
            }
        }
        self.byte(DEL);
        Ok(())
    }
}

/// The integer `x - 2^52` of a double `x` in [2^52, 2^53), where doubles
/// are exactly the integers: its mantissa bits.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn mantissa(x: f64) -> u64 {
    x.to_bits() - TWO_POW_52.to_bits()
}

/// The `N` bytes at `at` (`at + N <= b.len()`, which the callers check).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn bytes_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut w = [0u8; N];
    w.copy_from_slice(&b[at..at + N]);
    w
}

/// The eight bytes at `at` as a little-endian word.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes_at(b, at))
}

/// The four bytes at `at` as a little-endian word.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn half(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes_at(b, at))
}

#[cfg(test)]
#[path = "tests/out.rs"]
mod tests;
