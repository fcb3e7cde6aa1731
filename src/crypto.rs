//! The cryptography of the envelope, and nothing else: AES-CBC, RSA PKCS#1 v1.5 signatures,
//! key generation from a seed, and the key formats Alipay's console and SDKs use.
//!
//! This module knows nothing of scenarios, rules or HTTP. Every operation is deterministic:
//! the same key and input give the same bytes, which is what makes the known-answer vectors
//! (and repeatable fixtures) possible.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

/// Seeded generators live in [`crate::seed`]; this path is kept for existing callers.
pub use crate::seed::seeded_rng;

/// AES block size; also the length of the (all-zero) IV the platform uses.
pub const BLOCK: usize = 16;
/// The IV Alipay uses for every envelope.
pub const ZERO_IV: [u8; BLOCK] = [0; BLOCK];
/// Modulus size of every key this crate generates (Alipay requires 2048 bits for new apps).
pub const RSA_BITS: usize = 2048;

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

/// The two signature types of the Alipay open platform.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum SignType {
    /// PKCS#1 v1.5 with SHA-256: the mini-program default.
    #[serde(rename = "RSA2")]
    Rsa2,
    /// PKCS#1 v1.5 with SHA-1: legacy apps.
    #[serde(rename = "RSA")]
    Rsa,
}

impl SignType {
    /// The name used by the console, the SDKs and envelopes: `RSA2` or `RSA`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Rsa2 => "RSA2",
            SignType::Rsa => "RSA",
        }
    }
}

impl std::str::FromStr for SignType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "RSA2" => Ok(SignType::Rsa2),
            "RSA" => Ok(SignType::Rsa),
            other => Err(format!("unknown sign type {other:?}: expected RSA2 or RSA")),
        }
    }
}

impl std::fmt::Display for SignType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hash inside a PKCS#1 v1.5 signature. Separate from [`SignType`] because a deliberately
/// wrong envelope can carry a SHA-1 signature for an RSA2 app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureHash {
    Sha256,
    Sha1,
}

impl From<SignType> for SignatureHash {
    fn from(sign_type: SignType) -> Self {
        match sign_type {
            SignType::Rsa2 => SignatureHash::Sha256,
            SignType::Rsa => SignatureHash::Sha1,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Base64

/// Standard base64 with `=` padding and no line breaks, as the platform emits.
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

// ---------------------------------------------------------------------------------------------
// AES

/// An AES key of 128, 192 or 256 bits. The console issues 128-bit keys.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey(Vec<u8>);

impl AesKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(AesKey(bytes.to_vec())),
            n => Err(CryptoError::AesKeyLength(n)),
        }
    }

    /// Parses the console's form: standard base64 (24 characters ending `==` for AES-128).
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

/// The platform's encryption: AES-CBC, zero IV, PKCS#7, standard base64.
pub fn aes_encrypt(key: &AesKey, plaintext: &[u8]) -> String {
    b64(&aes_cbc_encrypt_blocks(
        key,
        &ZERO_IV,
        &pkcs7_pad(plaintext),
    ))
}

/// The strict inverse of [`aes_encrypt`]: standard base64, whole blocks, valid PKCS#7.
pub fn aes_decrypt(key: &AesKey, ciphertext_b64: &str) -> Result<Vec<u8>, CryptoError> {
    let ciphertext = unb64("ciphertext", ciphertext_b64)?;
    let padded = aes_cbc_decrypt_blocks(key, &ZERO_IV, &ciphertext)?;
    Ok(pkcs7_unpad(&padded)?.to_vec())
}

// ---------------------------------------------------------------------------------------------
// RSA

/// An RSA private key that signs. RSA2 (SHA-256) signatures go through aws-lc-rs, about seven
/// times faster than the pure-Rust `rsa` crate; aws-lc-rs cannot sign with SHA-1, so RSA (SHA-1)
/// signatures go through `rsa`. Both produce the same deterministic PKCS#1 v1.5 bytes.
pub struct SigningKey {
    fast: aws_lc_rs::signature::RsaKeyPair,
    portable: RsaPrivateKey,
    public: PublicKey,
}

impl SigningKey {
    fn from_rsa(portable: RsaPrivateKey) -> Result<Self, CryptoError> {
        let pkcs8 = portable.to_pkcs8_der().map_err(|e| CryptoError::Key {
            what: "private key",
            detail: e.to_string(),
        })?;
        let fast = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).map_err(|e| {
            CryptoError::Key {
                what: "private key",
                detail: e.to_string(),
            }
        })?;
        let public = PublicKey(portable.to_public_key());
        Ok(SigningKey {
            fast,
            portable,
            public,
        })
    }

    /// A fresh 2048-bit key drawn from a seeded generator: the same seed gives the same key on
    /// any machine (ChaCha20 and the `rsa` crate's prime search are both platform-independent).
    pub fn generate(rng: &mut ChaCha20Rng) -> Result<Self, CryptoError> {
        let key = RsaPrivateKey::new(rng, RSA_BITS).map_err(|e| CryptoError::Key {
            what: "generated key",
            detail: e.to_string(),
        })?;
        Self::from_rsa(key)
    }

