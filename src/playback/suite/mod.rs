//! Suites: calls to replay against a developer's backend, each with what the backend's answer
//! must show. Built-in suites live in `scenarios/suites/` and are embedded at build time; a
//! user's suite is any JSON file of the same shape.
//!
//! Loading a suite checks everything that can be checked before a request is sent: unknown keys,
//! unknown scenarios, faults that cannot apply, regular expressions, placeholders. Errors name
//! the file, the step and the key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::alipay::fault::Fault;
use crate::alipay::model::{Action, Console, Mobile, Quirks, User};
use crate::alipay::simulate::{get_phone_number, Call, Delivery};
use crate::crypto::{AesKey, SigningKey};
use crate::http::backend::RequestShape;
use crate::keys::AppKeys;
use crate::oracle::{self, BackendKeys};
use crate::sim::recording::{RecordedCall, Recording};
use crate::sim::store::{BackendTarget, BodyShape};
use crate::{catalogue, SignType, Verdict};

mod expect;
mod prepare;
mod recorded;

pub use expect::{ExpectKind, Expectation, Mismatch};
use prepare::{expand_env, step_label};
pub use prepare::{PreparedStep, PreparedSuite};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/suite_files.rs"));
}

// A suite's objects refuse an array in their place.
crate::de::object_only!(
    serialize and deserialize: Suite, BackendSpec, SuiteKeys, Step, AnswerSpec
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
    /// What the backend's answer shows when it refuses an envelope.
    #[serde(default = "AnswerSpec::default_refusal")]
    pub refusal: AnswerSpec,
    /// The app's keys, when they are not those of `--seed` (a recorded suite carries them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<SuiteKeys>,
    pub steps: Vec<Step>,
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
    /// `json` (`{"response": <envelope>}`), `form` (`response=<envelope>`) or `raw`.
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

/// Keys written into a suite: the app id, the Alipay private key the simulator signs with
/// (PKCS#8 PEM, or PKCS#1), and the AES key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct SuiteKeys {
    pub app_id: String,
    pub alipay_private_key: String,
    pub aes_key: String,
}

/// One step: a catalogue scenario, or a call given inline, and what the answer must show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Step {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The bound mobile, instead of the scenario's or the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Mobile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<Console>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Quirks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(default, skip_serializing_if = "StepExpect::is_oracle")]
    pub expect: StepExpect,
}

/// What a step's answer must show.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StepExpect {
    /// Derived from the oracle: the suite's `success` for an envelope whose plaintext is code
    /// 10000 with a mobile, its `refusal` for everything else.
    #[default]
    Oracle,
    Success,
    Refusal,
    Answer(AnswerSpec),
}

impl StepExpect {
    fn is_oracle(&self) -> bool {
        *self == StepExpect::Oracle
    }
}

impl Serialize for StepExpect {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StepExpect::Oracle => serializer.serialize_str("oracle"),
            StepExpect::Success => serializer.serialize_str("success"),
            StepExpect::Refusal => serializer.serialize_str("refusal"),
            StepExpect::Answer(spec) => spec.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StepExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => match s.as_str() {
                "oracle" => Ok(StepExpect::Oracle),
                "success" => Ok(StepExpect::Success),
                "refusal" => Ok(StepExpect::Refusal),
                other => Err(D::Error::custom(format!(
                    "unknown expectation {other:?}: expected \"oracle\", \"success\", \"refusal\" or an object"
                ))),
            },
            object @ Value::Object(_) => AnswerSpec::deserialize(object)
                .map(StepExpect::Answer)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected \"oracle\", \"success\", \"refusal\" or an object, got {other}"
            ))),
        }
    }
}

/// Conditions on a backend's answer. Strings may use `{{mobile}}` and `{{code}}`: the mobile
/// and code of the plaintext a correct backend reads from the step's envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct AnswerSpec {
    /// `200`, `"2xx"`, `"400-499"`, or a list of those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSpec>,
    /// A JSON value the body must contain: objects may have more keys than given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// A regular expression (Rust `regex` syntax) that must match somewhere in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
}

impl AnswerSpec {
    /// A 2xx answer whose body holds the mobile.
    pub fn default_success() -> Self {
        AnswerSpec {
            status: Some(StatusSpec(vec![(200, 299)])),
            body_contains: Some("{{mobile}}".into()),
            ..Default::default()
        }
    }

