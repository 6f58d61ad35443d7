//! Strings handed to C: allocated here, freed only by `sdm_string_free`.
//!
//! Each allocation carries its length in a hidden prefix, so a string with
//! interior NUL bytes (from `sdm_compress_json_len`) is freed correctly.

use std::ffi::c_char;
use std::mem::size_of;

use crate::boundary;

const HEADER: usize = size_of::<usize>();

/// Copies `bytes` into a new NUL-terminated allocation owned by the caller.
pub fn alloc(bytes: &[u8]) -> *mut c_char {
    let mut v = Vec::with_capacity(HEADER + bytes.len() + 1);
    v.extend_from_slice(&bytes.len().to_ne_bytes());
    v.extend_from_slice(bytes);
    v.push(0);
    let raw = Box::into_raw(v.into_boxed_slice()).cast::<u8>();
    // SAFETY: the allocation is HEADER + len + 1 bytes long.
    unsafe { raw.add(HEADER).cast::<c_char>() }
}

/// Frees a string made by [`alloc`].
///
/// # Safety
/// `ptr` is NULL or came from [`alloc`] and was not freed yet.
pub unsafe fn free(ptr: *mut c_char) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` is HEADER bytes into an allocation made by `alloc`,
    // whose first HEADER bytes hold the payload length.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let len = base.cast::<usize>().read_unaligned();
        let slice = std::ptr::slice_from_raw_parts_mut(base, HEADER + len + 1);
        drop(Box::from_raw(slice));
    }
}

/// Frees a string returned by the library (every `char *` it hands out).
/// NULL is accepted and ignored. Passing any other pointer, or freeing twice,
/// is undefined behaviour; so is using the string after this call.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sdm_string_free(s: *mut c_char) {
    // SAFETY: forwarded contract.
    boundary::call_or((), || unsafe { free(s) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_round_trips_and_frees_interior_nul() {
        let p = alloc(b"a\0b");
        // SAFETY: fresh allocation of 3 bytes plus NUL.
        let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), 4) };
        assert_eq!(bytes, b"a\0b\0");
        // SAFETY: made by alloc.
        unsafe { sdm_string_free(p) };
        // SAFETY: NULL is accepted.
        unsafe { sdm_string_free(std::ptr::null_mut()) };
    }
}
