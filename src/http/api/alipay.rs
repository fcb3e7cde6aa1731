//! The routes of the Alipay `my.getPhoneNumber` flow: the app's keys, scenarios, the emulated
//! front-end call, and the strict backend's verdict.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppIdParam, AppPathRefusals, StorageRefusal};
use crate::alipay::scenario::catalogue;
use crate::alipay::scenario::Fixture;
use crate::http::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{AppId, Body, EmptyBody};
use crate::http::worker::blocking;
use crate::oracle::{BusinessResult, Conclusion, Verdict};
use crate::sim::state::{
    AppView, KeysView, PhoneNumberRequest, SimState, StateError, VerifyRequest,
};

pub(super) fn routes() -> OpenApiRouter<SimState> {
    OpenApiRouter::new()
        .routes(routes!(read_keys))
        .routes(routes!(rotate_keys))
        .routes(routes!(isv_set_aes_key))
        .routes(routes!(get_setting))
        .routes(routes!(consent_sheet))
        .routes(routes!(revoke_authorisation))
        .routes(routes!(download_certificate))
        .routes(routes!(apply_scenario))
        .routes(routes!(get_phone_number))
        .routes(routes!(list_scenarios))
        .routes(routes!(verify))
        .routes(routes!(get_auth_code))
        .routes(routes!(read_app_key_pair))
        .routes(routes!(set_app_public_key))
        .routes(routes!(set_gateway_fault))
        .routes(routes!(read_device_session, new_device_session))
        .routes(routes!(read_login_journal))
        .routes(routes!(read_login_settings, set_login_settings))
}

/// The header that applies a catalogue scenario to one `getPhoneNumber` call.
pub const SCENARIO_HEADER: &str = "x-alipay-sim-scenario";

/// The [`SCENARIO_HEADER`] of a request, if it has one (read alone: the handler needs no
/// copy of the other headers).
struct ScenarioHeader(Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ScenarioHeader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(SCENARIO_HEADER) else {
            return Ok(ScenarioHeader(None));
        };
        let name = value.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidHeader,
                "X-Alipay-Sim-Scenario must be a scenario name in ASCII",
            )
        })?;
        Ok(ScenarioHeader(Some(name.to_string())))
    }
}

/// The keys a backend needs
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/keys",
    operation_id = "readKeys",
    params(AppIdParam),
    responses(
        (status = 200, description = "Keys", body = KeysView),
        AppPathRefusals,
    ),
)]
async fn read_keys(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(state.keys(&app_id)?))
}

