//! An app's device (`/apps/{app_id}/device`): the mini-program page with the consent sheet,
//! what the front end received, sending the envelope to the developer's backend, recording.

use super::*;
use crate::alipay::front_end::{page_event, AuthAction, FrontEnd};
use crate::alipay::model::Authorisation;

/// One exchange with the developer's backend, as the device page shows it: the request that
/// was sent, then the answer or why there was none.
struct ExchangeView {
    /// 1 for the first time the envelope was sent.
    number: usize,
    /// Whether the backend answered (any status); else `error` says why not.
    answered: bool,
    /// `raw-form`, `query`, ...: the transport chosen.
    body_shape: String,
    method: String,
    /// The URL requested, with the query string of a GET.
    request_url: String,
    /// `Content-Type: application/json`; `None` for a GET with the envelope in the query.
    request_content_type: Option<String>,
    /// The body sent, pretty-printed when it is JSON; `None` when there was none.
    request_body: Option<String>,
    /// "Request body", and whether it is shown pretty-printed (its bytes were sent as they are).
    request_label: String,
    /// What the backend must do to read this shape, when it is more than taking a field.
    must_do: Option<&'static str>,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    /// The answer's body, pretty-printed when it is JSON; `None` when it was empty.
    body: Option<String>,
    /// "Response body", and whether it is shown pretty-printed.
    body_label: String,
    error: Option<String>,
    note: Option<String>,
    elapsed_ms: u64,
}

impl ExchangeView {
    fn of(number: usize, exchange: crate::sim::exchange::Exchange) -> Self {
        let query = exchange.body_shape == BodyShape::Query;
        let request_url = if query && !exchange.request_body.is_empty() {
            let joint = if exchange.url.contains('?') { '&' } else { '?' };
            format!("{}{joint}{}", exchange.url, exchange.request_body)
        } else {
            exchange.url.clone()
        };
        let request_body = (!query && !exchange.request_body.is_empty())
            .then(|| pretty_if_json(&exchange.request_body));
        let request_label = label(
            "Request body",
            &exchange.request_body,
            request_body.as_deref(),
        );
        let body = (!exchange.body.is_empty()).then(|| pretty_if_json(&exchange.body));
        let body_label = label("Response body", &exchange.body, body.as_deref());
        ExchangeView {
            number,
            answered: exchange.answered(),
            body_shape: exchange.body_shape.to_string(),
            request_content_type: exchange
                .content_type()
                .map(|t| format!("Content-Type: {t}")),
            must_do: crate::http::backend::what_a_backend_must_do(exchange.body_shape),
            method: exchange.method,
            request_url,
            request_body,
            request_label,
            status: exchange.status,
            headers: exchange.headers,
            body,
            body_label,
            error: exchange.error,
            note: exchange.note,
            elapsed_ms: exchange.elapsed_ms,
        }
    }
}

/// A body box's label, saying when the text shown is not the bytes as they went.
fn label(name: &str, sent: &str, shown: Option<&str>) -> String {
    match shown {
        Some(shown) if shown != sent => format!(
            "{name} (JSON, pretty-printed here; {} bytes went as they were)",
            sent.len()
        ),
        _ => name.to_string(),
    }
}

/// JSON text pretty-printed; any other text as it is.
fn pretty_if_json(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() || value.is_array() => pretty(&value),
        _ => text.to_string(),
    }
}

struct CallView {
    id: u64,
    sequence: String,
    payload: String,
    envelope: Option<String>,
    verdict: String,
    facts: Facts,
    rule: String,
    reason: String,
    plaintext: Option<String>,
    /// Every time the envelope was sent to a backend, newest first.
    exchanges: Vec<ExchangeView>,
    /// What the page's handler gets on the chosen front end, when it is not the native one.
    page_event: Option<PageEventView>,
}

struct PageEventView {
    handler: String,
    event: String,
    note: String,
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
    /// `my.getSetting`'s `authSetting.phoneNumber`: no sheet once authorised.
    authorised: bool,
    front_ends: Vec<Choice>,
    /// The device session (another phone, another Alipay account) and the user it logs in.
    device_session: u64,
    session_user: String,
    auth_actions: Vec<Choice>,
    /// The last `my.getAuthCode` result shown (`?login=ID`), pretty JSON.
    login: Option<String>,
}