    /// A 4xx answer.
    pub fn default_refusal() -> Self {
        AnswerSpec {
            status: Some(StatusSpec(vec![(400, 499)])),
            ..Default::default()
        }
    }
}

/// Accepted status codes, as inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSpec(pub Vec<(u16, u16)>);

impl StatusSpec {
    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }

    fn parse_one(text: &str) -> Result<(u16, u16), String> {
        let code = |s: &str| -> Result<u16, String> {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| format!("{s:?} is not an HTTP status (100 to 599)"))
        };
        let text = text.trim();
        if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
            let first = code(&format!("{class}00"))?;
            return Ok((first, first + 99));
        }
        if let Some((low, high)) = text.split_once('-') {
            let (low, high) = (code(low)?, code(high)?);
            if low > high {
                return Err(format!("{text:?}: the range is empty"));
            }
            return Ok((low, high));
        }
        code(text).map(|c| (c, c))
    }
}

impl std::fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(low, high)| match (low, high) {
                (l, h) if l == h => l.to_string(),
                (l, h) if l % 100 == 0 && h == l + 99 => format!("{}xx", l / 100),
                (l, h) => format!("{l}-{h}"),
            })
            .collect();
        f.write_str(&parts.join(" or "))
    }
}

impl Serialize for StatusSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [(low, high)] if low == high => serializer.serialize_u16(*low),
            [(low, high)] => serializer.serialize_str(&format!("{low}-{high}")),
            ranges => serializer.collect_seq(ranges.iter().map(|(low, high)| {
                if low == high {
                    low.to_string()
                } else {
                    format!("{low}-{high}")
                }
            })),
        }
    }
}

impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let one = |value: &Value| -> Result<(u16, u16), String> {
            match value {
                Value::Number(n) => StatusSpec::parse_one(&n.to_string()),
                Value::String(s) => StatusSpec::parse_one(s),
                other => Err(format!(
                    "{other} is not a status: give 200, \"2xx\" or \"400-499\""
                )),
            }
        };
        let ranges = match Value::deserialize(deserializer)? {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(one)
                .collect::<Result<Vec<_>, _>>()
                .map_err(D::Error::custom)?,
            Value::Array(_) => return Err(D::Error::custom("an empty list of statuses")),
            value => vec![one(&value).map_err(D::Error::custom)?],
        };
        Ok(StatusSpec(ranges))
    }
}

/// Why a suite cannot be played. Messages name the file, and the step and key when there is one.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: {at}: {message}")]
    At {
        file: String,
        at: String,
        message: String,
    },
    #[error("no suite {0:?}: not a file, nor a built-in suite ({builtins})", builtins = builtin_names().join(", "))]
    NotFound(String),
}

/// A suite read from a file or the built-in ones.
#[derive(Debug, Clone)]
pub struct LoadedSuite {
    /// The path, or `built-in:NAME`.
    pub file: String,
    pub suite: Suite,
}

