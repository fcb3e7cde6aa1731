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
        if self.timeout_ms == 0 {
            return Err(("timeout_ms", "must be more than 0".into()));
        }
        let request = RequestShape {
            method,
            headers,
            body: self.body,
            field: self.field.clone(),
            values,
            timeout: Duration::from_millis(self.timeout_ms),
        };
        check_values(&request).map_err(|m| ("values", m))?;
        Ok(request)
    }
}

/// Whether the request's `values` fit its shape: none beside a bare envelope, and none in the
/// envelope's own fields.
fn check_values(request: &RequestShape) -> Result<(), String> {
    if request.body.envelope_only() && !request.values.is_empty() {
        return Err(format!(
            "a {} body carries only the envelope: use a json, form, query or split body to send values",
            request.body
        ));
    }
    for field in request.envelope_fields() {
        if request.values.contains_key(field) {
            return Err(format!(
                "{field:?} carries the envelope in a {} request",
                request.body
            ));
        }
    }
    Ok(())
}

/// The body of a form request as a form decoder unescapes it: each `+` a space, each `%XX` its
/// byte. What a backend that reads a raw-form body as a form gets, at best.
fn form_unescaped(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the step's report says of its transport: what the backend must do to read the
/// envelope, and for a raw-form body, what it concludes if it unescapes it as a form instead.
fn transport_note(shape: BodyShape, envelope: &str, keys: &BackendKeys) -> Option<String> {
    let must = crate::http::backend::what_a_backend_must_do(shape)?;
    let mut note = format!("{shape}: {must}");
    if shape == BodyShape::RawForm {
        let unescaped = form_unescaped(envelope);
        if unescaped != envelope {
            let conclusion = oracle::verify(&unescaped, keys);
            note.push_str(&format!(
                " (unescaped as a form, this envelope would be {}: {})",
                conclusion.verdict, conclusion.reason
            ));
        }
    }
    Some(note)
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
    /// The class of refusal expected, for a step that expects a refusal of one.
    pub refusal_class: Option<RefusalClass>,
    /// The transport shape: the step's `body`, else the suite's.
    pub body: BodyShape,
    /// What the backend must do to read the envelope in this shape, when it is more than
    /// taking one field.
    pub transport_note: Option<String>,
    /// The envelope text the front end would post; `None` when nothing reaches the backend.
    pub envelope: Option<String>,
    pub expect: Option<Expectation>,
    pub skip_reason: Option<String>,
}

impl PreparedSuite {
    /// The request a step makes: the suite's, in the step's shape.
    pub fn request_for(&self, step: &PreparedStep) -> RequestShape {
        RequestShape {
            body: step.body,
            ..self.request.clone()
        }
    }
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
        let refusals = &self.suite.refusals;
        let classes = <RefusalClass as strum::IntoEnumIterator>::iter();
        let mut specs = vec![
            ("success".to_string(), &self.suite.success),
            ("refusal".to_string(), &self.suite.refusal),
        ];
        specs.extend(
            classes.filter_map(|class| Some((format!("refusals.{class}"), refusals.get(class)?))),
        );
        for (name, spec) in specs {
            spec.check_syntax()
                .map_err(|(key, m)| at(format!("{name}.{key}"), m))?;
        }
        // The answer a refusal of `class` must be, and the key it was given under.
        let refusal =
            |class: Option<RefusalClass>| match class.and_then(|c| Some((c, refusals.get(c)?))) {
                Some((class, spec)) => (spec, format!("refusals.{class}")),
                None => (&self.suite.refusal, "refusal".to_string()),
            };
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
            let body = step.body.unwrap_or(request.body);
            if step.body.is_some() {
                check_values(&RequestShape {
                    body,
                    ..request.clone()
                })
                .map_err(|m| at("body", format!("with backend.values: {m}")))?;
            }
            let delivery = get_phone_number(&call, &keys, 0).map_err(|e| at("", e.to_string()))?;
            let name = step
                .name
                .clone()
                .or_else(|| scenario.clone())
                .unwrap_or_else(|| format!("step {}", index + 1));
            // What the page sends: the envelope text, or an error object's JSON text.
            let sent = delivery.sent_text();
            let unsplittable = sent.as_deref().and_then(|envelope| {
                body.is_split()
                    .then(|| crate::http::backend::split_envelope(envelope).err())
                    .flatten()
            });
            let skip = |oracle: Expect, reason: String| PreparedStep {
                index,
                name: name.clone(),
                scenario: scenario.clone(),
                oracle,
                kind: ExpectKind::Skip,
                refusal_class: None,
                body,
                transport_note: None,
                envelope: None,
                expect: None,
                skip_reason: Some(reason),
            };
            let envelope = match (sent.as_deref(), unsplittable) {
                (Some(envelope), None) => envelope,
                (envelope, why) => {
                    if let StepExpect::Answer(spec) = &step.expect {
                        spec.check_syntax()
                            .map_err(|(key, m)| at(&format!("expect.{key}"), m))?;
                    }
                    let reason = match why {
                        Some(why) => format!("nothing reaches the backend as {body}: {why}"),
                        None => format!(
                            "nothing reaches the backend: the front end gets {} ({})",
                            delivery.callback, delivery.expect.cause
                        ),
                    };
                    let oracle = match envelope {
                        Some(envelope) => expect::for_backend(&delivery, envelope, &backend_keys),
                        None => delivery.expect.clone(),
                    };
                    steps.push(skip(oracle, reason));
                    continue;
                }
            };
            let judgement = expect::for_backend(&delivery, envelope, &backend_keys)
                .for_policy(self.suite.policy);
            let success = (&self.suite.success, "success".to_string());
            let (kind, class, (spec, key)) = match &step.expect {
                StepExpect::Oracle if judgement.is_phone_number() => {
                    (ExpectKind::Success, None, success)
                }
                StepExpect::Success => (ExpectKind::Success, None, success),
                StepExpect::Oracle | StepExpect::Refusal => {
                    let class = RefusalClass::of(&judgement);
                    (ExpectKind::Refusal, class, refusal(class))
                }
                StepExpect::RefusalOf(class) => {
                    (ExpectKind::Refusal, Some(*class), refusal(Some(*class)))
                }
                StepExpect::Answer(spec) => (ExpectKind::Custom, None, (spec, "expect".into())),
            };
            let expect = spec
                .resolve(&judgement)
                .map_err(|(k, m)| at(&format!("{key}.{k}"), m))?;
            steps.push(PreparedStep {
                index,
                name,
                scenario,
                transport_note: transport_note(body, envelope, &backend_keys),
                oracle: judgement,
                kind,
                refusal_class: class,
                body,
                envelope: Some(envelope.to_string()),
                expect: Some(expect),
                skip_reason: None,
            });
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

    #[test]
    fn refusals_are_classed_and_each_class_has_its_answer() {
        let loaded = parse(
            r#"{"name":"x",
                "refusals":{"not-a-phone-number":{"status":422,"json":{"code":"{{code}}"}},"unparseable":{"status":400}},
                "steps":[
                    {"scenario":"phone-application-pending"},
                    {"scenario":"flip-signature-byte"},
                    {"scenario":"non-json-text"},
                    {"scenario":"success","expect":"forged"},
                    {"scenario":"success","expect":"refusal"},
                    {"scenario":"non-json-text","body":"split-form"},
                    {"scenario":"success","body":"raw-form"},
                    {"scenario":"success-no-mobile","expect":"refusal"}
                ]}"#,
        )
        .unwrap();
        let prepared = loaded.prepare(AppKeys::for_seed(3).unwrap()).unwrap();
        use RefusalClass::*;
        let classes: Vec<Option<RefusalClass>> =
            prepared.steps.iter().map(|s| s.refusal_class).collect();
        assert_eq!(
            classes,
            [
                Some(NotAPhoneNumber),
                Some(Forged),
                Some(Unparseable),
                Some(Forged),
                None,
                None,
                None,
                Some(NotAPhoneNumber)
            ]
        );
        let status = |i: usize| {
            prepared.steps[i]
                .expect
                .as_ref()
                .and_then(|e| e.status.clone())
                .map(|s| s.to_string())
        };
        // A class given in `refusals` has its own answer; the others fall back to `refusal`.
        assert_eq!(status(0).as_deref(), Some("422"));
        assert_eq!(
            prepared.steps[0].expect.as_ref().unwrap().json,
            Some(serde_json::json!({"code": "40006"}))
        );
        assert_eq!(status(1).as_deref(), Some("4xx"));
        assert_eq!(status(2).as_deref(), Some("400"));
        assert_eq!(status(3).as_deref(), Some("4xx"));
        assert_eq!(status(4).as_deref(), Some("4xx"));
        assert_eq!(status(7).as_deref(), Some("422"));
        // Text that is not an envelope does not split: nothing reaches the backend.
        let split = &prepared.steps[5];
        assert_eq!(
            (split.kind, split.body),
            (ExpectKind::Skip, BodyShape::SplitForm)
        );
        assert!(split.skip_reason.as_deref().unwrap().starts_with(
            "nothing reaches the backend as split-form: the envelope is not a JSON object"
        ));
        // raw-form: the backend must read the raw body; unescaped as a form, it is broken.
        let raw_form = &prepared.steps[6];
        assert_eq!(raw_form.kind, ExpectKind::Success);
        let note = raw_form.transport_note.as_deref().unwrap();
        assert!(
            note.starts_with("raw-form: ") && note.contains("read the raw body"),
            "{note}"
        );
        assert!(
            note.contains("unescaped as a form, this envelope would be reject-"),
            "{note}"
        );
        assert!(prepared.steps[0].transport_note.is_none());
        let request = prepared.request_for(raw_form);
        assert_eq!(request.body, BodyShape::RawForm);
    }

    /// The split shapes expect what the whole envelope gets: joined again as a backend does
    /// (quotes re-added), every catalogue envelope that splits is judged the same.
    #[test]
    fn a_split_envelope_joined_again_is_judged_as_the_envelope() {
        let keys = AppKeys::for_seed(3).unwrap();
        let backend = BackendKeys {
            alipay_public_key: keys.alipay_key().public_key().clone(),
            aes_key: Some(keys.aes_key().clone()),
            sign_type: SignType::Rsa2,
        };
        let mut joined_any = 0;
        for scenario in catalogue().iter() {
            let delivery = get_phone_number(&scenario.call(), &keys, 0).unwrap();
            let Some(envelope) = delivery.envelope() else {
                continue;
            };
            let Ok(split) = crate::http::backend::split_envelope(envelope) else {
                assert_eq!(
                    oracle::verify(envelope, &backend).verdict,
                    Verdict::RejectParse,
                    "{}",
                    scenario.name
                );
                continue;
            };
            let sign = split
                .sign
                .map(|sign| format!(",\"sign\":{sign}"))
                .unwrap_or_default();
            let joined = format!("{{\"response\":{}{sign}}}", split.encrypted_data);
            assert_eq!(
                oracle::verify(&joined, &backend).verdict,
                oracle::verify(envelope, &backend).verdict,
                "{}: {joined}",
                scenario.name
            );
            joined_any += 1;
        }
        assert!(joined_any > 20, "{joined_any}");
    }

    #[test]
    fn form_unescaping_turns_plus_into_space() {
        assert_eq!(form_unescaped("a+b%2Bc%zz%4"), "a b+c%zz%4");
    }
}
