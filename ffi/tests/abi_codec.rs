//! The codec functions of the C ABI, called from Rust: results and error paths.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use sdm::sdm_result::{self, *};
use sdm::{
    sdm_compress_json, sdm_compress_json_len, sdm_decompress_json, sdm_decompress_json_len,
    sdm_string_free,
};

fn last_error() -> String {
    // SAFETY: never NULL, valid until the next call on this thread.
    unsafe { CStr::from_ptr(sdm::sdm_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn take(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: `p` came from the library and is NUL-terminated.
    let s = unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("UTF-8")
        .to_owned();
    // SAFETY: `p` came from the library.
    unsafe { sdm_string_free(p) };
    s
}

fn compress(json: &[u8], level: u8, decimals: u32, safety: bool) -> (sdm_result, *mut c_char) {
    let c = CString::new(json).expect("no NUL");
    let mut out = std::ptr::dangling_mut::<c_char>();
    // SAFETY: valid C string and out-pointer.
    let code = unsafe { sdm_compress_json(c.as_ptr(), level, decimals, safety, &mut out) };
    (code, out)
}

#[test]
fn compress_and_decompress_round_trip() {
    let (code, out) = compress(
        br#"{"Coins":250,"Inventory":["Sword","Shield"]}"#,
        2,
        3,
        true,
    );
    assert_eq!(code, SDM_OK);
    let text = take(out);
    assert_eq!(
        text,
        "*#Coins\u{7f}>13#Inventory\u{7f}|#Sword\u{7f}#Shield\u{7f}\u{7f}\u{7f}"
    );
    assert_eq!(last_error(), "");
    let c = CString::new(text).expect("no NUL");
    let mut json = ptr::null_mut();
    // SAFETY: valid C string and out-pointer.
    assert_eq!(
        unsafe { sdm_decompress_json(c.as_ptr(), 3, &mut json) },
        SDM_OK
    );
    assert_eq!(
        take(json),
        r#"{"Coins":250,"Inventory":["Sword","Shield"]}"#
    );
}

#[test]
fn null_arguments_are_reported_and_out_is_cleared() {
    let mut out = std::ptr::dangling_mut::<c_char>();
    // SAFETY: NULL input is part of the contract.
    assert_eq!(
        unsafe { sdm_compress_json(ptr::null(), 2, 3, true, &mut out) },
        SDM_NULL_ARGUMENT
    );
    assert!(out.is_null());
    assert!(last_error().contains("`json`"), "{}", last_error());
    // SAFETY: NULL out is part of the contract.
    assert_eq!(
        unsafe { sdm_compress_json(c"1".as_ptr(), 2, 3, true, ptr::null_mut()) },
        SDM_NULL_ARGUMENT
    );
    assert!(last_error().contains("`out`"));
    // SAFETY: as above.
    assert_eq!(
        unsafe { sdm_decompress_json(ptr::null(), 3, &mut out) },
        SDM_NULL_ARGUMENT
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { sdm_decompress_json_len(ptr::null(), 1, 3, &mut out) },
        SDM_NULL_ARGUMENT
    );
    // SAFETY: an empty text may be NULL.
    assert_eq!(
        unsafe { sdm_decompress_json_len(ptr::null(), 0, 3, &mut out) },
        SDM_OK
    );
    assert_eq!(take(out), "null");
}

#[test]
fn invalid_json_utf8_and_codec_errors_have_codes() {
    assert_eq!(compress(br#"{"a":"#, 2, 3, true).0, SDM_INVALID_JSON);
    assert!(last_error().contains("not valid JSON"), "{}", last_error());
    assert_eq!(compress(b"\"\xff\"", 2, 3, true).0, SDM_INVALID_UTF8);
    assert!(last_error().contains("at byte 1"), "{}", last_error());
    assert_eq!(compress(b"1", 0, 3, true).0, SDM_CODEC);
    assert!(last_error().contains("level"), "{}", last_error());
    assert_eq!(compress(b"1.5", 2, 16, true).0, SDM_CODEC);
    assert_eq!(compress(b"\"\x7f\"", 2, 3, false).0, SDM_CODEC);
    let mut out = ptr::null_mut();
    // SAFETY: valid C string and out-pointer.
    assert_eq!(
        unsafe { sdm_decompress_json(c"*#a".as_ptr(), 3, &mut out) },
        SDM_CODEC
    );
    assert!(out.is_null());
}

#[test]
fn nul_in_compressed_text_needs_the_len_variant() {
    let (code, out) = compress(br#""a\u0000b""#, 2, 3, true);
    assert_eq!((code, out.is_null()), (SDM_CONTAINS_NUL, true));
    let mut out = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: valid C string and out-pointers.
    let code =
        unsafe { sdm_compress_json_len(c"\"a\\u0000b\"".as_ptr(), 2, 3, true, &mut out, &mut len) };
    assert_eq!(code, SDM_OK);
    // SAFETY: `len` bytes were returned.
    assert_eq!(
        unsafe { std::slice::from_raw_parts(out.cast::<u8>(), len) },
        b"#a\0b\x7f"
    );
    let mut json = ptr::null_mut();
    // SAFETY: `len` readable bytes.
    assert_eq!(
        unsafe { sdm_decompress_json_len(out, len, 3, &mut json) },
        SDM_OK
    );
    assert_eq!(take(json), r#""a\u0000b""#);
    // SAFETY: `out` came from the library.
    unsafe { sdm_string_free(out) };
}

#[test]
fn panics_become_sdm_panic() {
    let code = sdm::boundary::call(|| panic!("boom"));
    assert_eq!(code, SDM_PANIC);
    assert!(last_error().contains("boom"));
    assert_eq!(sdm::boundary::call_or(7, || panic!("again")), 7);
}