struct RecordingView {
    active: bool,
    started: String,
    /// "1 call", "3 calls".
    calls: String,
    sent: usize,
}

#[derive(Deserialize)]
pub(super) struct DeviceQuery {
    call: Option<u64>,
    sheet: Option<String>,
    /// The front end the page is written with (`button`, `uni-app`, `taro`), for `page_event`.
    front_end: Option<FrontEnd>,
    /// A `my.getAuthCode` call of the login journal to show.
    login: Option<u64>,
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("values serialise")
}

/// What the page's callbacks saw, in order. Without the button (`no-consent`) the page calls
/// `my.getPhoneNumber` itself: no onGetAuthorize comes first.
fn sequence(entry: &JournalEntry) -> String {
    let direct = entry.action == ActionKind::NoConsent;
    match entry.callback {
        Callback::Success if direct => {
            "my.getPhoneNumber success(res), called directly by the page (no button, no sheet)"
                .into()
        }
        Callback::Fail if direct => {
            "my.getPhoneNumber fail(err), called directly by the page (no button, no sheet)".into()
        }
        Callback::Success => "onGetAuthorize(e), then my.getPhoneNumber success(res)".into(),
        Callback::Fail => "onGetAuthorize(e), then my.getPhoneNumber fail(err)".into(),
        Callback::OnError => "the button's onError(e), with e.detail".into(),
        Callback::Unsupported => {
            "my.canIUse(...) is false: the page cannot offer the button".into()
        }
        Callback::None => "nothing fires: no sheet is shown on the home page".into(),
    }
}

