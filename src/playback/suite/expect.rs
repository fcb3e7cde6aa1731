//! What a step expects of the backend's answer, and how an answer is checked against it.

use super::prepare::{fill_json, substitute};
use super::*;
use crate::oracle::Expect;

/// What a correct backend, configured as the suite says, concludes from a step's envelope:
/// the delivery's oracle when the backend holds the keys the app was configured with;
/// otherwise (a scenario's app signs with RSA, or has an AES-256 key) what a strict backend
/// with the suite's keys concludes, with the cause that made the envelope.
pub(super) fn for_backend(delivery: &Delivery, envelope: &str, backend: &BackendKeys) -> Expect {
    let mut differences = Vec::new();
    if let Some(sign_type) = delivery.sign_type.filter(|t| *t != backend.sign_type) {
        differences.push(format!("signs {sign_type}"));
    }
    if delivery
        .alipay_public_key
        .as_ref()
        .is_some_and(|k| *k != backend.alipay_public_key.to_base64())
    {
        differences.push("signs with another Alipay key pair (a third party's)".to_string());
    }
    let backend_aes_key = backend.aes_key.as_ref().map(AesKey::to_base64);
    if let Some(key) = delivery
        .aes_key
        .as_ref()
        .filter(|k| backend_aes_key.as_ref() != Some(*k))
    {
        let bits = AesKey::from_base64(key).map_or(0, |k| k.as_bytes().len() * 8);
        differences.push(format!("has another AES key (AES-{bits})"));
    }
    if differences.is_empty() {
        return delivery.expect.clone();
    }
    let conclusion = oracle::verify(envelope, backend);
    Expect {
        verdict: conclusion.verdict,
        plaintext: conclusion.plaintext,
        cause: delivery.expect.cause.clone(),
        reason: format!(
            "this app {}, unlike the backend under test ({}); with the backend's keys: {}",
            differences.join(" and "),
            backend.sign_type,
            conclusion.reason
        ),
        // The doc's reading needs the app's own keys; with the backend's, the strict view stands.
        doc_policy: None,
    }
}

/// The value of `{{mobile}}` or `{{code}}`: what a correct backend reads from the envelope.
fn placeholder(oracle: &Expect, name: &str) -> Result<Option<String>, String> {
    let field = match name {
        "mobile" => "mobile",
        "code" => "code",
        _ => return Ok(None),
    };
    let value = oracle
        .plaintext
        .as_ref()
        .filter(|_| oracle.verdict == Verdict::Accept)
        .and_then(|p| p[field].as_str());
    match value {
        Some(v) => Ok(Some(v.to_string())),
        None => Err(format!(
            "{{{{{name}}}}} is the {field} a correct backend reads from the envelope, but this step's envelope gives none ({})",
            oracle.verdict
        )),
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// Why a correct backend refuses an envelope, by what the oracle concludes: a suite may
    /// expect a distinct answer for each (`refusals`), so that a backend refusing a genuine
    /// 40006 through a bug is told apart from one refusing a forgery.
    pub enum RefusalClass {
        /// Authentic (the signature verifies and the content decrypts), but its plaintext is no
        /// phone number: 40003, 40006, 20000, 10000 without a mobile.
        NotAPhoneNumber,
        /// Forged or broken: the signature does not verify, the content does not decrypt, or
        /// there is no `sign`.
        Forged,
        /// Not an envelope: text that is not JSON, no `response`, a `response` of no known form.
        Unparseable,
    }
}

impl RefusalClass {
    /// The class of the refusal `oracle` calls for; `None` when it calls for none (a phone
    /// number) or nothing reaches the backend.
    pub fn of(oracle: &Expect) -> Option<RefusalClass> {
        match oracle.verdict {
            Verdict::Accept if oracle.is_phone_number() => None,
            Verdict::Accept => Some(RefusalClass::NotAPhoneNumber),
            Verdict::RejectSignature | Verdict::RejectDecrypt | Verdict::Unsigned => {
                Some(RefusalClass::Forged)
            }
            Verdict::RejectParse => Some(RefusalClass::Unparseable),
            // A payload made for another app is authentic but not this app's to accept.
            Verdict::RejectForeign => Some(RefusalClass::Forged),
            Verdict::FrontEnd | Verdict::PlatformRefused => None,
        }
    }

    /// `not-a-phone-number`, `forged`, `unparseable`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Which of the suite's expectations a step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectKind {
    Success,
    Refusal,
    Custom,
    Skip,
}

/// An [`AnswerSpec`] with its placeholders filled in for one step.
#[derive(Debug, Clone, Serialize)]
pub struct Expectation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", with = "regex_text")]
    pub body_matches: Option<Regex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
}

mod regex_text {
    pub fn serialize<S: serde::Serializer>(
        regex: &Option<regex::Regex>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match regex {
            Some(r) => serializer.serialize_str(r.as_str()),
            None => serializer.serialize_none(),
        }
    }
}

