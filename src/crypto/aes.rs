//! AES-CBC over keys of 128, 192 or 256 bits, with PKCS#7 padding.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;

use crate::crypto::encoding::{b64, unb64};
use crate::crypto::CryptoError;

/// AES block size; also the length of a CBC IV.
pub const BLOCK: usize = 16;

/// An AES key of 128, 192 or 256 bits.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey(Vec<u8>);

impl AesKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(AesKey(bytes.to_vec())),
            n => Err(CryptoError::AesKeyLength(n)),
        }
    }

    /// Parses standard base64 (24 characters ending `==` for AES-128).
    /// A key written in hex (32, 48 or 64 hex digits) is refused with its base64 form: read as
    /// base64, 32 hex digits would silently make another, 24-byte key.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if matches!(text.len(), 32 | 48 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes: Vec<u8> = text
                .as_bytes()
                .chunks(2)
                .map(|pair| {
                    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                    digit(pair[0]) << 4 | digit(pair[1])
                })
                .collect();
            return Err(CryptoError::AesKeyHex {
                chars: text.len(),
                base64: b64(&bytes),
            });
        }
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| CryptoError::AesKeyBase64 {
                detail: e.to_string(),
            })?;
        Self::from_bytes(&bytes)
    }

    /// A key of `len` bytes drawn from a seeded generator (deterministic).
    pub fn from_rng(rng: &mut ChaCha20Rng, len: usize) -> Self {
        use rand_chacha::rand_core::RngCore;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        AesKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        b64(&self.0)
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({} bits)", self.0.len() * 8)
    }
}

/// PKCS#7 padding to a whole number of blocks (a full block when already aligned).
pub fn pkcs7_pad(data: &[u8]) -> Vec<u8> {
    let pad = BLOCK - data.len() % BLOCK;
    let mut out = Vec::with_capacity(data.len() + pad);
    out.extend_from_slice(data);
    out.resize(data.len() + pad, pad as u8);
    out
}

/// Removes PKCS#7 padding, checking every padding byte.
pub fn pkcs7_unpad(data: &[u8]) -> Result<&[u8], CryptoError> {
    let pad = *data.last().ok_or(CryptoError::Padding)? as usize;
    if pad == 0 || pad > BLOCK || pad > data.len() {
        return Err(CryptoError::Padding);
    }
    let (body, padding) = data.split_at(data.len() - pad);
    if padding.iter().any(|&b| b as usize != pad) {
        return Err(CryptoError::Padding);
    }
    Ok(body)
}

/// AES-CBC over data that is already a whole number of blocks (no padding added).
pub fn aes_cbc_encrypt_blocks(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Vec<u8> {
    assert!(
        blocks.len().is_multiple_of(BLOCK),
        "caller pads to whole blocks"
    );
    fn run<C>(key: &[u8], iv: &[u8; BLOCK], blocks: &[u8]) -> Vec<u8>
    where
        cbc::Encryptor<C>: KeyIvInit + BlockEncryptMut,
        C: aes::cipher::BlockCipher + aes::cipher::BlockEncrypt,
    {
        cbc::Encryptor::<C>::new_from_slices(key, iv)
            .expect("AesKey guarantees a valid key length")
            .encrypt_padded_vec_mut::<NoPadding>(blocks)
    }
    match key.0.len() {
        16 => run::<aes::Aes128>(&key.0, iv, blocks),
        24 => run::<aes::Aes192>(&key.0, iv, blocks),
        _ => run::<aes::Aes256>(&key.0, iv, blocks),
    }
}

/// AES-CBC decryption without removing padding.
pub fn aes_cbc_decrypt_blocks(
    key: &AesKey,
    iv: &[u8; BLOCK],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
        return Err(CryptoError::CiphertextLength(ciphertext.len()));
    }
    fn run<C>(key: &[u8], iv: &[u8; BLOCK], data: &[u8]) -> Vec<u8>
    where
        cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
        C: aes::cipher::BlockCipher + aes::cipher::BlockDecrypt,
    {
        cbc::Decryptor::<C>::new_from_slices(key, iv)
            .expect("AesKey guarantees a valid key length")
            .decrypt_padded_vec_mut::<NoPadding>(data)
            .expect("length checked to be whole blocks")
    }
    Ok(match key.0.len() {
        16 => run::<aes::Aes128>(&key.0, iv, ciphertext),
        24 => run::<aes::Aes192>(&key.0, iv, ciphertext),
        _ => run::<aes::Aes256>(&key.0, iv, ciphertext),
    })
}

