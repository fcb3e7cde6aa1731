//! The oracle: what a strict, correct backend must conclude from an envelope.
//!
//! Every produced envelope carries an [`Expect`], predicted from the rules and the fault that
//! made it. [`verify`] is the strict backend itself, used by `alipay-sim verify` to explain an
//! envelope; the tests check that the two always agree, and that the official SDKs agree too.
//!
//! This file is the vocabulary (verdicts, causes, expectations, business results) every
//! platform shares; `backend.rs` holds [`verify`], the strict backend of Alipay's phone envelope.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) mod backend;

pub use backend::{verify, BackendKeys, Conclusion};

crate::wire::wire_enum! {
    "kebab-case",
    /// What a backend concludes from what the front end sent it.
    pub enum Verdict {
        // What each one means is said once, in `Verdict::meaning`.
        Accept,
        RejectSignature,
        RejectDecrypt,
        RejectParse,
        RejectForeign,
        Unsigned,
        FrontEnd,
        PlatformRefused,
    }
}

impl Verdict {
    /// The name in files and the API: `accept`, `reject-signature`, ...
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the verdict means for the backend, in one line.
    pub fn meaning(self) -> &'static str {
        match self {
            Verdict::Accept => "authentic: the backend reads the plaintext (only code 10000 with a mobile is a phone number)",
            Verdict::RejectSignature => "the signature does not verify: the backend must refuse",
            Verdict::RejectDecrypt => "the signature verifies but the content does not decrypt: the backend must refuse",
            Verdict::RejectParse => "not an envelope: the backend must refuse",
            Verdict::RejectForeign => "authentic, but made for another app (WeChat's watermark.appid): the backend must refuse",
            Verdict::Unsigned => "no sign: nothing proves it came from Alipay; the backend must refuse",
            Verdict::FrontEnd => "no envelope reached the backend",
            Verdict::PlatformRefused => "the platform's server answered an error code (WeChat's errcode): nothing to read; act on the code",
        }
    }
}

/// One documented behaviour of a platform, or one deliberate fault: what can decide an
/// outcome. A platform keeps its own as `static` tables (Alipay's rules in `alipay::rules`, its
/// faults in `alipay::fault`), so a [`Cause`] carries its words and its source with it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Stable id, e.g. `console.phone-application-not-approved` or `fault.missing-sign`.
    pub id: &'static str,
    /// What happens, in words, as a dashboard would show it.
    pub summary: &'static str,
    /// Where the behaviour is documented.
    pub source: &'static str,
}

