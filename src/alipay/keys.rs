//! The keys a backend is configured with, in the console's terms: reading the Alipay public key
//! (支付宝公钥) and the AES key (AES 密钥) a developer pastes (spec §5). The crypto leaf says
//! what is wrong with the bytes; these errors add what the console calls the right key, and
//! where to find it.

use crate::crypto::{AesKey, CryptoError, PublicKey};

/// How the console shows the Alipay public key.
const PUBLIC_KEY_FORMS: &str = "`BEGIN PUBLIC KEY`, or the console's one-line MIIBIj... form";
/// How the console shows the AES key.
const AES_KEY_FORM: &str = "the console's AES key is base64 (24 characters for 128 bits, ending ==";

/// A pasted key that is not the kind the console issues: the crypto problem, in the console's
/// words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KeyError {
    /// The problem as the crypto leaf names it.
    pub crypto: CryptoError,
    message: String,
}

/// The Alipay public key as the console shows it (one line of base64, `MIIBIjANBg...`) or as a
/// `BEGIN PUBLIC KEY` PEM. Other kinds of key are named, with the one to give instead.
pub fn parse_alipay_public_key(text: &str) -> Result<PublicKey, KeyError> {
    PublicKey::parse(text).map_err(|crypto| {
        let message = match &crypto {
            CryptoError::Base64 { detail, .. } => {
                format!("Alipay public key is not valid standard base64 ({detail})")
            }
            CryptoError::Key { detail, .. } => {
                format!("Alipay public key is not a valid RSA key ({detail})")
            }
            CryptoError::NotSubjectPublicKeyInfo => "Alipay public key is not a valid RSA key \
                (not DER of an X.509 SubjectPublicKeyInfo (the console's one-line MIIBIj... form))"
                .to_string(),
            CryptoError::Pkcs1PublicKey => format!(
                "this is a PKCS#1 `RSA PUBLIC KEY`; Alipay public keys are X.509 \
                 SubjectPublicKeyInfo ({PUBLIC_KEY_FORMS}), which both official SDKs require: \
                 `openssl rsa -RSAPublicKey_in -in key.pem -pubout` converts it"
            ),
            CryptoError::NotRsa { algorithm } => format!(
                "this is {algorithm} public key; Alipay keys are RSA: give the Alipay public key \
                 (支付宝公钥) from the console, or the simulator's from `alipay-sim keys`"
            ),
            CryptoError::PrivateKey { form } => format!(
                "this is a private key ({form}); a backend verifies with the Alipay public key \
                 ({PUBLIC_KEY_FORMS}), which `alipay-sim keys` prints"
            ),
            CryptoError::Certificate => format!(
                "this is a certificate (`BEGIN CERTIFICATE`, the console's 公钥证书 mode); give \
                 the Alipay public key inside alipayCertPublicKey_RSA2.crt ({PUBLIC_KEY_FORMS}): \
                 `openssl x509 -pubkey -noout -in alipayCertPublicKey_RSA2.crt` prints it, and \
                 the simulator shows it as the app's alipay_public_key"
            ),
            other => other.to_string(),
        };
        KeyError { crypto, message }
    })
}

/// The AES key as the console shows it: standard base64, 24 characters ending `==` for the
/// console's 128-bit keys (24- and 32-byte keys are read too).
pub fn parse_aes_key(text: &str) -> Result<AesKey, KeyError> {
    AesKey::from_base64(text).map_err(|crypto| {
        let message = match &crypto {
            CryptoError::AesKeyLength(_) => {
                format!("{crypto} (the console's AES key is 24 base64 characters: 16 bytes)")
            }
            CryptoError::AesKeyHex { chars, base64 } => format!(
                "this looks like a hex key ({chars} hex characters, {} bits); {AES_KEY_FORM}): \
                 this key in base64 is {base64}",
                chars * 4
            ),
            CryptoError::AesKeyBase64 { .. } => {
                format!("{crypto}; {AES_KEY_FORM}, such as 0cWv1rL0Qk3vF0XcS9uUyA==)")
            }
            other => other.to_string(),
        };
        KeyError { crypto, message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages `alipay-sim verify` and the API have always given.
    #[test]
    fn aes_key_errors_speak_of_the_console() {
        let message = |text: &str| parse_aes_key(text).unwrap_err().to_string();
        assert_eq!(
            message("AAECAwQFBgcICQoL"),
            "AES key must decode to 16, 24 or 32 bytes; this one decodes to 12 bytes (the \
             console's AES key is 24 base64 characters: 16 bytes)"
        );
        assert_eq!(
            message("00112233445566778899aabbccddeeff"),
            "this looks like a hex key (32 hex characters, 128 bits); the console's AES key is \
             base64 (24 characters for 128 bits, ending ==): this key in base64 is \
             ABEiM0RVZneImaq7zN3u/w=="
        );
        assert_eq!(
            message("not base64!"),
            "AES key is not valid standard base64 (Invalid symbol 32, offset 3.); the console's \
             AES key is base64 (24 characters for 128 bits, ending ==, such as \
             0cWv1rL0Qk3vF0XcS9uUyA==)"
        );
        assert_eq!(
            parse_aes_key("AAAA").unwrap_err().crypto,
            CryptoError::AesKeyLength(3)
        );
    }

    #[test]
    fn public_key_errors_speak_of_the_console() {
        let message = |text: &str| parse_alipay_public_key(text).unwrap_err().to_string();
        assert_eq!(
            message("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
            "this is a certificate (`BEGIN CERTIFICATE`, the console's 公钥证书 mode); give the \
             Alipay public key inside alipayCertPublicKey_RSA2.crt (`BEGIN PUBLIC KEY`, or the \
             console's one-line MIIBIj... form): `openssl x509 -pubkey -noout -in \
             alipayCertPublicKey_RSA2.crt` prints it, and the simulator shows it as the app's \
             alipay_public_key"
        );
        assert_eq!(
            message("-----BEGIN FOO-----\nAAAA\n-----END FOO-----"),
            "Alipay public key is not a valid RSA key (a PEM `FOO` block; expected `BEGIN \
             PUBLIC KEY`)"
        );
        assert_eq!(
            message("not-a-key"),
            "Alipay public key is not valid standard base64 (Invalid symbol 45, offset 3.)"
        );
        assert_eq!(
            message("AAAA"),
            "Alipay public key is not a valid RSA key (not DER of an X.509 SubjectPublicKeyInfo \
             (the console's one-line MIIBIj... form))"
        );
    }
}