/// New Alipay key pair and AES key
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/keys/rotate",
    operation_id = "rotateKeys",
    params(AppIdParam),
    responses(
        (status = 200, description = "The new keys", body = KeysView),
        AppPathRefusals,
        StorageRefusal,
    ),
)]
async fn rotate_keys(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<KeysView>, ApiError> {
    let keys = blocking::<_, ApiError>(move || state.rotate_keys(&app_id)).await?;
    Ok(Json(keys))
}

/// The ISV's alipay.open.auth.app.aes.set for this merchant
///
/// A new merchant AES key replaces the previous one; envelopes are encrypted with it from now
/// on, so a backend still holding the old key fails to decrypt (scenario `isv-aes-key-reset`).
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/isv/aes-set",
    operation_id = "isvSetAesKey",
    params(AppIdParam),
    responses(
        (status = 200, description = "The keys, with the merchant's new AES key", body = KeysView),
        AppPathRefusals,
        (status = 422, description = "The app has no ISV (invalid_request)", body = ErrorBody),
        StorageRefusal,
    ),
)]
async fn isv_set_aes_key(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<KeysView>, ApiError> {
    let keys = blocking::<_, ApiError>(move || state.isv_set_aes_key(&app_id)).await?;
    Ok(Json(keys))
}

/// `my.getSetting`'s answer for the phone number.
#[derive(Serialize, ToSchema)]
pub struct Settings {
    #[serde(rename = "authSetting")]
    auth_setting: AuthSetting,
}

#[derive(Serialize, ToSchema)]
pub struct AuthSetting {
    /// Whether the user has authorised the phone number (and has not revoked it).
    #[serde(rename = "phoneNumber")]
    phone_number: bool,
}

/// What my.getSetting reports
///
/// After the user allows on the sheet, `authSetting.phoneNumber` is `true` and later calls need
/// no sheet, until the user revokes it.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/getSetting",
    operation_id = "getSetting",
    params(AppIdParam),
    responses(
        (status = 200, description = "The user's settings", body = Settings),
        AppPathRefusals,
    ),
)]
async fn get_setting(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<Settings>, ApiError> {
    let phone_number = state.phone_number_authorised(&app_id)?;
    Ok(Json(Settings {
        auth_setting: AuthSetting { phone_number },
    }))
}

/// What Alipay's consent sheet shows for an app
#[derive(Serialize, ToSchema)]
pub struct ConsentSheet {
    pub app_id: String,
    /// The user's bound mobile as the sheet shows it (`138****0000`); empty when none is bound.
    pub mobile: String,
    /// `my.getSetting`'s `authSetting.phoneNumber`: once authorised, the button shows no sheet.
    pub authorised: bool,
}

/// What the consent sheet shows (授权提示)
///
/// The bound mobile, masked as the sheet shows it, and whether the user has already authorised
/// (then the button shows no sheet). Open to pages of any origin, like `getPhoneNumber`: it is
/// what `/sdk/my.js` reads before it shows its sheet, and an unknown app fails here first. No
/// key and no full number is in it.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/consent-sheet",
    operation_id = "consentSheet",
    params(AppIdParam),
    responses(
        (status = 200, description = "What the sheet shows", body = ConsentSheet),
        AppPathRefusals,
    ),
)]
async fn consent_sheet(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<ConsentSheet>, ApiError> {
    let app = state.app(&app_id)?;
    let user = &app.config.user;
    Ok(Json(ConsentSheet {
        mobile: user.mobile.masked(),
        authorised: user.authorisation == crate::alipay::model::Authorisation::Granted,
        app_id: app.app_id,
    }))
}

/// The user revokes the phone-number authorisation
///
/// As under ··· › 设置 › 用户信息: a call without the button then gets 40003, and the button
/// shows the sheet again.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/authorisation/revoke",
    operation_id = "revokeAuthorisation",
    params(AppIdParam),
    responses(
        (status = 200, description = "The user's settings after the revocation", body = Settings),
        AppPathRefusals,
        StorageRefusal,
    ),
)]
async fn revoke_authorisation(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<Settings>, ApiError> {
    let id = app_id.clone();
    blocking::<_, ApiError>(move || state.revoke_authorisation(&id)).await?;
    Ok(Json(Settings {
        auth_setting: AuthSetting {
            phone_number: false,
        },
    }))
}
/// The path of a certificate file.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documentation only: the handler reads the path as a tuple
struct CertificateFileParams {
    /// The app's id.
    app_id: String,
    /// `appCertPublicKey_<app_id>.crt`, `alipayCertPublicKey_RSA2.crt` or `alipayRootCert.crt`,
    /// the names the SDKs' samples give them.
    file: String,
}

/// A certificate file of an app in certificate mode (公钥证书)
///
/// PEM, as an attachment: the app certificate (`appCertPublicKey_<app_id>.crt`), the Alipay
/// public-key certificate (`alipayCertPublicKey_RSA2.crt`, which holds the app's Alipay public
/// key) or the root file (`alipayRootCert.crt`: an RSA root that issues both, an ECDSA root and
/// a renewed RSA root). The SDKs' certificate mode is configured with these three files; their
/// SNs are in the app's `keys.certificates`.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/certs/{file}",
    operation_id = "downloadCertificate",
    params(CertificateFileParams),
    responses(
        (status = 200, description = "The file (PEM), with content-disposition: attachment", content_type = "application/x-pem-file", body = String),
        (status = 400, description = "An app id or file name in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found); an app in public-key mode, or a name that is none of its three files (certificate_not_found)", body = ErrorBody),
    ),
)]
async fn download_certificate(
    State(state): State<SimState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((app_id, file)) = path?;
    let pem = state.certificate_file(&app_id, &file)?;
    let disposition = format!("attachment; filename=\"{file}\"");
    Ok((
        [
            (header::CONTENT_TYPE, PEM_CONTENT_TYPE.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        pem,
    )
        .into_response())
}

/// What a certificate file is served as.
const PEM_CONTENT_TYPE: &str = "application/x-pem-file";

/// A catalogue scenario, by name.
#[derive(Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ScenarioRequest {
    name: String,
}
crate::de::object_only!(deserialize: ScenarioRequest);

/// Apply a catalogue scenario
///
/// Sets the app's console, platform, user, action and fault to the scenario's.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/scenario",
    operation_id = "applyScenario",
    params(AppIdParam),
    request_body = ScenarioRequest,
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 400, description = "Malformed JSON or no body (malformed_json, bad_body), or an app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app or scenario (app_not_found, scenario_not_found)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (body_timeout)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (body_too_large)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value: the message names it (invalid_request)", body = ErrorBody),
        StorageRefusal,
    ),
)]
async fn apply_scenario(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(request): Body<ScenarioRequest>,
) -> Result<Json<AppView>, ApiError> {
    let view =
        blocking::<_, ApiError>(move || state.apply_scenario(&app_id, &request.name)).await?;
    Ok(Json(view))
}

