//! Properties of every parser a stranger can reach: the envelope verifier, suite files, the
//! API's request bodies and the state file. Whatever they are given, they answer (a verdict, a
//! JSON error, an error naming the file) and never panic, answer 5xx or lose state.
//!
//! Keys are generated once, outside the cases (RSA key generation is slow); `PROPTEST_CASES`
//! changes how many cases each property runs.

use std::sync::{Arc, OnceLock};

use alipay_sim::oracle::{self, BackendKeys};
use alipay_sim::playback::suite::LoadedSuite;
use alipay_sim::state::Store;
use alipay_sim::state::{SimState, StateConfig};
use alipay_sim::{catalogue, server::api, AppKeys, Call, Verdict};
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Number, Value};
use tower::ServiceExt;

const SEED: u64 = 7;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON values that reach deep: keys drawn from the real field names, leaves from real values

/// Every field name of the API's bodies, the app configuration, suite and state files.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    // request bodies
    "app_id", "seed", "console", "platform", "user", "action", "fault", "protocols", "isvAppId",
    "mobile", "envelope", "alipay_public_key", "aes_key", "sign_type", "name",
    // console
    "account", "phone_number_package", "phone_application", "jsapi_base_package", "signing",
    "signing_key_mode", "gateway", "isv", "isv_app_id",
    // platform
    "busy", "probability", "error_form", "without_signing", "unsigned_without_aes_key",
    "unsigned_without_gateway", "version_thresholds", "refusal_message",
    // user and action
    "client_version", "base_library_version", "environment", "kind",
    // suite files
    "description", "backend", "success", "refusal", "refusals", "keys", "steps", "flow", "scenario",
    "expect", "not-a-phone-number", "forged", "unparseable",
    "url", "method", "headers", "body", "field", "values", "timeout_ms", "alipay_private_key",
    "status", "json", "body_contains", "body_matches", "max_latency_ms",
    // state file
    "format_version", "apps_created", "apps", "key_seed", "alipay_private_key_pkcs8_pem",
    "fault_seed", "config", "created_at", "body_shape",
];

/// Real values of the enums and formats, so that some bodies get past the first field.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "enterprise", "personal", "none", "pending", "approved", "rejected", "RSA2", "RSA", "set",
    "not-set", "broken", "never", "always", "plain", "encrypted", "missing-default-signature-type",
    "drop-sign", "current", "older-docs", "device", "ide-simulator", "consent", "refuse",
    "no-consent", "flip-ciphertext-byte", "missing-sign", "reorder-plain-object", "aes-256-key",
    "non-json-text", "success", "no-user-consent", "oracle", "refusal", "json", "form", "raw",
    "raw-json", "raw-form", "query", "split-json", "split-form", "forged", "not-a-phone-number",
    "POST", "2xx", "400-499", "{{mobile}}", "{{code}}", "{{env.HOME}}", "(", "13800000000",
    "1-1234432112", "", "10.1.35", "1.16.4", "2021", "http://127.0.0.1:9/", "bWFkZSB1cA==",
    "alipay", "alipay-phone", "public-key", "certificate",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<u64>().prop_map(Value::from),
        1 => (-1000i64..1000).prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => (0.0..=1.0f64).prop_map(Value::from),
        3 => prop::sample::select(WORDS).prop_map(Value::from),
        1 => any::<String>().prop_map(Value::from),
    ]
}

/// Any JSON value: arrays, numbers, strings and nested objects.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            3 => prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// JSON pointers to every value in `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                pointers(v, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One change to a document.
#[derive(Debug, Clone)]
enum Change {
    /// The value removed (from its object or array; the root becomes `null`).
    Remove,
    /// The value replaced by any JSON.
    Any(Value),
    /// The value replaced by one of its kind: another word, the other boolean, a small
    /// number, an object or array with one member fewer.
    Similar(Index),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => Just(Change::Remove),
        3 => json_value().prop_map(Change::Any),
        4 => any::<Index>().prop_map(Change::Similar),
    ]
}

fn similar(value: &Value, pick: Index) -> Value {
    match value {
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(_) => json!([0, 1, 2, 0.5, 1000])[pick.index(5)].take(),
        Value::Object(map) if !map.is_empty() => {
            let mut map = map.clone();
            let key = map.keys().nth(pick.index(map.len())).unwrap().clone();
            map.remove(&key);
            Value::Object(map)
        }
        Value::Array(items) if !items.is_empty() => {
            let mut items = items.clone();
            items.remove(pick.index(items.len()));
            Value::Array(items)
        }
        _ => Value::from(*pick.get(WORDS)),
    }
}

