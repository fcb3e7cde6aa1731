//! Making the envelope text from an [`EnvelopePlan`], correctly or with one [`Fault`], together
//! with the oracle's prediction for it.
//!
//! The correct envelope is `{"response":"<ciphertext>","sign":"<signature>"}` (or with a plain
//! object as `response`), compact, in that order; the signature covers the quoted ciphertext or
//! the object's exact text (spec §2).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::alipay::error::Error;
use crate::alipay::fault::{Fault, Needs};
use crate::alipay::outcome::EnvelopePlan;
use crate::alipay::rules::UNSIGNED_NO_SIGNING;
use crate::crypto::{self, AesKey, CryptoError, SignatureHash, BLOCK};
use crate::keys::AppKeys;
use crate::oracle::{Cause, Expect, PolicyView, Verdict};

/// The IV of every envelope's AES-CBC: 16 zero bytes (spec §2). The oracle, a leaf that does
/// not import the engine, decrypts with its own copy, `oracle::backend::ENVELOPE_IV`; a test holds the
/// two equal.
pub const ALIPAY_IV: [u8; BLOCK] = [0; BLOCK];

/// A finished envelope and what a backend must conclude from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Produced {
    /// Exactly what `my.getPhoneNumber`'s `success` receives as `res.response`.
    pub text: String,
    pub expect: Expect,
    /// The AES key a backend is configured with for this envelope: the app's, or the AES-256
    /// fault's 32-byte key; `None` when the content is not encrypted.
    pub aes_key: Option<AesKey>,
}

/// Makes the envelope for `plan`, applying `fault` if given.
pub fn produce(
    plan: &EnvelopePlan,
    keys: &AppKeys,
    fault: Option<Fault>,
) -> Result<Produced, Error> {
    if let Some(fault) = fault {
        check_applicable(fault, plan)?;
    }
    let is = |f: Fault| fault == Some(f);
    let plaintext = plan.plaintext_text();
    let merchant_aes_key = keys.merchant_aes_key(plan.keys.aes_generation);

    let aes_key = if is(Fault::Aes256Key) {
        keys.aes256_key()
    } else if is(Fault::WrongAesKey) {
        keys.wrong_aes_key()
    } else {
        merchant_aes_key.clone()
    };
    let mut fault_had_no_effect = false;
    let content = if plan.encrypted {
        let padded = if is(Fault::BrokenPadding) {
            zero_pad(plaintext.as_bytes())
        } else {
            crypto::pkcs7_pad(plaintext.as_bytes())
        };
        let iv: [u8; BLOCK] = if is(Fault::NonZeroIv) {
            aes_key.as_bytes()[..BLOCK]
                .try_into()
                .expect("keys are 16+ bytes")
        } else {
            ALIPAY_IV
        };
        let ciphertext = crypto::aes_cbc_encrypt_blocks(&aes_key, &iv, &padded);
        let standard = crypto::b64(&ciphertext);
        if is(Fault::UrlSafeBase64) {
            let url_safe = crypto::b64_url_safe(&ciphertext);
            fault_had_no_effect = url_safe == standard;
            url_safe
        } else if is(Fault::TruncatedBase64) {
            standard[..standard.len() - 5].to_string()
        } else {
            standard
        }
    } else {
        plaintext.clone()
    };

    let signed_bytes = if plan.encrypted && !is(Fault::SignBareCiphertext) {
        format!("\"{content}\"")
    } else {
        content.clone()
    };
    let mut sign = match plan.signing {
        Some(_) if is(Fault::MissingSign) => None,
        Some(sign_type) => {
            let key = if is(Fault::WrongSigningKey) {
                keys.wrong_signing_key()?
            } else if plan.keys.isv_signs {
                keys.isv_alipay_key()?
            } else {
                keys.alipay_key()
            };
            let hash = if is(Fault::Sha1UnderRsa2) {
                SignatureHash::Sha1
            } else {
                SignatureHash::from(sign_type)
            };
            Some(key.sign(hash, signed_bytes.as_bytes())?)
        }
        None => None,
    };

    // Changes made after signing.
    let mut content = content;
    if is(Fault::FlipCiphertextByte) {
        content = flip_middle_byte(&content)?;
    }
    if is(Fault::FlipSignatureByte) {
        sign = Some(flip_middle_byte(sign.as_deref().expect("checked: signed"))?);
    }
    if is(Fault::ReorderPlainObject) {
        content = reorder_object(&content);
    }

    let response = if plan.encrypted {
        serde_json::to_string(&content).expect("strings serialise")
    } else {
        content
    };
    let mut fields = vec![("response", response)];
    if let Some(sign) = &sign {
        fields.push((
            "sign",
            serde_json::to_string(sign).expect("strings serialise"),
        ));
    }
    if is(Fault::SwapEnvelopeKeys) {
        fields.reverse();
    }
    if is(Fault::ExtraFields) {
        let sign_type = plan.signing.map_or("RSA2", |t| t.as_str());
        fields.push(("sign_type", format!("\"{sign_type}\"")));
        fields.push(("encrypt_type", "\"AES\"".to_string()));
        fields.push(("charset", "\"UTF-8\"".to_string()));
    }
    let text = if is(Fault::NonJsonText) {
        "[object Object]".to_string()
    } else if is(Fault::PrettyPrintEnvelope) {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("  \"{k}\": {v}"))
            .collect();
        format!("{{\n{}\n}}", body.join(",\n"))
    } else {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    };

    let effective_fault = fault.filter(|_| !fault_had_no_effect);
    // The backend keeps the app's key even when a fault encrypted with another one; only the
    // AES-256 fault changes the key the backend is meant to have.
    let backend_aes_key = if is(Fault::Aes256Key) {
        aes_key
    } else if is(Fault::StaleAesKey) {
        keys.merchant_aes_key(plan.keys.aes_generation - 1)
    } else {
        merchant_aes_key
    };
    Ok(Produced {
        text,
        expect: predict(plan, effective_fault, fault_had_no_effect),
        aes_key: plan.encrypted.then_some(backend_aes_key),
    })
}

