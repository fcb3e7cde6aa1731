//! The web UI: server-rendered askama pages over the same [`SimState`] as the API. Every action
//! is a plain form post; a little JavaScript copies keys, previews the console's unsaved form,
//! opens the consent sheet in place (a modal dialog, `templates/dialog.js`, also bundled into
//! `/sdk/my.js`) and refreshes the journal. WeChat apps have their own console and device
//! (`/wechat/apps/{appid}`, [`wechat`]) and `/sdk/wx.js`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use strum::IntoEnumIterator;

use crate::alipay::fault::Fault;
use crate::alipay::model::{ActionKind, Call};
use crate::alipay::outcome::Callback;
use crate::alipay::scenario::{catalogue, Fixture};
use crate::http::worker::blocking;
use crate::oracle::Cause;
use crate::oracle::Verdict;
use crate::sim::state::{JournalEntry, KeysView, PhoneNumberRequest, SimState, StateError};
use crate::sim::store::{BackendTarget, BodyShape};

mod console;
mod dashboard;
mod device;
mod form;
mod journal;
mod wechat;

const STYLE: &str = include_str!("../../templates/style.css");
const ICON: &str = include_str!("../../templates/icon.svg");
/// The behaviour the rules' and faults' sources cite as "spec §N", served as text.
const SPEC: &str = include_str!("../../docs/alipay-getphonenumber.md");
const DIALOG_JS: &str = include_str!("../../templates/dialog.js");
/// `/sdk/my.js`: one self-contained script (pages of other origins include it), so the shared
/// dialog is bundled in, both inside one function: the page gets `my` and no other global.
const MY_JS: &str = concat!(
    "(function () {\n",
    include_str!("../../templates/dialog.js"),
    "\n",
    include_str!("../../templates/my.js"),
    "})();\n"
);

/// The UI's routes: the pages of every app and the journal, and each platform's pages.
pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/", get(dashboard::dashboard))
        .route("/apps", get(to_dashboard).post(dashboard::create_app))
        .route("/journal", get(journal::journal))
        .route("/journal/entries", get(journal::journal_entries))
        .route("/assets/style.css", get(style))
        .route("/assets/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route("/docs/alipay-getphonenumber.md", get(spec))
        .route("/assets/dialog.js", get(dialog_js))
        .merge(alipay_routes())
        .merge(wechat::routes())
}

/// The Alipay app's pages: its console, its device, recording on it, and `my.js` for
/// browser previews of a mini program.
fn alipay_routes() -> Router<SimState> {
    Router::new()
        .route("/apps/{app_id}", get(console::console))
        .route(
            "/apps/{app_id}/console",
            get(to_console).post(console::save_console),
        )
        .route(
            "/apps/{app_id}/console/preview",
            get(to_console).post(console::preview_console),
        )
        .route(
            "/apps/{app_id}/scenario",
            get(to_console).post(console::apply_scenario),
        )
        .route(
            "/apps/{app_id}/reset",
            get(to_console).post(console::reset_app),
        )
        .route(
            "/apps/{app_id}/keys/rotate",
            get(to_console).post(console::rotate_keys),
        )
        .route("/apps/{app_id}/keys/{file}", get(console::download_key))
        .route("/apps/{app_id}/device", get(device::device))
        .route(
            "/apps/{app_id}/device/tap",
            get(to_device).post(device::tap),
        )
        .route(
            "/apps/{app_id}/device/auth-code",
            get(to_device).post(device::get_auth_code),
        )
        .route(
            "/apps/{app_id}/device/session",
            get(to_device).post(device::new_device_session),
        )
        .route(
            "/apps/{app_id}/device/revoke",
            get(to_device).post(device::revoke),
        )
        .route(
            "/apps/{app_id}/device/send",
            get(to_device).post(device::send_to_backend),
        )
        .route(
            "/apps/{app_id}/recording/start",
            get(to_device).post(device::start_recording),
        )
        .route(
            "/apps/{app_id}/recording/stop",
            get(to_device).post(device::stop_recording),
        )
        .route(
            "/apps/{app_id}/recording/suite.json",
            get(device::recorded_suite),
        )
        .route("/sdk/my.js", get(my_js))
}

// A form's action URL is what the browser shows after a refused post (a 422 page): loading it
// again is a GET, which goes to the page the form belongs to.

async fn to_dashboard() -> Redirect {
    Redirect::to("/")
}

async fn to_console(Path(app_id): Path<String>) -> Redirect {
    to_app_page(&app_id, "")
}

async fn to_device(Path(app_id): Path<String>) -> Redirect {
    to_app_page(&app_id, "/device")
}

/// `/apps/{app_id}{page}`, for an id an app can have (anything else has no page: `/`).
fn to_app_page(app_id: &str, page: &str) -> Redirect {
    let possible = !app_id.is_empty()
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match possible {
        true => Redirect::to(&format!("/apps/{app_id}{page}")),
        false => Redirect::to("/"),
    }
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

/// A page-level failure, shown as a small HTML page.
struct PageError(StatusCode, String);

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: StatusCode,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.0,
            message: &self.1,
        };
        match page.render() {
            Ok(body) => (self.0, Html(body)).into_response(),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
        }
    }
}

/// A page for a path nothing answers, when a browser asked for one.
pub(crate) fn not_found_page(path: &str) -> Response {
    PageError(
        StatusCode::NOT_FOUND,
        format!("Nothing is at {path}. The apps are listed on the first page."),
    )
    .into_response()
}

