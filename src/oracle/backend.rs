//! The strict backend: what a correct backend concludes from an Alipay phone envelope, and
//! why, step by step.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::crypto::{self, AesKey, CryptoError, PublicKey, SignType, SignatureHash, BLOCK};
use crate::oracle::Verdict;

/// The IV a backend decrypts an envelope's content with: Alipay's 16 zero bytes (spec §2). The
/// engine encrypts with `alipay::envelope::ALIPAY_IV`, and a test there holds the two equal;
/// this copy keeps the oracle a leaf that does not import the engine.
pub(crate) const ENVELOPE_IV: [u8; BLOCK] = [0; BLOCK];

/// What a backend is configured with.
#[derive(Debug, Clone)]
pub struct BackendKeys {
    pub alipay_public_key: PublicKey,
    pub aes_key: Option<AesKey>,
    pub sign_type: SignType,
}

/// The conclusion of [`verify`]: what a strict backend concludes from an envelope, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Conclusion {
    pub verdict: Verdict,
    /// The decrypted content, on `accept`; else null.
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
    pub reason: String,
}

impl Conclusion {
    fn reject(verdict: Verdict, reason: impl Into<String>) -> Self {
        Conclusion {
            verdict,
            plaintext: None,
            reason: reason.into(),
        }
    }
}

/// Checks an envelope as a strict backend does: parse, require `sign`, verify the signature
/// over exactly the signed bytes, then decrypt strictly (standard base64, zero IV, PKCS#7,
/// UTF-8, a JSON object). On a failure the reason says what was found, to help debug a backend.
pub fn verify(envelope: &str, keys: &BackendKeys) -> Conclusion {
    let fields: HashMap<String, &RawValue> = match serde_json::from_str(envelope) {
        Ok(fields) => fields,
        Err(e) => {
            return Conclusion::reject(
                Verdict::RejectParse,
                format!("not a JSON object ({e}); the front end must send res.response as it is"),
            )
        }
    };
    let Some(response) = fields.get("response") else {
        return Conclusion::reject(Verdict::RejectParse, "no \"response\" field");
    };
    let raw = response.get();
    let content = if raw.starts_with('"') {
        match serde_json::from_str::<String>(raw) {
            Ok(ciphertext) => Content::Encrypted(ciphertext),
            Err(e) => return Conclusion::reject(Verdict::RejectParse, e.to_string()),
        }
    } else if raw.starts_with('{') {
        Content::Plain(raw)
    } else {
        return Conclusion::reject(
            Verdict::RejectParse,
            "\"response\" is neither a ciphertext string nor a JSON object",
        );
    };
    let Some(sign) = fields.get("sign") else {
        return Conclusion::reject(
            Verdict::Unsigned,
            "no \"sign\": nothing proves the content came from Alipay (check 接口加签方式, AES 密钥 and 应用网关 in the console)",
        );
    };
    let Ok(sign) = serde_json::from_str::<String>(sign.get()) else {
        return Conclusion::reject(Verdict::RejectParse, "\"sign\" is not a string");
    };

    let signed = content.signed_bytes();
    let hash = SignatureHash::from(keys.sign_type);
    if !keys
        .alipay_public_key
        .verify(hash, signed.as_bytes(), &sign)
    {
        return Conclusion::reject(
            Verdict::RejectSignature,
            explain_bad_signature(&content, &sign, keys),
        );
    }

    let plaintext = match &content {
        Content::Plain(raw) => raw.to_string(),
        Content::Encrypted(ciphertext) => {
            let Some(aes_key) = &keys.aes_key else {
                return Conclusion::reject(
                    Verdict::RejectDecrypt,
                    "the content is encrypted but no AES key is configured",
                );
            };
            match crypto::aes_decrypt(aes_key, &ENVELOPE_IV, ciphertext) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(_) => {
                        return Conclusion::reject(
                            Verdict::RejectDecrypt,
                            "decrypted bytes are not UTF-8 (wrong AES key or IV?)",
                        )
                    }
                },
                Err(e) => {
                    return Conclusion::reject(
                        Verdict::RejectDecrypt,
                        explain_bad_decryption(&e, ciphertext),
                    )
                }
            }
        }
    };
    match serde_json::from_str::<Value>(&plaintext) {
        Ok(value @ Value::Object(_)) => Conclusion {
            reason: format!(
                "signature verifies ({}) and the content {} code {}",
                keys.sign_type,
                if content.is_encrypted() {
                    "decrypts to"
                } else {
                    "is plain JSON with"
                },
                value["code"]
            ),
            verdict: Verdict::Accept,
            plaintext: Some(value),
        },
        _ => Conclusion::reject(
            Verdict::RejectDecrypt,
            format!(
                "content is not a JSON object (starts {:?}): wrong AES key or IV?",
                plaintext.chars().take(12).collect::<String>()
            ),
        ),
    }
}

enum Content<'a> {
    Encrypted(String),
    Plain(&'a str),
}

impl Content<'_> {
    /// The bytes Alipay signs: the ciphertext with its double quotes, or the object's raw text.
    fn signed_bytes(&self) -> String {
        match self {
            Content::Encrypted(ciphertext) => format!("\"{ciphertext}\""),
            Content::Plain(raw) => raw.to_string(),
        }
    }

    fn is_encrypted(&self) -> bool {
        matches!(self, Content::Encrypted(_))
    }
}

/// Tries the usual mistakes so the reason can name the one that was made.
fn explain_bad_signature(content: &Content, sign: &str, keys: &BackendKeys) -> String {
    let key = &keys.alipay_public_key;
    let hash = SignatureHash::from(keys.sign_type);
    let other_hash = match hash {
        SignatureHash::Sha256 => SignatureHash::Sha1,
        SignatureHash::Sha1 => SignatureHash::Sha256,
    };
    let what = match content {
        Content::Encrypted(_) => "the quoted ciphertext",
        Content::Plain(_) => "the raw text of the response object",
    };
    let base = format!(
        "signature does not verify over {what} with this Alipay public key ({})",
        keys.sign_type
    );
    if crypto::unb64("signature", sign).is_err() {
        return format!("{base}: \"sign\" is not standard base64");
    }
    if key.verify(other_hash, content.signed_bytes().as_bytes(), sign) {
        let name = match other_hash {
            SignatureHash::Sha1 => "SHA-1 (RSA)",
            SignatureHash::Sha256 => "SHA-256 (RSA2)",
        };
        return format!("{base}: it is a {name} signature; the app's sign type says otherwise");
    }
    if let Content::Encrypted(ciphertext) = content {
        if key.verify(hash, ciphertext.as_bytes(), sign) {
            return format!(
                "{base}: it verifies over the bare ciphertext; Alipay signs it with its quotes"
            );
        }
    }
    format!("{base}: content altered, or signed with another key")
}

fn explain_bad_decryption(error: &CryptoError, ciphertext: &str) -> String {
    if ciphertext.contains(['-', '_']) {
        return format!("{error}: the ciphertext uses URL-safe base64 ('-' or '_')");
    }
    match error {
        CryptoError::Padding => {
            "PKCS#7 padding is invalid: wrong AES key, a non-zero IV, or not PKCS#7 padded"
                .to_string()
        }
        other => other.to_string(),
    }
}