impl LoadedSuite {
    /// Parses suite text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<LoadedSuite, SuiteError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let suite: Suite = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let at = error.path().to_string();
            let message =
                wrong_type_for_choice(text, &error).unwrap_or_else(|| error.inner().to_string());
            if at == "." || at.is_empty() {
                SuiteError::File {
                    file: file.to_string(),
                    message,
                }
            } else {
                SuiteError::At {
                    file: file.to_string(),
                    at,
                    message,
                }
            }
        })?;
        if suite.steps.is_empty() {
            return Err(SuiteError::At {
                file: file.into(),
                at: "steps".into(),
                message: "the suite has no steps".into(),
            });
        }
        Ok(LoadedSuite {
            file: file.to_string(),
            suite,
        })
    }

    /// A path to a suite file, or the name of a built-in suite.
    pub fn load(argument: &str) -> Result<LoadedSuite, SuiteError> {
        let path = std::path::Path::new(argument);
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| SuiteError::File {
                file: argument.to_string(),
                message: format!("cannot read it: {e}"),
            })?;
            return LoadedSuite::parse(argument, &text);
        }
        if let Some((_, text)) = builtin(argument) {
            return LoadedSuite::parse(&format!("built-in:{argument}"), text);
        }
        if path.exists() {
            return Err(SuiteError::File {
                file: argument.to_string(),
                message: "not a file".into(),
            });
        }
        Err(SuiteError::NotFound(argument.to_string()))
    }

    /// Resolves every step into the envelope to send and the answer to expect, with the app's
    /// `keys` (`--seed`'s, unless the suite carries its own). Nothing is sent yet.
    pub fn prepare(&self, seed_keys: Arc<AppKeys>) -> Result<PreparedSuite, SuiteError> {
        let at = |at: String, message: String| SuiteError::At {
            file: self.file.clone(),
            at,
            message,
        };
        let keys = match &self.suite.keys {
            Some(k) => Arc::new(k.to_app_keys().map_err(|m| at("keys".into(), m))?),
            None => seed_keys,
        };
        let backend_keys = BackendKeys {
            alipay_public_key: keys.alipay_key().public_key().clone(),
            aes_key: Some(keys.aes_key().clone()),
            sign_type: self.suite.backend.sign_type,
        };
        let request = self
            .suite
            .backend
            .request_shape()
            .map_err(|(key, m)| at(format!("backend.{key}"), m))?;
        let url = match &self.suite.backend.url {
            Some(url) => Some(expand_env(url).map_err(|m| at("backend.url".into(), m))?),
            None => None,
        };
        for (name, spec) in [
            ("success", &self.suite.success),
            ("refusal", &self.suite.refusal),
        ] {
            spec.check_syntax()
                .map_err(|(key, m)| at(format!("{name}.{key}"), m))?;
        }
        let mut steps = Vec::with_capacity(self.suite.steps.len());
        for (index, step) in self.suite.steps.iter().enumerate() {
            let label = step_label(index, step);
            let at = |key: &str, message: String| {
                let at = if key.is_empty() {
                    label.clone()
                } else {
                    format!("{label}.{key}")
                };
                SuiteError::At {
                    file: self.file.clone(),
                    at,
                    message,
                }
            };
            let (call, scenario) = step.call().map_err(|(key, m)| at(key, m))?;
            let delivery = get_phone_number(&call, &keys, 0).map_err(|e| at("", e.to_string()))?;
            let name = step
                .name
                .clone()
                .or_else(|| scenario.clone())
                .unwrap_or_else(|| format!("step {}", index + 1));
            let prepared = match delivery.envelope() {
                None => {
                    if let StepExpect::Answer(spec) = &step.expect {
                        spec.check_syntax()
                            .map_err(|(key, m)| at(&format!("expect.{key}"), m))?;
                    }
                    PreparedStep {
                        index,
                        name,
                        scenario,
                        oracle: delivery.expect.clone(),
                        kind: ExpectKind::Skip,
                        envelope: None,
                        expect: None,
                        skip_reason: Some(format!(
                            "nothing reaches the backend: the front end gets {} ({})",
                            delivery.callback, delivery.expect.cause
                        )),
                    }
                }
                Some(envelope) => {
                    let judgement = expect::for_backend(&delivery, envelope, &backend_keys);
                    let (kind, spec, key) = match &step.expect {
                        StepExpect::Oracle if judgement.is_phone_number() => {
                            (ExpectKind::Success, &self.suite.success, "success")
                        }
                        StepExpect::Oracle => (ExpectKind::Refusal, &self.suite.refusal, "refusal"),
                        StepExpect::Success => {
                            (ExpectKind::Success, &self.suite.success, "success")
                        }
                        StepExpect::Refusal => {
                            (ExpectKind::Refusal, &self.suite.refusal, "refusal")
                        }
                        StepExpect::Answer(spec) => (ExpectKind::Custom, spec, "expect"),
                    };
                    let expect = spec
                        .resolve(&judgement)
                        .map_err(|(k, m)| at(&format!("{key}.{k}"), m))?;
                    PreparedStep {
                        index,
                        name,
                        scenario,
                        oracle: judgement,
                        kind,
                        envelope: Some(envelope.to_string()),
                        expect: Some(expect),
                        skip_reason: None,
                    }
                }
            };
            steps.push(prepared);
        }
        Ok(PreparedSuite {
            file: self.file.clone(),
            name: self.suite.name.clone(),
            own_keys: self.suite.keys.is_some(),
            url,
            request,
            steps,
        })
    }
}

/// serde_json reports a number, list or `true` where one of a few names (an enum) is expected
/// as a syntax error, "expected value", without naming the choices. When the text is valid JSON,
/// that is what happened: the names are found by putting a name that is none of them there.
fn wrong_type_for_choice(
    text: &str,
    error: &serde_path_to_error::Error<serde_json::Error>,
) -> Option<String> {
    if !error.inner().is_syntax() {
        return None;
    }
    let mut value: Value = serde_json::from_str(text).ok()?;
    let slot = value_at(&mut value, error.path())?;
    let given = std::mem::replace(slot, Value::String("\u{1}".into()));
    let probe = serde_path_to_error::deserialize::<_, Suite>(&value).err()?;
    if probe.path().to_string() != error.path().to_string() {
        return None;
    }
    let message = probe.inner().to_string();
    let (_, choices) = message.split_once(", expected ")?;
    Some(format!("expected {choices}, got {given}"))
}

