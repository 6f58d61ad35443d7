//! The reader: compressed text to a [`Value`]. Strict, iterative (an explicit
//! stack instead of recursion, so no input can overflow the stack), linear in
//! time and memory.

use std::cell::Cell;

use crate::digits::{self, Digits};
use crate::error::{Error, ErrorKind, Found, Result};
use crate::format::{ends_number, factor, find_del, DEL};
use crate::number::{Number, N};
use crate::value::keyed::SMALL;
use crate::value::{Key, Table, Value};
use crate::DEFAULT_DEPTH_LIMIT;

/// A configurable reader of the compressed format.
///
/// ```
/// use sdm_codec::{Decoder, ErrorKind};
/// let reader = Decoder::new(3).depth_limit(2);
/// assert!(reader.decode("||>1\u{7f}\u{7f}").is_ok());
/// let err = reader.decode("|||>1\u{7f}\u{7f}\u{7f}").unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::DepthLimit(2));
/// assert_eq!(err.offset(), Some(2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoder {
    decimals: u32,
    depth_limit: usize,
}

impl Decoder {
    /// A reader for text written with this Decimals setting, with the
    /// default nesting limit ([`DEFAULT_DEPTH_LIMIT`]).
    pub fn new(decimals: u32) -> Self {
        Decoder {
            decimals,
            depth_limit: DEFAULT_DEPTH_LIMIT,
        }
    }

    /// Sets the nesting limit: how many tables may nest inside each other.
    ///
    /// Reading is iterative, so any limit is safe for the reader itself;
    /// note that dropping (or cloning, comparing, serializing) a value is
    /// recursive, so values nested tens of thousands deep need a big stack.
    pub fn depth_limit(mut self, limit: usize) -> Self {
        self.depth_limit = limit;
        self
    }

    /// Reads a value from text.
    pub fn decode(&self, text: &str) -> Result<Value> {
        parse(&StrSource(text), factor(self.decimals)?, self.depth_limit)
    }

    /// Reads a value from bytes, checking that every string is UTF-8.
    pub fn decode_bytes(&self, bytes: &[u8]) -> Result<Value> {
        parse(&ByteSource(bytes), factor(self.decimals)?, self.depth_limit)
    }
}

/// Where the reader gets its bytes and string slices.
pub(crate) trait Source<'a> {
    /// The whole input.
    fn bytes(&self) -> &'a [u8];
    /// The string between two offsets (both next to ASCII bytes).
    fn string(&self, start: usize, end: usize) -> Result<&'a str>;
}

/// Input already known to be UTF-8.
pub(crate) struct StrSource<'a>(pub(crate) &'a str);

impl<'a> Source<'a> for StrSource<'a> {
    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    #[inline]
    fn string(&self, start: usize, end: usize) -> Result<&'a str> {
        self.0.get(start..end).ok_or_else(|| invalid_utf8(start))
    }
}

/// Raw bytes: strings are checked.
pub(crate) struct ByteSource<'a>(pub(crate) &'a [u8]);

impl<'a> Source<'a> for ByteSource<'a> {
    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.0
    }

    #[inline]
    fn string(&self, start: usize, end: usize) -> Result<&'a str> {
        let raw = self.0.get(start..end).unwrap_or_default();
        std::str::from_utf8(raw).map_err(|e| invalid_utf8(start + e.valid_up_to()))
    }
}

/// The unexpected-byte error at `pos`.
#[cold]
pub(crate) fn unexpected(bytes: &[u8], pos: usize, expected: &'static str) -> Error {
    let found = bytes.get(pos).map_or(Found::End, |&b| Found::Byte(b));
    Error::at(ErrorKind::Unexpected { expected, found }, pos)
}

/// The error of a digit run too large for a double, at `pos`.
#[cold]
fn out_of_range(pos: usize) -> Error {
    Error::at(ErrorKind::NumberOutOfRange, pos)
}

/// The error of a string whose bytes are not UTF-8.
#[cold]
pub(crate) fn invalid_utf8(at: usize) -> Error {
    Error::at(ErrorKind::InvalidUtf8, at)
}

/// Reads the digit run after a number tag at `pos`; returns the run's value
/// and the offset after it. Always inlined, as are the other helpers of the
/// hot paths: a `Result` this large would go through memory, and reading
/// back the pieces a callee stored costs more than the work itself.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn number_digits(bytes: &[u8], pos: usize) -> Result<(Digits, usize)> {
    let (d, end) = digits::read(bytes, pos + 1);
    let Some(d) = d else {
        return Err(out_of_range(pos));
    };
    if let Some(&b) = bytes.get(end) {
        if !ends_number(b) {
            return Err(unexpected(bytes, end, "a base-83 digit, a tag or DEL"));
        }
    }
    Ok((d, end))
}