    /// Reads a private key in PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`)
    /// PEM, or as bare base64 of either DER form (as Alipay's key tool prints them).
    pub fn from_pem_or_base64(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let key = if text.contains("BEGIN RSA PRIVATE KEY") {
            RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| e.to_string())
        } else if text.contains("BEGIN PRIVATE KEY") {
            RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| e.to_string())
        } else {
            let der = unb64("private key", &strip_whitespace(text))?;
            RsaPrivateKey::from_pkcs8_der(&der)
                .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
                .map_err(|e| e.to_string())
        }
        .map_err(|detail| CryptoError::Key {
            what: "private key",
            detail,
        })?;
        Self::from_rsa(key)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// PKCS#1 v1.5 signature over `message`, base64-encoded.
    pub fn sign(&self, hash: SignatureHash, message: &[u8]) -> Result<String, CryptoError> {
        let signature = match hash {
            SignatureHash::Sha256 => {
                let mut out = vec![0u8; self.fast.public_modulus_len()];
                // PKCS#1 v1.5 consumes no randomness; the generator is only part of the API.
                let rng = aws_lc_rs::rand::SystemRandom::new();
                self.fast
                    .sign(
                        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                        &rng,
                        message,
                        &mut out,
                    )
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                out
            }
            SignatureHash::Sha1 => {
                let digest = sha1::Sha1::digest(message);
                self.portable
                    .sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &digest)
                    .map_err(|e| CryptoError::Sign(e.to_string()))?
            }
        };
        Ok(b64(&signature))
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`): what Java wants, and Node with `keyType: 'PKCS8'`.
    pub fn to_pkcs8_pem(&self) -> String {
        self.portable
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a valid key encodes")
            .to_string()
    }

    /// PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`): what Python's SDK and Node's default want.
    pub fn to_pkcs1_pem(&self) -> String {
        self.portable
            .to_pkcs1_pem(LineEnding::LF)
            .expect("a valid key encodes")
            .to_string()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public.to_base64())
    }
}

/// An RSA public key: the "Alipay public key" a backend verifies with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(RsaPublicKey);

impl PublicKey {
    /// The console's form: one line of base64 of the DER SubjectPublicKeyInfo (`MIIBIjANBg...`).
    pub fn to_base64(&self) -> String {
        b64(self
            .0
            .to_public_key_der()
            .expect("a valid key encodes")
            .as_bytes())
    }

    /// The same SubjectPublicKeyInfo as PEM (`BEGIN PUBLIC KEY`, 64-character lines).
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .expect("a valid key encodes")
    }

    /// Reads the console's one-line base64 or a `BEGIN PUBLIC KEY` PEM. A PKCS#1
    /// `RSAPublicKey` is refused, as both official SDKs refuse it. Anything else that is a key
    /// (a private key, another algorithm's public key, a certificate) is named in the error.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let der = match pem_label(text) {
            Some(label) => {
                if let Some(form) = private_key_form(label) {
                    return Err(CryptoError::PrivateKey { form });
                }
                match label {
                    "PUBLIC KEY" => {}
                    "RSA PUBLIC KEY" => return Err(CryptoError::Pkcs1PublicKey),
                    "CERTIFICATE" => return Err(CryptoError::Certificate),
                    other => {
                        return Err(CryptoError::Key {
                            what: "Alipay public key",
                            detail: format!("a PEM `{other}` block; expected `BEGIN PUBLIC KEY`"),
                        })
                    }
                }
                rsa::pkcs8::der::pem::decode_vec(text.as_bytes())
                    .map_err(|e| CryptoError::Key {
                        what: "Alipay public key",
                        detail: format!("the PEM block does not decode: {e}"),
                    })?
                    .1
            }
            None => unb64("Alipay public key", &strip_whitespace(text))?,
        };
        Self::from_der(&der)
    }

    /// A DER SubjectPublicKeyInfo of an RSA key; other DER keys are named in the error.
    fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::{PrivateKeyInfo, SubjectPublicKeyInfoRef};
        let invalid = |detail: String| CryptoError::Key {
            what: "Alipay public key",
            detail,
        };
        if let Ok(info) = SubjectPublicKeyInfoRef::try_from(der) {
            if info.algorithm.oid != oid::RSA_ENCRYPTION {
                return Err(CryptoError::NotRsa {
                    algorithm: oid::public_key_algorithm(&info.algorithm),
                });
            }
            return RsaPublicKey::from_public_key_der(der)
                .map(PublicKey)
                .map_err(|e| invalid(e.to_string()));
        }
        if RsaPublicKey::from_pkcs1_der(der).is_ok() {
            return Err(CryptoError::Pkcs1PublicKey);
        }
        if PrivateKeyInfo::try_from(der).is_ok() {
            return Err(CryptoError::PrivateKey {
                form: "PKCS#8 `PRIVATE KEY`",
            });
        }
        if rsa::pkcs1::RsaPrivateKey::try_from(der).is_ok() {
            return Err(CryptoError::PrivateKey {
                form: "PKCS#1 `RSA PRIVATE KEY`",
            });
        }
        Err(invalid(
            "not DER of an X.509 SubjectPublicKeyInfo (the console's one-line MIIBIj... form)"
                .into(),
        ))
    }

    /// Checks a base64 PKCS#1 v1.5 signature over `message` with the given hash.
    pub fn verify(&self, hash: SignatureHash, message: &[u8], signature_b64: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature_b64) else {
            return false;
        };
        match hash {
            SignatureHash::Sha256 => self
                .0
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(message),
                    &signature,
                )
                .is_ok(),
            SignatureHash::Sha1 => self
                .0
                .verify(
                    Pkcs1v15Sign::new::<sha1::Sha1>(),
                    &sha1::Sha1::digest(message),
                    &signature,
                )
                .is_ok(),
        }
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