pub(super) async fn device(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Query(query): Query<DeviceQuery>,
) -> PageResult {
    let app = state.app(&app_id)?;
    let front_end = query.front_end.unwrap_or_default();
    let base_library = app.config.user.base_library_version.clone();
    let call = query
        .call
        .and_then(|id| state.journal_entry(id))
        .filter(|entry| entry.app_id == app_id)
        .map(|entry| CallView {
            exchanges: entry
                .exchanges
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, exchange)| ExchangeView::of(i + 1, exchange))
                .rev()
                .collect(),
            id: entry.id,
            sequence: sequence(&entry),
            payload: pretty(&entry.payload),
            envelope: entry.payload["response"].as_str().map(str::to_string),
            verdict: entry.verdict.to_string(),
            facts: Facts::of(
                entry.verdict,
                entry.callback,
                &entry.payload,
                entry.plaintext.as_ref(),
            ),
            rule: entry.rule.to_string(),
            // The journal keeps the verdict, not its one-line reason: say what it means.
            reason: entry.verdict.meaning().to_string(),
            plaintext: entry.plaintext.as_ref().map(pretty),
            page_event: (front_end != FrontEnd::Native).then(|| {
                let event = page_event(entry.callback, &entry.payload, front_end, &base_library);
                PageEventView {
                    handler: event.handler,
                    event: pretty(&event.event),
                    note: event.note,
                }
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
    let mobile = &app.config.user.mobile;
    let session = state.alipay_device_session(&app_id)?;
    let login = query.login.and_then(|id| {
        state
            .alipay_login_journal(Some(&app_id), None, usize::MAX)
            .into_iter()
            .find(|e| e.id == id && e.call == "my.getAuthCode")
            .map(|e| pretty(&e.answer))
    });
    page(DevicePage {
        device_session: session["device_session"].as_u64().unwrap_or(1),
        session_user: session["user"].as_str().unwrap_or_default().to_string(),
        auth_actions: options(AuthAction::default()),
        login,
        app_id: app.app_id.clone(),
        sheet_open: query.sheet.as_deref() == Some("open"),
        mobile_display: if mobile.as_str().is_empty() {
            "（未绑定手机号）".into()
        } else {
            mobile.masked()
        },
        call,
        backend_url: target.map(|t| t.url).unwrap_or_default(),
        body_shapes: options(shape),
        recording,
        authorised: app.config.user.authorisation == Authorisation::Granted,
        front_ends: options(front_end),
    })
}

pub(super) async fn start_recording(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    state.start_recording(&app_id)?;
    back_to(format!("/apps/{app_id}/device"))
}

pub(super) async fn stop_recording(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    state.app(&app_id)?;
    state.stop_recording(&app_id);
    back_to(format!("/apps/{app_id}/device"))
}

/// The recording as a suite file, downloaded.
pub(super) async fn recorded_suite(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
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

impl Labelled for BodyShape {
    fn label(self) -> &'static str {
        match self {
            BodyShape::Json => "json: JSON {\"response\": <envelope>}",
            BodyShape::Form => "form: form-encoded response=<envelope>",
            BodyShape::Raw => "raw: the envelope text as text/plain",
            BodyShape::RawJson => {
                "raw-json: the envelope text as application/json (the doc's data: res.response)"
            }
            BodyShape::RawForm => {
                "raw-form: the envelope text unencoded as a form (old my.httpRequest; + turns into a space)"
            }
            BodyShape::Query => "query: GET ?response=<envelope> (my.request's default method)",
            BodyShape::SplitJson => {
                "split-json: JSON {encryptedData, sign} (onGetPhoneNumber, uni-app; re-add the quotes)"
            }
            BodyShape::SplitForm => "split-form: form-encoded encryptedData=...&sign=...",
        }
    }
}

#[derive(Deserialize)]
pub(super) struct TapForm {
    action: ActionKind,
}

pub(super) async fn tap(
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
    // Lands on the call's result, below the fold on a narrow screen.
    back_to(format!("/apps/{app_id}/device?call={id}#call"))
}

/// The user revokes the phone number under ··· › 设置 › 用户信息.
pub(super) async fn revoke(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    let worker = state.clone();
    let id = app_id.clone();
    blocking::<_, PageError>(move || worker.revoke_authorisation(&id)).await?;
    back_to(format!("/apps/{app_id}/device"))
}

impl Labelled for FrontEnd {
    fn label(self) -> &'static str {
        match self {
            FrontEnd::Native => "native: onGetAuthorize, then success / fail",
            FrontEnd::Button => "button: onGetPhoneNumber (2.8.0+), the envelope split",
            FrontEnd::UniApp => "uni-app: @getphonenumber, errMsg",
            FrontEnd::Taro => "Taro 3: onGetPhoneNumber passed through",
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SendForm {
    call: u64,
    url: String,
    body_shape: BodyShape,
}

pub(super) async fn send_to_backend(
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
    if form.body_shape.is_split() {
        crate::http::backend::split_envelope(&envelope).map_err(|message| {
            PageError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("body_shape {}: {message}", form.body_shape),
            )
        })?;
    }
    let exchange = crate::http::backend::exchange(&form.url, form.body_shape, &envelope).await;
    state.record_backend_exchange(form.call, exchange);
    state.remember_backend(
        &app_id,
        BackendTarget {
            url: form.url,
            body_shape: form.body_shape,
        },
    )?;
    // Lands on the newest exchange.
    back_to(format!(
        "/apps/{app_id}/device?call={}#backend-answer",
        form.call
    ))
}

impl Labelled for AuthAction {
    fn label(self) -> &'static str {
        match self {
            AuthAction::Allow => "同意: success with an authCode",
            AuthAction::Deny => "拒绝: fail 11 (auth_user's sheet)",
            AuthAction::Close => "close the sheet: fail 3",
            AuthAction::Background => "app to the background: fail 10 Empty Data",
            AuthAction::NetworkError => "offline: fail 12 Network Error",
        }
    }
}

#[derive(Deserialize)]
pub(super) struct AuthCodeForm {
    scopes: String,
    action: AuthAction,
}

/// `my.getAuthCode({scopes})` on the phone, as the user answers its sheet.
pub(super) async fn get_auth_code(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<AuthCodeForm>,
) -> PageResult {
    state.alipay_get_auth_code(&app_id, vec![form.scopes], form.action)?;
    let id = state
        .alipay_login_journal(Some(&app_id), None, 1)
        .first()
        .map_or(0, |e| e.id);
    back_to(format!("/apps/{app_id}/device?login={id}#login"))
}

/// Another phone with another Alipay account.
pub(super) async fn new_device_session(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    state.alipay_new_device_session(&app_id)?;
    back_to(format!("/apps/{app_id}/device#login"))
}