/// The number a numeric tag and its digits stand for.
#[inline]
pub(crate) fn number_of(tag: u8, d: Digits, factor: f64) -> Number {
    match (tag, d) {
        (b'>', Digits::Int(u)) => Number(N::PosInt(u)),
        (b'<', Digits::Int(0)) => Number(N::Float(-0.0)),
        (b'<', Digits::Int(u)) if u <= 1 << 63 => Number(N::NegInt((u as i64).wrapping_neg())),
        (b'>', d) => Number(N::Float(d.as_f64())),
        (b'<', d) => Number(N::Float(-d.as_f64())),
        (b')', d) => Number(N::Float(d.as_f64() / factor)),
        (_, d) => Number(N::Float(-(d.as_f64() / factor))),
    }
}

/// Finds the DEL ending the string whose bytes start at `start`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn string_end(bytes: &[u8], start: usize) -> Result<usize> {
    match find_del(bytes.get(start..).unwrap_or_default()) {
        Some(i) => Ok(start + i),
        None => Err(unexpected(bytes, bytes.len(), "DEL ending the string")),
    }
}

/// An open table. Its elements wait on the reader's scratch stacks (shared
/// by every open table, innermost last) until its DEL, so each table is built
/// once with exactly the room it needs: one allocation per part, no growth,
/// no reallocation (game saves are many small records).
enum Frame {
    /// A `|` table: its values are `values[start..]`.
    Seq { start: usize },
    /// A `*` table: its entries are `entries[start..]`; while `has_key`,
    /// the last one is a key waiting for its value (nil until it comes, so
    /// the value is written straight into its place).
    Star { start: usize, has_key: bool },
}

/// The reader's stacks: open tables, and the elements waiting for their
/// tables' DEL.
#[derive(Default)]
struct Scratch {
    stack: Vec<Frame>,
    values: Vec<Value>,
    entries: Vec<(Key, Value)>,
}