/// The label of the first `-----BEGIN LABEL-----` line, if the text has one.
fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    Some(rest[..rest.find("-----")?].trim())
}

/// How to name a PEM block of a private key, by its label.
fn private_key_form(label: &str) -> Option<&'static str> {
    Some(match label {
        "PRIVATE KEY" => "PKCS#8 `PRIVATE KEY`",
        "RSA PRIVATE KEY" => "PKCS#1 `RSA PRIVATE KEY`",
        "ENCRYPTED PRIVATE KEY" => "encrypted PKCS#8 `ENCRYPTED PRIVATE KEY`",
        "EC PRIVATE KEY" => "SEC1 `EC PRIVATE KEY`",
        "OPENSSH PRIVATE KEY" => "OpenSSH `OPENSSH PRIVATE KEY`",
        _ => return None,
    })
}

/// Algorithm identifiers of the keys people paste by mistake.
mod oid {
    use rsa::pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier};

    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

    /// "an EC (P-256)", "an Ed25519", ...: the algorithm of a public key, with its article.
    pub fn public_key_algorithm(algorithm: &AlgorithmIdentifierRef<'_>) -> String {
        let name = |oid: &ObjectIdentifier| -> Option<&'static str> {
            Some(match oid.to_string().as_str() {
                "1.2.840.10045.3.1.7" => "P-256",
                "1.3.132.0.34" => "P-384",
                "1.3.132.0.35" => "P-521",
                "1.3.132.0.10" => "secp256k1",
                "1.2.156.10197.1.301" => "SM2",
                "1.3.101.112" => "Ed25519",
                "1.3.101.113" => "Ed448",
                "1.3.101.110" => "X25519",
                "1.3.101.111" => "X448",
                "1.2.840.10040.4.1" => "DSA",
                "1.2.840.113549.1.1.10" => "RSASSA-PSS",
                _ => return None,
            })
        };
        if algorithm.oid == EC_PUBLIC_KEY {
            return match algorithm.parameters_oid() {
                Ok(curve) => match name(&curve) {
                    Some(curve) => format!("an EC ({curve})"),
                    None => format!("an EC (curve {curve})"),
                },
                Err(_) => "an EC".into(),
            };
        }
        match name(&algorithm.oid) {
            Some(name @ ("Ed25519" | "Ed448" | "X25519" | "X448" | "RSASSA-PSS")) => {
                format!("an {name}")
            }
            Some(name) => format!("a {name}"),
            None => format!("a non-RSA (algorithm {})", algorithm.oid),
        }
    }
}

fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let ct = aes_encrypt(&key, "手机号 13800000000".as_bytes());
            assert_eq!(
                aes_decrypt(&key, &ct).unwrap(),
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
        let ct = aes_encrypt(&key, b"0123456789abcdef0123");
        assert!(matches!(
            aes_decrypt(&key, &ct[..ct.len() - 2]),
            Err(CryptoError::Base64 { .. })
        ));
        let url_safe = ct.replace('+', "-").replace('/', "_");
        if url_safe != ct {
            assert!(matches!(
                aes_decrypt(&key, &url_safe),
                Err(CryptoError::Base64 { .. })
            ));
        }
        assert_eq!(
            aes_decrypt(&key, &b64(&[0u8; 20])),
            Err(CryptoError::CiphertextLength(20))
        );
    }

    #[test]
    fn public_keys_parse_and_other_pem_blocks_are_named() {
        let key = SigningKey::generate(&mut seeded_rng(3, "test")).unwrap();
        let public = key.public_key();
        assert_eq!(&PublicKey::parse(&public.to_pem()).unwrap(), public);
        assert_eq!(&PublicKey::parse(&public.to_base64()).unwrap(), public);
        let certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(PublicKey::parse(certificate), Err(CryptoError::Certificate));
        let other = PublicKey::parse("-----BEGIN FOO-----\nAAAA\n-----END FOO-----")
            .unwrap_err()
            .to_string();
        assert!(
            other.contains("`FOO`") && other.contains("BEGIN PUBLIC KEY"),
            "{other}"
        );
    }

    #[test]
    fn sign_types_parse_by_console_name() {
        assert_eq!("RSA2".parse::<SignType>(), Ok(SignType::Rsa2));
        assert_eq!("RSA".parse::<SignType>(), Ok(SignType::Rsa));
        assert!("rsa256".parse::<SignType>().unwrap_err().contains("RSA2"));
    }
}
