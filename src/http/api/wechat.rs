//! The routes of WeChat apps under `/api/v1/wechat`: create, read, change and list them, apply a
//! catalogue scenario, the page's calls (`wx.login`, `wx.checkSession`, a tap on the phone
//! button), the WeChat journal, and a strict backend's verdict on a legacy payload; and the
//! simulator's clock (`/api/v1/clock`), which the WeChat endpoints' codes and tokens age by.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppIdParam, AppPathRefusals, StorageRefusal};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AppId, Body};
use crate::oracle::Expect;
use crate::sim::state::{Clock, NewWechatApp, SimState, WechatAppView, WechatJournalEntry};
use crate::wechat::front_end::TapResult;
use crate::wechat::model::Tap;

pub(super) fn routes() -> OpenApiRouter<SimState> {
    OpenApiRouter::new()
        .routes(routes!(list_wechat_apps, create_wechat_app))
        .routes(routes!(
            read_wechat_app,
            patch_wechat_app,
            delete_wechat_app
        ))
        .routes(routes!(apply_wechat_scenario))
        .routes(routes!(wx_login))
        .routes(routes!(wx_check_session))
        .routes(routes!(tap))
        .routes(routes!(list_wechat_scenarios))
        .routes(routes!(read_wechat_journal))
        .routes(routes!(verify_wechat))
        .routes(routes!(read_clock))
        .routes(routes!(advance_clock))
}

/// List WeChat apps
#[utoipa::path(get, path = "/api/v1/wechat/apps", operation_id = "listWechatApps",
    responses((status = 200, description = "WeChat apps, oldest first", body = Vec<WechatAppView>)))]
async fn list_wechat_apps(State(state): State<SimState>) -> Json<Vec<WechatAppView>> {
    Json(state.list_wechat_apps())
}

/// Create a WeChat app
///
/// Every field is optional: an empty body gives an enterprise, verified app with quota left,
/// the phone number declared, and the user on the first virtual test number.
#[utoipa::path(post, path = "/api/v1/wechat/apps", operation_id = "createWechatApp",
    request_body(content = Option<NewWechatApp>, description = "The new app's settings; none is needed"),
    responses(
        (status = 201, description = "Created", body = WechatAppView),
        (status = 400, description = "Malformed JSON (malformed_json, bad_body)", body = ErrorBody),
        (status = 409, description = "An app of that seed exists (app_exists)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (body_too_large)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value (invalid_request)", body = ErrorBody),
        StorageRefusal,
    ))]
async fn create_wechat_app(
    State(state): State<SimState>,
    Body(new): Body<NewWechatApp>,
) -> Result<(StatusCode, Json<WechatAppView>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.create_wechat_app(new)?)))
}

/// Read a WeChat app
#[utoipa::path(get, path = "/api/v1/wechat/apps/{app_id}", operation_id = "readWechatApp",
    params(AppIdParam),
    responses(
        (status = 200, description = "The app", body = WechatAppView),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ))]
async fn read_wechat_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<WechatAppView>, ApiError> {
    Ok(Json(state.wechat_app(&app_id)?))
}

/// Change a WeChat app
///
/// A JSON merge patch of `name`, `console`, `user` and `switches`.
#[utoipa::path(patch, path = "/api/v1/wechat/apps/{app_id}", operation_id = "patchWechatApp",
    params(AppIdParam),
    request_body(content = Object, description = "A merge patch of name, console, user, switches"),
    responses(
        (status = 200, description = "The changed app", body = WechatAppView),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value (invalid_request)", body = ErrorBody),
        AppPathRefusals,
        StorageRefusal,
    ))]
async fn patch_wechat_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(patch): Body<Value>,
) -> Result<Json<WechatAppView>, ApiError> {
    Ok(Json(state.patch_wechat_app(&app_id, patch)?))
}

/// Delete a WeChat app
#[utoipa::path(delete, path = "/api/v1/wechat/apps/{app_id}", operation_id = "deleteWechatApp",
    params(AppIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
        StorageRefusal,
    ))]
async fn delete_wechat_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<StatusCode, ApiError> {
    state.wechat_app(&app_id)?;
    state.delete_app(&app_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A scenario's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioName {
    pub name: String,
}

/// Apply a WeChat scenario
///
/// Sets the app's console, user and switches to the scenario's; the scenario's steps are then
/// the page's and the backend's to make.
#[utoipa::path(post, path = "/api/v1/wechat/apps/{app_id}/scenario", operation_id = "applyWechatScenario",
    params(AppIdParam),
    request_body(content = ScenarioName),
    responses(
        (status = 200, description = "The app", body = WechatAppView),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "Not a WeChat scenario (invalid_request)", body = ErrorBody),
        AppPathRefusals,
        StorageRefusal,
    ))]
async fn apply_wechat_scenario(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(scenario): Body<ScenarioName>,
) -> Result<Json<WechatAppView>, ApiError> {
    Ok(Json(state.apply_wechat_scenario(&app_id, &scenario.name)?))
}

/// wx.login()
///
/// What the page's `wx.login` success callback receives: a login code, valid 5 minutes, once.
/// It may rotate the user's session key (`switches.rotation_min_period`).
#[utoipa::path(post, path = "/api/v1/wechat/apps/{app_id}/wx.login", operation_id = "wxLogin",
    params(AppIdParam),
    responses(
        (status = 200, description = "`{errMsg: \"login:ok\", code}`", body = Object),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ))]
async fn wx_login(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.wechat_login(&app_id)?))
}

