//! One `my.getPhoneNumber` call, end to end: rules, then envelope and faults, then what the
//! front end receives and what a backend must conclude.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::alipay::envelope::{self, EnvelopeCache};
use crate::alipay::error::Error;
use crate::alipay::front_end::{page_event, FrontEnd, PageEvent};
pub use crate::alipay::model::Call;
use crate::alipay::model::{AesKeySetting, Busy, SigningKeyMode, Version};
use crate::alipay::outcome::{Callback, Outcome};
use crate::alipay::rules;
use crate::certs::Certificates;
use crate::crypto::SignType;
use crate::keys::AppKeys;
use crate::oracle::{Cause, Expect, Verdict};
use crate::seed::seeded_rng;

/// What the front end receives from one call, with the keys a backend needs and the oracle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub app_id: String,
    /// One-line base64 SubjectPublicKeyInfo; none (null) when the app has no signing method.
    #[schema(required)]
    pub alipay_public_key: Option<String>,
    /// Base64 AES key a backend decrypts with; none (null) when the app has no AES key.
    #[schema(required)]
    pub aes_key: Option<String>,
    #[schema(required)]
    pub sign_type: Option<SignType>,
    /// The certificate mode's files and SNs (公钥证书), when the app signs in that mode: a
    /// backend in certificate mode verifies with the key inside `alipay_cert`, which is
    /// `alipay_public_key` (spec §5.1). Left out in public-key mode and without signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Certificates>,
    pub callback: Callback,
    /// Exactly what the callback receives; for `success`, `{"response": "<envelope text>"}`.
    #[schema(value_type = Object)]
    pub payload: Value,
    #[serde(deserialize_with = "rules::read_expect")]
    pub expect: Expect,
    /// What the page's own handler receives on the front end the call asked for (`front_end`:
    /// the button's onGetPhoneNumber, uni-app, Taro); absent for the native callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub page_event: Option<PageEvent>,
}

impl Delivery {
    /// Adds what the page's handler gets on `front_end` (nothing for the native callbacks).
    pub fn with_front_end(mut self, front_end: FrontEnd, base_library: &Version) -> Self {
        self.page_event = (front_end != FrontEnd::Native)
            .then(|| page_event(self.callback, &self.payload, front_end, base_library));
        self
    }

    /// The envelope text, when the front end got one.
    pub fn envelope(&self) -> Option<&str> {
        (self.callback == Callback::Success)
            .then(|| self.payload["response"].as_str())
            .flatten()
    }

    /// What a page that passes `res.response` on sends its backend: the envelope text, or the
    /// JSON text of an error handed over as an object (`platform.error_form = object`).
    pub fn sent_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        if self.callback != Callback::Success {
            return None;
        }
        match &self.payload["response"] {
            Value::String(text) => Some(text.into()),
            Value::Null => None,
            other => Some(other.to_string().into()),
        }
    }
}

/// Runs one call with the app's `keys`. `call_index` numbers the app's calls, so a busy
/// probability gives the same sequence of answers for the same seed.
pub fn get_phone_number(call: &Call, keys: &AppKeys, call_index: u64) -> Result<Delivery, Error> {
    run(call, keys, call_index, None)
}

/// [`get_phone_number`], reusing envelopes from `cache` (which must belong to `keys`).
pub fn get_phone_number_cached(
    call: &Call,
    keys: &AppKeys,
    call_index: u64,
    cache: &EnvelopeCache,
) -> Result<Delivery, Error> {
    run(call, keys, call_index, Some(cache))
}