/// The emulated front-end call
///
/// What my.getPhoneNumber gives the page, with the keys a backend needs and the oracle. The
/// app's call counter moves on, and the call is journaled.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/getPhoneNumber",
    operation_id = "getPhoneNumber",
    params(
        AppIdParam,
        ("X-Alipay-Sim-Scenario" = Option<String>, Header, nullable = false, description = "Apply this catalogue scenario for this call only"),
    ),
    request_body(content = Option<PhoneNumberRequest>, description = "What this call sets over the app's settings; none is needed"),
    responses(
        (status = 200, description = "Same object as `alipay-sim envelope` prints", body = Fixture),
        (status = 400, description = "Malformed JSON (malformed_json, bad_body), an X-Alipay-Sim-Scenario that is not ASCII (invalid_header), or an app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app or scenario (app_not_found, scenario_not_found)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (body_timeout)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (body_too_large)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value: the message names it (invalid_request); a fault that does not apply to the call's outcome (fault_not_applicable)", body = ErrorBody),
        (status = 500, description = "The envelope could not be made (internal_error)", body = ErrorBody),
    ),
)]
async fn get_phone_number(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    ScenarioHeader(scenario): ScenarioHeader,
    Body(request): Body<PhoneNumberRequest>,
) -> Result<Response, ApiError> {
    let prepared = state.prepare_call(&app_id, scenario.as_deref(), request)?;
    let answer = if prepared.needs_signing() {
        signers()
            .run(move || state.complete_call_answer(prepared))
            .await?
    } else {
        state.complete_call_answer(prepared)?
    };
    Ok(match answer.json {
        // The text made once for every call that gives this fixture, copied: sending the
        // shared text itself measured slower (benches/request_path.sh).
        Some(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            axum::body::Bytes::copy_from_slice(json.as_bytes()),
        )
            .into_response(),
        None => Json(&*answer.fixture).into_response(),
    })
}

/// Threads that sign, one per core, taking calls first come first served. Signing is
/// CPU-bound: kept off the async workers, a burst of new envelopes queues in order instead of
/// stalling every connection, and a signer picks the next call as soon as it is free.
struct Signers {
    queue: std::sync::Mutex<std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

impl Signers {
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job = Box::new(move || {
            let _ = done.send(job());
        });
        let sent = self.queue.lock().is_ok_and(|queue| queue.send(job).is_ok());
        if !sent {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "no signer thread",
            ));
        }
        result
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::InternalError,
                    "a signer thread failed",
                )
            })?
            .map_err(ApiError::from)
    }
}

fn signers() -> &'static Signers {
    static SIGNERS: std::sync::OnceLock<Signers> = std::sync::OnceLock::new();
    SIGNERS.get_or_init(|| {
        let (queue, jobs) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        for n in 0..cores {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("alipay-sim signer {n}"))
                .spawn(move || loop {
                    let job = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("a signer thread");
        }
        Signers {
            queue: std::sync::Mutex::new(queue),
        }
    })
}

