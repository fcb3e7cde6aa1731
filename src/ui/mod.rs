//! The web UI: server-rendered askama pages over the same [`SimState`] as the API. Every action
//! is a plain form post; a little JavaScript copies keys, opens the consent sheet in place and
//! refreshes the journal.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::alipay::fault::Fault;
use crate::alipay::model::ActionKind;
use crate::alipay::outcome::Callback;
use crate::http::api::blocking;
use crate::sim::state::{JournalEntry, KeysView, PhoneNumberRequest, SimState, StateError};
use crate::sim::store::{BackendTarget, BodyShape};
use crate::{alipay::rules, catalogue, Fixture, Verdict};

const STYLE: &str = include_str!("../../templates/style.css");
const MY_JS: &str = include_str!("../../templates/my.js");

/// The UI's routes, to merge into the API router.
pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/apps", post(create_app))
        .route("/apps/{app_id}", get(console))
        .route("/apps/{app_id}/console", post(save_console))
        .route("/apps/{app_id}/scenario", post(apply_scenario))
        .route("/apps/{app_id}/reset", post(reset_app))
        .route("/apps/{app_id}/keys/rotate", post(rotate_keys))
        .route("/apps/{app_id}/keys/{file}", get(download_key))
        .route("/apps/{app_id}/device", get(device))
        .route("/apps/{app_id}/device/tap", post(tap))
        .route("/apps/{app_id}/device/send", post(send_to_backend))
        .route("/apps/{app_id}/recording/start", post(start_recording))
        .route("/apps/{app_id}/recording/stop", post(stop_recording))
        .route("/apps/{app_id}/recording/suite.json", get(recorded_suite))
        .route("/journal", get(journal))
        .route("/journal/entries", get(journal_entries))
        .route("/sdk/my.js", get(my_js))
        .route("/assets/style.css", get(style))
}

/// A page-level failure, shown as a small HTML page.
struct PageError(StatusCode, String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><meta charset=utf-8><link rel=stylesheet href=/assets/style.css>\
             <main><section class=panel><h2>{}</h2><p class=error>{}</p><p><a href=/>All apps</a></p></section></main>",
            self.0,
            askama::filters::escape(&self.1, askama::filters::Html)
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
        (self.0, Html(body)).into_response()
    }
}

impl From<StateError> for PageError {
    fn from(error: StateError) -> Self {
        PageError(crate::http::api::status_of(&error).0, error.to_string())
    }
}

impl From<tokio::task::JoinError> for PageError {
    fn from(error: tokio::task::JoinError) -> Self {
        PageError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl From<askama::Error> for PageError {
    fn from(error: askama::Error) -> Self {
        PageError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

type PageResult = Result<Response, PageError>;

fn page(template: impl Template) -> PageResult {
    Ok(Html(template.render()?).into_response())
}

fn back_to(path: String) -> PageResult {
    Ok(Redirect::to(&path).into_response())
}

/// One `<option>`.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(current: &str, options: &[(&str, &str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: *value == current,
        })
        .collect()
}

struct SelectView {
    name: &'static str,
    label: &'static str,
    gloss: &'static str,
    options: Vec<Choice>,
}

struct CheckView {
    name: &'static str,
    label: &'static str,
    gloss: &'static str,
    checked: bool,
}

/// The outcome of the next call, in words.
struct OutcomeView {
    verdict: String,
    summary: String,
    rule: String,
    reason: String,
    source: String,
    callback: String,
}

impl OutcomeView {
    /// The next call's outcome, or why the next call will be refused (a fault that cannot
    /// apply to these settings): the API answers that call with the same message.
    fn next(state: &SimState, app_id: &str) -> Result<Self, PageError> {
        match state.dry_run(app_id) {
            Ok(fixture) => Ok(Self::of(&fixture)),
            Err(StateError::Engine(error)) => Ok(OutcomeView {
                verdict: "error".into(),
                summary: "the next call is refused".into(),
                rule: "none".into(),
                reason: error.to_string(),
                source: "the fault and the settings do not fit together".into(),
                callback: "none".into(),
            }),
            Err(other) => Err(other.into()),
        }
    }