/// The value a serde path points to.
fn value_at<'v>(value: &'v mut Value, path: &serde_path_to_error::Path) -> Option<&'v mut Value> {
    use serde_path_to_error::Segment;
    let mut here = value;
    for segment in path.iter() {
        here = match segment {
            Segment::Seq { index } => here.get_mut(*index)?,
            Segment::Map { key } => here.get_mut(key.as_str())?,
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    Some(here)
}

/// A regular expression's error on one line: the pattern, what is wrong, and where.
fn regex_error(pattern: &str, error: &regex::Error) -> String {
    let text = error.to_string();
    let what = text
        .lines()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or_default());
    // The parser shows the pattern indented by four spaces, with a caret line under the fault.
    let at = text
        .lines()
        .find(|line| line.trim_start().starts_with('^') && line.trim().chars().all(|c| c == '^'))
        .filter(|_| !pattern.contains('\n'))
        .and_then(|caret| (caret.len() - caret.trim_start().len()).checked_sub(4))
        .map(|column| format!(" at character {}", column + 1))
        .unwrap_or_default();
    format!("{pattern:?} is not a valid regular expression: {what}{at}")
}

/// The built-in suites' names.
pub fn builtin_names() -> Vec<&'static str> {
    embedded::FILES
        .iter()
        .filter_map(|(file, _)| file.strip_suffix(".json"))
        .collect()
}

