//! [`Number`]: a Luau number (an IEEE double) that keeps 64-bit integers exact.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A Luau number.
///
/// Luau has one number type, the IEEE double. Rust programs often hold 64-bit
/// integers, so a `Number` keeps an `i64`/`u64` it was given exactly (the
/// format writes exact digits at every size) and otherwise holds an `f64`.
///
/// Equality and hashing follow the mathematical value: `Number::from(3u64)`
/// equals `Number::from(3.0)`, and `-0.0` equals `0` (as Luau table keys do).
/// Use [`Number::as_f64`] and `f64::to_bits` to tell `-0.0` from `0`.
///
/// ```
/// use sdm_codec::Number;
/// assert_eq!(Number::from(3u64), Number::from(3.0));
/// assert_eq!(Number::from(u64::MAX).as_u64(), Some(u64::MAX));
/// assert!(Number::from(2.5).as_i64().is_none());
/// ```
#[derive(Clone, Copy)]
pub struct Number(pub(crate) N);

#[derive(Clone, Copy, Debug)]
pub(crate) enum N {
    PosInt(u64),
    /// Always negative.
    NegInt(i64),
    Float(f64),
}

const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl Number {
    /// The number as a double (the nearest one for integers beyond 2^53).
    #[inline]
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        }
    }

    /// The number as an `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.canonical() {
            Canon::Pos(u) => i64::try_from(u).ok(),
            Canon::Neg(i) => Some(i),
            Canon::Float(_) => None,
        }
    }

    /// The number as a `u64`, when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.canonical() {
            Canon::Pos(u) => Some(u),
            _ => None,
        }
    }

    /// True for finite numbers (the format cannot write NaN or infinity).
    pub fn is_finite(&self) -> bool {
        match self.0 {
            N::Float(f) => f.is_finite(),
            _ => true,
        }
    }

    /// True for NaN.
    pub fn is_nan(&self) -> bool {
        matches!(self.0, N::Float(f) if f.is_nan())
    }

    /// True when the number has no fractional part (`n % 1 == 0`), which
    /// decides between the integral and the fractional tags.
    pub fn is_integral(&self) -> bool {
        match self.0 {
            N::Float(f) => f.is_finite() && f.fract() == 0.0,
            _ => true,
        }
    }

    /// The integer value when it fits an `i64`/`u64` exactly, whatever its
    /// representation; `-0.0` counts as `0`.
    pub(crate) fn canonical(&self) -> Canon {
        match self.0 {
            N::PosInt(u) => Canon::Pos(u),
            N::NegInt(i) => Canon::Neg(i),
            N::Float(f) => {
                if f.fract() == 0.0 && f.is_finite() {
                    if f >= 0.0 || f == 0.0 {
                        if f < TWO_POW_64 {
                            return Canon::Pos(f as u64);
                        }
                    } else if f >= -TWO_POW_63 {
                        return Canon::Neg(f as i64);
                    }
                }
                Canon::Float(f)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Canon {
    Pos(u64),
    Neg(i64),
    Float(f64),
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self.canonical(), other.canonical()) {
            (Canon::Pos(a), Canon::Pos(b)) => a == b,
            (Canon::Neg(a), Canon::Neg(b)) => a == b,
            (Canon::Float(a), Canon::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        }
    }
}

/// NaN equals NaN here so that `Number` can be a map key; the format never
/// stores a NaN key.
impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.canonical() {
            Canon::Pos(u) => {
                state.write_u8(0);
                state.write_u64(u);
            }
            Canon::Neg(i) => {
                state.write_u8(1);
                state.write_i64(i);
            }
            Canon::Float(f) => {
                state.write_u8(2);
                let bits = if f.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    f.to_bits()
                };
                state.write_u64(bits);
            }
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            N::PosInt(u) => write!(f, "{u}"),
            N::NegInt(i) => write!(f, "{i}"),
            N::Float(x) => write!(f, "{x:?}"),
        }
    }
}

impl From<f64> for Number {
    #[inline]
    fn from(f: f64) -> Self {
        Number(N::Float(f))
    }
}

impl From<f32> for Number {
    #[inline]
    fn from(f: f32) -> Self {
        Number(N::Float(f64::from(f)))
    }
}

impl From<u64> for Number {
    #[inline]
    fn from(u: u64) -> Self {
        Number(N::PosInt(u))
    }
}

impl From<i64> for Number {
    #[inline]
    fn from(i: i64) -> Self {
        if i < 0 {
            Number(N::NegInt(i))
        } else {
            Number(N::PosInt(i as u64))
        }
    }
}

macro_rules! from_small {
    ($($t:ty => $via:ty),*) => {$(
        impl From<$t> for Number {
            #[inline]
            fn from(v: $t) -> Self {
                Number::from(<$via>::from(v))
            }
        }
    )*};
}
from_small!(u8 => u64, u16 => u64, u32 => u64, i8 => i64, i16 => i64, i32 => i64);

impl From<usize> for Number {
    #[inline]
    fn from(v: usize) -> Self {
        Number::from(v as u64)
    }
}

impl From<isize> for Number {
    #[inline]
    fn from(v: isize) -> Self {
        Number::from(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_follows_value() {
        assert_eq!(Number::from(0u64), Number::from(-0.0));
        assert_eq!(Number::from(-5i64), Number::from(-5.0));
        assert_ne!(Number::from(2.5), Number::from(2u64));
        assert_eq!(Number::from(1e20), Number::from(1e20));
        assert_eq!(Number::from(-TWO_POW_63).as_i64(), Some(i64::MIN));
    }
}
