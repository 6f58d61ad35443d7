//! The writer: [`compress`](crate::compress) of a [`Value`] to the compressed
//! text. Iterative (an explicit stack), so any nesting depth is safe.

use crate::digits;
use crate::error::{Error, ErrorKind, PathSegment, Result};
use crate::number::{Number, N};
use crate::value::{Key, KeyRef, Table, Value};
use crate::{Level, Options};

/// The DEL byte that ends strings and tables.
pub(crate) const DEL: u8 = 0x7F;
pub(crate) const DEL_CHAR: char = '\u{7f}';

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

/// Writes a number (either tag and its digits).
#[inline]
pub(crate) fn write_number(out: &mut String, n: Number, factor: f64) -> Result<(), ErrorKind> {
    match n.0 {
        N::PosInt(u) => {
            out.push('>');
            digits::write_u64(out, u);
            Ok(())
        }
        N::NegInt(i) => {
            out.push('<');
            digits::write_u64(out, i.unsigned_abs());
            Ok(())
        }
        N::Float(f) => write_f64(out, f, factor),
    }
}

/// 2^52: every double of this magnitude or more is integral.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// Writes a double: integral ones exactly, others through Decimals.
#[inline]
pub(crate) fn write_f64(out: &mut String, f: f64, factor: f64) -> Result<(), ErrorKind> {
    let a = f.abs();
    if a < TWO_POW_52 {
        // Below 2^52 the integer part is exact as an u64, and so is the
        // fraction a - trunc(a): no libm trunc/round calls needed.
        let t = a as u64;
        if t as f64 == a {
            out.push(if f < 0.0 { '<' } else { '>' });
            digits::write_u64(out, t);
            return Ok(());
        }
        let m = a * factor;
        out.push(if f > 0.0 { ')' } else { '(' });
        if m < TWO_POW_52 {
            // Round half away from zero.
            let t = m as u64;
            let up = m - t as f64 >= 0.5;
            digits::write_u64(out, t + u64::from(up));
        } else {
            digits::write_f64(out, m.round());
        }
        return Ok(());
    }
    if f.is_nan() {
        return Err(ErrorKind::NaN);
    }
    if f.is_infinite() {
        return Err(ErrorKind::Infinity);
    }
    out.push(if f < 0.0 { '<' } else { '>' });
    digits::write_f64(out, a);
    Ok(())
}

/// Writes a string: `#`, the bytes (DEL replaced by a space with Safety),
/// DEL.
#[inline]
pub(crate) fn write_str(out: &mut String, s: &str, safety: bool) -> Result<(), ErrorKind> {
    out.reserve(s.len() + 2);
    out.push('#');
    match crate::read::find_del(s.as_bytes()) {
        None => out.push_str(s),
        Some(_) if !safety => return Err(ErrorKind::DelInString),
        Some(_) => {
            let mut parts = s.split(DEL_CHAR);
            if let Some(first) = parts.next() {
                out.push_str(first);
            }
            for part in parts {
                out.push(' ');
                out.push_str(part);
            }
        }
    }
    out.push(DEL_CHAR);
    Ok(())
}

/// Writes a key exactly as a value.
#[inline]
pub(crate) fn write_key(
    out: &mut String,
    key: &Key,
    factor: f64,
    safety: bool,
) -> Result<(), ErrorKind> {
    match key {
        Key::Bool(b) => {
            out.push(if *b { '+' } else { '-' });
            Ok(())
        }
        Key::Number(n) => write_number(out, *n, factor),
        Key::String(s) => write_str(out, s, safety),
    }
}

/// A table being written.
enum Frame<'a> {
    /// The `|` form: the elements still to write.
    Seq { items: &'a [Value], next: usize },
    /// The `*` form: sequence part from `seq_next`, then the keyed part.
    Star {
        table: &'a Table,
        seq_next: usize,
        keyed: crate::keyed::Iter<'a>,
        current: Option<KeyRef<'a>>,
    },
}

impl Frame<'_> {
    /// The key of the entry being written, as a path segment.
    fn segment(&self) -> Option<PathSegment> {
        match self {
            Frame::Seq { next, .. } => Some(PathSegment::Other(next.to_string())),
            Frame::Star { current, .. } => current.map(|k| segment_of(&k)),
        }
    }
}

/// The path segment naming a key.
pub(crate) fn segment_of(key: &KeyRef<'_>) -> PathSegment {
    match key {
        KeyRef::Key(Key::String(s)) => PathSegment::Key(s.clone()),
        other => PathSegment::Other(match other {
            KeyRef::Key(Key::Bool(b)) => b.to_string(),
            k => k.to_string(),
        }),
    }
}

/// True when the table writes as `|` at Level 2: a non-empty sequence with
/// no nil element (a nil set through `sequence_mut` is a hole).
#[inline]
fn writes_as_sequence(t: &Table) -> bool {
    t.is_sequence() && !t.sequence().iter().any(Value::is_nil)
}

/// The writer behind [`compress`](crate::compress).
pub(crate) fn compress(value: &Value, options: &Options) -> Result<String> {
    let factor = factor(options.decimals)?;
    let level2 = options.level == Level::Two;
    let safety = options.safety;
    let mut out = String::with_capacity(256);
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut cur = value;
    let fail = |kind: ErrorKind, stack: &[Frame<'_>]| -> Error {
        let mut e = Error::new(kind);
        for f in stack.iter().rev() {
            if let Some(seg) = f.segment() {
                e = e.within(seg);
            }
        }
        e
    };
    loop {
        match cur {
            Value::Nil => {}
            Value::Bool(b) => out.push(if *b { '+' } else { '-' }),
            Value::Number(n) => write_number(&mut out, *n, factor).map_err(|k| fail(k, &stack))?,
            Value::String(s) => write_str(&mut out, s, safety).map_err(|k| fail(k, &stack))?,
            Value::Table(t) => {
                if level2 && writes_as_sequence(t) {
                    out.push('|');
                    stack.push(Frame::Seq {
                        items: t.sequence(),
                        next: 0,
                    });
                } else {
                    out.push('*');
                    stack.push(Frame::Star {
                        table: t,
                        seq_next: 0,
                        keyed: t.keyed_iter(),
                        current: None,
                    });
                }
            }
        }
        // Find the next value to write, closing finished tables.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(out);
            };
            match top {
                Frame::Seq { items, next } => {
                    if let Some(v) = items.get(*next) {
                        *next += 1;
                        cur = v;
                        break;
                    }
                }
                Frame::Star {
                    table,
                    seq_next,
                    keyed,
                    current,
                } => {
                    let seq = table.sequence();
                    let mut found = None;
                    while let Some(v) = seq.get(*seq_next) {
                        *seq_next += 1;
                        if !v.is_nil() {
                            found = Some(v);
                            break;
                        }
                    }
                    if let Some(v) = found {
                        let index = *seq_next as u64;
                        *current = Some(KeyRef::Index(index));
                        out.push('>');
                        digits::write_u64(&mut out, index);
                        cur = v;
                        break;
                    }
                    let mut entry = None;
                    for (k, v) in keyed.by_ref() {
                        if !v.is_nil() {
                            entry = Some((k, v));
                            break;
                        }
                    }
                    if let Some((k, v)) = entry {
                        *current = Some(KeyRef::Key(k));
                        if let Err(kind) = write_key(&mut out, k, factor, safety) {
                            return Err(fail(kind, &stack));
                        }
                        cur = v;
                        break;
                    }
                }
            }
            out.push(DEL_CHAR);
            stack.pop();
        }
    }
}

#[cfg(test)]
#[path = "tests/write.rs"]
mod tests;