/// Envelopes already made for one app's keys, by their inputs. Making an envelope is
/// deterministic, so an identical call reuses the bytes instead of signing again. Belongs to one
/// set of keys: make a new cache when the keys change.
#[derive(Debug, Default)]
pub struct EnvelopeCache {
    entries: Mutex<HashMap<CacheKey, Produced>>,
}

/// Everything [`produce`] reads besides the keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    plaintext: crate::alipay::outcome::Plaintext,
    encrypted: bool,
    signing: Option<crypto::SignType>,
    rule: &'static str,
    unsigned_by: Option<&'static str>,
    object_form: bool,
    keys: crate::alipay::outcome::KeyChoice,
    escape_slashes: bool,
    fault: Option<Fault>,
}

impl CacheKey {
    fn new(plan: &EnvelopePlan, fault: Option<Fault>) -> Self {
        CacheKey {
            plaintext: plan.plaintext.clone(),
            encrypted: plan.encrypted,
            signing: plan.signing,
            rule: plan.rule.id,
            unsigned_by: plan.unsigned_by.map(|r| r.id),
            object_form: plan.object_form,
            keys: plan.keys,
            escape_slashes: plan.escape_slashes,
            fault,
        }
    }
}

impl EnvelopeCache {
    /// Enough for every scenario and fault many times over; past it the cache starts afresh.
    const CAPACITY: usize = 4096;

    /// [`produce`], answered from the cache when the same plan and fault were seen before.
    pub fn produce(
        &self,
        plan: &EnvelopePlan,
        keys: &AppKeys,
        fault: Option<Fault>,
    ) -> Result<Produced, Error> {
        let key = CacheKey::new(plan, fault);
        if let Some(hit) = self.lock().get(&key) {
            return Ok(hit.clone());
        }
        let produced = produce(plan, keys, fault)?;
        let mut entries = self.lock();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(key, produced.clone());
        Ok(produced)
    }