/// Applies `change` at one place of `document`.
fn mutate(document: &mut Value, place: Index, change: Change) {
    let mut all = Vec::new();
    pointers(document, String::new(), &mut all);
    let pointer = &all[place.index(all.len())];
    let target = document.pointer_mut(pointer).unwrap();
    match (change, pointer.rsplit_once('/')) {
        (Change::Any(value), _) => *target = value,
        (Change::Similar(pick), _) => *target = similar(target, pick),
        (Change::Remove, None) => *document = Value::Null,
        (Change::Remove, Some((parent, last))) => match document.pointer_mut(parent).unwrap() {
            Value::Object(map) => {
                map.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
            Value::Array(items) => {
                items.remove(last.parse::<usize>().unwrap());
            }
            _ => unreachable!("a parent holds its child"),
        },
    }
}

/// A valid `document` with one to three changes.
fn mutated(document: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec((any::<Index>(), change()), 1..4).prop_map(move |changes| {
        let mut changed = document.clone();
        for (place, change) in changes {
            mutate(&mut changed, place, change);
        }
        changed
    })
}

/// Any JSON, or (more often) a valid `document` changed here and there.
fn json_like(document: Value) -> impl Strategy<Value = Value> {
    prop_oneof![1 => json_value(), 3 => mutated(document)]
}

// ---------------------------------------------------------------------------------------------
// The envelope verifier

struct Envelope {
    keys: BackendKeys,
    text: String,
    /// Byte range of the base64 ciphertext inside `text`, and of the signature.
    ciphertext: std::ops::Range<usize>,
    sign: std::ops::Range<usize>,
    plaintext: Value,
}

/// The catalogue's success envelope for `AppKeys::for_seed(7)`.
fn envelope() -> &'static Envelope {
    static ENVELOPE: OnceLock<Envelope> = OnceLock::new();
    ENVELOPE.get_or_init(|| {
        let app_keys = AppKeys::for_seed(SEED).unwrap();
        let fixture = catalogue()
            .get("success")
            .unwrap()
            .run(&app_keys, None)
            .unwrap();
        let text = fixture.delivery.envelope().unwrap().to_string();
        let range = |field: &str| {
            let start = text.find(&format!("\"{field}\":\"")).unwrap() + field.len() + 4;
            start..start + text[start..].find('"').unwrap()
        };
        let (ciphertext, sign) = (range("response"), range("sign"));
        let keys = BackendKeys {
            alipay_public_key: app_keys.alipay_key().public_key().clone(),
            aes_key: Some(app_keys.aes_key().clone()),
            sign_type: alipay_sim::SignType::Rsa2,
        };
        let plaintext = fixture.delivery.expect.plaintext.clone().unwrap();
        let envelope = Envelope {
            keys,
            text,
            ciphertext,
            sign,
            plaintext,
        };
        let conclusion = oracle::verify(&envelope.text, &envelope.keys);
        assert_eq!(conclusion.verdict, Verdict::Accept, "{}", conclusion.reason);
        envelope
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Remove(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, mask)| Mutation::Flip(i, mask)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, byte)| Mutation::Insert(i, byte)),
        any::<Index>().prop_map(Mutation::Remove),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for mutation in mutations {
        match *mutation {
            Mutation::Flip(i, mask) => {
                let i = i.index(bytes.len());
                bytes[i] ^= mask;
            }
            Mutation::Insert(i, byte) => bytes.insert(i.index(bytes.len() + 1), byte),
            Mutation::Remove(i) => {
                bytes.remove(i.index(bytes.len()));
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// JSON punctuation and odd values, for envelope fragments.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "{", "}", "[", "]", ":", ",", "\"", "\"response\"", "\"sign\"", "\"sign_type\"", "null",
    "1e999", "-0", "\"\\u0000\"", "\"\\ud800\"", "{\"code\":\"10000\"}", " ", "\n", "\\",
    "\"RSA2\"", "\"=\"", "\"AAAA\"",
];

/// Bits of envelopes: the real one's parts among JSON punctuation and odd values.
fn fragments() -> impl Strategy<Value = String> {
    let envelope = envelope();
    let ciphertext = envelope.text[envelope.ciphertext.clone()].to_string();
    let sign = envelope.text[envelope.sign.clone()].to_string();
    let tokens: Vec<String> = TOKENS
        .iter()
        .map(|t| t.to_string())
        .chain([
            format!("\"{ciphertext}\""),
            format!("\"{sign}\""),
            format!("\"{}\"", &ciphertext[..ciphertext.len() / 2]),
            envelope.text.clone(),
        ])
        .collect();
    prop::collection::vec(prop::sample::select(tokens), 0..16).prop_map(|parts| parts.concat())
}

/// What every conclusion must be: a verdict a backend can reach, a reason, and a plaintext
/// exactly when it accepts.
fn check_conclusion(conclusion: &oracle::Conclusion) -> Result<(), TestCaseError> {
    prop_assert!(!conclusion.reason.is_empty());
    prop_assert_ne!(conclusion.verdict, Verdict::FrontEnd);
    prop_assert_eq!(
        conclusion.plaintext.is_some(),
        conclusion.verdict == Verdict::Accept
    );
    Ok(())
}

/// An accepted text carries the real envelope's ciphertext and signature, and its plaintext.
fn check_accept_is_authentic(
    text: &str,
    conclusion: &oracle::Conclusion,
) -> Result<(), TestCaseError> {
    if conclusion.verdict != Verdict::Accept {
        return Ok(());
    }
    let envelope = envelope();
    let fields: Value = serde_json::from_str(text).expect("an accepted envelope is JSON");
    prop_assert_eq!(
        fields["response"].as_str(),
        Some(&envelope.text[envelope.ciphertext.clone()])
    );
    prop_assert_eq!(
        fields["sign"].as_str(),
        Some(&envelope.text[envelope.sign.clone()])
    );
    prop_assert_eq!(conclusion.plaintext.as_ref(), Some(&envelope.plaintext));
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_verifier_answers_any_text(text in any::<String>()) {
        let conclusion = oracle::verify(&text, &envelope().keys);
        check_conclusion(&conclusion)?;
        prop_assert_ne!(conclusion.verdict, Verdict::Accept);
    }

    #[test]
    fn the_verifier_answers_envelope_fragments(text in fragments()) {
        let conclusion = oracle::verify(&text, &envelope().keys);
        check_conclusion(&conclusion)?;
        check_accept_is_authentic(&text, &conclusion)?;
    }

    #[test]
    fn a_mutated_envelope_is_accepted_only_with_its_ciphertext_and_signature_intact(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let text = apply(&envelope().text, &mutations);
        let conclusion = oracle::verify(&text, &envelope().keys);
        check_conclusion(&conclusion)?;
        check_accept_is_authentic(&text, &conclusion)?;
    }

    #[test]
    fn a_flipped_byte_in_the_ciphertext_or_signature_is_never_accepted(
        in_signature in any::<bool>(),
        place in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let envelope = envelope();
        let range = if in_signature { envelope.sign.clone() } else { envelope.ciphertext.clone() };
        let at = range.start + place.index(range.len());
        let mut bytes = envelope.text.as_bytes().to_vec();
        bytes[at] ^= mask;
        let text = String::from_utf8_lossy(&bytes);
        let conclusion = oracle::verify(&text, &envelope.keys);
        check_conclusion(&conclusion)?;
        prop_assert_ne!(conclusion.verdict, Verdict::Accept, "byte {} ^ {:#x}", at, mask);
    }
}

// ---------------------------------------------------------------------------------------------
// Suite files

const SUITE_FILE: &str = "suites/under-test.json";

/// A valid suite touching every part of the format.
fn suite_document() -> Value {
    json!({
        "name": "properties",
        "description": "every key",
        "backend": {
            "url": "http://127.0.0.1:9/login",
            "method": "POST",
            "headers": {"X-Token": "t"},
            "body": "json",
            "field": "response",
            "values": {"user": 1},
            "sign_type": "RSA2",
            "timeout_ms": 1000
        },
        "success": {"status": "2xx", "body_contains": "{{mobile}}"},
        "refusal": {"status": ["400-499", 302]},
        "steps": [
            {"scenario": "success"},
            {"name": "inline", "console": {"phone_application": "pending", "isv": {"isv_app_id": "2021"}},
             "platform": {"busy": {"probability": 0.5}}, "user": {"environment": "device"},
             "action": {"kind": "consent"}, "fault": "missing-sign",
             "expect": {"status": 200, "json": {"ok": true}, "body_matches": "o+k", "max_latency_ms": 10}},
            {"flow": "alipay-phone", "scenario": "no-user-consent", "expect": "refusal"},
            {"scenario": "success", "mobile": "1-1234432112", "expect": "oracle"}
        ]
    })
}

fn check_suite(text: &str) -> Result<(), TestCaseError> {
    let seed_keys: Arc<AppKeys> = AppKeys::for_seed(SEED).unwrap();
    let error = match LoadedSuite::parse(SUITE_FILE, text) {
        Ok(loaded) => match loaded.prepare(seed_keys) {
            Ok(_) => return Ok(()),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    };
    prop_assert!(
        error.contains(SUITE_FILE),
        "{} does not name the file",
        error
    );
    Ok(())
}

#[test]
fn the_suite_document_of_the_properties_is_valid() {
    let text = suite_document().to_string();
    let loaded = LoadedSuite::parse(SUITE_FILE, &text).unwrap();
    loaded.prepare(AppKeys::for_seed(SEED).unwrap()).unwrap();
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_suite_file_of_any_text_is_an_error_naming_the_file(text in any::<String>()) {
        check_suite(&text)?;
    }

    #[test]
    fn a_suite_file_of_any_json_loads_or_names_the_file(value in json_like(suite_document())) {
        check_suite(&value.to_string())?;
    }
}

// ---------------------------------------------------------------------------------------------
// The API's request bodies

/// A current-thread runtime, shared by the API properties' cases.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A state of its own for one property, whose first app has seed 7's keys.
fn state() -> (SimState, String) {
    crate::common::in_memory_state(SEED)
}

/// Sends a request; asserts the answer is not 5xx, is JSON, and is either a success or the
/// documented error shape. The status and the JSON.
fn send(
    state: &SimState,
    method: &str,
    uri: &str,
    body: Vec<u8>,
    scenario: Option<HeaderValue>,
) -> Result<(StatusCode, Value), TestCaseError> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = scenario {
        request = request.header(api::SCENARIO_HEADER, value);
    }
    let is_json = serde_json::from_slice::<Value>(&body).is_ok();
    let request = request.body(Body::from(body)).unwrap();
    let (status, content_type, bytes) = runtime().block_on(async {
        let response = alipay_sim::server::app(state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let content_type = response.headers().get("content-type").cloned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, content_type, bytes)
    });
    let text = String::from_utf8_lossy(&bytes);
    prop_assert!(
        !status.is_server_error(),
        "{} {}: {} {}",
        method,
        uri,
        status,
        text
    );
    prop_assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{} {}: {} {}",
        method,
        uri,
        status,
        text
    );
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
        TestCaseError::fail(format!("{method} {uri}: {status}: not JSON ({e}): {text}"))
    })?;
    if status.is_success() {
        prop_assert!(json.get("error").is_none(), "{}", json);
    } else {
        prop_assert!(status.is_client_error(), "{} {}", status, json);
        let error = json
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("error"));
        let error = error.and_then(Value::as_object);
        prop_assert!(
            error.is_some_and(|e| e.len() == 2),
            "not the error shape: {}",
            json
        );
        let error = error.unwrap();
        prop_assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{}",
            json
        );
        prop_assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            json
        );
        // JSON that parses is never "malformed": a bad value is a 422 naming the field.
        prop_assert!(
            !is_json || error["code"] != "malformed_json",
            "{} {}: {}",
            method,
            uri,
            json
        );
    }
    Ok((status, json))
}

