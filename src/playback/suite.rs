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
                        oracle: Judgement::from_delivery(&delivery),
                        kind: ExpectKind::Skip,
                        envelope: None,
                        expect: None,
                        skip_reason: Some(format!(
                            "nothing reaches the backend: the front end gets {} ({})",
                            delivery.callback, delivery.expect.rule
                        )),
                    }
                }
                Some(envelope) => {
                    let judgement = Judgement::for_backend(&delivery, envelope, &backend_keys);
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

/// `steps[3]` with the step's name or scenario, as errors show it.
fn step_label(index: usize, step: &Step) -> String {
    match step.name.as_ref().or(step.scenario.as_ref()) {
        Some(name) => format!("steps[{index}] ({name})"),
        None => format!("steps[{index}]"),
    }
}

impl SuiteKeys {
    fn to_app_keys(&self) -> Result<AppKeys, String> {
        let alipay = SigningKey::from_pem_or_base64(&self.alipay_private_key)
            .map_err(|e| format!("alipay_private_key: {e}"))?;
        let aes = AesKey::from_base64(&self.aes_key).map_err(|e| format!("aes_key: {e}"))?;
        Ok(AppKeys::from_parts(self.app_id.clone(), alipay, aes, 0))
    }

    /// The keys of an app, to write into a recorded suite.
    pub fn of(keys: &AppKeys) -> SuiteKeys {
        SuiteKeys {
            app_id: keys.app_id().to_string(),
            alipay_private_key: keys.alipay_key().to_pkcs8_pem(),
            aes_key: keys.aes_key_base64().to_string(),
        }
    }
}

impl BackendSpec {
    /// The request to make, or the key at fault and why.
    fn request_shape(&self) -> Result<RequestShape, (&'static str, String)> {
        let method = reqwest::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| ("method", format!("{:?} is not an HTTP method", self.method)))?;
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ("headers", format!("{name:?} is not a header name")))?;
            let value = expand_env(value).map_err(|m| ("headers", format!("{name}: {m}")))?;
            reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| ("headers", format!("{name}: not a valid header value")))?;
            headers.push((name.clone(), value));
        }
        let mut values = Map::new();
        for (key, value) in &self.values {
            let value = match value {
                Value::String(s) => {
                    Value::String(expand_env(s).map_err(|m| ("values", format!("{key}: {m}")))?)
                }
                other => other.clone(),
            };
            values.insert(key.clone(), value);
        }
        if self.body == BodyShape::Raw && !values.is_empty() {
            return Err((
                "values",
                "a raw body carries only the envelope: use a json or form body to send values"
                    .into(),
            ));
        }
        if values.contains_key(&self.field) {
            return Err((
                "values",
                format!("{:?} is the envelope's field", self.field),
            ));
        }
        if self.timeout_ms == 0 {
            return Err(("timeout_ms", "must be more than 0".into()));
        }
        Ok(RequestShape {
            method,
            headers,
            body: self.body,
            field: self.field.clone(),
            values,
            timeout: Duration::from_millis(self.timeout_ms),
        })
    }
}

/// Replaces `{{env.NAME}}` with the environment variable NAME, so tokens stay out of files.
fn expand_env(text: &str) -> Result<String, String> {
    substitute(text, &|name| match name.strip_prefix("env.") {
        Some(var) => std::env::var(var)
            .map(Some)
            .map_err(|_| format!("{{{{{name}}}}}: environment variable {var} is not set")),
        None => Ok(None),
    })
}

