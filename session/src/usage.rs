//! Usage(): how much of the 4,194,303-character limit of one key a save
//! would use.

use crate::{Session, SessionError};

/// The answer of [`Session::usage`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    /// The byte length of the JSON text a save would write (for a
    /// compressed value, of the compressed text as a JSON string).
    pub characters: usize,
    /// `characters` over 4,194,303 (0.5 = half the limit, above 1 = too big).
    pub fraction: f64,
}

impl Session {
    /// Usage: the size a save would write now. Fails (naming the problem) if
    /// the value cannot be written.
    pub fn usage(&self) -> Result<Usage, SessionError> {
        let metadata = self.0.core().stored.metadata.clone();
        let unwritable = |message: String| SessionError::Unwritable {
            id: self.0.id_text.clone(),
            message,
        };
        let value = self.0.value();
        let characters = if value.is_nil() {
            0
        } else {
            let options = crate::record::compress_options(&metadata).map_err(unwritable)?;
            crate::record::encode(&value, options.as_ref())
                .map_err(unwritable)?
                .0
                .len()
        };
        Ok(Usage {
            characters,
            fraction: characters as f64 / sdm_codec::SIZE_LIMIT as f64,
        })
    }
}
