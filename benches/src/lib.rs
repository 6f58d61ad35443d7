//! Benchmarks of the sdm codec against `serde_json` on the shared corpus of
//! save-shaped documents (`../shared/corpus/*.json` beside the repository).
//!
//! The criterion benches (`cargo bench -p sdm-benches`) and the `ratios`
//! command (`cargo run --release -p sdm-benches --bin ratios`) both load the
//! documents with [`load_corpus`], so both measure the same inputs: for each
//! document, its JSON text, the same data as an sdm [`Value`] and as a
//! `serde_json::Value`, and its compressed text.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use sdm_codec::{Options, Value};

pub mod typed;

pub use typed::Typed;

/// The settings every benchmark compresses with: the module's defaults
/// (Level 2, Decimals 3, Safety on).
pub const OPTIONS: Options = Options {
    level: sdm_codec::Level::Two,
    decimals: 3,
    safety: true,
};

/// One corpus document, ready for every measurement.
#[derive(Debug, Clone)]
pub struct Document {
    /// File name without `.json`, such as `profile_small`.
    pub name: String,
    /// The JSON text as stored in the file (compact JSON).
    pub json: String,
    /// The document as an sdm value (object members in order).
    pub value: Value,
    /// The document as a `serde_json::Value`.
    pub json_value: serde_json::Value,
    /// The document as its typed mirror ([`typed`]).
    pub typed: Typed,
    /// `value` compressed with [`OPTIONS`].
    pub compressed: String,
}

/// Why the corpus could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The corpus directory could not be listed.
    #[error("cannot list the corpus directory {path}: {source}")]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not JSON that serde_json accepts.
    #[error("{path} is not valid JSON: {source}")]
    SerdeJson {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// A document could not be compressed.
    #[error("{path}: {source}")]
    Codec {
        /// The file.
        path: PathBuf,
        /// The codec's error.
        source: sdm_codec::Error,
    },
    /// A document's value did not write back the text it was read from.
    #[error("{0}: the value read from its compressed text writes a different text")]
    NotStable(PathBuf),
    /// The directory holds no `.json` file.
    #[error("no .json documents in {0}")]
    Empty(PathBuf),
}

/// The shared corpus directory: `../shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

/// Loads every `*.json` document of [`corpus_dir`], smallest file first.
pub fn load_corpus() -> Result<Vec<Document>, LoadError> {
    load_dir(&corpus_dir())
}

/// Loads every `*.json` document of `dir`, smallest file first.
pub fn load_dir(dir: &Path) -> Result<Vec<Document>, LoadError> {
    let list_err = |source| LoadError::ListDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let path = entry.map_err(list_err)?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            paths.push((len, path));
        }
    }
    if paths.is_empty() {
        return Err(LoadError::Empty(dir.to_path_buf()));
    }
    paths.sort();
    paths
        .into_iter()
        .map(|(_, path)| load_document(&path))
        .collect()
}

/// Loads one document.
pub fn load_document(path: &Path) -> Result<Document, LoadError> {
    let json = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let json_value: serde_json::Value =
        serde_json::from_str(&json).map_err(|source| LoadError::SerdeJson {
            path: path.to_path_buf(),
            source,
        })?;
    let typed = Typed::from_json(&json).map_err(|source| LoadError::SerdeJson {
        path: path.to_path_buf(),
        source,
    })?;
    let codec_err = |source| LoadError::Codec {
        path: path.to_path_buf(),
        source,
    };
    // The value the paths read is the one a program holds: loaded by the
    // codec (its tables and strings allocated in the order they are read,
    // nothing freed among them), as a session's value is loaded from its
    // store. Converting a copy of the `serde_json::Value` instead left its
    // strings scattered among that copy's freed maps, and timings then
    // moved with the allocator's state more than with the code.
    let compressed = sdm_codec::to_string(&json_value, &OPTIONS).map_err(codec_err)?;
    let value = sdm_codec::decompress(&compressed, OPTIONS.decimals).map_err(codec_err)?;
    // The value writes the same text back (so both sides of every path
    // hold the same document).
    if sdm_codec::compress(&value, &OPTIONS).map_err(codec_err)? != compressed {
        return Err(LoadError::NotStable(path.to_path_buf()));
    }
    let name = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    Ok(Document {
        name,
        json,
        value,
        json_value,
        typed,
        compressed,
    })
}

/// The README's Rust examples, compiled and run as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