/// One scenario of the catalogue, as the listing gives it.
#[derive(Serialize, ToSchema)]
#[schema(as = Scenario)]
struct ScenarioEntry {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    source: &'static str,
    /// What a strict backend concludes; accept means authentic, whatever the plaintext says.
    verdict: Verdict,
    /// What an authentic plaintext says: phone-number, 10000 no-mobile, or the code and
    /// sub-code (40006 isv.insufficient-isv-permissions); null when the verdict is not accept.
    #[schema(value_type = Option<String>, required)]
    business_result: Option<BusinessResult>,
    rule: &'static str,
}

/// The scenario catalogue
#[utoipa::path(
    get,
    path = "/api/v1/scenarios",
    operation_id = "listScenarios",
    responses((status = 200, description = "Scenarios", body = Vec<ScenarioEntry>)),
)]
async fn list_scenarios() -> Json<Vec<ScenarioEntry>> {
    let list = catalogue()
        .iter()
        .map(|s| ScenarioEntry {
            name: &s.name,
            title: &s.title,
            description: &s.description,
            source: &s.source,
            verdict: s.expect.verdict,
            business_result: s.business_result(),
            rule: s.expect.cause.id(),
        })
        .collect();
    Json(list)
}

/// What a strict backend concludes from an envelope, with an app's keys or explicit ones
///
/// A WeChat legacy payload is judged too: a body with `encryptedData`, `iv`, `session_key` and
/// `appid` (as `POST /api/v1/wechat/verify` takes it) gets `accept`, `reject-decrypt`,
/// `reject-parse` or `reject-foreign`.
#[utoipa::path(
    post,
    path = "/api/v1/verify",
    operation_id = "verify",
    request_body(content = VerifyRequest, description = "An Alipay envelope and keys, or a WeChat payload {appid, session_key, iv, encryptedData}"),
    responses(
        (status = 200, description = "Conclusion", body = Conclusion),
        (status = 400, description = "Malformed JSON or no body (malformed_json, bad_body)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (body_timeout)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (body_too_large)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value, or both or neither of app_id and alipay_public_key: the message names it (invalid_request)", body = ErrorBody),
    ),
)]
async fn verify(
    State(state): State<SimState>,
    Body(body): Body<serde_json::Value>,
) -> Result<Json<Conclusion>, ApiError> {
    let invalid = |e: serde_json::Error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
            e.to_string(),
        )
    };
    if body.get("encryptedData").is_some() {
        let request: super::wechat::WechatVerifyRequest =
            serde_json::from_value(body).map_err(invalid)?;
        let expect = crate::wechat::judge::judge_legacy(
            &request.appid,
            &request.session_key,
            &request.iv,
            &request.encrypted_data,
        );
        return Ok(Json(Conclusion {
            verdict: expect.verdict,
            plaintext: expect.plaintext,
            reason: expect.reason,
        }));
    }
    let request: VerifyRequest = crate::http::extract::from_value(body)?;
    Ok(Json(state.verify(request)?))
}

impl EmptyBody for ScenarioRequest {}

/// `my.getAuthCode`'s `scopes`: one scope or several.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthCodeRequest {
    /// `auth_base` (silent, the default), `auth_user` (a sheet), `auth_zhima`; a string or an array.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, deserialize_with = "one_or_many")]
    scopes: Vec<String>,
    /// What the user does with the sheet `auth_user` shows: `allow` (default), `deny` (fail
    /// 11), `close` (3), `background` (10), or `network-error` (12, silent logins too).
    #[serde(default)]
    action: crate::alipay::front_end::AuthAction,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(scope) => vec![scope],
        OneOrMany::Many(scopes) => scopes,
    })
}

impl EmptyBody for AuthCodeRequest {
    fn empty() -> Option<Self> {
        Some(AuthCodeRequest::default())
    }
}