/// wx.checkSession()
#[utoipa::path(post, path = "/api/v1/wechat/apps/{app_id}/wx.checkSession", operation_id = "wxCheckSession",
    params(AppIdParam),
    responses(
        (status = 200, description = "`{errMsg: \"checkSession:ok\"}` or the failure", body = Object),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ))]
async fn wx_check_session(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.wechat_check_session(&app_id)?))
}

/// A tap on the phone button
///
/// `detail` is the `e.detail` the page's `bindgetphonenumber` (or
/// `bindgetrealtimephonenumber`) handler receives; `expect` what a correct backend concludes
/// from its legacy payload.
#[utoipa::path(post, path = "/api/v1/wechat/apps/{app_id}/tap", operation_id = "wechatTap",
    params(AppIdParam),
    request_body(content = Option<Tap>, description = "The button, the user's choice, the base library; none is needed"),
    responses(
        (status = 200, description = "What the page got", body = Object),
        (status = 409, description = "An Alipay app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value (invalid_request)", body = ErrorBody),
        AppPathRefusals,
    ))]
async fn tap(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(tap): Body<Tap>,
) -> Result<Json<TapResult>, ApiError> {
    Ok(Json(state.wechat_tap(&app_id, tap)?))
}

/// One WeChat scenario, as listed.
#[derive(Debug, Serialize, ToSchema)]
struct ScenarioListing {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    source: &'static str,
    #[schema(value_type = Object)]
    expect: Value,
}

/// List WeChat scenarios
#[utoipa::path(get, path = "/api/v1/wechat/scenarios", operation_id = "listWechatScenarios",
    responses((status = 200, description = "The catalogue", body = Vec<ScenarioListing>)))]
async fn list_wechat_scenarios() -> Json<Vec<ScenarioListing>> {
    Json(
        crate::wechat::scenario::catalogue()
            .iter()
            .map(|s| ScenarioListing {
                name: &s.name,
                title: &s.title,
                description: &s.description,
                source: &s.source,
                expect: serde_json::to_value(&s.expect).expect("serialises"),
            })
            .collect(),
    )
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WechatJournalQuery {
    /// Only this app's calls.
    app_id: Option<String>,
    /// At most this many, newest first (default 100).
    limit: Option<usize>,
}

/// Read the WeChat journal
///
/// The page's calls and the backends' calls to the WeChat endpoints, newest first, each with
/// the device session (session-key generation) it belongs to and what a correct backend
/// concludes from its answer.
#[utoipa::path(get, path = "/api/v1/wechat/journal", operation_id = "readWechatJournal",
    params(WechatJournalQuery),
    responses(
        (status = 200, description = "Calls, newest first", body = Vec<WechatJournalEntry>),
        (status = 400, description = "A query that does not decode (invalid_query)", body = ErrorBody),
    ))]
async fn read_wechat_journal(
    State(state): State<SimState>,
    query: Result<Query<WechatJournalQuery>, QueryRejection>,
) -> Result<Json<Vec<WechatJournalEntry>>, ApiError> {
    let Query(query) = query?;
    Ok(Json(state.wechat_journal(
        query.app_id.as_deref(),
        query.limit.unwrap_or(100),
    )))
}

/// A legacy payload, as the page posts it to its backend, and the backend's session key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WechatVerifyRequest {
    /// The backend's own appid, which the watermark must name.
    pub appid: String,
    /// The session key jscode2session gave the backend.
    #[serde(rename = "session_key")]
    pub session_key: String,
    pub iv: String,
    pub encrypted_data: String,
}

/// Verify a legacy payload
///
/// What a strict backend concludes from `encryptedData` and `iv` under its session key:
/// `accept` with the plaintext, `reject-decrypt`, `reject-parse` or `reject-foreign`.
#[utoipa::path(post, path = "/api/v1/wechat/verify", operation_id = "verifyWechat",
    request_body(content = WechatVerifyRequest),
    responses(
        (status = 200, description = "The conclusion", body = Expect),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 422, description = "A missing or unknown field (invalid_request)", body = ErrorBody),
    ))]
async fn verify_wechat(Body(request): Body<WechatVerifyRequest>) -> Json<Expect> {
    Json(crate::wechat::judge::judge_legacy(
        &request.appid,
        &request.session_key,
        &request.iv,
        &request.encrypted_data,
    ))
}

/// Read the clock
#[utoipa::path(get, path = "/api/v1/clock", operation_id = "readClock",
    responses((status = 200, description = "The simulator's time", body = Clock)))]
async fn read_clock(State(state): State<SimState>) -> Json<Clock> {
    Json(state.clock())
}

/// How far to move the clock.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    /// 1 to 315360000 (ten years).
    pub seconds: u64,
}

/// Move the clock forward
///
/// Codes, tokens and session keys age by the simulator's clock: moving it 7200 s expires an
/// access token at once. It never goes back (restart the server for that).
#[utoipa::path(post, path = "/api/v1/clock/advance", operation_id = "advanceClock",
    request_body(content = Advance),
    responses(
        (status = 200, description = "The simulator's time", body = Clock),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 422, description = "seconds missing or out of range (invalid_request)", body = ErrorBody),
    ))]
async fn advance_clock(
    State(state): State<SimState>,
    Body(advance): Body<Advance>,
) -> Result<Json<Clock>, ApiError> {
    Ok(Json(state.advance_clock(advance.seconds)?))
}

// A body these routes cannot do without.
impl crate::http::extract::EmptyBody for WechatVerifyRequest {}
impl crate::http::extract::EmptyBody for ScenarioName {}
impl crate::http::extract::EmptyBody for Advance {}
