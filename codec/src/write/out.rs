//! [`Out`]: the output of both writers ([`compress`](crate::compress) and
//! the serde [`Serializer`](crate::Serializer)), with the format's scalars.
//!
//! Short pieces (a tag with its digits, a string of up to 16 bytes with its
//! tag and DEL) are written straight into the buffer's spare capacity, room
//! reserved for their longest form, and the length then set to the bytes
//! written: one capacity check and a few stores, no `memcpy` call, no check
//! per byte, no zeroing.
//!
//! This is the codec's only `unsafe` code touching memory (two `set_len`
//! calls and one `from_utf8_unchecked`), each with its proof beside it (the
//! other `unsafe` block, in `write/prefetch.rs`, is a cache hint that reads
//! nothing). Debug builds (the
//! tests and the fuzz targets `roundtrip` and `serde_roundtrip`, which drive
//! both writers through every path here) check the invariants again.

use std::mem::MaybeUninit;

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
///
/// Invariant: `buf` is UTF-8 unless `verify` is set. Every byte comes from
/// a `&str` copied whole ([`Out::str`]), from the ASCII tags, digits and DEL
/// the writers write ([`Out::byte`], [`Out::int`], checked to be ASCII where
/// the compiler cannot fold the check away), or from [`Out::extend`] of
/// arbitrary bytes, which sets `verify`: then [`Out::into_string`] checks.
/// [`Out::truncate`] cuts between pieces, and sets `verify` if a cut ever
/// fell inside a character.
#[derive(Debug, Default)]
pub(crate) struct Out {
    buf: Vec<u8>,
    /// Bytes were added whose UTF-8 nobody proved (rare paths).
    verify: bool,
}

impl Out {
    /// An empty buffer with room for `n` bytes.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Out {
            buf: Vec::with_capacity(n),
            verify: false,
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