/// my.getAuthCode()
///
/// What the page's `my.getAuthCode({scopes})` callback receives: on success an `authCode` for
/// the backend's `alipay.system.oauth.token` at `/gateway.do`, single-use, valid 180 s of the
/// simulator's clock; else the fail object `{error, errorMessage}` (4 without the JSAPI base
/// product, 3 for an unknown scope or a closed sheet, 11 denied, 10 backgrounded, 12 offline).
/// Each code logs in the user of the app's device session. Open to pages of any origin, like
/// `getPhoneNumber`.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/my.getAuthCode",
    operation_id = "getAuthCode",
    params(AppIdParam),
    request_body(content = Option<AuthCodeRequest>, description = "The scopes; none is needed"),
    responses(
        (status = 200, description = "`{authCode, authSuccessScopes, authErrorScopes}`, or the fail object `{error, errorMessage}`", body = Object),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "An unknown action (invalid_request)", body = ErrorBody),
        AppPathRefusals,
    ),
)]
async fn get_auth_code(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(request): Body<AuthCodeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.alipay_get_auth_code(
        &app_id,
        request.scopes,
        request.action,
    )?))
}

/// The app's own key pair (应用公钥)
///
/// The key pair the app signs its gateway requests with: the one the simulator made, its
/// private key in PKCS#1 (Node, Python SDKs) and PKCS#8 (Java SDK) PEM, or the public key the
/// developer uploaded. Throwaway keys only.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/app-key-pair",
    operation_id = "readAppKeyPair",
    params(AppIdParam),
    responses(
        (status = 200, description = "The app's key pair", body = crate::sim::alipay_login::AppKeyPairView),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ),
)]
async fn read_app_key_pair(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<crate::sim::alipay_login::AppKeyPairView>, ApiError> {
    let view = blocking::<_, ApiError>(move || state.app_key_pair(&app_id)).await?;
    Ok(Json(view))
}

/// An app public key to upload, or null to go back to the pair the simulator made.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppPublicKey {
    /// One-line base64 or a `BEGIN PUBLIC KEY` PEM; null for the simulator's pair.
    #[schema(required)]
    app_public_key: Option<String>,
}

impl EmptyBody for AppPublicKey {}

/// Upload the app public key (上传应用公钥)
#[utoipa::path(
    put,
    path = "/api/v1/apps/{app_id}/app-public-key",
    operation_id = "setAppPublicKey",
    params(AppIdParam),
    request_body(content = AppPublicKey),
    responses(
        (status = 200, description = "The app's key pair", body = crate::sim::alipay_login::AppKeyPairView),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "Not an RSA public key, or the Alipay public key (invalid_request)", body = ErrorBody),
        AppPathRefusals,
        StorageRefusal,
    ),
)]
async fn set_app_public_key(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(request): Body<AppPublicKey>,
) -> Result<Json<crate::sim::alipay_login::AppKeyPairView>, ApiError> {
    let view =
        blocking::<_, ApiError>(move || state.set_app_public_key(&app_id, request.app_public_key))
            .await?;
    Ok(Json(view))
}

/// A gateway fault to set, or null to clear it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GatewayFaultRequest {
    #[schema(required)]
    fault: Option<crate::alipay::gateway::GatewayFault>,
}

impl EmptyBody for GatewayFaultRequest {}

/// Make the gateway's answers to this app wrong on purpose
///
/// Every v2 answer of `/gateway.do` to the app is made with the fault while it is set:
/// `tampered-body`, `other-key`, `no-sign`, `repeated-root`, `slashes-unescaped` (signed so: a
/// correct client accepts) or `system-busy`. The answer says what a correct client concludes.
#[utoipa::path(
    put,
    path = "/api/v1/apps/{app_id}/gateway-fault",
    operation_id = "setGatewayFault",
    params(AppIdParam),
    request_body(content = GatewayFaultRequest),
    responses(
        (status = 200, description = "`{fault, expect: {verdict, reason}}`", body = Object),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "Not a gateway fault (invalid_request)", body = ErrorBody),
        AppPathRefusals,
        StorageRefusal,
    ),
)]
async fn set_gateway_fault(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(request): Body<GatewayFaultRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.set_gateway_fault(&app_id, request.fault)?))
}

