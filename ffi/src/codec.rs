//! The codec on its own: JSON text to compressed text and back.

use std::ffi::c_char;

use sdm_codec::{Level, Options};

use crate::boundary::{self, out_arg, str_arg, str_len_arg};
use crate::error::{Error, Result};
use crate::result::sdm_result;
use crate::{json, strings};

fn compress(json_text: &str, level: u8, decimals: u32, safety: bool) -> Result<String> {
    let level = Level::try_from(level).map_err(|e| Error::codec("argument `level`", &e))?;
    let value = json::parse(json_text, "json")?;
    let options = Options {
        level,
        decimals,
        safety,
    };
    sdm_codec::compress(&value, &options).map_err(|e| Error::codec("cannot compress", &e))
}

fn decompress(text: &str, decimals: u32) -> Result<String> {
    let value =
        sdm_codec::decompress(text, decimals).map_err(|e| Error::codec("cannot decompress", &e))?;
    Ok(json::write(&value))
}

/// Compresses a JSON text into the module's compressed format.
///
/// `level` is 1 or 2, `decimals` 0..=15 (the module's defaults are 2, 3,
/// true). On success `*out` receives the compressed text; on failure `*out`
/// is set to NULL (when `out` is not NULL).
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// The compressed text holds DEL (0x7F) bytes. A JSON string holding U+0000
/// makes the compressed text hold a NUL byte, which a C string cannot carry:
/// then the call fails with `SDM_CONTAINS_NUL`; use `sdm_compress_json_len`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_INVALID_JSON`,
/// `SDM_CODEC`, `SDM_CONTAINS_NUL`.
///
/// # Safety
/// `json` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_compress_json(
    json: *const c_char,
    level: u8,
    decimals: u32,
    safety: bool,
    out: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: the caller's contract above.
        let text = compress(unsafe { str_arg(json, "json") }?, level, decimals, safety)?;
        if text.as_bytes().contains(&0) {
            return Err(Error::new(
                sdm_result::SDM_CONTAINS_NUL,
                "the compressed text holds a NUL byte (a string holds U+0000); use sdm_compress_json_len",
            ));
        }
        *out = strings::alloc(text.as_bytes());
        Ok(())
    })
}

/// Like `sdm_compress_json`, but also gives the length in bytes of the
/// compressed text in `*out_len`, so texts holding NUL bytes work too. The
/// text is still followed by a NUL terminator.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_string_free`.
///
/// # Safety
/// `json` is NULL or a NUL-terminated string; `out` and `out_len` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_compress_json_len(
    json: *const c_char,
    level: u8,
    decimals: u32,
    safety: bool,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: the caller's contract above.
        let out_len = unsafe { out_arg(out_len, 0, "out_len") }?;
        // SAFETY: the caller's contract above.
        let text = compress(unsafe { str_arg(json, "json") }?, level, decimals, safety)?;
        *out_len = text.len();
        *out = strings::alloc(text.as_bytes());
        Ok(())
    })
}

/// Decompresses a compressed text (NUL-terminated) into JSON text.
/// `decimals` must be the Decimals it was written with. The empty text reads
/// as nil (JSON `null`).
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`. It is NULL after a failure.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_CODEC`.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string; `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_decompress_json(
    text: *const c_char,
    decimals: u32,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, std::ptr::null_mut(), "out_json") }?;
        // SAFETY: the caller's contract above.
        let json = decompress(unsafe { str_arg(text, "text") }?, decimals)?;
        *out = strings::alloc(json.as_bytes());
        Ok(())
    })
}

/// Like `sdm_decompress_json`, for a compressed text of `len` bytes that may
/// hold NUL bytes (`text` may be NULL when `len` is 0).
///
/// Ownership: `*out_json` is owned by the caller; free it with
/// `sdm_string_free`.
///
/// # Safety
/// `text` points to `len` readable bytes; `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_decompress_json_len(
    text: *const c_char,
    len: usize,
    decimals: u32,
    out_json: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, std::ptr::null_mut(), "out_json") }?;
        // SAFETY: the caller's contract above.
        let json = decompress(unsafe { str_len_arg(text, len, "text") }?, decimals)?;
        *out = strings::alloc(json.as_bytes());
        Ok(())
    })
}