impl From<StateError> for PageError {
    fn from(error: StateError) -> Self {
        PageError(crate::http::error::status_of(&error).0, error.to_string())
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

/// A setting's choices as a page shows them. The value a form sends is the variant's own name
/// (strum's, the same as serde's); only the words shown are written in the UI.
trait Labelled: IntoEnumIterator + Into<&'static str> + Copy {
    fn label(self) -> &'static str;
}

/// Every variant of `E` as an `<option>`, in the enum's order, `current` selected.
fn options<E: Labelled>(current: E) -> Vec<Choice> {
    let current: &'static str = current.into();
    E::iter()
        .map(|variant| {
            let value: &'static str = variant.into();
            Choice {
                value: value.to_string(),
                label: variant.label().to_string(),
                selected: value == current,
            }
        })
        .collect()
}

/// The two facts of a call, kept apart wherever a page shows one (`templates/facts.html`):
/// whether its envelope is authentic (the oracle's verdict) and what the page ends up with.
/// Only a phone number is styled as success: an authentic 40006 is still no phone number.
#[derive(Clone)]
struct Facts {
    /// `accept`, `reject-signature`, ...: the class `verdict-*` and the word shown.
    verdict: String,
    /// The verdict in a few words: "authentic", "signature fails: refuse".
    authenticity: &'static str,
    /// `phone`, `no-phone`, `business-error`, `refused`, `failure`: the class `gets-*`.
    gets_kind: &'static str,
    /// What the page gets: "Phone number 13800000000", "Business error 40006 ...".
    gets: String,
}

impl Facts {
    fn of(
        verdict: Verdict,
        callback: Callback,
        payload: &Value,
        plaintext: Option<&Value>,
    ) -> Self {
        let text = |value: &Value, key: &str| value[key].as_str().unwrap_or_default().to_string();
        let authenticity = match verdict {
            Verdict::Accept => "authentic",
            Verdict::RejectSignature => "signature fails: refuse",
            Verdict::RejectDecrypt => "does not decrypt: refuse",
            Verdict::RejectParse => "not an envelope: refuse",
            Verdict::Unsigned => "unsigned: a strict backend refuses",
            Verdict::FrontEnd => "no envelope",
            Verdict::RejectForeign => "made for another app: refuse",
            Verdict::PlatformRefused => "the platform refused",
        };
        let (gets_kind, gets) = match (verdict, plaintext) {
            (Verdict::Accept, Some(content)) => {
                let code = text(content, "code");
                let mobile = text(content, "mobile");
                if code == "10000" && !mobile.is_empty() {
                    ("phone", format!("Phone number {mobile}"))
                } else if code == "10000" {
                    (
                        "no-phone",
                        "No phone number: code 10000 with an empty mobile".into(),
                    )
                } else {
                    // The sub-code names the cause; its subMsg is in the plaintext shown.
                    let mut words = format!("Business error {code} {}", text(content, "msg"));
                    let sub_code = text(content, "subCode");
                    if !sub_code.is_empty() {
                        words = format!("{words} · {sub_code}");
                    }
                    ("business-error", words.trim_end().to_string())
                }
            }
            (Verdict::FrontEnd, _) => ("failure", Self::front_end(callback, payload)),
            _ => (
                "refused",
                "No phone number: the backend must refuse this envelope".into(),
            ),
        };
        Facts {
            verdict: verdict.to_string(),
            authenticity,
            gets_kind,
            gets,
        }
    }

    /// What a page's callback got when no envelope reached it.
    fn front_end(callback: Callback, payload: &Value) -> String {
        let field = |key: &str| match &payload[key] {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        match callback {
            Callback::Fail => format!("fail: error {} {}", field("error"), field("errorMessage"))
                .trim_end()
                .to_string(),
            Callback::OnError => {
                let detail = &payload["detail"];
                let words = [&detail["type"], &detail["errorMessage"]]
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("onError: {words}").trim_end().to_string()
            }
            Callback::Unsupported => "No button: my.canIUse is false".into(),
            Callback::None => "Nothing: no sheet on the home page".into(),
            Callback::Success => "No envelope".into(),
        }
    }

    /// When the next call is refused before it is made.
    fn refused_call() -> Self {
        Facts {
            verdict: "error".into(),
            authenticity: "no call",
            gets_kind: "refused",
            gets: "The next call is refused".into(),
        }
    }
}

/// The outcome of the next call, in words.
#[derive(Clone)]
struct OutcomeView {
    facts: Facts,
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
        Self::of_dry_run(state.dry_run(app_id))
    }

    /// The outcome the next call would have with `config` saved (the console's preview).
    fn preview(state: &SimState, app_id: &str, config: &Call) -> Result<Self, PageError> {
        Self::of_dry_run(state.dry_run_of(app_id, config))
    }

    fn of_dry_run(dry_run: Result<Fixture, StateError>) -> Result<Self, PageError> {
        match dry_run {
            Ok(fixture) => Ok(Self::of(&fixture)),
            Err(StateError::Engine(error)) => Ok(OutcomeView {
                facts: Facts::refused_call(),
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
        let summary = match &expect.cause {
            Cause::Rule(rule) => rule.summary.to_string(),
            Cause::Fault(fault) => format!("Fault: {}", fault.summary),
            Cause::Recorded(id) => id.clone(),
        };
        let delivery = &fixture.delivery;
        OutcomeView {
            facts: Facts::of(
                expect.verdict,
                delivery.callback,
                &delivery.payload,
                expect.plaintext.as_ref(),
            ),
            summary,
            rule: expect.cause.to_string(),
            reason: expect.reason.clone(),
            source: expect
                .cause
                .described()
                .map_or_else(String::new, |rule| rule.source.to_string()),
            callback: fixture.delivery.callback.to_string(),
        }
    }
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

async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], ICON).into_response()
}

async fn spec() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], SPEC).into_response()
}

async fn dialog_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        DIALOG_JS,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
