//! Suites: calls to replay against a developer's backend, each with what the backend's answer
//! must show. Built-in suites live in `scenarios/suites/` and are embedded at build time; a
//! user's suite is any JSON file of the same shape.
//!
//! Loading a suite checks everything that can be checked before a request is sent: unknown keys,
//! unknown scenarios, faults that cannot apply, regular expressions, placeholders. Errors name
//! the file, the step and the key.
//!
//! The suite file's own sections are here; a step and what its answer must show are in
//! `step.rs`, the conditions on an answer in `answer.rs`, reading a file in `load.rs`, making
//! every step's envelope and expectation in `prepare.rs` (and `expect.rs`), and suites from
//! device-page recordings in `recorded.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::alipay::fault::Fault;
use crate::alipay::model::{Action, Console, Mobile, Quirks, User};
use crate::alipay::scenario::catalogue;
use crate::alipay::simulate::{get_phone_number, Call, Delivery};
use crate::crypto::SignType;
use crate::crypto::{AesKey, SigningKey};
use crate::http::backend::RequestShape;
use crate::keys::AppKeys;
use crate::oracle::Policy;
use crate::oracle::Verdict;
use crate::oracle::{self, BackendKeys};
use crate::sim::recording::{RecordedCall, Recording};
use crate::sim::store::{BackendTarget, BodyShape};

mod answer;
mod expect;
mod load;
mod prepare;
mod recorded;
mod step;

use answer::regex_error;
pub use answer::{AnswerSpec, StatusSpec};
pub use expect::{ExpectKind, Expectation, Mismatch, RefusalClass};
pub use load::{builtin_names, LoadedSuite, SuiteError};
pub use prepare::{PreparedStep, PreparedSuite};
pub use step::{AlipayPhoneStep, Flow, Step, StepExpect};

// A suite's objects refuse an array in their place.
crate::de::object_only!(
    serialize and deserialize: Suite, BackendSpec, SuiteKeys, AlipayPhoneStep, AnswerSpec,
    RefusalSpecs
);

/// One suite file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub backend: BackendSpec,
    /// What the backend's answer shows when it accepts a phone number; steps whose `expect`
    /// is `"success"`, or derived from the oracle, use it.
    #[serde(default = "AnswerSpec::default_success")]
    pub success: AnswerSpec,
    /// What the backend's answer shows when it refuses an envelope: every refusal, or those of
    /// the classes `refusals` does not give.
    #[serde(default = "AnswerSpec::default_refusal")]
    pub refusal: AnswerSpec,
    /// What the answer shows for each class of refusal (authentic but not a phone number,
    /// forged or broken, unparseable); a class not given uses `refusal`.
    #[serde(default, skip_serializing_if = "RefusalSpecs::is_empty")]
    pub refusals: RefusalSpecs,
    /// Which reading of an unsigned answer the backend under test follows: `strict` (default:
    /// refuse whatever is unsigned) or `doc` (the newest doc: an app without a signing method
    /// gets no `sign`, and the backend skips verification). Decides what an oracle-derived step
    /// expects of the backend.
    #[serde(default, skip_serializing_if = "is_strict")]
    pub policy: Policy,
    /// The app's keys, when they are not those of `--seed` (a recorded suite carries them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<SuiteKeys>,
    pub steps: Vec<Step>,
}

fn is_strict(policy: &Policy) -> bool {
    *policy == Policy::Strict
}

/// How to reach the backend under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct BackendSpec {
    /// The backend's endpoint; `play --backend URL` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub method: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The transport shape: `json` (`{"response": <envelope>}`, the default), `form`
    /// (`response=<envelope>`), `raw` (text/plain), `raw-json`, `raw-form`, `query` (a GET),
    /// `split-json` or `split-form` (`encryptedData` and `sign`); see [`BodyShape`]. A step's
    /// own `body` wins.
    pub body: BodyShape,
    /// The JSON key or form field that carries the envelope.
    pub field: String,
    /// Other fields sent with the envelope, e.g. a user token.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub values: Map<String, Value>,
    /// The sign type the backend is configured with.
    pub sign_type: SignType,
    pub timeout_ms: u64,
}

impl Default for BackendSpec {
    fn default() -> Self {
        BackendSpec {
            url: None,
            method: "POST".into(),
            headers: BTreeMap::new(),
            body: BodyShape::Json,
            field: "response".into(),
            values: Map::new(),
            sign_type: SignType::Rsa2,
            timeout_ms: 10_000,
        }
    }
}

/// The answers a suite expects for each class of refusal; see [`RefusalClass`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields, rename_all = "kebab-case")]
pub struct RefusalSpecs {
    /// Authentic, but not a phone number: a genuine 40003, 40006, 20000, or 10000 without a
    /// mobile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_a_phone_number: Option<AnswerSpec>,
    /// Forged or broken: a signature that does not verify, content that does not decrypt, no
    /// `sign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forged: Option<AnswerSpec>,
    /// Not an envelope at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unparseable: Option<AnswerSpec>,
}

impl RefusalSpecs {
    fn is_empty(&self) -> bool {
        *self == RefusalSpecs::default()
    }

    /// The spec given for `class`, if any.
    pub fn get(&self, class: RefusalClass) -> Option<&AnswerSpec> {
        match class {
            RefusalClass::NotAPhoneNumber => self.not_a_phone_number.as_ref(),
            RefusalClass::Forged => self.forged.as_ref(),
            RefusalClass::Unparseable => self.unparseable.as_ref(),
        }
    }
}

/// Keys written into a suite: the app id, the Alipay private key the simulator signs with
/// (PKCS#8 PEM, or PKCS#1), and the AES key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct SuiteKeys {
    pub app_id: String,
    pub alipay_private_key: String,
    pub aes_key: String,
}