    fn of(fixture: &Fixture) -> Self {
        let expect = &fixture.delivery.expect;
        let (summary, source) = match rules::rule(&expect.rule) {
            Some(rule) => (rule.summary.to_string(), rule.source.to_string()),
            None => {
                let fault = expect
                    .rule
                    .strip_prefix("fault.")
                    .and_then(|f| f.parse::<Fault>().ok());
                match fault {
                    Some(fault) => (
                        format!("Fault: {}", fault.description()),
                        "fault catalogue (README, Faults)".to_string(),
                    ),
                    None => (expect.rule.clone(), String::new()),
                }
            }
        };
        OutcomeView {
            verdict: expect.verdict.to_string(),
            summary,
            rule: expect.rule.clone(),
            reason: expect.reason.clone(),
            source,
            callback: fixture.delivery.callback.as_str().to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dashboard

struct AppRow {
    app_id: String,
    summary: String,
    rule: String,
    verdict: String,
    calls: u64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    apps: Vec<AppRow>,
}

async fn dashboard(State(state): State<SimState>) -> PageResult {
    let mut apps = Vec::new();
    for app in state.list_apps() {
        let outcome = OutcomeView::next(&state, &app.app_id)?;
        apps.push(AppRow {
            app_id: app.app_id,
            summary: outcome.summary,
            rule: outcome.rule,
            verdict: outcome.verdict,
            calls: app.calls,
        });
    }
    page(Dashboard { apps })
}

async fn create_app(State(state): State<SimState>) -> PageResult {
    let app = blocking::<_, PageError>(move || state.create_app(Default::default())).await?;
    back_to(format!("/apps/{}", app.app_id))
}

// ---------------------------------------------------------------------------------------------
// Console

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    app_id: String,
    outcome: OutcomeView,
    error: Option<String>,
    console_selects: Vec<SelectView>,
    console_checks: Vec<CheckView>,
    isv_app_id: String,
    mobile: String,
    client_version: String,
    base_library_version: String,
    user_selects: Vec<SelectView>,
    call_isv_app_id: String,
    faults: Vec<Choice>,
    platform_selects: Vec<SelectView>,
    busy_probability: String,
    platform_checks: Vec<CheckView>,
    refusal_message: String,
    scenarios: Vec<Choice>,
    keys: KeysView,
}

fn console_page(
    state: &SimState,
    app_id: &str,
    error: Option<String>,
) -> Result<ConsolePage, PageError> {
    let app = state.app(app_id)?;
    let outcome = OutcomeView::next(state, app_id)?;
    let config = serde_json::to_value(&app.config).expect("config serialises");
    let text = |section: &str, field: &str| {
        config[section][field]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let flag = |section: &str, field: &str| config[section][field].as_bool().unwrap_or(false);
    let select = |name, label, gloss, current: String, options: &[(&str, &str)]| SelectView {
        name,
        label,
        gloss,
        options: choices(&current, options),
    };
    let (busy, busy_probability) = match &config["platform"]["busy"] {
        Value::String(kind) => (kind.clone(), "0.5".to_string()),
        other => ("probability".to_string(), other["probability"].to_string()),
    };
    let mut faults = vec![Choice {
        value: String::new(),
        label: "none".into(),
        selected: app.config.fault.is_none(),
    }];
    faults.extend(Fault::ALL.iter().map(|f| Choice {
        value: f.name().into(),
        label: format!("{}: {}", f.name(), f.description()),
        selected: app.config.fault == Some(*f),
    }));
    Ok(ConsolePage {
        app_id: app.app_id.clone(),
        outcome,
        error,
        console_selects: vec![
            select(
                "account",
                "账号主体 · Account",
                "the API is for enterprise accounts",
                text("console", "account"),
                &[
                    ("enterprise", "企业 · enterprise"),
                    ("personal", "个人 · personal"),
                ],
            ),
            select(
                "phone_application",
                "用户信息申请 · Phone-number application",
                "获取会员手机号",
                text("console", "phone_application"),
                &[
                    ("approved", "已通过 · approved"),
                    ("pending", "审核中 · pending"),
                    ("rejected", "已驳回 · rejected"),
                    ("none", "未申请 · none"),
                ],
            ),
            select(
                "signing",
                "接口加签方式 · Signing method",
                "sets the Alipay public key",
                text("console", "signing"),
                &[
                    ("RSA2", "RSA2 (SHA-256)"),
                    ("RSA", "RSA (SHA-1)"),
                    ("none", "未设置 · none"),
                ],
            ),
            select(
                "aes_key",
                "AES 密钥 · AES key",
                "内容加密方式",
                text("console", "aes_key"),
                &[
                    ("set", "已设置 · set"),
                    ("not-set", "未设置 · not set"),
                    ("broken", "异常 · broken"),
                ],
            ),
        ],
        console_checks: vec![
            CheckView {
                name: "phone_number_package",
                label: "获取会员手机号",
                gloss: "feature package added",
                checked: flag("console", "phone_number_package"),
            },
            CheckView {
                name: "jsapi_base_package",
                label: "JSAPI 基础包",
                gloss: "JSAPI base package added",
                checked: flag("console", "jsapi_base_package"),
            },
            CheckView {
                name: "gateway",
                label: "应用网关",
                gloss: "application gateway set",
                checked: flag("console", "gateway"),
            },
        ],
        isv_app_id: app
            .config
            .console
            .isv
            .as_ref()
            .map(|i| i.isv_app_id.clone())
            .unwrap_or_default(),
        mobile: text("user", "mobile"),
        client_version: text("user", "client_version"),
        base_library_version: text("user", "base_library_version"),
        user_selects: vec![
            select(
                "environment",
                "运行环境 · Environment",
                "",
                text("user", "environment"),
                &[
                    ("device", "真机 · phone"),
                    ("ide-simulator", "IDE 模拟器 · IDE simulator"),
                ],
            ),
            select(
                "action_kind",
                "用户操作 · What the user does",
                "",
                text("action", "kind"),
                &[
                    ("consent", "允许 · consents"),
                    ("refuse", "拒绝 · refuses"),
                    ("no-consent", "no button: my.getPhoneNumber called directly"),
                ],
            ),
        ],
        call_isv_app_id: app.config.action.isv_app_id.clone().unwrap_or_default(),
        faults,
        platform_selects: vec![
            select(
                "busy",
                "系统繁忙 · Platform busy (20000)",
                "",
                busy,
                &[
                    ("never", "never"),
                    ("always", "always"),
                    ("probability", "with a probability"),
                ],
            ),
            select(
                "error_form",
                "Form of 20000 / 40001",
                "undocumented for getPhoneNumber",
                text("platform", "error_form"),
                &[("plain", "plain (default)"), ("encrypted", "encrypted")],
            ),
            select(
                "without_signing",
                "Without a signing method",
                "",
                text("platform", "without_signing"),
                &[
                    (
                        "missing-default-signature-type",
                        "40001 missing-default-signature-type",
                    ),
                    ("drop-sign", "normal answer without sign"),
                ],
            ),
            select(
                "version_thresholds",
                "Minimum versions",
                "",
                text("platform", "version_thresholds"),
                &[
                    ("current", "current docs: 1.16.4 / 10.1.35"),
                    ("older-docs", "older docs: 1.22.0 / 10.1.75"),
                ],
            ),
        ],
        busy_probability,
        platform_checks: vec![
            CheckView {
                name: "unsigned_without_aes_key",
                label: "No AES key drops sign",
                gloss: "FAQ",
                checked: flag("platform", "unsigned_without_aes_key"),
            },
            CheckView {
                name: "unsigned_without_gateway",
                label: "No gateway drops sign",
                gloss: "FAQ",
                checked: flag("platform", "unsigned_without_gateway"),
            },
        ],
        refusal_message: text("platform", "refusal_message"),
        scenarios: catalogue()
            .iter()
            .map(|s| Choice {
                value: s.name.clone(),
                label: format!("{}: {}", s.name, s.title),
                selected: false,
            })
            .collect(),
        keys: app.keys,
    })
}

async fn console(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    page(console_page(&state, &app_id, None)?)
}

/// The console form, as name/value pairs; an unchecked checkbox is simply absent.
type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn config_from_form(fields: &Fields) -> Result<crate::Call, String> {
    let f = |name| field(fields, name).trim().to_string();
    let checked = |name| fields.iter().any(|(k, _)| k == name);
    let optional = |name| Some(f(name)).filter(|v| !v.is_empty());
    let busy = match f("busy").as_str() {
        "probability" => {
            let p: f64 = f("busy_probability").parse().map_err(|_| {
                format!(
                    "platform.busy.probability: {:?} is not a number",
                    f("busy_probability")
                )
            })?;
            json!({ "probability": p })
        }
        other => json!(other),
    };
    let value = json!({
        "console": {
            "account": f("account"),
            "phone_number_package": checked("phone_number_package"),
            "phone_application": f("phone_application"),
            "jsapi_base_package": checked("jsapi_base_package"),
            "signing": f("signing"),
            "aes_key": f("aes_key"),
            "gateway": checked("gateway"),
            "isv": optional("isv_app_id").map(|id| json!({ "isv_app_id": id })),
        },
        "platform": {
            "busy": busy,
            "error_form": f("error_form"),
            "without_signing": f("without_signing"),
            "unsigned_without_aes_key": checked("unsigned_without_aes_key"),
            "unsigned_without_gateway": checked("unsigned_without_gateway"),
            "version_thresholds": f("version_thresholds"),
            "refusal_message": field(fields, "refusal_message"),
        },
        "user": {
            "mobile": f("mobile"),
            "client_version": f("client_version"),
            "base_library_version": f("base_library_version"),
            "environment": f("environment"),
        },
        "action": { "kind": f("action_kind"), "isv_app_id": optional("call_isv_app_id") },
        "fault": optional("fault"),
    });
    serde_path_to_error::deserialize(value).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}

async fn save_console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let saved = config_from_form(&fields)
        .map_err(|message| StateError::Invalid {
            field: "form".into(),
            message,
        })
        .and_then(|config| state.set_config(&app_id, config));
    match saved {
        Ok(_) => back_to(format!("/apps/{app_id}")),
        Err(StateError::AppNotFound(id)) => Err(StateError::AppNotFound(id).into()),
        Err(error) => {
            // Show the form again, with the message; nothing was changed.
            let body = console_page(&state, &app_id, Some(error.to_string()))?.render()?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
        }
    }
}

#[derive(Deserialize)]
struct ScenarioForm {
    name: String,
}

async fn apply_scenario(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<ScenarioForm>,
) -> PageResult {
    state.apply_scenario(&app_id, &form.name)?;
    back_to(format!("/apps/{app_id}"))
}

async fn reset_app(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    state.reset_app(&app_id)?;
    back_to(format!("/apps/{app_id}"))
}

async fn rotate_keys(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    let id = app_id.clone();
    blocking::<_, PageError>(move || state.rotate_keys(&id)).await?;
    back_to(format!("/apps/{app_id}"))
}

async fn download_key(
    State(state): State<SimState>,
    Path((app_id, file)): Path<(String, String)>,
) -> PageResult {
    let keys = state.keys(&app_id)?;
    let content = match file.as_str() {
        "alipay_public_key.txt" => format!("{}\n", keys.alipay_public_key),
        "alipay_public_key.pem" => keys.alipay_public_key_pem,
        "aes_key.txt" => format!("{}\n", keys.aes_key),
        other => {
            return Err(PageError(
                StatusCode::NOT_FOUND,
                format!("no key file {other:?}"),
            ))
        }
    };
    download(
        "text/plain; charset=utf-8",
        &format!("{app_id}-{file}"),
        content,
    )
}

/// A file the browser saves rather than shows.
fn download(content_type: &'static str, file_name: &str, content: String) -> PageResult {
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        content,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Device

struct ExchangeView {
    url: String,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: String,
    error: Option<String>,
    note: Option<String>,
    elapsed_ms: u64,
}

struct CallView {
    id: u64,
    sequence: String,
    payload: String,
    envelope: Option<String>,
    verdict: String,
    rule: String,
    reason: String,
    plaintext: Option<String>,
    backend: Option<ExchangeView>,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    app_id: String,
    sheet_open: bool,
    mobile_display: String,
    call: Option<CallView>,
    backend_url: String,
    body_shapes: Vec<Choice>,
    recording: Option<RecordingView>,
}

struct RecordingView {
    active: bool,
    started: String,
    /// "1 call", "3 calls".
    calls: String,
    sent: usize,
}

#[derive(Deserialize)]
struct DeviceQuery {
    call: Option<u64>,
    sheet: Option<String>,
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("values serialise")
}

/// What the page's callbacks saw, in order.
fn sequence(entry: &JournalEntry) -> String {
    match entry.callback {
        Callback::Success => "onGetAuthorize(e), then my.getPhoneNumber success(res)".into(),
        Callback::Fail => "onGetAuthorize(e), then my.getPhoneNumber fail(err)".into(),
        Callback::OnError => "the button's onError(e), with e.detail".into(),
        Callback::Unsupported => {
            "my.canIUse(...) is false: the page cannot offer the button".into()
        }
    }
}

async fn device(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Query(query): Query<DeviceQuery>,
) -> PageResult {
    let app = state.app(&app_id)?;
    let call = query
        .call
        .and_then(|id| state.journal_entry(id))
        .filter(|entry| entry.app_id == app_id)
        .map(|entry| CallView {
            id: entry.id,
            sequence: sequence(&entry),
            payload: pretty(&entry.payload),
            envelope: entry.payload["response"].as_str().map(str::to_string),
            verdict: entry.verdict.to_string(),
            rule: entry.rule.clone(),
            reason: state_reason(&entry),
            plaintext: entry.plaintext.as_ref().map(pretty),
            backend: entry.backend.map(|b| ExchangeView {
                url: b.url,
                status: b.status,
                headers: b.headers,
                body: b.body,
                error: b.error,
                note: b.note,
                elapsed_ms: b.elapsed_ms,
            }),
        });
    let target = state.backend_target(&app_id);
    let shape = target.as_ref().map_or(BodyShape::Json, |t| t.body_shape);
    let recording = state.recording(&app_id).map(|r| RecordingView {
        active: r.active,
        started: r.started.clone(),
        calls: match r.steps.len() {
            1 => "1 call".into(),
            n => format!("{n} calls"),
        },
        sent: r.steps.iter().filter(|s| s.exchange.is_some()).count(),
    });
    let mobile = app.config.user.mobile.as_str();
    page(DevicePage {
        app_id: app.app_id.clone(),
        sheet_open: query.sheet.as_deref() == Some("open"),
        mobile_display: if mobile.is_empty() {
            "（未绑定手机号）".into()
        } else {
            mask(mobile)
        },
        call,
        backend_url: target.map(|t| t.url).unwrap_or_default(),
        body_shapes: choices(
            shape.as_str(),
            &[
                ("json", "JSON {\"response\": <envelope>}"),
                ("form", "form-encoded response=<envelope>"),
                ("raw", "raw envelope text"),
            ],
        ),
        recording,
    })
}

async fn start_recording(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    state.start_recording(&app_id)?;
    back_to(format!("/apps/{app_id}/device"))
}

async fn stop_recording(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    state.app(&app_id)?;
    state.stop_recording(&app_id);
    back_to(format!("/apps/{app_id}/device"))
}

/// The recording as a suite file, downloaded.
async fn recorded_suite(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    let (keys, target) = state.keys_and_backend(&app_id)?;
    let recording = state.recording(&app_id).ok_or_else(|| {
        PageError(
            StatusCode::NOT_FOUND,
            format!("app {app_id} has no recording: start one on its device page"),
        )
    })?;
    let suite = crate::playback::suite::Suite::from_recording(&recording, &keys, target.as_ref());
    let text = serde_json::to_string_pretty(&suite).expect("suites serialise") + "\n";
    download("application/json", &format!("recorded-{app_id}.json"), text)
}

/// The journal keeps the verdict, not its one-line reason; say what it means.
fn state_reason(entry: &JournalEntry) -> String {
    match entry.verdict {
        Verdict::Accept => "authentic: the backend reads the plaintext (only code 10000 with a mobile is a phone number)".into(),
        Verdict::RejectSignature => "the signature does not verify: the backend must refuse".into(),
        Verdict::RejectDecrypt => "the signature verifies but the content does not decrypt: the backend must refuse".into(),
        Verdict::RejectParse => "not an envelope: the backend must refuse".into(),
        Verdict::Unsigned => "no sign: nothing proves it came from Alipay; the backend must refuse".into(),
        Verdict::FrontEnd => "no envelope reached the backend".into(),
    }
}

/// 138****0000, as Alipay's sheet shows a number.
fn mask(mobile: &str) -> String {
    let chars: Vec<char> = mobile.chars().collect();
    if chars.len() < 7 {
        return mobile.to_string();
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 4..]);
    format!(
        "{}****{}",
        head.iter().collect::<String>(),
        tail.iter().collect::<String>()
    )
}

#[derive(Deserialize)]
struct TapForm {
    action: ActionKind,
}

async fn tap(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<TapForm>,
) -> PageResult {
    let request = PhoneNumberRequest {
        action: Some(form.action),
        ..Default::default()
    };
    let prepared = state.prepare_call(&app_id, None, request)?;
    let worker = state.clone();
    let (id, _) = blocking::<_, PageError>(move || worker.complete_recorded_call(prepared)).await?;
    back_to(format!("/apps/{app_id}/device?call={id}"))
}

#[derive(Deserialize)]
struct SendForm {
    call: u64,
    url: String,
    body_shape: BodyShape,
}

async fn send_to_backend(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<SendForm>,
) -> PageResult {
    let entry = state
        .journal_entry(form.call)
        .filter(|e| e.app_id == app_id)
        .ok_or_else(|| {
            PageError(
                StatusCode::NOT_FOUND,
                format!("call #{} is no longer in the journal", form.call),
            )
        })?;
    let envelope = entry.payload["response"]
        .as_str()
        .ok_or_else(|| {
            PageError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this call gave no envelope to send".into(),
            )
        })?
        .to_string();
    crate::http::backend::check_url(&form.url).map_err(|message| {
        PageError(StatusCode::UNPROCESSABLE_ENTITY, format!("url: {message}"))
    })?;
    let exchange = crate::http::backend::exchange(&form.url, form.body_shape, &envelope).await;
    state.record_backend_exchange(form.call, exchange);
    state.remember_backend(
        &app_id,
        BackendTarget {
            url: form.url,
            body_shape: form.body_shape,
        },
    )?;
    back_to(format!("/apps/{app_id}/device?call={}", form.call))
}

// ---------------------------------------------------------------------------------------------
// Journal

#[derive(Deserialize)]
struct JournalFilter {
    app_id: Option<String>,
    verdict: Option<String>,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    apps: Vec<Choice>,
    verdicts: Vec<Choice>,
    entries: Vec<JournalEntry>,
}

#[derive(Template)]
#[template(path = "journal_entries.html")]
struct JournalEntries {
    entries: Vec<JournalEntry>,
}

fn filtered(state: &SimState, filter: &JournalFilter) -> Vec<JournalEntry> {
    let app = filter.app_id.as_deref().filter(|a| !a.is_empty());
    let verdict = filter.verdict.as_deref().filter(|v| !v.is_empty());
    state
        .journal(app, usize::MAX)
        .into_iter()
        .filter(|e| verdict.is_none_or(|v| e.verdict.as_str() == v))
        .take(200)
        .collect()
}

async fn journal(State(state): State<SimState>, Query(filter): Query<JournalFilter>) -> PageResult {
    let current_app = filter.app_id.clone().unwrap_or_default();
    let mut apps = vec![Choice {
        value: String::new(),
        label: "all apps".into(),
        selected: current_app.is_empty(),
    }];
    apps.extend(state.list_apps().into_iter().map(|a| Choice {
        selected: a.app_id == current_app,
        label: a.app_id.clone(),
        value: a.app_id,
    }));
    let current_verdict = filter.verdict.clone().unwrap_or_default();
    let mut verdicts = vec![Choice {
        value: String::new(),
        label: "all verdicts".into(),
        selected: current_verdict.is_empty(),
    }];
    verdicts.extend(Verdict::ALL.iter().map(|v| Choice {
        value: v.as_str().into(),
        label: v.as_str().into(),
        selected: v.as_str() == current_verdict,
    }));
    page(JournalPage {
        apps,
        verdicts,
        entries: filtered(&state, &filter),
    })
}

async fn journal_entries(
    State(state): State<SimState>,
    Query(filter): Query<JournalFilter>,
) -> PageResult {
    page(JournalEntries {
        entries: filtered(&state, &filter),
    })
}

// ---------------------------------------------------------------------------------------------
// Assets

async fn my_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        MY_JS,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