/// AES-CBC with the given IV over the PKCS#7-padded plaintext, as standard base64.
pub fn aes_encrypt(key: &AesKey, iv: &[u8; BLOCK], plaintext: &[u8]) -> String {
    b64(&aes_cbc_encrypt_blocks(key, iv, &pkcs7_pad(plaintext)))
}

/// The strict inverse of [`aes_encrypt`]: standard base64, whole blocks, valid PKCS#7.
pub fn aes_decrypt(
    key: &AesKey,
    iv: &[u8; BLOCK],
    ciphertext_b64: &str,
) -> Result<Vec<u8>, CryptoError> {
    let ciphertext = unb64("ciphertext", ciphertext_b64)?;
    let padded = aes_cbc_decrypt_blocks(key, iv, &ciphertext)?;
    Ok(pkcs7_unpad(&padded)?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::seeded_rng;

    const IV: [u8; BLOCK] = [7; BLOCK];

    #[test]
    fn pkcs7_round_trip_and_rejects_bad_padding() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let padded = pkcs7_pad(&data);
            assert!(padded.len().is_multiple_of(BLOCK));
            assert!(padded.len() > data.len());
            assert_eq!(pkcs7_unpad(&padded).unwrap(), &data[..]);
        }
        let mut bad = pkcs7_pad(b"hello");
        let last = bad.len() - 2;
        bad[last] ^= 1;
        assert_eq!(pkcs7_unpad(&bad), Err(CryptoError::Padding));
        assert_eq!(pkcs7_unpad(&[0u8; 16]), Err(CryptoError::Padding));
    }

    #[test]
    fn aes_round_trip_for_all_key_sizes() {
        for len in [16, 24, 32] {
            let key = AesKey::from_rng(&mut seeded_rng(1, "test"), len);
            let ct = aes_encrypt(&key, &IV, "手机号 13800000000".as_bytes());
            assert_eq!(
                aes_decrypt(&key, &IV, &ct).unwrap(),
                "手机号 13800000000".as_bytes()
            );
        }
    }

    #[test]
    fn aes_key_lengths_are_checked() {
        assert_eq!(
            AesKey::from_base64("AAECAwQFBgcICQoL").unwrap_err(),
            CryptoError::AesKeyLength(12)
        );
        assert!(matches!(
            AesKey::from_base64("not base64!"),
            Err(CryptoError::AesKeyBase64 { .. })
        ));
        assert_eq!(
            AesKey::from_base64(" 00112233445566778899aabbccddeeff\n").unwrap_err(),
            CryptoError::AesKeyHex {
                chars: 32,
                base64: "ABEiM0RVZneImaq7zN3u/w==".into()
            }
        );
        // Base64 of 24 bytes that happens to hold other characters is a key.
        assert!(AesKey::from_base64("00112233445566778899aabbccddeefg").is_ok());
    }

    #[test]
    fn decryption_is_strict_about_encoding() {
        let key = AesKey::from_rng(&mut seeded_rng(2, "test"), 16);
        let ct = aes_encrypt(&key, &IV, b"0123456789abcdef0123");
        assert!(matches!(
            aes_decrypt(&key, &IV, &ct[..ct.len() - 2]),
            Err(CryptoError::Base64 { .. })
        ));
        let url_safe = ct.replace('+', "-").replace('/', "_");
        if url_safe != ct {
            assert!(matches!(
                aes_decrypt(&key, &IV, &url_safe),
                Err(CryptoError::Base64 { .. })
            ));
        }
        assert_eq!(
            aes_decrypt(&key, &IV, &b64(&[0u8; 20])),
            Err(CryptoError::CiphertextLength(20))
        );
    }
}