impl Scratch {
    const fn new() -> Self {
        Scratch {
            stack: Vec::new(),
            values: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Small enough to keep for the next read (at most about 130 KB:
    /// room for a medium-sized save, so that reading one again does not
    /// grow the stacks again).
    fn worth_keeping(&self) -> bool {
        self.stack.capacity() <= KEEP
            && self.values.capacity() <= KEEP
            && self.entries.capacity() <= KEEP
    }
}

/// Capacity up to which a thread keeps its reader's stacks between reads.
const KEEP: usize = 1024;

thread_local! {
    /// Each thread's reader stacks, kept between reads so that reading a
    /// small document allocates only its own strings and tables.
    static SCRATCH: Cell<Scratch> = const { Cell::new(Scratch::new()) };
}

/// The iterative reader.
pub(crate) fn parse<'a, S: Source<'a>>(src: &S, factor: f64, limit: usize) -> Result<Value> {
    let b = src.bytes();
    if b.is_empty() {
        return Ok(Value::Nil);
    }
    let mut scratch = SCRATCH.try_with(Cell::take).unwrap_or_default();
    let result = parse_with(src, factor, limit, &mut scratch);
    if scratch.worth_keeping() {
        // After an error the stacks may hold values: drop them now.
        scratch.stack.clear();
        scratch.values.clear();
        scratch.entries.clear();
        // During thread teardown there is nowhere to keep them.
        let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    }
    result
}

/// The reader proper, on stacks that start empty.
fn parse_with<'a, S: Source<'a>>(
    src: &S,
    factor: f64,
    limit: usize,
    scratch: &mut Scratch,
) -> Result<Value> {
    let b = src.bytes();
    let Scratch {
        stack,
        values,
        entries,
    } = scratch;
    let mut pos = 0usize;
    loop {
        if let Some(Frame::Star {
            has_key: has_key @ false,
            ..
        }) = stack.last_mut()
        {
            // A key: read straight into a `Key` (tables and DEL go below).
            if let Some(end) = push_key(src, pos, factor, entries)? {
                *has_key = true;
                pos = end;
                continue;
            }
        }
        let start = pos;
        // Places a value in the open table, or returns it at the top level.
        // Built right where it goes: moving a just-built value through a
        // temporary costs store-forwarding stalls on the hottest path.
        macro_rules! place {
            ($value:expr) => {{
                match stack.last_mut() {
                    None => {
                        if pos != b.len() {
                            return Err(Error::at(ErrorKind::TrailingBytes, pos));
                        }
                        return Ok($value);
                    }
                    Some(Frame::Seq { .. }) => values.push($value),
                    Some(Frame::Star { has_key, .. }) => {
                        if *has_key {
                            // Always there: `has_key` says the key is last.
                            if let Some((_, slot)) = entries.last_mut() {
                                *slot = $value;
                            }
                        } else {
                            entries.push((to_key($value, start)?, Value::Nil));
                        }
                        *has_key = !*has_key;
                    }
                }
                continue;
            }};
        }
        let Some(&tag) = b.get(pos) else {
            return Err(unexpected(b, pos, expected_here(stack)));
        };
        let value = match tag {
            b'+' => {
                pos += 1;
                Value::Bool(true)
            }
            b'-' => {
                pos += 1;
                Value::Bool(false)
            }
            b'>' | b'<' | b')' | b'(' => {
                let (d, end) = number_digits(b, pos)?;
                pos = end;
                place!(Value::Number(number_of(tag, d, factor)))
            }
            b'#' => {
                let end = string_end(b, pos + 1)?;
                let s = src.string(pos + 1, end)?;
                pos = end + 1;
                place!(Value::String(s.to_owned()))
            }
            b'|' | b'*' => {
                if let Some(Frame::Star { has_key: false, .. }) = stack.last() {
                    return Err(Error::at(ErrorKind::TableKey, pos));
                }
                if stack.len() >= limit {
                    return Err(Error::at(ErrorKind::DepthLimit(limit), pos));
                }
                stack.push(if tag == b'|' {
                    Frame::Seq {
                        start: values.len(),
                    }
                } else {
                    Frame::Star {
                        start: entries.len(),
                        has_key: false,
                    }
                });
                pos += 1;
                continue;
            }
            DEL => {
                let value = match stack.pop() {
                    Some(Frame::Seq { start }) => {
                        // Collecting a drain allocates exactly the room needed.
                        let seq = values.drain(start..).collect();
                        Value::Table(Table::from_vec_unchecked(seq))
                    }
                    Some(Frame::Star {
                        start,
                        has_key: false,
                    }) => Value::Table(close_star(entries, start)),
                    _ => return Err(unexpected(b, pos, expected_here(stack))),
                };
                pos += 1;
                value
            }
            _ => return Err(unexpected(b, pos, expected_here(stack))),
        };
        place!(value)
    }
}

/// Builds the `*` table whose entries are `entries[start..]`, as inserting
/// them in order would.
#[inline]
fn close_star(entries: &mut Vec<(Key, Value)>, start: usize) -> Table {
    let own = &entries[start..];
    if own.len() <= SMALL && plain_keys(own) {
        // Most records: collecting the drain allocates exactly their room.
        return Table::from_small_keyed_unchecked(entries.drain(start..).collect());
    }
    let mut t = Table::with_keyed_capacity(own.len());
    for (k, v) in entries.drain(start..) {
        // Keys are never NaN here, so this cannot refuse.
        let _ = t.try_insert(k, v);
    }
    t
}

/// True when no key is a number (none can belong in the sequence part) and
/// no key repeats: inserting such entries just appends them.
#[inline]
fn plain_keys(entries: &[(Key, Value)]) -> bool {
    entries.iter().enumerate().all(|(i, (k, _))| {
        !matches!(k, Key::Number(_)) && entries[..i].iter().all(|(earlier, _)| earlier != k)
    })
}

/// Reads the string, number or boolean key at `pos` into a new last entry
/// (with a nil value) and returns the offset after it; `None` when
/// something else is there. Each key is built right in its entry: moving it
/// through a temporary costs store-forwarding stalls on the hottest path.
#[inline]
fn push_key<'a, S: Source<'a>>(
    src: &S,
    pos: usize,
    factor: f64,
    entries: &mut Vec<(Key, Value)>,
) -> Result<Option<usize>> {
    let b = src.bytes();
    let Some(&tag) = b.get(pos) else {
        return Ok(None);
    };
    Ok(Some(match tag {
        b'#' => {
            let end = string_end(b, pos + 1)?;
            let s = src.string(pos + 1, end)?;
            entries.push((Key::String(s.to_owned()), Value::Nil));
            end + 1
        }
        b'>' | b'<' | b')' | b'(' => {
            let (d, end) = number_digits(b, pos)?;
            let n = number_of(tag, d, factor);
            if n.is_nan() {
                return Err(Error::at(ErrorKind::InvalidKey("NaN"), pos));
            }
            entries.push((Key::Number(n), Value::Nil));
            end
        }
        b'+' | b'-' => {
            entries.push((Key::Bool(tag == b'+'), Value::Nil));
            pos + 1
        }
        _ => return Ok(None),
    }))
}

/// What the reader expects where a value could start.
fn expected_here(stack: &[Frame]) -> &'static str {
    match stack.last() {
        None => "a value",
        Some(Frame::Seq { .. }) => "a value or DEL",
        Some(Frame::Star { has_key: false, .. }) => "a key or DEL",
        Some(Frame::Star { has_key: true, .. }) => "a value",
    }
}

/// A value read in key position as a key.
pub(crate) fn to_key(value: Value, offset: usize) -> Result<Key> {
    match value {
        Value::Bool(b) => Ok(Key::Bool(b)),
        Value::Number(n) if n.is_nan() => Err(Error::at(ErrorKind::InvalidKey("NaN"), offset)),
        Value::Number(n) => Ok(Key::Number(n)),
        Value::String(s) => Ok(Key::String(s)),
        Value::Table(_) => Err(Error::at(ErrorKind::TableKey, offset)),
        Value::Nil => Err(Error::at(ErrorKind::InvalidKey("nil"), offset)),
    }
}

#[cfg(test)]
#[path = "tests/read.rs"]
mod tests;
