//! The writer: [`compress`](crate::compress) of a [`Value`] to the compressed
//! text. Iterative (an explicit stack of open tables), so any nesting depth
//! is safe; scalars are written in a tight loop over each table's entries,
//! and only tables go through the stack.

mod out;
mod prefetch;

pub(crate) use out::{Out, Refused, INITIAL_CAPACITY};

use crate::error::{Error, PathSegment, Result};
use crate::format::{factor, DEL, FALSE, POS_INT, SEQUENCE, TABLE, TRUE};
use crate::value::keyed;
use crate::value::{Key, KeyRef, Table, Value};
use crate::{Level, Options};

/// A table being written.
enum Frame<'a> {
    /// The `|` form: the elements, and the index of the next one.
    Seq {
        items: &'a [Value],
        next: usize,
        /// Long enough to prefetch for (see `prefetch`).
        long: bool,
    },
    /// The `*` form: sequence part from `seq_next`, then the keyed part.
    Star {
        seq: &'a [Value],
        seq_next: usize,
        keyed: keyed::Iter<'a>,
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

/// What [`Writer::advance`] came to.
enum Step<'a> {
    /// A table value (its key written), to open next.
    Table(&'a Table),
    /// The frame's end.
    Done,
}

/// The settings of one [`compress`] call.
struct Writer {
    factor: f64,
    level2: bool,
    safety: bool,
}

impl Writer {
    /// Writes a value that is not a table (nil writes nothing).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn scalar(&self, out: &mut Out, v: &Value) -> Result<(), Refused> {
        match v {
            Value::Nil | Value::Table(_) => Ok(()),
            Value::Bool(b) => {
                out.byte(if *b { TRUE } else { FALSE });
                Ok(())
            }
            Value::Number(n) => out.number(*n, self.factor),
            Value::String(s) => out.str(s, self.safety),
        }
    }

    /// Writes a key exactly as a value.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn key(&self, out: &mut Out, key: &Key) -> Result<(), Refused> {
        match key {
            Key::Bool(b) => {
                out.byte(if *b { TRUE } else { FALSE });
                Ok(())
            }
            Key::Number(n) => out.number(*n, self.factor),
            Key::String(s) => out.str(s, self.safety),
        }
    }

    /// Writes a table's tag and returns its frame. A non-empty sequence
    /// writes as `|` at Level 2 unless it holds a nil element (a hole set
    /// through `sequence_mut`). The elements are looked over for holes
    /// first: finding one while writing and writing the table again would
    /// redo the work of every table inside it, once per enclosing table
    /// with a hole (exponential in the depth).
    #[inline]
    fn open<'a>(&self, out: &mut Out, t: &'a Table) -> Frame<'a> {
        if self.level2 && t.is_sequence() && !t.sequence().iter().any(Value::is_nil) {
            out.byte(SEQUENCE);
            let items = t.sequence();
            Frame::Seq {
                items,
                next: 0,
                long: items.len() >= prefetch::LONG,
            }
        } else {
            self.open_star(out, t)
        }
    }

    /// Writes the `*` tag of a table and returns its frame.
    #[inline]
    fn open_star<'a>(&self, out: &mut Out, t: &'a Table) -> Frame<'a> {
        out.byte(TABLE);
        Frame::Star {
            seq: t.sequence(),
            seq_next: 0,
            keyed: t.keyed_iter(),
            current: None,
        }
    }

    /// Writes the frame's entries up to its next table value, which it
    /// returns (its key written), or to the frame's end.
    #[inline]
    fn advance<'a>(&self, out: &mut Out, frame: &mut Frame<'a>) -> Result<Step<'a>, Refused> {
        match frame {
            Frame::Seq { items, next, long } => {
                while let Some(v) = items.get(*next) {
                    *next += 1;
                    if let Value::Table(t) = v {
                        if *long {
                            ahead(items, *next);
                        }
                        return Ok(Step::Table(t));
                    }
                    self.scalar(out, v)?;
                }
            }
            Frame::Star {
                seq,
                seq_next,
                keyed,
                current,
            } => {
                while let Some(v) = seq.get(*seq_next) {
                    *seq_next += 1;
                    if v.is_nil() {
                        continue;
                    }
                    let index = *seq_next as u64;
                    *current = Some(KeyRef::Index(index));
                    out.int(POS_INT, index);
                    if let Value::Table(t) = v {
                        return Ok(Step::Table(t));
                    }
                    self.scalar(out, v)?;
                }
                for (k, v) in keyed.by_ref() {
                    if v.is_nil() {
                        continue;
                    }
                    *current = Some(KeyRef::Key(k));
                    self.key(out, k)?;
                    if let Value::Table(t) = v {
                        return Ok(Step::Table(t));
                    }
                    self.scalar(out, v)?;
                }
            }
        }
        Ok(Step::Done)
    }
}

/// In a long sequence of tables, whose element `next - 1` is about to be
/// written: asks for the buffers of the table [`prefetch::AHEAD`] places
/// on, and for what the entries of the one [`prefetch::NEAR`] places on
/// point at.
#[inline(never)]
fn ahead(items: &[Value], next: usize) {
    if let Some(Value::Table(later)) = items.get(next - 1 + prefetch::AHEAD) {
        prefetch::table(later);
    }
    if let Some(Value::Table(near)) = items.get(next - 1 + prefetch::NEAR) {
        prefetch::entries(near);
    }
}

/// The error `kind` with the path of the open tables.
#[cold]
fn fail(refused: Refused, stack: &[Frame<'_>]) -> Error {
    let mut e = Error::new(refused.into());
    for f in stack.iter().rev() {
        if let Some(seg) = f.segment() {
            e = e.within(seg);
        }
    }
    e
}

/// The writer behind [`compress`](crate::compress).
pub(crate) fn compress(value: &Value, options: &Options) -> Result<String> {
    let w = Writer {
        factor: factor(options.decimals)?,
        level2: options.level == Level::Two,
        safety: options.safety,
    };
    let mut out = Out::with_capacity(INITIAL_CAPACITY);
    let Value::Table(t) = value else {
        w.scalar(&mut out, value)
            .map_err(|r| Error::new(r.into()))?;
        return Ok(out.into_string());
    };
    let mut stack: Vec<Frame<'_>> = Vec::with_capacity(8);
    stack.push(w.open(&mut out, t));
    while let Some(top) = stack.last_mut() {
        match w.advance(&mut out, top) {
            Ok(Step::Table(t)) => {
                let frame = w.open(&mut out, t);
                stack.push(frame);
            }
            Ok(Step::Done) => {
                out.byte(DEL);
                stack.pop();
            }
            Err(refused) => return Err(fail(refused, &stack)),
        }
    }
    Ok(out.into_string())
}

#[cfg(test)]
#[path = "../tests/write.rs"]
mod tests;