impl AnswerSpec {
    /// Checks what can be checked without a step: the regular expression.
    pub(super) fn check_syntax(&self) -> Result<(), (&'static str, String)> {
        if let Some(pattern) = &self.body_matches {
            Regex::new(pattern).map_err(|e| ("body_matches", regex_error(pattern, &e)))?;
        }
        Ok(())
    }

    pub(super) fn resolve(&self, oracle: &Expect) -> Result<Expectation, (&'static str, String)> {
        let fill = |text: &str| substitute(text, &|name| placeholder(oracle, name));
        let json = match &self.json {
            Some(value) => Some(fill_json(value, &fill).map_err(|m| ("json", m))?),
            None => None,
        };
        let body_contains = match &self.body_contains {
            Some(text) => Some(fill(text).map_err(|m| ("body_contains", m))?),
            None => None,
        };
        let body_matches = match &self.body_matches {
            Some(pattern) => {
                let pattern = fill(pattern).map_err(|m| ("body_matches", m))?;
                Some(
                    Regex::new(&pattern)
                        .map_err(|e| ("body_matches", regex_error(&pattern, &e)))?,
                )
            }
            None => None,
        };
        Ok(Expectation {
            status: self.status.clone(),
            json,
            body_contains,
            body_matches,
            max_latency_ms: self.max_latency_ms,
        })
    }
}

/// One way an answer differs from what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `status`, `latency`, `body`, or a JSON path such as `$.mobile`.
    pub at: String,
    pub expected: String,
    pub got: String,
}

impl Expectation {
    /// Every way the answer of the exchange `answer` misses this expectation; empty when it
    /// meets it.
    pub fn check(&self, answer: &crate::sim::exchange::Exchange) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        if let Some(status) = &self.status {
            if !answer.status.is_some_and(|got| status.contains(got)) {
                mismatches.push(Mismatch {
                    at: "status".into(),
                    expected: status.to_string(),
                    got: answer
                        .status
                        .map_or("no answer".into(), |got| got.to_string()),
                });
            }
        }
        if let Some(expected) = &self.json {
            match serde_json::from_str::<Value>(&answer.body) {
                Ok(actual) => json_subset("$", expected, &actual, &mut mismatches),
                Err(e) => mismatches.push(Mismatch {
                    at: "body".into(),
                    expected: format!("JSON containing {expected}"),
                    got: format!("text that is not JSON ({e})"),
                }),
            }
        }
        if let Some(needle) = &self.body_contains {
            if !answer.body.contains(needle.as_str()) {
                mismatches.push(Mismatch {
                    at: "body".into(),
                    expected: format!("to contain {needle:?}"),
                    got: "no such text".into(),
                });
            }
        }
        if let Some(regex) = &self.body_matches {
            if !regex.is_match(&answer.body) {
                mismatches.push(Mismatch {
                    at: "body".into(),
                    expected: format!("to match /{}/", regex.as_str()),
                    got: "no match".into(),
                });
            }
        }
        if let Some(limit) = self.max_latency_ms {
            if answer.elapsed_ms > limit {
                mismatches.push(Mismatch {
                    at: "latency".into(),
                    expected: format!("at most {limit} ms"),
                    got: format!("{} ms", answer.elapsed_ms),
                });
            }
        }
        mismatches
    }

    /// One line: `status 2xx, body contains "138…"`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = &self.status {
            parts.push(format!("status {status}"));
        }
        if let Some(json) = &self.json {
            parts.push(format!("JSON body containing {json}"));
        }
        if let Some(text) = &self.body_contains {
            parts.push(format!("body containing {text:?}"));
        }
        if let Some(regex) = &self.body_matches {
            parts.push(format!("body matching /{}/", regex.as_str()));
        }
        if let Some(limit) = self.max_latency_ms {
            parts.push(format!("within {limit} ms"));
        }
        if parts.is_empty() {
            "any answer".into()
        } else {
            parts.join(", ")
        }
    }
}

/// `expected` must be found in `actual`: objects may have more keys, other values are equal.
fn json_subset(path: &str, expected: &Value, actual: &Value, out: &mut Vec<Mismatch>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, want_value) in want {
                let child = if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    format!("{path}.{key}")
                } else {
                    format!("{path}[{key:?}]")
                };
                match have.get(key) {
                    Some(have_value) => json_subset(&child, want_value, have_value, out),
                    None => out.push(Mismatch {
                        at: child,
                        expected: want_value.to_string(),
                        got: "(missing)".into(),
                    }),
                }
            }
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (i, (w, h)) in want.iter().zip(have).enumerate() {
                json_subset(&format!("{path}[{i}]"), w, h, out);
            }
        }
        (want, have) if want == have => {}
        (want, have) => out.push(Mismatch {
            at: path.to_string(),
            expected: want.to_string(),
            got: have.to_string(),
        }),
    }
}
