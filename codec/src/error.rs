//! The one [`Error`] type of the codec: what went wrong, and where (the byte
//! offset in the input when reading, the path of the value when writing).

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A byte that cannot stand where it stands; `expected` says what could.
    #[error("unexpected {found}, expected {expected}")]
    Unexpected {
        /// What the reader wanted here.
        expected: &'static str,
        /// What it found, printed for a person (a quoted byte or "end of input").
        found: Found,
    },
    /// Bytes left over after the top-level value.
    #[error("trailing bytes after the value")]
    TrailingBytes,
    /// A string's bytes are not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// Tables nested deeper than the limit.
    #[error("nesting deeper than the limit of {0}")]
    DepthLimit(usize),
    /// A table used as a table key.
    #[error("a table cannot be a table key")]
    TableKey,
    /// A nil or NaN table key.
    #[error("{0} cannot be a table key")]
    InvalidKey(&'static str),
    /// A digit run too large for a double.
    #[error("number out of range")]
    NumberOutOfRange,
    /// NaN, which the format cannot hold (the reference writes it as 0).
    #[error("NaN cannot be written")]
    NaN,
    /// An infinity, which the format cannot hold.
    #[error("infinity cannot be written")]
    Infinity,
    /// A string holding the DEL byte (0x7F) while Safety is off.
    #[error("string holds the DEL byte (0x7F) and Safety is off")]
    DelInString,
    /// A Decimals setting the format cannot use.
    #[error("decimals must be 0..=15, got {0}")]
    Decimals(u32),
    /// A Level other than 1 or 2.
    #[error("level must be 1 or 2, got {0}")]
    Level(u8),
    /// A value of a type the format cannot hold, or a shape the target type
    /// does not accept (serde).
    #[error("{0}")]
    Message(String),
    /// Invalid JSON given to a JSON helper.
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// What the reader found where it expected something else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Found {
    /// A byte.
    Byte(u8),
    /// The end of the input.
    End,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Byte(b) if b.is_ascii_graphic() || *b == b' ' => {
                write!(f, "byte {:?}", *b as char)
            }
            Found::Byte(b) => write!(f, "byte 0x{b:02X}"),
            Found::End => f.write_str("end of input"),
        }
    }
}

/// One step of the path to a value inside nested tables.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSegment {
    /// A string key.
    Key(String),
    /// Any other key (a number or boolean), printed as written.
    Other(String),
}

/// The codec's error: a kind, plus where it happened.
///
/// Reading errors carry the byte offset; writing errors carry the path of the
/// value that could not be written, such as `Stats.Speed`.
///
/// ```
/// let err = sdm_codec::decompress("|>1\"", 3).unwrap_err();
/// assert_eq!(err.offset(), Some(3));
/// assert!(err.to_string().contains("byte 3"));
/// ```
///
/// One pointer wide (the details live on the heap, as serde_json's do), so
/// every `Result<(), Error>` and `Result<u32, Error>` the serde paths return
/// at each value comes back in registers, never through memory.
#[derive(Clone, PartialEq)]
pub struct Error {
    inner: Box<Inner>,
}

/// What an [`Error`] holds.
#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    offset: Option<usize>,
    /// Innermost segment first (built while the error travels outwards).
    path_rev: Vec<PathSegment>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("offset", &self.inner.offset)
            .field("path_rev", &self.inner.path_rev)
            .finish()
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error of this kind at a byte offset of the input.
    #[cold]
    pub fn at(kind: ErrorKind, offset: usize) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                offset: Some(offset),
                path_rev: Vec::new(),
            }),
        }
    }

    /// An error of this kind with no position yet.
    #[cold]
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                offset: None,
                path_rev: Vec::new(),
            }),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The byte offset in the input, for reading errors.
    pub fn offset(&self) -> Option<usize> {
        self.inner.offset
    }

    /// The path of the value, outermost key first, as `Stats.Speed`; empty
    /// for the top-level value or a reading error.
    pub fn path(&self) -> String {
        let mut s = String::new();
        for seg in self.inner.path_rev.iter().rev() {
            match seg {
                PathSegment::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                PathSegment::Other(k) => {
                    s.push('[');
                    s.push_str(k);
                    s.push(']');
                }
            }
        }
        s
    }

    /// The path segments, outermost first.
    pub fn path_segments(&self) -> impl Iterator<Item = &PathSegment> {
        self.inner.path_rev.iter().rev()
    }

    /// Adds the enclosing key to the path (used while the error travels out
    /// of nested tables).
    #[cold]
    pub fn within(mut self, segment: PathSegment) -> Self {
        self.inner.path_rev.push(segment);
        self
    }

    /// Sets the byte offset if none is set yet.
    pub fn with_offset(mut self, offset: usize) -> Self {
        self.inner.offset.get_or_insert(offset);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner.kind)?;
        if !self.inner.path_rev.is_empty() {
            write!(f, " at {}", self.path())?;
        }
        if let Some(o) = self.inner.offset {
            write!(f, " at byte {o}")?;
        }
        Ok(())
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Message(msg.to_string()))
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Message(msg.to_string()))
    }
}

/// The codec's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_the_serde_paths_fit_in_registers() {
        use std::mem::size_of;
        assert_eq!(size_of::<Error>(), size_of::<usize>());
        assert_eq!(size_of::<Result<()>>(), size_of::<usize>());
        assert_eq!(size_of::<Result<u32>>(), 2 * size_of::<usize>());
    }

    #[test]
    fn path_display() {
        let e = Error::new(ErrorKind::Infinity)
            .within(PathSegment::Key("Speed".into()))
            .within(PathSegment::Other("3".into()))
            .within(PathSegment::Key("Stats".into()));
        assert_eq!(e.path(), "Stats[3].Speed");
        assert_eq!(
            e.to_string(),
            "infinity cannot be written at Stats[3].Speed"
        );
    }
}
