//! `arbitrary::Arbitrary` for the value model (feature `arbitrary`), for
//! fuzzing: finite numbers only (no NaN, no infinities), any UTF-8 strings
//! (DEL included), tables nested at most [`MAX_DEPTH`] deep.

use crate::{Key, Number, Table, Value};
use arbitrary::{Arbitrary, Result, Unstructured};

/// How deep generated tables nest.
pub const MAX_DEPTH: usize = 6;

fn finite(u: &mut Unstructured<'_>) -> Result<f64> {
    let f = f64::arbitrary(u)?;
    Ok(if f.is_finite() { f } else { 0.0 })
}

impl<'a> Arbitrary<'a> for Number {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=3u8)? {
            0 => Number::from(u64::arbitrary(u)?),
            1 => Number::from(i64::arbitrary(u)?),
            2 => Number::from(f64::from(i32::arbitrary(u)?) / 8.0),
            _ => Number::from(finite(u)?),
        })
    }
}

impl<'a> Arbitrary<'a> for Key {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=3u8)? {
            0 => Key::Bool(bool::arbitrary(u)?),
            1 => Key::Number(Number::arbitrary(u)?),
            2 => Key::from(u64::from(u.int_in_range(1..=6u8)?)),
            _ => Key::String(String::arbitrary(u)?),
        })
    }
}

fn value(u: &mut Unstructured<'_>, depth: usize) -> Result<Value> {
    let top = if depth < MAX_DEPTH { 4 } else { 3 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Bool(bool::arbitrary(u)?),
        1 => Value::Number(Number::arbitrary(u)?),
        2 => Value::String(String::arbitrary(u)?),
        3 => Value::Number(Number::arbitrary(u)?),
        _ => Value::Table(table(u, depth + 1)?),
    })
}

fn table(u: &mut Unstructured<'_>, depth: usize) -> Result<Table> {
    let mut t = Table::new();
    let n = u.int_in_range(0..=8u8)?;
    if bool::arbitrary(u)? {
        for _ in 0..n {
            t.push(value(u, depth)?);
        }
    } else {
        for _ in 0..n {
            let k = Key::arbitrary(u)?;
            t.insert(k, value(u, depth)?);
        }
    }
    Ok(t)
}

impl<'a> Arbitrary<'a> for Table {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        table(u, 1)
    }
}

impl<'a> Arbitrary<'a> for Value {
    /// Any value the format can write (nil at top level included).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        if u.ratio(1, 16)? {
            return Ok(Value::Nil);
        }
        value(u, 0)
    }
}
