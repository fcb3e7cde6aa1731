//! What the rules decide a call produces, before any bytes are made: a front-end failure, or
//! an envelope described by its plaintext, its form and whether it is signed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::SignType;
pub use crate::oracle::Rule;

crate::wire::wire_enum! {
    "camelCase",
    /// The callback of the mini-program page that receives the result.
    pub enum Callback {
        /// `my.getPhoneNumber`'s `success(res)`: `res.response` is the envelope text.
        Success,
        /// `my.getPhoneNumber`'s `fail(err)`: `{error?, errorMessage?}`.
        Fail,
        /// The button's `onError(e)`: `e.detail = {type, errorMessage}`.
        OnError,
        /// `my.canIUse(...)` is false: the page cannot offer the flow at all.
        Unsupported,
        /// Nothing fires: on a device's home page the button shows no sheet.
        None,
    }
}

impl Callback {
    /// `success`, `fail`, `onError` or `unsupported`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The decrypted content of an envelope. Fields serialise in the platform's order (code, msg,
/// then subCode/subMsg or mobile), compact, non-ASCII unescaped: these are the signed bytes of
/// a plain envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plaintext {
    pub code: String,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

impl Plaintext {
    pub fn success(mobile: &str) -> Self {
        Plaintext {
            code: "10000".into(),
            msg: "Success".into(),
            sub_code: None,
            sub_msg: None,
            mobile: Some(mobile.into()),
        }
    }

    pub fn error(code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> Self {
        Plaintext {
            code: code.into(),
            msg: msg.into(),
            sub_code: Some(sub_code.into()),
            sub_msg: Some(sub_msg.into()),
            mobile: None,
        }
    }

    /// The exact text the platform emits.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings serialise")
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("plain strings serialise")
    }
}

/// The envelope a rule calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopePlan {
    pub plaintext: Plaintext,
    /// AES-encrypted (`"response":"<base64>"`) or plain (`"response":{...}`).
    pub encrypted: bool,
    /// The signature type, or `None` when the envelope carries no `sign`.
    pub signing: Option<SignType>,
    /// The rule that decided the content.
    pub rule: &'static Rule,
    /// The rule that dropped `sign`, when one did.
    pub unsigned_by: Option<&'static Rule>,
    /// A plain error handed over as `res.response` itself, an object, with no envelope
    /// (`platform.error_form = object`).
    pub object_form: bool,
    /// Which keys make it: the app's own, or a third party's Alipay key pair and the
    /// merchant's AES key of a given `alipay.open.auth.app.aes.set`.
    pub keys: KeyChoice,
    /// Emit `/` as `\/` in the plaintext, as Alipay's JSON writer does.
    pub escape_slashes: bool,
}

/// The keys an envelope is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChoice {
    /// Signed with the third-party app's (ISV's) Alipay key pair instead of the app's.
    pub isv_signs: bool,
    /// The merchant AES key of this `aes.set` (1: the app's own key).
    pub aes_generation: u32,
}

impl Default for KeyChoice {
    fn default() -> Self {
        KeyChoice {
            isv_signs: false,
            aes_generation: 1,
        }
    }
}

impl EnvelopePlan {
    /// The plaintext as the platform emits it: these bytes are encrypted, or signed when plain.
    pub fn plaintext_text(&self) -> String {
        let text = self.plaintext.to_json();
        if self.escape_slashes {
            // In compact JSON a `/` can only occur inside a string, where `\/` means the same.
            text.replace('/', "\\/")
        } else {
            text
        }
    }
}

/// What the front end gets when no envelope is produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontEndFailure {
    pub callback: Callback,
    /// Exactly what the callback receives.
    pub payload: Value,
    pub rule: &'static Rule,
}

/// The decision of the rules for one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    FrontEnd(FrontEndFailure),
    Envelope(EnvelopePlan),
}

impl Outcome {
    /// The rule that decided this outcome.
    pub fn rule(&self) -> &'static Rule {
        match self {
            Outcome::FrontEnd(f) => f.rule,
            Outcome::Envelope(e) => e.rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn callbacks_have_one_name_in_json_and_in_text() {
        let names: Vec<String> = Callback::iter().map(|c| c.to_string()).collect();
        assert_eq!(names, ["success", "fail", "onError", "unsupported", "none"]);
        for callback in Callback::iter() {
            assert_eq!(serde_json::to_value(callback).unwrap(), callback.as_str());
        }
    }
}
