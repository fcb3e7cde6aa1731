//! The cryptography of the envelope, and nothing else: `aes.rs` (AES-CBC and PKCS#7), `rsa.rs`
//! (RSA PKCS#1 v1.5 signatures, and the key formats Alipay's console and SDKs use) and
//! `encoding.rs` (base64). Keys are generated from the seeded generators of [`crate::seed`].
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

/// What went wrong with a key or a cryptographic input. Messages name the problem in terms a
/// backend developer recognises.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("{what} is not valid standard base64 ({detail})")]
    Base64 { what: &'static str, detail: String },
    #[error("AES key must decode to 16, 24 or 32 bytes; this one decodes to {0} bytes (the console's AES key is 24 base64 characters: 16 bytes)")]
    AesKeyLength(usize),
    #[error("this looks like a hex key ({chars} hex characters, {bits} bits); the console's AES key is base64 (24 characters for 128 bits, ending ==): this key in base64 is {base64}", bits = chars * 4)]
    AesKeyHex { chars: usize, base64: String },
    #[error("AES key is not valid standard base64 ({detail}); the console's AES key is base64 (24 characters for 128 bits, ending ==, such as 0cWv1rL0Qk3vF0XcS9uUyA==)")]
    AesKeyBase64 { detail: String },
    #[error("ciphertext length {0} is not a positive multiple of 16 bytes")]
    CiphertextLength(usize),
    #[error("PKCS#7 padding is invalid (wrong AES key, IV or padding)")]
    Padding,
    #[error("this is a PKCS#1 `RSA PUBLIC KEY`; Alipay public keys are X.509 SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, or the console's one-line MIIBIj... form), which both official SDKs require: `openssl rsa -RSAPublicKey_in -in key.pem -pubout` converts it")]
    Pkcs1PublicKey,
    #[error("this is {algorithm} public key; Alipay keys are RSA: give the Alipay public key (支付宝公钥) from the console, or the simulator's from `alipay-sim keys`")]
    NotRsa { algorithm: String },
    #[error("this is a private key ({form}); a backend verifies with the Alipay public key (`BEGIN PUBLIC KEY`, or the console's one-line MIIBIj... form), which `alipay-sim keys` prints")]
    PrivateKey { form: &'static str },
    #[error("this is a certificate (`BEGIN CERTIFICATE`, the console's 公钥证书 mode); alipay-sim simulates the public-key mode (公钥): give the Alipay public key (`BEGIN PUBLIC KEY`, or the console's one-line MIIBIj... form)")]
    Certificate,
    #[error("{what} is not a valid RSA key ({detail})")]
    Key { what: &'static str, detail: String },
    #[error("signing failed: {0}")]
    Sign(String),
}
