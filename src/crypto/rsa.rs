//! RSA: signing and verifying PKCS#1 v1.5 signatures (SHA-256 or SHA-1), and reading and writing
//! keys in PEM, PKCS#1, PKCS#8 and X.509 SubjectPublicKeyInfo forms, naming the other kinds of
//! key people paste by mistake.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use crate::crypto::encoding::{b64, strip_whitespace, unb64};
use crate::crypto::CryptoError;

/// Modulus size of every key this crate generates (Alipay requires 2048 bits for new apps).
pub const RSA_BITS: usize = 2048;

crate::wire::wire_enum! {
    "UPPERCASE",
    /// The two signature types of the Alipay open platform.
    pub enum SignType {
        /// PKCS#1 v1.5 with SHA-256: the mini-program default.
        Rsa2,
        /// PKCS#1 v1.5 with SHA-1: legacy apps.
        Rsa,
    }
}

impl SignType {
    /// The name used by the console, the SDKs and envelopes: `RSA2` or `RSA`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::str::FromStr for SignType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        use strum::IntoEnumIterator;
        SignType::iter().find(|t| t.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = SignType::iter().map(SignType::as_str).collect();
            format!("unknown sign type {s:?}: expected {}", names.join(" or "))
        })
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
                            what: "public key",
                            detail: format!("a PEM `{other}` block; expected `BEGIN PUBLIC KEY`"),
                        })
                    }
                }
                rsa::pkcs8::der::pem::decode_vec(text.as_bytes())
                    .map_err(|e| CryptoError::Key {
                        what: "public key",
                        detail: format!("the PEM block does not decode: {e}"),
                    })?
                    .1
            }
            None => unb64("public key", &strip_whitespace(text))?,
        };
        Self::from_der(&der)
    }

    /// A DER SubjectPublicKeyInfo of an RSA key; other DER keys are named in the error.
    fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::{PrivateKeyInfo, SubjectPublicKeyInfoRef};
        let invalid = |detail: String| CryptoError::Key {
            what: "public key",
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
        Err(CryptoError::NotSubjectPublicKeyInfo)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::seeded_rng;

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
        assert_eq!(
            "x".parse::<SignType>().unwrap_err(),
            "unknown sign type \"x\": expected RSA2 or RSA"
        );
        use strum::IntoEnumIterator;
        for sign_type in SignType::iter() {
            assert_eq!(serde_json::to_value(sign_type).unwrap(), sign_type.as_str());
            assert_eq!(sign_type.to_string(), sign_type.as_str());
        }
    }
}
