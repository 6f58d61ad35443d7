//! What the reader and the writers share about the format itself: the tag
//! bytes, DEL, the Decimals factor, and the search for DEL.

use crate::error::{Error, ErrorKind, Result};

/// The DEL byte that ends strings and tables.
pub(crate) const DEL: u8 = 0x7F;

/// `false`.
pub(crate) const FALSE: u8 = b'-';
/// `true`.
pub(crate) const TRUE: u8 = b'+';
/// A non-negative integral number.
pub(crate) const POS_INT: u8 = b'>';
/// A negative integral number (its digits hold the magnitude).
pub(crate) const NEG_INT: u8 = b'<';
/// A positive non-integral number (digits / 10^Decimals).
pub(crate) const POS_FRAC: u8 = b')';
/// A negative non-integral number.
pub(crate) const NEG_FRAC: u8 = b'(';
/// A string, ended by DEL.
pub(crate) const STRING: u8 = b'#';
/// A sequence (Level 2), ended by DEL.
pub(crate) const SEQUENCE: u8 = b'|';
/// A table of key, value pairs, ended by DEL.
pub(crate) const TABLE: u8 = b'*';

/// True for the bytes that may follow a number: a tag or DEL.
#[inline]
pub(crate) fn ends_number(b: u8) -> bool {
    matches!(
        b,
        FALSE | TRUE | POS_INT | NEG_INT | POS_FRAC | NEG_FRAC | STRING | SEQUENCE | TABLE | DEL
    )
}

/// 10^d for d in 0..=15, each exact as a double.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The factor f = 10^decimals, or the Decimals error.
pub(crate) fn factor(decimals: u32) -> Result<f64> {
    POW10
        .get(decimals as usize)
        .copied()
        .ok_or_else(|| Error::new(ErrorKind::Decimals(decimals)))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const DELS: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// The DEL bytes of a little-endian word of eight bytes, as the high bit of
/// each such byte's place. Exact at the lowest one (a borrow only runs
/// upwards), so `trailing_zeros / 8` is the first DEL's index.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn del_bits(word: u64) -> u64 {
    let x = word ^ DELS;
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The word of the eight bytes at `at` (little-endian), when there are
/// eight bytes there.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at + 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    Some(u64::from_le_bytes(word))
}

/// The first DEL in `bytes`: the first 32 bytes a word at a time (most keys
/// and values are short strings, and `bytes` is usually the whole rest of
/// the input), memchr beyond.
#[inline]
pub(crate) fn find_del(bytes: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    let mut at = 0;
    while at < SHORT {
        let Some(word) = word_at(bytes, at) else {
            return bytes
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == DEL))
                .map(|i| at + i);
        };
        let found = del_bits(word);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr(DEL, bytes.get(SHORT..)?).map(|i| SHORT + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_del_at_every_offset() {
        for len in 0..80 {
            let mut bytes = vec![b'a'; len];
            assert_eq!(find_del(&bytes), None, "{len}");
            for at in 0..len {
                bytes.fill(b'a');
                bytes[at] = DEL;
                if at + 1 < len {
                    bytes[at + 1] = DEL;
                }
                assert_eq!(find_del(&bytes), Some(at), "{len} {at}");
            }
        }
    }

    #[test]
    fn every_tag_ends_a_number() {
        for b in *b"-+><)(#|*\x7f" {
            assert!(ends_number(b));
        }
        assert!(!ends_number(b'0'));
    }
}