/// Replaces each `{{name}}` that `lookup` knows; an unknown name is an error.
fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Result<Option<String>, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        match lookup(name)? {
            Some(value) => out.push_str(&value),
            None => {
                return Err(format!(
                    "unknown placeholder {{{{{name}}}}}: use {{{{mobile}}}}, {{{{code}}}} or {{{{env.NAME}}}}"
                ))
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Step {
    /// The call this step makes, and its scenario; or the key at fault and why.
    fn call(&self) -> Result<(Call, Option<String>), (&'static str, String)> {
        let inline = self.console.is_some()
            || self.platform.is_some()
            || self.user.is_some()
            || self.action.is_some()
            || self.fault.is_some();
        let (mut call, scenario) = match &self.scenario {
            Some(name) => {
                if inline {
                    return Err((
                        "scenario",
                        "give a scenario or console/platform/user/action/fault, not both".into(),
                    ));
                }
                let scenario = catalogue()
                    .get(name)
                    .map_err(|e| ("scenario", e.to_string()))?;
                (scenario.call(), Some(name.clone()))
            }
            None => (
                Call {
                    console: self.console.clone().unwrap_or_default(),
                    platform: self.platform.clone().unwrap_or_default(),
                    user: self.user.clone().unwrap_or_default(),
                    action: self.action.clone().unwrap_or_default(),
                    fault: self.fault,
                },
                None,
            ),
        };
        if let Some(mobile) = &self.mobile {
            if self.user.is_some() {
                return Err(("mobile", "give mobile or user.mobile, not both".into()));
            }
            call.user.mobile = mobile.clone();
        }
        call.validate().map_err(|e| ("", e.to_string()))?;
        Ok((call, scenario))
    }
}

/// What a correct backend, configured as the suite says, concludes from a step's envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub plaintext: Option<Value>,
    /// The rule or fault that produced the envelope.
    pub rule: String,
    pub reason: String,
}

impl Judgement {
    fn from_delivery(delivery: &Delivery) -> Judgement {
        Judgement {
            verdict: delivery.expect.verdict,
            plaintext: delivery.expect.plaintext.clone(),
            rule: delivery.expect.rule.clone(),
            reason: delivery.expect.reason.clone(),
        }
    }

    /// The delivery's oracle when the backend holds the keys the app was configured with;
    /// otherwise (a scenario's app signs with RSA, or has an AES-256 key) what a strict backend
    /// with the suite's keys concludes.
    fn for_backend(delivery: &Delivery, envelope: &str, backend: &BackendKeys) -> Judgement {
        let mut differences = Vec::new();
        if let Some(sign_type) = delivery.sign_type.filter(|t| *t != backend.sign_type) {
            differences.push(format!("signs {sign_type}"));
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
            return Judgement::from_delivery(delivery);
        }
        let conclusion = oracle::verify(envelope, backend);
        Judgement {
            verdict: conclusion.verdict,
            plaintext: conclusion.plaintext,
            rule: delivery.expect.rule.clone(),
            reason: format!(
                "this app {}, unlike the backend under test ({}); with the backend's keys: {}",
                differences.join(" and "),
                backend.sign_type,
                conclusion.reason
            ),
        }
    }

    /// Code 10000 with a non-empty mobile, from an authentic envelope: a phone number.
    pub fn is_phone_number(&self) -> bool {
        let Some(plaintext) = self
            .plaintext
            .as_ref()
            .filter(|_| self.verdict == Verdict::Accept)
        else {
            return false;
        };
        plaintext["code"] == "10000" && plaintext["mobile"].as_str().is_some_and(|m| !m.is_empty())
    }

    fn placeholder(&self, name: &str) -> Result<Option<String>, String> {
        let field = match name {
            "mobile" => "mobile",
            "code" => "code",
            _ => return Ok(None),
        };
        let value = self
            .plaintext
            .as_ref()
            .filter(|_| self.verdict == Verdict::Accept)
            .and_then(|p| p[field].as_str());
        match value {
            Some(v) => Ok(Some(v.to_string())),
            None => Err(format!(
                "{{{{{name}}}}} is the {field} a correct backend reads from the envelope, but this step's envelope gives none ({})",
                self.verdict
            )),
        }
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
    fn check_syntax(&self) -> Result<(), (&'static str, String)> {
        if let Some(pattern) = &self.body_matches {
            Regex::new(pattern).map_err(|e| ("body_matches", regex_error(pattern, &e)))?;
        }
        Ok(())
    }

    fn resolve(&self, judgement: &Judgement) -> Result<Expectation, (&'static str, String)> {
        let fill = |text: &str| substitute(text, &|name| judgement.placeholder(name));
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

fn fill_json(
    value: &Value,
    fill: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(fill(s)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_json(v, fill))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_json(v, fill)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A suite ready to play: every envelope made, every expectation resolved.
#[derive(Debug, Clone)]
pub struct PreparedSuite {
    pub file: String,
    pub name: String,
    /// The suite carries its own keys (a recorded suite), rather than `--seed`'s.
    pub own_keys: bool,
    pub url: Option<String>,
    pub request: RequestShape,
    pub steps: Vec<PreparedStep>,
}

#[derive(Debug, Clone)]
pub struct PreparedStep {
    pub index: usize,
    pub name: String,
    pub scenario: Option<String>,
    pub oracle: Judgement,
    pub kind: ExpectKind,
    /// The envelope text the front end would post; `None` when nothing reaches the backend.
    pub envelope: Option<String>,
    pub expect: Option<Expectation>,
    pub skip_reason: Option<String>,
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
    /// Every way `answer` misses this expectation; empty when it meets it.
    pub fn check(&self, answer: &crate::http::backend::Answer) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        if let Some(status) = &self.status {
            if !status.contains(answer.status) {
                mismatches.push(Mismatch {
                    at: "status".into(),
                    expected: status.to_string(),
                    got: answer.status.to_string(),
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

impl Suite {
    /// The suite file: every call inline with the settings it was made with; a call sent to the
    /// backend expects the same status (and JSON body, when it was JSON); the others expect
    /// what the oracle calls for. It carries the app's keys, since the backend under test was
    /// configured with them.
    pub fn from_recording(
        recording: &Recording,
        keys: &AppKeys,
        remembered: Option<&BackendTarget>,
    ) -> Suite {
        let last_sent = recording
            .steps
            .iter()
            .rev()
            .find_map(|s| s.exchange.as_ref());
        let mut backend = BackendSpec::default();
        if let Some(exchange) = last_sent {
            backend.url = Some(exchange.url.clone());
            backend.body = exchange.body_shape;
        } else if let Some(target) = remembered {
            backend.url = Some(target.url.clone());
            backend.body = target.body_shape;
        }
        let steps = recording
            .steps
            .iter()
            .enumerate()
            .map(|(i, recorded)| recorded_step(i, recorded))
            .collect();
        Suite {
            name: format!("recorded-{}", recording.app_id),
            description: format!(
                "Recorded on the device page of app {} from {}: each step is a call with the settings it was made with and the answer the backend gave then.",
                recording.app_id, recording.started
            ),
            backend,
            success: AnswerSpec::default_success(),
            refusal: AnswerSpec::default_refusal(),
            keys: Some(SuiteKeys::of(keys)),
            steps,
        }
    }
}

fn recorded_step(index: usize, recorded: &RecordedCall) -> Step {
    let call = &recorded.call;
    let default = Call::default();
    let expect = match recorded
        .exchange
        .as_ref()
        .and_then(|e| e.status.map(|s| (s, e)))
    {
        Some((status, exchange)) => StepExpect::Answer(AnswerSpec {
            status: Some(StatusSpec(vec![(status, status)])),
            json: serde_json::from_str::<Value>(&exchange.body).ok(),
            ..Default::default()
        }),
        None => StepExpect::Oracle,
    };
    Step {
        name: Some(format!(
            "{}. call #{}: {} ({}, {})",
            index + 1,
            recorded.call_id,
            call.action.kind.as_str(),
            recorded.rule,
            recorded.verdict
        )),
        scenario: None,
        mobile: None,
        console: (call.console != default.console).then(|| call.console.clone()),
        platform: (call.platform != default.platform).then(|| call.platform.clone()),
        user: (call.user != default.user).then(|| call.user.clone()),
        action: (call.action != default.action).then(|| call.action.clone()),
        fault: call.fault,
        expect,
    }
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
