//! The legacy payload's crypto (docs §4): AES-128-CBC, key = base64-decoded `session_key`, IV =
//! base64-decoded `iv`, PKCS#7 over 16-byte blocks, standard base64 out; its plaintext; and the
//! `/wxa/checksession` signature (§3.6).

use serde::{Deserialize, Serialize};

use crate::crypto::CryptoError;
use crate::crypto::{aes_cbc_encrypt_blocks, aes_decrypt, b64, unb64, AesKey, BLOCK};

/// How the plaintext is padded before encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// PKCS#7 over 16-byte blocks, as WeChat pads.
    Pkcs7,
    /// `n` bytes of value `n` (1..=255), whatever the block: 30 makes the vectors'
    /// non-standard payload, which lenient unpadders accept and strict PKCS#7 refuses.
    Custom(u8),
}

/// The phone number as the legacy plaintext and `phone_info` carry it (§4: key order
/// `phoneNumber, purePhoneNumber, countryCode, watermark{timestamp, appid}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneInfo {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
    pub watermark: Watermark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub timestamp: u64,
    pub appid: String,
}

impl PhoneInfo {
    /// A number as WeChat gives it: mainland numbers bare, others with `+` and the country code.
    pub fn new(pure: &str, country_code: &str, timestamp: u64, appid: &str) -> PhoneInfo {
        let phone_number = if country_code == "86" {
            pure.to_string()
        } else {
            format!("+{country_code}{pure}")
        };
        PhoneInfo {
            phone_number,
            pure_phone_number: pure.to_string(),
            country_code: country_code.to_string(),
            watermark: Watermark {
                timestamp,
                appid: appid.to_string(),
            },
        }
    }

    /// Compact UTF-8 JSON, the bytes that get encrypted.
    pub fn plaintext(&self) -> String {
        serde_json::to_string(self).expect("strings and numbers serialise")
    }
}

fn key_of(session_key: &str) -> Result<AesKey, CryptoError> {
    let bytes = unb64("session_key", session_key)?;
    if bytes.len() != 16 {
        return Err(CryptoError::AesKeyLength(bytes.len()));
    }
    AesKey::from_bytes(&bytes)
}

fn iv_of(iv: &str) -> Result<[u8; BLOCK], CryptoError> {
    let bytes = unb64("iv", iv)?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| CryptoError::Base64 {
            what: "iv",
            detail: format!("decodes to {} bytes, not 16", bytes.len()),
        })
}

/// `encryptedData` for `plaintext`, as the phone makes it under `session_key` and `iv`.
pub fn encrypt(
    session_key: &str,
    iv: &str,
    plaintext: &[u8],
    padding: Padding,
) -> Result<String, CryptoError> {
    let key = key_of(session_key)?;
    let iv = iv_of(iv)?;
    let pad = match padding {
        Padding::Pkcs7 => BLOCK - plaintext.len() % BLOCK,
        Padding::Custom(n) => n as usize,
    };
    let mut blocks = plaintext.to_vec();
    blocks.extend(std::iter::repeat_n(pad as u8, pad));
    if !blocks.len().is_multiple_of(BLOCK) {
        return Err(CryptoError::CiphertextLength(blocks.len()));
    }
    Ok(b64(&aes_cbc_encrypt_blocks(&key, &iv, &blocks)))
}

/// Strict decryption, as a correct backend does it: standard base64, whole blocks, PKCS#7 of 1
/// to 16 bytes.
pub fn decrypt(session_key: &str, iv: &str, encrypted_data: &str) -> Result<Vec<u8>, CryptoError> {
    aes_decrypt(&key_of(session_key)?, &iv_of(iv)?, encrypted_data)
}

/// `/wxa/checksession`'s signature: lowercase hex HMAC-SHA256 keyed with the UTF-8 bytes of the
/// session_key text as returned (not decoded), over the body (empty for GET).
pub fn checksession_signature(session_key: &str, body: &str) -> String {
    crate::crypto::hmac_sha256_hex(session_key.as_bytes(), body.as_bytes())
}
