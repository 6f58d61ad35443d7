//! [`sdm_result`]: the one status code every fallible function returns.

/// Status of a call. Every fallible function returns one; the numeric values
/// are stable across releases (new codes are only ever added).
/// `sdm_last_error()` describes the most recent failure on the calling thread.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum sdm_result {
    /// Success.
    SDM_OK = 0,
    /// A pointer argument that must not be NULL was NULL.
    SDM_NULL_ARGUMENT = 1,
    /// A string argument is not valid UTF-8.
    SDM_INVALID_UTF8 = 2,
    /// A JSON argument (or a JSON text returned by a callback) is not valid
    /// JSON, or is nested deeper than the codec's limit.
    SDM_INVALID_JSON = 3,
    /// The codec refused the value or the compressed text (bad level or
    /// decimals, NaN, DEL with safety off, malformed compressed text...).
    SDM_CODEC = 4,
    /// The compressed text holds a NUL byte (a string holding U+0000), so it
    /// cannot be returned as a C string: use `sdm_compress_json_len`.
    SDM_CONTAINS_NUL = 5,
    /// An argument is out of its range (e.g. an unknown enum value).
    SDM_INVALID_ARGUMENT = 6,
    /// A property setter got a value outside the property's range.
    SDM_INVALID_PROPERTY = 7,
    /// The session is locked by another server (response LOCKED).
    SDM_LOCKED = 8,
    /// The session is in a state that does not allow the operation
    /// (response STATE).
    SDM_STATE = 9,
    /// The store failed (response ERROR).
    SDM_STORE = 10,
    /// The store did not answer in time (response ERROR).
    SDM_TIMEOUT = 11,
    /// The context is shut down (or shutting down).
    SDM_SHUTDOWN = 12,
    /// `sdm_session_find` found no session.
    SDM_NOT_FOUND = 13,
    /// The store URL is malformed or names an unknown kind of store.
    SDM_UNSUPPORTED_STORE = 14,
    /// The operation failed for another reason (response ERROR).
    SDM_SESSION = 15,
    /// A write was refused by fencing: the key was locked again by a newer
    /// owner after this session's lock lapsed (response ERROR). The session
    /// closed itself without saving; the store keeps the newer owner's data.
    SDM_FENCED = 16,
    /// A Rust panic was caught at the ABI boundary (a bug in sdm; please
    /// report it). The library never unwinds into C.
    SDM_PANIC = 100,
}