    /// Whether the envelope for `plan` and `fault` is ready.
    pub fn contains(&self, plan: &EnvelopePlan, fault: Option<Fault>) -> bool {
        self.lock().contains_key(&CacheKey::new(plan, fault))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Produced>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The oracle for an envelope made from `plan` with `fault`.
fn predict(plan: &EnvelopePlan, fault: Option<Fault>, fault_had_no_effect: bool) -> Expect {
    let content_summary = format!("{} ({})", plan.rule.summary, plan.rule.id);
    let (verdict, cause, reason) = match (fault.and_then(Fault::verdict), plan.unsigned_by) {
        (Some(verdict), _) => {
            let fault = fault.expect("a verdict comes from a fault");
            (verdict, fault.cause(), fault.description().to_string())
        }
        (None, Some(unsigned_by)) => (
            Verdict::Unsigned,
            Cause::Rule(unsigned_by),
            format!("{}; content: {content_summary}", unsigned_by.summary),
        ),
        (None, None) => {
            let code = &plan.plaintext.code;
            // Summaries of business errors begin with their code: say it once.
            let summary = plan.rule.summary.strip_prefix(&format!("{code}: "));
            let mut reason = format!(
                "signature verifies and the {} content is code {code}: {}",
                if plan.encrypted { "decrypted" } else { "plain" },
                summary.unwrap_or(plan.rule.summary)
            );
            if let Some(fault) = fault {
                reason = format!("{reason}; {}", fault.description());
            }
            if fault_had_no_effect {
                reason
                    .push_str("; url-safe-base64 had no effect: this ciphertext has no '+' or '/'");
            }
            let cause = fault.map_or(Cause::Rule(plan.rule), Fault::cause);
            (Verdict::Accept, cause, reason)
        }
    };
    // The doc's reading differs only where the app has no signing method set up: the doc tells
    // that backend to skip verification. With a signing method (the AES key or the gateway
    // missing, or `sign` stripped on the way) it verifies, and refuses, as the strict view does.
    let doc_policy = match (fault.and_then(Fault::verdict), plan.unsigned_by) {
        (None, Some(unsigned_by)) if unsigned_by.id == UNSIGNED_NO_SIGNING.id => Some(PolicyView {
            verdict: Verdict::Accept,
            plaintext: Some(plan.plaintext.to_value()),
            reason: format!(
                "a backend that follows the doc skips verification ({}) and reads code {}: {}; \
                 nothing proves it came from Alipay",
                unsigned_by.summary, plan.plaintext.code, plan.rule.summary
            ),
        }),
        _ => None,
    };
    Expect {
        plaintext: (verdict == Verdict::Accept).then(|| plan.plaintext.to_value()),
        verdict,
        cause,
        reason,
        doc_policy,
    }
}

fn check_applicable(fault: Fault, plan: &EnvelopePlan) -> Result<(), Error> {
    let signed = plan.signing.is_some();
    let ok = match fault.needs() {
        Needs::Envelope => true,
        Needs::Signed => signed,
        Needs::Encrypted => plan.encrypted,
        Needs::EncryptedSigned => plan.encrypted && signed,
        Needs::PlainSigned => !plan.encrypted && signed,
        Needs::Rsa2Signed => plan.signing == Some(crypto::SignType::Rsa2),
        Needs::ReplacedAesKey => plan.encrypted && signed && plan.keys.aes_generation >= 2,
    };
    if ok {
        return Ok(());
    }
    let got = format!(
        "{} {} envelope ({})",
        match plan.signing {
            Some(t) => format!("a {t}-signed"),
            None => "an unsigned".to_string(),
        },
        if plan.encrypted { "encrypted" } else { "plain" },
        plan.rule.id
    );
    Err(Error::FaultNotApplicable {
        fault,
        needs: fault.needs().describe(),
        got,
    })
}

/// Zero bytes up to the next block boundary (a whole block when aligned): a common mistake
/// for PKCS#7.
fn zero_pad(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.resize(data.len() + BLOCK - data.len() % BLOCK, 0);
    out
}

/// Flips the low bit of the middle byte of base64 data, keeping it valid base64.
fn flip_middle_byte(b64: &str) -> Result<String, CryptoError> {
    let mut bytes = crypto::unb64("value to alter", b64)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    Ok(crypto::b64(&bytes))
}

/// The same object with its keys in reverse order, compact.
fn reorder_object(text: &str) -> String {
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(text).expect("the plaintext is an object");
    let reversed: serde_json::Map<String, Value> = object.into_iter().rev().collect();
    serde_json::to_string(&reversed).expect("values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_decrypts_with_alipays_iv() {
        assert_eq!(ALIPAY_IV, crate::oracle::backend::ENVELOPE_IV);
    }
}