fn builtin(name: &str) -> Option<(&'static str, &'static str)> {
    let name = name.strip_prefix("built-in:").unwrap_or(name);
    embedded::FILES
        .iter()
        .copied()
        .find(|(file, _)| file.strip_suffix(".json") == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::backend::Answer;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
            truncated: false,
            elapsed_ms: 5,
        }
    }

    fn parse(text: &str) -> Result<LoadedSuite, SuiteError> {
        LoadedSuite::parse("my-suite.json", text)
    }

    #[test]
    fn builtin_suites_parse_and_prepare() {
        assert!(builtin_names().iter().any(|n| n.contains("conformance")));
        for name in builtin_names() {
            let loaded = LoadedSuite::load(name).unwrap();
            loaded.prepare(AppKeys::for_seed(0).unwrap()).unwrap();
        }
    }

    #[test]
    fn errors_name_file_step_and_key() {
        let err = parse(r#"{"name":"x","steps":[{"scenario":"success"},{"scenario":"success","expect":{"statsu":200}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("my-suite.json: steps[1].expect"), "{err}");
        assert!(err.contains("statsu"), "{err}");

        let err = parse(r#"{"name":"x","steps":[{"scenario":"nope"}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("my-suite.json: steps[0] (nope).scenario") && err.contains("\"nope\""),
            "{err}"
        );

        let err = parse(r#"{"name":"x","steps":[{"name":"a","fault":"missing-sign","action":{"kind":"refuse"}}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("steps[0] (a)") && err.contains("missing-sign"),
            "{err}"
        );

        let err =
            parse(r#"{"name":"x","steps":[{"scenario":"success","expect":{"body_matches":"("}}]}"#)
                .unwrap()
                .prepare(AppKeys::for_seed(0).unwrap())
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("steps[0] (success).expect.body_matches"),
            "{err}"
        );

        let err = parse(r#"{"name":"x","steps":[{"scenario":"wrong-signing-key","expect":{"json":{"m":"{{mobile}}"}}}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expect.json") && err.contains("{{mobile}}"),
            "{err}"
        );

        let err =
            parse(r#"{"name":"x","refusal":{"status":"600"},"steps":[{"scenario":"success"}]}"#)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("refusal.status") && err.contains("600"),
            "{err}"
        );

        let err = parse(r#"{"name":"x","backend":{"body":"raw","values":{"t":"1"}},"steps":[{"scenario":"success"}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("backend.values"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_field_and_what_it_takes() {
        let err = parse(r#"{"name":"x","backend":{"body":1},"steps":[{"scenario":"success"}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "my-suite.json: backend.body: expected one of `json`, `form`, `raw`, got 1"
        );
        let err = parse(r#"{"name":"x","steps":[{"console":{"signing":["RSA2"]}}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "my-suite.json: steps[0].console.signing: expected one of `none`, `RSA2`, `RSA`, got [\"RSA2\"]"
        );
        // Text that is not JSON still gets the parser's position.
        let err = parse(r#"{"name": "x", "steps": [}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected value at line 1 column 25"), "{err}");
    }

    #[test]
    fn a_bad_regular_expression_is_one_line_naming_the_step_and_key() {
        for (text, at) in [
            (
                r#"{"name":"x","steps":[{"scenario":"success","expect":{"body_matches":"a(b"}}]}"#,
                "my-suite.json: steps[0] (success).expect.body_matches: ",
            ),
            (
                r#"{"name":"x","refusal":{"body_matches":"a(b"},"steps":[{"scenario":"success"}]}"#,
                "my-suite.json: refusal.body_matches: ",
            ),
        ] {
            let err = parse(text)
                .unwrap()
                .prepare(AppKeys::for_seed(0).unwrap())
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!(
                    "{at}\"a(b\" is not a valid regular expression: unclosed group at character 2"
                )
            );
        }
    }

    #[test]
    fn expectations_follow_the_oracle() {
        let loaded = parse(
            r#"{"name":"x","steps":[
                {"scenario":"success"},
                {"scenario":"success-no-mobile"},
                {"scenario":"wrong-signing-key"},
                {"scenario":"user-refused"},
                {"scenario":"success-rsa-sha1"},
                {"scenario":"success","mobile":"13912345678","expect":{"status":200,"json":{"data":{"mobile":"{{mobile}}","code":"{{code}}"}}}}
            ]}"#,
        )
        .unwrap();
        let prepared = loaded.prepare(AppKeys::for_seed(3).unwrap()).unwrap();
        let kinds: Vec<ExpectKind> = prepared.steps.iter().map(|s| s.kind).collect();
        use ExpectKind::*;
        assert_eq!(kinds, [Success, Refusal, Refusal, Skip, Refusal, Custom]);
        // A backend configured for RSA2 must refuse an RSA (SHA-1) signature.
        assert_eq!(prepared.steps[4].oracle.verdict, Verdict::RejectSignature);

        let success = prepared.steps[0].expect.as_ref().unwrap();
        assert!(success
            .check(&answer(200, r#"{"mobile":"13800000000"}"#))
            .is_empty());
        let missed = success.check(&answer(400, r#"{"error":"bad"}"#));
        assert_eq!(missed.len(), 2, "{missed:?}");
        assert_eq!(missed[0].at, "status");

        let custom = prepared.steps[5].expect.as_ref().unwrap();
        assert!(custom
            .check(&answer(
                200,
                r#"{"data":{"mobile":"13912345678","code":"10000","x":1}}"#
            ))
            .is_empty());
        let missed = custom.check(&answer(200, r#"{"data":{"code":10000}}"#));
        let at: Vec<&str> = missed.iter().map(|m| m.at.as_str()).collect();
        assert_eq!(at, ["$.data.mobile", "$.data.code"]);
    }

    #[test]
    fn statuses_parse() {
        let spec: StatusSpec = serde_json::from_str(r#"["2xx", 302, "400-403"]"#).unwrap();
        assert!(spec.contains(204) && spec.contains(302) && spec.contains(403));
        assert!(!spec.contains(404) && !spec.contains(301));
        assert_eq!(spec.to_string(), "2xx or 302 or 400-403");
        assert!(serde_json::from_str::<StatusSpec>(r#""4xx-5""#).is_err());
        assert!(serde_json::from_str::<StatusSpec>(r#""499-400""#).is_err());
    }

    #[test]
    fn conformance_plays_every_catalogue_scenario_once() {
        let suite = LoadedSuite::load("conformance").unwrap().suite;
        let steps: Vec<&str> = suite
            .steps
            .iter()
            .map(|s| s.scenario.as_deref().unwrap())
            .collect();
        let catalogue: Vec<&str> = catalogue().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(steps, catalogue);
        assert!(suite.steps.iter().all(|s| s.expect == StepExpect::Oracle));
    }

    #[test]
    fn suites_round_trip() {
        let text = builtin("conformance").unwrap().1;
        let suite: Suite = serde_json::from_str(text).unwrap();
        let again: Suite = serde_json::from_str(&serde_json::to_string(&suite).unwrap()).unwrap();
        assert_eq!(suite, again);
    }
}
