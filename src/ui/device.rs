//! An app's device (`/apps/{app_id}/device`): the mini-program page with the consent sheet,
//! what the front end received, sending the envelope to the developer's backend, recording.

use super::*;
use crate::alipay::front_end::{page_event, FrontEnd};
use crate::alipay::model::Authorisation;

struct ExchangeView {
    url: String,
    /// `POST raw-form (application/x-www-form-urlencoded)`, `GET query (no body)`.
    sent: String,
    request_body: String,
    /// What the backend must do to read this shape, when it is more than taking a field.
    must_do: Option<&'static str>,
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
    facts: Facts,
    rule: String,
    reason: String,
    plaintext: Option<String>,
    backend: Option<ExchangeView>,
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
            backend: entry.backend.map(|b| ExchangeView {
                sent: format!(
                    "{} {} ({})",
                    b.method,
                    b.body_shape,
                    b.content_type()
                        .unwrap_or("no body: the envelope is in the query")
                ),
                request_body: b.request_body,
                must_do: crate::http::backend::what_a_backend_must_do(b.body_shape),
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
    back_to(format!("/apps/{app_id}/device?call={id}"))
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
    back_to(format!("/apps/{app_id}/device?call={}", form.call))
}