fn get_app(state: &SimState, app: &str) -> Result<Value, TestCaseError> {
    let (status, view) = send(
        state,
        "GET",
        &format!("/api/v1/apps/{app}"),
        Vec::new(),
        None,
    )?;
    prop_assert_eq!(status, StatusCode::OK);
    Ok(view)
}

/// The configuration of an app with an ISV, as JSON: console, platform, user, action, fault.
fn call_document() -> Value {
    let mut call = serde_json::to_value(Call::default()).unwrap();
    call["console"]["isv"] = json!({"isv_app_id": "2021"});
    call["platform"]["busy"] = json!({"probability": 0.5});
    call["fault"] = json!("missing-sign");
    call
}

/// A body as sent: JSON, or (rarely) any bytes.
fn raw_or(json: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        9 => json.prop_map(|v| v.to_string().into_bytes()),
        1 => any::<Vec<u8>>(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_body_creating_an_app_is_answered_with_json(
        body in json_like({
            let call = call_document();
            json!({"app_id": "prop-app", "seed": SEED, "console": call["console"],
                   "platform": call["platform"], "user": call["user"]})
        }),
        raw in prop::option::weighted(0.1, any::<Vec<u8>>()),
    ) {
        static STATE: OnceLock<(SimState, String)> = OnceLock::new();
        let (state, _) = STATE.get_or_init(state);
        let mut body = body;
        // Keys come from seeds: keep them to one seed, whose keys are made once.
        if let Some(object) = body.as_object_mut() {
            if object.get("seed").is_none_or(Value::is_u64) {
                object.insert("seed".into(), json!(SEED));
            }
        }
        let bytes = raw.unwrap_or_else(|| body.to_string().into_bytes());
        let (status, json) = send(state, "POST", "/api/v1/apps", bytes, None)?;
        if status.is_success() {
            prop_assert_eq!(status, StatusCode::CREATED);
            prop_assert!(json["app_id"].is_string() && json["keys"].is_object(), "{}", json);
        }
    }

    #[test]
    fn a_refused_patch_leaves_the_app_as_it_was(body in raw_or(json_like(call_document()))) {
        static STATE: OnceLock<(SimState, String)> = OnceLock::new();
        let (state, app) = STATE.get_or_init(state);
        let before = get_app(state, app)?;
        let (status, json) = send(state, "PATCH", &format!("/api/v1/apps/{app}"), body, None)?;
        let after = get_app(state, app)?;
        if status.is_success() {
            prop_assert_eq!(&json, &after);
        } else {
            prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn any_get_phone_number_body_is_answered_with_json(
        body in raw_or(json_like(json!({
            "action": "refuse", "protocols": {"isvAppId": "2021"}, "mobile": "13800000000",
            "fault": "missing-sign"
        }))),
        scenario in prop::option::weighted(0.3, prop_oneof![
            prop::sample::select(WORDS).prop_map(|w| HeaderValue::from_str(w).unwrap()),
            any::<Vec<u8>>().prop_filter_map("a header value", |b| HeaderValue::from_bytes(&b).ok()),
        ]),
    ) {
        static STATE: OnceLock<(SimState, String)> = OnceLock::new();
        let (state, app) = STATE.get_or_init(state);
        let uri = format!("/api/v1/apps/{app}/getPhoneNumber");
        let (status, json) = send(state, "POST", &uri, body, scenario)?;
        if status.is_success() {
            prop_assert!(json["callback"].is_string() && json["expect"].is_object(), "{}", json);
        }
    }

    #[test]
    fn any_verify_body_is_answered_with_json(
        body in raw_or(prop_oneof![
            json_like(json!({
                "envelope": envelope().text, "app_id": "APP", "sign_type": "RSA2",
                "aes_key": AppKeys::for_seed(SEED).unwrap().aes_key_base64(),
            })),
            json_like(json!({
                "envelope": envelope().text, "sign_type": "RSA",
                "alipay_public_key": AppKeys::for_seed(SEED).unwrap().published().alipay_public_key,
                "aes_key": AppKeys::for_seed(SEED).unwrap().aes_key_base64(),
            })),
        ]),
    ) {
        static STATE: OnceLock<(SimState, String)> = OnceLock::new();
        let (state, app) = STATE.get_or_init(state);
        let body = String::from_utf8_lossy(&body).replace("\"APP\"", &format!("\"{app}\""));
        let (status, json) = send(state, "POST", "/api/v1/verify", body.into_bytes(), None)?;
        if status.is_success() {
            prop_assert!(json["verdict"].is_string() && json["reason"].is_string(), "{}", json);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The state file

/// A real state file, as JSON.
fn state_document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let state = SimState::open(StateConfig {
            seed: Some(SEED),
            data_dir: Some(dir.path().to_path_buf()),
        })
        .unwrap();
        let app = state.list_apps()[0].app_id.clone();
        state.patch_app(&app, call_document()).unwrap();
        drop(state);
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap()
    })
}

fn state_file() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        json_like(state_document().clone()).prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(mutation(), 1..4).prop_map(|m| apply(
            &state_document().to_string(),
            &m
        )
        .into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_state_file_of_any_content_loads_or_names_the_file(contents in state_file()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, &contents).unwrap();
        let path = path.display().to_string();
        let store = Store::open(dir.path()).unwrap();
        if let Err(e) = store.load() {
            let error = e.to_string();
            prop_assert!(error.contains(&path), "{} does not name the file", error);
        }
        drop(store);
        if let Err(e) = SimState::open(StateConfig {
            seed: Some(SEED),
            data_dir: Some(dir.path().to_path_buf()),
        }) {
            let error = e.to_string();
            prop_assert!(error.contains(&path), "{} does not name the file", error);
        }
    }
}