fn run(
    call: &Call,
    keys: &AppKeys,
    call_index: u64,
    cache: Option<&EnvelopeCache>,
) -> Result<Delivery, Error> {
    call.validate()?;
    let outcome = preview(call, keys, call_index);
    let sign_type = call.console.signing.sign_type();
    let mut aes_key = (call.console.aes_key != AesKeySetting::NotSet).then(|| {
        let generation = call.console.isv.as_ref().map_or(1, |isv| isv.aes_key_sets);
        keys.merchant_aes_key(generation).to_base64()
    });
    let (callback, payload, expect) = match outcome {
        Outcome::FrontEnd(failure) => {
            if let Some(fault) = call.fault {
                return Err(Error::FaultNotApplicable {
                    fault,
                    needs: fault.needs().describe(),
                    got: format!("a front-end failure ({})", failure.rule.id),
                });
            }
            let expect = Expect {
                verdict: Verdict::FrontEnd,
                plaintext: None,
                cause: Cause::Rule(failure.rule),
                reason: format!("no envelope reaches the backend: {}", failure.rule.summary),
                doc_policy: None,
            };
            (failure.callback, failure.payload, expect)
        }
        Outcome::Envelope(plan) if plan.object_form => {
            if let Some(fault) = call.fault {
                return Err(Error::FaultNotApplicable {
                    fault,
                    needs: fault.needs().describe(),
                    got: format!("an error handed over as an object ({})", plan.rule.id),
                });
            }
            let expect = Expect {
                verdict: Verdict::RejectParse,
                plaintext: None,
                cause: Cause::Rule(plan.rule),
                reason: format!(
                    "res.response is the error object itself, not an envelope \
                     (platform.error_form = object): code {}: {}; the page should branch on \
                     typeof res.response, and a backend must refuse what it cannot verify",
                    plan.plaintext.code, plan.rule.summary
                ),
                doc_policy: None,
            };
            aes_key = None;
            (
                Callback::Success,
                json!({ "response": plan.plaintext.to_value() }),
                expect,
            )
        }
        Outcome::Envelope(plan) => {
            let produced = match cache {
                Some(cache) => cache.produce(&plan, keys, call.fault)?,
                None => envelope::produce(&plan, keys, call.fault)?,
            };
            if let Some(key) = &produced.aes_key {
                aes_key = Some(key.to_base64());
            }
            let payload = json!({ "response": produced.text });
            (Callback::Success, payload, produced.expect)
        }
    };
    let mut expect = expect;
    if let Some(warning) = call.user.mobile.warning() {
        if expect.plaintext.is_some() {
            expect.reason = format!("{}; warning: {warning}", expect.reason);
        }
    }
    let mut payload = payload;
    if callback == Callback::Success && call.platform.rpc_trace_id {
        payload["ariverRpcTraceId"] = Value::String(trace_id(keys, call_index));
    }
    // The key a backend verifies with: the third party's when it signs for the merchant.
    let alipay_public_key = match (sign_type, &call.console.isv) {
        (None, _) => None,
        (Some(_), Some(_)) => Some(keys.isv_alipay_public_key_base64()?.to_string()),
        (Some(_), None) => Some(keys.alipay_public_key_base64().to_string()),
    };
    // The certificates hold the app's own Alipay key: an ISV's merchant is signed for by the
    // third party, whose certificates are not modelled.
    let certificates = match (sign_type, call.console.signing_key_mode) {
        (Some(_), SigningKeyMode::Certificate) if call.console.isv.is_none() => {
            Some((*keys.certificates()?).clone())
        }
        _ => None,
    };
    Ok(Delivery {
        app_id: keys.app_id().to_string(),
        alipay_public_key,
        aes_key,
        sign_type,
        certificates,
        callback,
        payload,
        expect,
        page_event: None,
    })
}

/// The outcome call number `call_index` would have, without making an envelope: what a
/// dashboard shows as the app's state at a glance.
pub fn preview(call: &Call, keys: &AppKeys, call_index: u64) -> Outcome {
    // The draw costs a hash; only a busy probability needs it.
    let draw = match call.platform.busy {
        Busy::Probability(_) => busy_draw(keys, call_index),
        _ => 0.0,
    };
    rules::evaluate(call, draw)
}

/// Whether call number `call_index` of `call` can get another answer than its other calls:
/// a busy probability draws per call, and a trace id is made per call. Every other call gets
/// the same answer whatever its index (a test holds this for the catalogue).
pub fn varies_by_call_index(call: &Call) -> bool {
    matches!(call.platform.busy, Busy::Probability(_)) || call.platform.rpc_trace_id
}

/// Whether [`get_phone_number_cached`] would answer from `cache` without signing.
pub fn is_cached(call: &Call, keys: &AppKeys, call_index: u64, cache: &EnvelopeCache) -> bool {
    match preview(call, keys, call_index) {
        Outcome::FrontEnd(_) => true,
        Outcome::Envelope(plan) => cache.contains(&plan, call.fault),
    }
}

/// An Ariver RPC trace id in the sample's style (hex), fixed by the app and the call's index.
fn trace_id(keys: &AppKeys, call_index: u64) -> String {
    use rand_chacha::rand_core::RngCore;
    let mut rng = seeded_rng(call_index, &format!("trace/{}", keys.app_id()));
    format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

/// A number in `[0, 1)` fixed by the app's keys and the call's index.
fn busy_draw(keys: &AppKeys, call_index: u64) -> f64 {
    use rand_chacha::rand_core::RngCore;
    let mut rng = seeded_rng(call_index, &format!("busy/{}", keys.app_id()));
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}