/// The device session now
///
/// The phone and Alipay account the page's calls come from: `{device_session, user}`, the
/// user being the `open_id` a login of this session gets. Every `my.getAuthCode` and
/// `getPhoneNumber` call is journaled with it.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/device-session",
    operation_id = "readDeviceSession",
    params(AppIdParam),
    responses(
        (status = 200, description = "`{device_session, user}`", body = Object),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ),
)]
async fn read_device_session(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.alipay_device_session(&app_id)?))
}

/// Start a new device session
///
/// Another phone with another Alipay account: its codes log in another user (another
/// `open_id`), and its calls are journaled with the new session's number.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/device-session",
    operation_id = "newDeviceSession",
    params(AppIdParam),
    responses(
        (status = 200, description = "`{device_session, user}`", body = Object),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ),
)]
async fn new_device_session(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.alipay_new_device_session(&app_id)?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LoginJournalQuery {
    /// Only this app's calls.
    app_id: Option<String>,
    /// Only this device session's calls.
    device_session: Option<u64>,
    /// At most this many, newest first (default 100).
    limit: Option<usize>,
}

/// Read the Alipay login journal
///
/// The page's `my.getAuthCode` calls and the backends' gateway requests (v2 and v3), newest
/// first, each with the device session whose code or token it carries and the user it logged
/// in: read with `GET /api/v1/journal`'s `device_session`, one user's login and phone call.
#[utoipa::path(
    get,
    path = "/api/v1/alipay/login-journal",
    operation_id = "readLoginJournal",
    params(LoginJournalQuery),
    responses(
        (status = 200, description = "Calls, newest first", body = Vec<crate::sim::state::AlipayLoginJournalEntry>),
        (status = 400, description = "A query that does not decode (invalid_query)", body = ErrorBody),
    ),
)]
async fn read_login_journal(
    State(state): State<SimState>,
    query: Result<Query<LoginJournalQuery>, QueryRejection>,
) -> Result<Json<Vec<crate::sim::state::AlipayLoginJournalEntry>>, ApiError> {
    let Query(query) = query?;
    Ok(Json(
        state.alipay_login_journal(
            query.app_id.as_deref(),
            query.device_session,
            query
                .limit
                .unwrap_or(100)
                .min(crate::sim::state::JOURNAL_CAPACITY),
        ),
    ))
}

/// The login's console settings
///
/// `id_mode`: which ids `alipay.system.oauth.token` answers with: `openid` (only `open_id`, the
/// default of new apps), `userid` (only `user_id`) or `both` (the migration's verification
/// phase). `union_group`: the app group; apps of one group get the same `union_id` for one
/// Alipay account.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/login-settings",
    operation_id = "readLoginSettings",
    params(AppIdParam),
    responses(
        (status = 200, description = "The settings", body = crate::sim::alipay_login::LoginSettings),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        AppPathRefusals,
    ),
)]
async fn read_login_settings(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<crate::sim::alipay_login::LoginSettings>, ApiError> {
    Ok(Json(state.login_settings(&app_id)?))
}

/// Set the login's console settings
///
/// The whole settings object; a field left out takes its default (`openid`, no group).
#[utoipa::path(
    put,
    path = "/api/v1/apps/{app_id}/login-settings",
    operation_id = "setLoginSettings",
    params(AppIdParam),
    request_body(content = crate::sim::alipay_login::LoginSettings),
    responses(
        (status = 200, description = "The settings", body = crate::sim::alipay_login::LoginSettings),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 409, description = "A WeChat app (wrong_platform)", body = ErrorBody),
        (status = 422, description = "An unknown field or id mode, or a group name that is empty, too long or has control characters (invalid_request)", body = ErrorBody),
        AppPathRefusals,
        StorageRefusal,
    ),
)]
async fn set_login_settings(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(settings): Body<crate::sim::alipay_login::LoginSettings>,
) -> Result<Json<crate::sim::alipay_login::LoginSettings>, ApiError> {
    Ok(Json(state.set_login_settings(&app_id, settings)?))
}

impl EmptyBody for crate::sim::alipay_login::LoginSettings {}