/// What decided an outcome: a documented rule of the platform, or a fault made on purpose.
/// Written as its id, a string such as `"console.no-signing"` or `"fault.missing-sign"` (the
/// `rule` of an [`Expect`]).
///
/// An id read back from a file is first [`Cause::Recorded`]: the oracle knows no platform, so
/// it cannot tell by itself what an id names. The platform's tables resolve it
/// ([`Cause::resolve`] with `alipay::rules::cause`), and the types that are read back from
/// files (a `Delivery`, a scenario's declared expectation, a journal entry) do so as they are
/// read; an id that no table knows (from another version, say) stays recorded. Causes compare
/// by id, so a recorded one equals the rule or fault it names.
#[derive(Debug, Clone)]
pub enum Cause {
    /// A documented behaviour of the platform.
    Rule(&'static Rule),
    /// A deliberate mistake in the envelope.
    Fault(&'static Rule),
    /// An id as it was read, that no table resolved.
    Recorded(String),
}

impl Cause {
    /// `console.no-signing`, `fault.missing-sign`.
    pub fn id(&self) -> &str {
        match self {
            Cause::Rule(rule) | Cause::Fault(rule) => rule.id,
            Cause::Recorded(id) => id,
        }
    }

    /// The rule or fault, with its words and source; `None` for an id no table resolved.
    pub fn described(&self) -> Option<&'static Rule> {
        match self {
            Cause::Rule(rule) | Cause::Fault(rule) => Some(rule),
            Cause::Recorded(_) => None,
        }
    }

    /// A recorded id as `known` resolves it; any other cause as it is.
    pub fn resolve(self, known: impl FnOnce(&str) -> Option<Cause>) -> Cause {
        match self {
            Cause::Recorded(id) => known(&id).unwrap_or(Cause::Recorded(id)),
            cause => cause,
        }
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Cause {}

impl std::hash::Hash for Cause {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

impl PartialEq<str> for Cause {
    fn eq(&self, id: &str) -> bool {
        self.id() == id
    }
}

impl PartialEq<&str> for Cause {
    fn eq(&self, id: &&str) -> bool {
        self.id() == *id
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// An id, as [`Cause::Recorded`]: see [`Cause`] for how it is resolved.
impl<'de> Deserialize<'de> for Cause {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Cause::Recorded)
    }
}

/// The oracle attached to every result: the verdict, the plaintext a backend reads (only on
/// `accept`), the rule or fault that produced it, and why, in one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Expect {
    pub verdict: Verdict,
    /// The decrypted content a backend reads, on `accept`; else null.
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
    // The rule or fault that produced it; written as its id, under the name `rule`.
    #[serde(rename = "rule")]
    #[schema(value_type = String)]
    pub cause: Cause,
    pub reason: String,
    /// What a backend that follows the newest doc concludes, where that differs from the strict
    /// view above: the doc says an answer without `sign` means the app has no signing set up
    /// and tells backends to skip verification. Present only for envelopes the platform left
    /// unsigned because of the console (never for a `sign` stripped on the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub doc_policy: Option<PolicyView>,
}

crate::wire::wire_enum! {
    "kebab-case",
    /// Which reading of an unsigned answer a backend follows.
    #[derive(Default)]
    pub enum Policy {
        #[default]
        /// Refuse whatever is unsigned: anyone on the path can strip `sign` (the oracle's view).
        Strict,
        /// Skip verification when the app has no signing set up, as the newest doc says.
        Doc,
    }
}

/// A verdict under [`Policy::Doc`], where it differs from the strict one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub verdict: Verdict,
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
    pub reason: String,
}

impl Expect {
    /// The verdict and plaintext a backend following `policy` reaches.
    pub fn under(&self, policy: Policy) -> (Verdict, Option<&Value>) {
        match (policy, &self.doc_policy) {
            (Policy::Doc, Some(view)) => (view.verdict, view.plaintext.as_ref()),
            _ => (self.verdict, self.plaintext.as_ref()),
        }
    }

    /// This oracle as a backend following `policy` sees it.
    pub fn for_policy(&self, policy: Policy) -> Expect {
        match (policy, &self.doc_policy) {
            (Policy::Doc, Some(view)) => Expect {
                verdict: view.verdict,
                plaintext: view.plaintext.clone(),
                cause: self.cause.clone(),
                reason: view.reason.clone(),
                doc_policy: None,
            },
            _ => self.clone(),
        }
    }

    /// What the plaintext means to the business, when the envelope is authentic.
    pub fn business_result(&self) -> Option<BusinessResult> {
        self.plaintext
            .as_ref()
            .filter(|_| self.verdict == Verdict::Accept)
            .and_then(BusinessResult::of)
    }

    /// Code 10000 with a non-empty mobile, from an authentic envelope: a phone number.
    pub fn is_phone_number(&self) -> bool {
        self.business_result() == Some(BusinessResult::PhoneNumber)
    }
}

/// What an authentic plaintext means to the business: a phone number, or an answer that is
/// not one (`accept` only says the envelope is authentic). Serialised for listings as
/// `phone-number`, `10000 no-mobile`, or the code and sub-code, e.g.
/// `40006 isv.insufficient-isv-permissions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusinessResult {
    /// Code 10000 with a non-empty mobile: the only answer that is a login.
    PhoneNumber,
    /// Code 10000 with an empty or no mobile.
    NoMobile,
    /// Any other code, with its sub-code when there is one.
    Error {
        code: String,
        sub_code: Option<String>,
    },
}

impl BusinessResult {
    /// What a plaintext (`{"code", "msg", "subCode"?, "mobile"?}`) means; `None` without a code.
    pub fn of(plaintext: &Value) -> Option<BusinessResult> {
        let code = plaintext.get("code")?.as_str()?;
        let mobile = plaintext.get("mobile").and_then(Value::as_str);
        Some(match code {
            "10000" if mobile.is_some_and(|m| !m.is_empty()) => BusinessResult::PhoneNumber,
            "10000" => BusinessResult::NoMobile,
            _ => BusinessResult::Error {
                code: code.to_string(),
                sub_code: plaintext
                    .get("subCode")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
        })
    }

    /// `phone-number`, `10000 no-mobile`, `40006 isv.insufficient-isv-permissions`.
    pub fn key(&self) -> String {
        match self {
            BusinessResult::PhoneNumber => "phone-number".into(),
            BusinessResult::NoMobile => "10000 no-mobile".into(),
            BusinessResult::Error {
                code,
                sub_code: Some(sub_code),
            } => format!("{code} {sub_code}"),
            BusinessResult::Error {
                code,
                sub_code: None,
            } => code.clone(),
        }
    }

    /// In words: `phone number`, `10000, no mobile`, `40006, no phone number`.
    pub fn summary(&self) -> String {
        match self {
            BusinessResult::PhoneNumber => "phone number".into(),
            BusinessResult::NoMobile => "10000, no mobile".into(),
            BusinessResult::Error { code, .. } => format!("{code}, no phone number"),
        }
    }
}

impl Serialize for BusinessResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_serialise_in_kebab_case() {
        use strum::IntoEnumIterator;
        for verdict in Verdict::iter() {
            assert_eq!(
                serde_json::to_value(verdict).unwrap(),
                Value::String(verdict.as_str().to_string())
            );
            assert_eq!(verdict.to_string(), verdict.as_str());
        }
    }

    static SUCCESS: Rule = Rule {
        id: "success",
        summary: "Success",
        source: "spec",
    };

    #[test]
    fn causes_are_written_as_their_id_and_compare_by_it() {
        let cause = Cause::Rule(&SUCCESS);
        assert_eq!(serde_json::to_value(&cause).unwrap(), "success");
        let read: Cause = serde_json::from_str("\"success\"").unwrap();
        assert!(matches!(&read, Cause::Recorded(id) if id == "success"));
        assert_eq!(read, cause);
        assert_eq!(read.described(), None);
        let resolved = read.resolve(|id| (id == "success").then_some(Cause::Rule(&SUCCESS)));
        assert_eq!(resolved.described(), Some(&SUCCESS));
        let unknown = Cause::Recorded("gone".into()).resolve(|_| None);
        assert_eq!(unknown, "gone");
    }
}