    /// Cuts the output back to `len` bytes (a place it had before, so
    /// between two pieces; a cut inside a character would bring the final
    /// UTF-8 check back).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn truncate(&mut self, len: usize) {
        // A byte 0x80..=0xBF continues a character: cutting before it
        // would leave the character's first bytes at the end.
        self.verify |= self.buf.get(len).is_some_and(|&b| (b as i8) < -0x40);
        self.buf.truncate(len);
    }

    /// Appends bytes (text the writers wrote, moved about); they are
    /// checked to be UTF-8 at the end.
    #[inline]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.verify = true;
        self.buf.extend_from_slice(bytes);
    }

    /// Replaces everything from `at` on by `tail`.
    pub(crate) fn replace_from(&mut self, at: usize, tail: &[u8]) {
        self.truncate(at);
        self.extend(tail);
    }

    /// The text.
    pub(crate) fn into_string(self) -> String {
        if self.verify {
            return match String::from_utf8(self.buf) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
        }
        debug_assert!(std::str::from_utf8(&self.buf).is_ok());
        // SAFETY: `verify` is unset, so by the invariant of `Out` every
        // byte came from a whole `&str` or is ASCII, and a sequence of
        // UTF-8 strings and ASCII bytes is UTF-8.
        #[allow(unsafe_code)]
        unsafe {
            String::from_utf8_unchecked(self.buf)
        }
    }

    /// The `L` bytes of spare capacity after the written bytes (reserved
    /// first: one capacity check), to write a piece into in place.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn room<const L: usize>(&mut self) -> &mut [MaybeUninit<u8>; L] {
        self.buf.reserve(L);
        let spare = self.buf.spare_capacity_mut();
        // ok: `reserve(L)` left at least L bytes of spare capacity, so
        // neither the slice nor the conversion can fail.
        let room: &mut [MaybeUninit<u8>] = &mut spare[..L];
        room.try_into().expect("L bytes") // ok: a slice of exactly L bytes
    }

    /// Marks the first `used` bytes of the room [`Out::room`] gave as
    /// written.
    ///
    /// # Safety
    ///
    /// The caller wrote every one of those bytes, and they are UTF-8 (or
    /// ASCII) as the invariant of `Out` asks; `used` is at most the room's
    /// length.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    #[allow(unsafe_code)]
    unsafe fn written(&mut self, used: usize) {
        let len = self.buf.len() + used;
        debug_assert!(len <= self.buf.capacity());
        // SAFETY: the bytes up to `len` are within the capacity (the room
        // lies in it) and initialized (the caller wrote them).
        unsafe { self.buf.set_len(len) };
        debug_assert!(std::str::from_utf8(&self.buf[len - used..]).is_ok());
    }

    /// Appends one byte (a tag or DEL).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn byte(&mut self, b: u8) {
        // Folded away: every caller passes a tag constant or DEL.
        self.verify |= !b.is_ascii();
        self.buf.push(b);
    }

    /// Appends a tag and the digits of `n`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn int(&mut self, tag: u8, n: u64) {
        // Folded away: every caller passes a tag constant.
        self.verify |= !tag.is_ascii();
        let room = self.room::<16>();
        room[0] = MaybeUninit::new(tag);
        // Writes room[1..used] (see `encode_u64`), ASCII digits only.
        let used = digits::encode_u64(room, 1, n);
        // SAFETY: room[0] and room[1..used] are written, ASCII; used <= 12
        // (a u64 has at most 11 base-83 digits).
        #[allow(unsafe_code)]
        unsafe {
            self.written(used.min(16))
        };
    }

    /// Appends a tag and the digits of a wide integer.
    pub(crate) fn int128(&mut self, tag: u8, n: u128) {
        let mut digits = Vec::with_capacity(24);
        digits.push(tag);
        digits::write_u128(&mut digits, n);
        self.extend(&digits);
    }

    /// Appends a number (its tag and digits).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
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
            } else if n > 0 {
                // 1 to 3 bytes: the first, the middle and the last are
                // all of them (no call to a general search).
                del_bits(u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16))
            } else {
                0
            };
            if found == 0 {
                let room = self.room::<{ SHORT + 2 }>();
                room[0] = MaybeUninit::new(STRING);
                if n >= 8 {
                    // room[1..9] and room[n-7..n+1]: all of room[1..n+1]
                    // (n - 7 <= 9), the string's bytes in order.
                    put(room, 1, word(b, 0).to_le_bytes());
                    put(room, n - 7, word(b, n - 8).to_le_bytes());
                } else if n >= 4 {
                    // room[1..5] and room[n-3..n+1]: all of room[1..n+1].
                    put(room, 1, half(b, 0).to_le_bytes());
                    put(room, n - 3, half(b, n - 4).to_le_bytes());
                } else if n > 0 {
                    // room[1], room[1 + n/2] and room[n]: all of
                    // room[1..n+1] for n <= 3.
                    room[1] = MaybeUninit::new(b[0]);
                    room[1 + n / 2] = MaybeUninit::new(b[n / 2]);
                    room[n] = MaybeUninit::new(b[n - 1]);
                }
                room[n + 1] = MaybeUninit::new(DEL);
                // SAFETY: room[0..n+2] is written (above): `#`, the bytes
                // of the `&str` `s` whole and in order, DEL; n + 2 <= 18.
                #[allow(unsafe_code)]
                unsafe {
                    self.written(n + 2)
                };
                return Ok(());
            }
        }
        self.str_long(s, safety)
    }

    /// [`Out::str`] of a long string, or of one holding DEL.
    #[inline(never)]
    fn str_long(&mut self, s: &str, safety: bool) -> Result<(), Refused> {
        let b = s.as_bytes();
        let first = memchr::memchr(DEL, b);
        if first.is_some() && !safety {
            return Err(Refused::Del);
        }
        self.byte(STRING);
        let start = self.len();
        // A whole `&str`: UTF-8, and so is it with each DEL (ASCII, never
        // part of a longer character) made a space.
        self.buf.extend_from_slice(b);
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

/// Writes `bytes` into `room` from `at` (one store of `N` bytes).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn put<const L: usize, const N: usize>(room: &mut [MaybeUninit<u8>; L], at: usize, bytes: [u8; N]) {
    // ok: the callers' string lengths keep `at + N` within the room (the
    // compiler sees it and drops the check); were it not so, this would
    // stop here, before the length covers bytes never written.
    let dst: &mut [MaybeUninit<u8>] = &mut room[at..at + N];
    let dst: &mut [MaybeUninit<u8>; N] = dst.try_into().expect("N bytes"); // ok: exactly N bytes
    *dst = bytes.map(MaybeUninit::new);
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
