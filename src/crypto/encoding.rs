//! Base64, strict, and the whitespace people paste around keys.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;

use crate::crypto::CryptoError;

/// Standard base64 with `=` padding and no line breaks.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// URL-safe base64 (`-` and `_`), padding kept. Only used to build deliberately wrong envelopes.
pub fn b64_url_safe(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

/// Strict standard base64 decoding: rejects URL-safe characters, missing padding, whitespace.
pub fn unb64(what: &'static str, text: &str) -> Result<Vec<u8>, CryptoError> {
    STANDARD.decode(text).map_err(|e| CryptoError::Base64 {
        what,
        detail: e.to_string(),
    })
}

/// The text without any whitespace: a key pasted over several lines, or with a final newline.
pub(super) fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}
