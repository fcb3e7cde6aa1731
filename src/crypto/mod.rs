//! The cryptography of the envelope, and nothing else: `aes.rs` (AES-CBC with an explicit IV,
//! PKCS#7), `rsa.rs` (RSA PKCS#1 v1.5 signatures; PEM, PKCS#1, PKCS#8 and X.509
//! SubjectPublicKeyInfo keys) and `encoding.rs` (base64). Keys are generated from the seeded
//! generators of [`crate::seed`]. Its messages name no platform: which IV, which key form and
//! what a console calls a key belong to the platform's engine.
//!
//! This module knows nothing of scenarios, rules or HTTP. Every operation is deterministic:
//! the same key and input give the same bytes, which is what makes the known-answer vectors
//! (and repeatable fixtures) possible. Its files are private modules; what they make public is
//! re-exported here, so callers name `crypto::AesKey`, never the file.

mod aes;
mod encoding;
mod rsa;

pub use self::aes::{
    aes_cbc_decrypt_blocks, aes_cbc_encrypt_blocks, aes_decrypt, aes_encrypt, pkcs7_pad,
    pkcs7_unpad, AesKey, BLOCK,
};
pub use self::encoding::{b64, b64_url_safe, unb64};
pub use self::rsa::{PublicKey, SignType, SignatureHash, SigningKey, RSA_BITS};
/// Seeded generators live in [`crate::seed`]; this path is kept for existing callers.
pub use crate::seed::seeded_rng;

/// What went wrong with a key or a cryptographic input. Messages describe the cryptographic
/// problem and name no platform: a caller that knows whose key it read adds the platform's words
/// (the Alipay engine's `alipay::keys` does, for the keys a backend is configured with).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("{what} is not valid standard base64 ({detail})")]
    Base64 { what: &'static str, detail: String },
    #[error("AES key must decode to 16, 24 or 32 bytes; this one decodes to {0} bytes")]
    AesKeyLength(usize),
    #[error("this looks like a hex key ({chars} hex characters, {bits} bits); an AES key is read as base64: this key in base64 is {base64}", bits = chars * 4)]
    AesKeyHex { chars: usize, base64: String },
    #[error("AES key is not valid standard base64 ({detail})")]
    AesKeyBase64 { detail: String },
    #[error("ciphertext length {0} is not a positive multiple of 16 bytes")]
    CiphertextLength(usize),
    #[error("PKCS#7 padding is invalid (wrong AES key, IV or padding)")]
    Padding,
    #[error("this is a PKCS#1 `RSA PUBLIC KEY`, not an X.509 SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`): `openssl rsa -RSAPublicKey_in -in key.pem -pubout` converts it")]
    Pkcs1PublicKey,
    #[error("this is {algorithm} public key, not an RSA one")]
    NotRsa { algorithm: String },
    #[error("this is a private key ({form}), not a public key")]
    PrivateKey { form: &'static str },
    #[error("this is a certificate (`BEGIN CERTIFICATE`), not a public key (`BEGIN PUBLIC KEY`)")]
    Certificate,
    #[error("public key is not a valid RSA key (not DER of an X.509 SubjectPublicKeyInfo)")]
    NotSubjectPublicKeyInfo,
    #[error("{what} is not a valid RSA key ({detail})")]
    Key { what: &'static str, detail: String },
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Lowercase hex HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
