//! Preparing a loaded suite to play: keys, the request shape, placeholders, and every
//! step's envelope and expectation made before a request is sent.

use super::*;
use crate::oracle::Expect;

/// `steps[3]` with the step's name or scenario, as errors show it.
pub(super) fn step_label(index: usize, step: &AlipayPhoneStep) -> String {
    match step.name.as_ref().or(step.scenario.as_ref()) {
        Some(name) => format!("steps[{index}] ({name})"),
        None => format!("steps[{index}]"),
    }
}

impl SuiteKeys {
    pub(super) fn to_app_keys(&self) -> Result<AppKeys, String> {
        let alipay = SigningKey::from_pem_or_base64(&self.alipay_private_key)
            .map_err(|e| format!("alipay_private_key: {e}"))?;
        let aes = crate::alipay::keys::parse_aes_key(&self.aes_key)
            .map_err(|e| format!("aes_key: {e}"))?;
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
    pub(super) fn request_shape(&self) -> Result<RequestShape, (&'static str, String)> {
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
pub(super) fn expand_env(text: &str) -> Result<String, String> {
    substitute(text, &|name| match name.strip_prefix("env.") {
        Some(var) => std::env::var(var)
            .map(Some)
            .map_err(|_| format!("{{{{{name}}}}}: environment variable {var} is not set")),
        None => Ok(None),
    })
}

/// Replaces each `{{name}}` that `lookup` knows; an unknown name is an error.
pub(super) fn substitute(
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

impl AlipayPhoneStep {
    /// The call this step makes, and its scenario; or the key at fault and why.
    pub(super) fn call(&self) -> Result<(Call, Option<String>), (&'static str, String)> {
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

pub(super) fn fill_json(
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
    pub oracle: Expect,
    pub kind: ExpectKind,
    /// The envelope text the front end would post; `None` when nothing reaches the backend.
    pub envelope: Option<String>,
    pub expect: Option<Expectation>,
    pub skip_reason: Option<String>,
}

impl LoadedSuite {
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
            let Step::AlipayPhone(step) = step;
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
            let prepared = match delivery.sent_text().as_deref() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::exchange::Exchange;

    fn answer(status: u16, body: &str) -> Exchange {
        Exchange {
            method: "POST".into(),
            url: "http://127.0.0.1:9/".into(),
            body_shape: BodyShape::Json,
            request_body: "{}".into(),
            status: Some(status),
            headers: Vec::new(),
            body: body.into(),
            truncated: false,
            error: None,
            note: None,
            elapsed_ms: 5,
        }
    }

    fn parse(text: &str) -> Result<LoadedSuite, SuiteError> {
        LoadedSuite::parse("my-suite.json", text)
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
}
