//! The JSON API under `/api/v1`: a thin layer over [`SimState`].
//!
//! Every error is `{"error": {"code": "...", "message": "..."}}` with a 4xx status that says
//! what kind of mistake it was (400 malformed JSON, or a path, query or header that does not
//! decode, 404 unknown app, scenario or route, 405 wrong method, 409 app exists, 413 body over
//! 64 KiB, 422 a field with a bad or unknown name or value, an array where an object belongs);
//! the message names the field, value or part.
//!
//! The OpenAPI document of all routes is served at `/api/v1/openapi.json`. It is generated from
//! the handlers' `#[utoipa::path]` attributes and the `ToSchema` of the types they take and give
//! (utoipa-axum builds the router and the document from the same `routes!` calls), and
//! committed as `src/http/openapi.json`, which the binary serves: `tests/it/openapi.rs` regenerates
//! it and fails on any difference (`UPDATE_OPENAPI=1 cargo test --test it openapi` rewrites it),
//! and the API's tests check every answer against it.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::alipay::fault::Fault;
use crate::alipay::model::{PartialAction, PartialConsole, PartialQuirks, PartialUser};
use crate::alipay::scenario::Fixture;
use crate::oracle::{BusinessResult, Conclusion, Verdict};
use crate::sim::state::{
    AppView, JournalEntry, KeysView, NewApp, PhoneNumberRequest, SimState, StateError,
    VerifyRequest,
};
use crate::{catalogue, Error};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The header that applies a catalogue scenario to one `getPhoneNumber` call.
pub const SCENARIO_HEADER: &str = "x-alipay-sim-scenario";
/// The OpenAPI 3.1 document of every route, as committed: what [`openapi_document`] generates
/// (a test regenerates it and fails on any difference).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The document's root: what no route says.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "alipay-sim",
        version = "1.0.0",
        description = "Simulator of the Alipay open platform's my.getPhoneNumber flow. Throwaway \
            keys only. Errors are {\"error\": {\"code\", \"message\"}}; an unknown route is \
            404 route_not_found, a wrong method 405 method_not_allowed. Request bodies are JSON \
            whatever their Content-Type, at most 64 KiB; unknown fields are refused. Every route \
            answers loopback hosts only, and refuses cross-origin state changes, with 403 \
            (host_not_allowed, cross_origin_refused, preflight_required). Generated from the \
            handlers (src/http/api.rs); a test checks that it is the committed src/http/openapi.json.",
    ),
    servers((url = "http://127.0.0.1:8086")),
    components(schemas(ErrorBody))
)]
struct Root;

/// The API's routes and their OpenAPI document, made together: each `routes!` adds a path's
/// handlers to the router and their `#[utoipa::path]` documentation to the document.
fn api() -> OpenApiRouter<SimState> {
    OpenApiRouter::with_openapi(Root::openapi())
        .routes(routes!(healthz))
        .routes(routes!(openapi))
        .routes(routes!(list_apps, create_app))
        .routes(routes!(read_app, patch_app, delete_app))
        .routes(routes!(reset_app))
        .routes(routes!(read_keys))
        .routes(routes!(rotate_keys))
        .routes(routes!(apply_scenario))
        .routes(routes!(get_phone_number))
        .routes(routes!(list_scenarios))
        .routes(routes!(verify))
        .routes(routes!(read_journal, clear_journal))
        .routes(routes!(reset_all))
}

/// The OpenAPI document, generated from the handlers and the types they take and give.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = api().split_for_parts();
    for item in document.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            guarded(operation);
            body_may_be_left_out(operation);
        }
    }
    document
}

/// utoipa writes a `request_body` of `Option<T>` as "T or null" (and not required). Here it
/// means a body that may be left out ([`EmptyBody::empty`]); `null` is refused like any
/// other body that is not an object.
fn body_may_be_left_out(operation: &mut Operation) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let Some(RefOr::T(body)) = &mut operation.request_body else {
        return;
    };
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else {
            continue;
        };
        if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
            if let [item, RefOr::T(Schema::Object(null))] = one_of.items.as_slice() {
                if null.schema_type == utoipa::openapi::Type::Null.into() {
                    content.schema = Some(item.clone());
                }
            }
        }
    }
}

/// The committed form of [`openapi_document`]: pretty JSON and a final newline.
pub fn openapi_json() -> String {
    let document = openapi_document()
        .to_pretty_json()
        .expect("the document serialises");
    document + "\n"
}

/// Every route answers 403 for a host or origin it does not serve (see `crate::http::access`).
fn guarded(operation: &mut Operation) {
    let response = utoipa::openapi::ResponseBuilder::new()
        .description(
            "A host the simulator does not answer, or a state change from another origin \
             (host_not_allowed, cross_origin_refused, preflight_required)",
        )
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name(
                    ErrorBody::name(),
                )))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert("403".to_string(), response.into());
}

/// The (method, path) of every route, as the router serves them: the router and the document
/// are made by the same calls.
pub fn route_list() -> Vec<(String, String)> {
    let document = serde_json::to_value(openapi_document()).expect("the document serialises");
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// The API's routes; `server::router` adds the UI's and the layers. Made once: making them
/// makes the document too.
pub(crate) fn routes() -> Router<SimState> {
    static ROUTES: std::sync::OnceLock<Router<SimState>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| api().split_for_parts().0).clone()
}

macro_rules! error_codes {
    ($($code:ident = $name:tt,)+) => {
        /// What kind of mistake an error is; its message says more.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        pub enum ErrorCode {
            $(#[serde(rename = $name)] $code,)+
        }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $name,)+
                }
            }
        }
    };
}

error_codes! {
    MalformedJson = "malformed_json",
    InvalidRequest = "invalid_request",
    InvalidQuery = "invalid_query",
    InvalidHeader = "invalid_header",
    InvalidPath = "invalid_path",
    HostNotAllowed = "host_not_allowed",
    CrossOriginRefused = "cross_origin_refused",
    PreflightRequired = "preflight_required",
    AppNotFound = "app_not_found",
    ScenarioNotFound = "scenario_not_found",
    RouteNotFound = "route_not_found",
    MethodNotAllowed = "method_not_allowed",
    BodyTimeout = "body_timeout",
    AppExists = "app_exists",
    LastApp = "last_app",
    BodyTooLarge = "body_too_large",
    BadBody = "bad_body",
    FaultNotApplicable = "fault_not_applicable",
    StorageError = "storage_error",
    InternalError = "internal_error",
}

/// Every error's body: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What was wrong, naming the field, value or part.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: String) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

/// An error response: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code.as_str(), "{}", self.message);
        }
        (self.status, Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}

/// The one table from a state error to its HTTP status and error code, for the API and the UI.
pub(crate) fn status_of(error: &StateError) -> (StatusCode, ErrorCode) {
    match error {
        StateError::AppNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::AppNotFound),
        StateError::AppExists(_) => (StatusCode::CONFLICT, ErrorCode::AppExists),
        StateError::LastApp(_) => (StatusCode::CONFLICT, ErrorCode::LastApp),
        StateError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRequest),
        StateError::Engine(Error::UnknownScenario(_)) => {
            (StatusCode::NOT_FOUND, ErrorCode::ScenarioNotFound)
        }
        StateError::Engine(Error::FaultNotApplicable { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FaultNotApplicable,
        ),
        StateError::Engine(Error::Invalid { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRequest)
        }
        StateError::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError),
        StateError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::StorageError),
    }
}

impl From<StateError> for ApiError {
    fn from(error: StateError) -> Self {
        let (status, code) = status_of(&error);
        ApiError::new(status, code, error.to_string())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if timed_out(&rejection) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BodyTimeout,
                "the request body did not arrive in time",
            )
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                ErrorCode::BodyTooLarge,
                format!("request body is over the {} KiB limit", BODY_LIMIT / 1024),
            )
        } else {
            ApiError::new(status, ErrorCode::BadBody, rejection.body_text())
        }
    }
}

/// Whether reading the body stopped at the server's body timeout.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let status = rejection.status();
        let message = match &rejection {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => {
                    format!("{key} in the path is not UTF-8 once percent-decoded")
                }
                _ => format!("path: {}", e.body_text()),
            },
            _ => format!("path: {}", rejection.body_text()),
        };
        let code = if status.is_server_error() {
            ErrorCode::InternalError
        } else {
            ErrorCode::InvalidPath
        };
        ApiError::new(status, code, message)
    }
}

/// The `{app_id}` of a route. One that does not decode is a 400 naming it.
struct AppId(String);

impl<S: Send + Sync> FromRequestParts<S> for AppId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(app_id) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(AppId(app_id))
    }
}

/// A JSON request body of any content type (so `curl -d` works). An empty body is `T::default()`
/// where the route allows one. Malformed JSON is 400; unknown fields and bad values are 422.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + EmptyBody> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return T::empty().map(Body).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MalformedJson,
                    "the request needs a JSON body",
                )
            });
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(deserializer) {
            Ok(value) => Ok(Body(value)),
            Err(e) if e.inner().classify() == serde_json::error::Category::Data => {
                Err(invalid_field(e.path(), e.inner()))
            }
            // serde_json's reader reports some bad values as syntax: an enum (`sign_type`,
            // `fault`, `platform.busy`...) given a number, `null` or an array is "expected
            // value". JSON that parses is never malformed: read from the parsed value, every
            // error is one of type or value, naming the field.
            Err(_) => {
                let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::MalformedJson,
                        format!("request body is not valid JSON: {e}"),
                    )
                })?;
                serde_path_to_error::deserialize(value)
                    .map(Body)
                    .map_err(|e| invalid_field(e.path(), e.inner()))
            }
        }
    }
}

/// A 422 naming the field by its path, e.g. `console.gatway: unknown field ...`, or the
/// request body when the body itself is wrong.
fn invalid_field(path: &serde_path_to_error::Path, error: impl std::fmt::Display) -> ApiError {
    let path = path.to_string();
    let message = if path == "." {
        format!("request body: {error}")
    } else {
        format!("{path}: {error}")
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
        message,
    )
}

/// What an empty body means for a request type, if anything.
pub trait EmptyBody: Sized {
    fn empty() -> Option<Self> {
        None
    }
}

impl EmptyBody for NewApp {
    fn empty() -> Option<Self> {
        Some(NewApp::default())
    }
}
impl EmptyBody for PhoneNumberRequest {
    fn empty() -> Option<Self> {
        Some(PhoneNumberRequest::default())
    }
}
impl EmptyBody for Value {}
impl EmptyBody for VerifyRequest {}
impl EmptyBody for ScenarioRequest {}

/// Runs a state operation that may take a while (key generation, a synced write) off the
/// async workers. Shared with the UI, whose error type converts the same way.
pub(crate) async fn blocking<T, E>(
    operation: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StateError> + From<tokio::task::JoinError>,
{
    tokio::task::spawn_blocking(operation)
        .await?
        .map_err(E::from)
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            error.to_string(),
        )
    }
}

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
struct Health {
    #[schema(inline)]
    status: Up,
}

#[derive(Serialize, ToSchema)]
enum Up {
    #[serde(rename = "ok")]
    Ok,
}

/// Liveness
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    responses((status = 200, description = "Up", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: Up::Ok })
}

/// This document
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// List apps
#[utoipa::path(
    get,
    path = "/api/v1/apps",
    operation_id = "listApps",
    responses((status = 200, description = "Apps", body = Vec<AppView>)),
)]
async fn list_apps(State(state): State<SimState>) -> Json<Vec<AppView>> {
    Json(state.list_apps())
}

/// Create an app
///
/// Every field is optional: an empty body gives a fully configured app.
#[utoipa::path(
    post,
    path = "/api/v1/apps",
    operation_id = "createApp",
    request_body(content = Option<NewApp>, description = "The new app's settings; none is needed"),
    responses(
        (status = 201, description = "Created", body = AppView),
        (status = 400, description = "Malformed JSON (malformed_json, bad_body)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (body_timeout)", body = ErrorBody),
        (status = 409, description = "App exists (app_exists)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (body_too_large)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value: the message names it (invalid_request)", body = ErrorBody),
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
    ),
)]
async fn create_app(
    State(state): State<SimState>,
    Body(new): Body<NewApp>,
) -> Result<(StatusCode, Json<AppView>), ApiError> {
    let view = blocking::<_, ApiError>(move || state.create_app(new)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Read an app
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}",
    operation_id = "readApp",
    params(AppIdParam),
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 400, description = "An app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
    ),
)]
async fn read_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<AppView>, ApiError> {
    Ok(Json(state.app(&app_id)?))
}

/// A JSON merge patch of an app's settings (RFC 7386, except that `null` is kept): only the
/// fields sent change; `null` clears `console.isv`, `action.isv_app_id` and `fault`.
struct AppPatch;

impl utoipa::PartialSchema for AppPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        app_patch_fields().build()
    }
}

impl ToSchema for AppPatch {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.extend(app_patch_fields().schemas);
    }
}

fn app_patch_fields() -> crate::schema::Fields {
    crate::schema::Fields::new(
        "A JSON merge patch of an app's settings: only the fields sent change; null clears \
         console.isv, action.isv_app_id and fault",
    )
    .optional::<PartialConsole>("console")
    .optional::<PartialQuirks>("platform")
    .optional::<PartialUser>("user")
    .optional::<PartialAction>("action")
    .optional_nullable::<Fault>("fault")
    .closed()
}

/// Change part of an app's settings
///
/// Only the fields sent change, in the console, platform, user, action or fault (a JSON merge
/// patch); null clears isv and fault.
#[utoipa::path(
    patch,
    path = "/api/v1/apps/{app_id}",
    operation_id = "patchApp",
    params(AppIdParam),
    request_body = AppPatch,
    responses(
        (status = 200, description = "The changed app", body = AppView),
        (status = 400, description = "Malformed JSON or no body (malformed_json, bad_body), or an app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (body_timeout)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB (body_too_large)", body = ErrorBody),
        (status = 422, description = "Unknown field, or bad value: the message names it (invalid_request)", body = ErrorBody),
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
    ),
)]
async fn patch_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(patch): Body<Value>,
) -> Result<Json<AppView>, ApiError> {
    let view = blocking::<_, ApiError>(move || state.patch_app(&app_id, patch)).await?;
    Ok(Json(view))
}

/// Delete an app and its journal entries
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{app_id}",
    operation_id = "deleteApp",
    params(AppIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "An app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
        (status = 409, description = "The app is the only one, and stays: reset it instead (last_app)", body = ErrorBody),
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
    ),
)]
async fn delete_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<StatusCode, ApiError> {
    blocking::<_, ApiError>(move || state.delete_app(&app_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Back to the fully configured default (keys kept)
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/reset",
    operation_id = "resetApp",
    params(AppIdParam),
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 400, description = "An app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
    ),
)]
async fn reset_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<AppView>, ApiError> {
    let view = blocking::<_, ApiError>(move || state.reset_app(&app_id)).await?;
    Ok(Json(view))
}

/// The keys a backend needs
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}/keys",
    operation_id = "readKeys",
    params(AppIdParam),
    responses(
        (status = 200, description = "Keys", body = KeysView),
        (status = 400, description = "An app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
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
        (status = 400, description = "An app id in the path that is not UTF-8 once percent-decoded (invalid_path)", body = ErrorBody),
        (status = 404, description = "Unknown app (app_not_found)", body = ErrorBody),
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
    ),
)]
async fn rotate_keys(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<KeysView>, ApiError> {
    let keys = blocking::<_, ApiError>(move || state.rotate_keys(&app_id)).await?;
    Ok(Json(keys))
}

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
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
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
    headers: HeaderMap,
    Body(request): Body<PhoneNumberRequest>,
) -> Result<Response, ApiError> {
    let scenario = match headers.get(SCENARIO_HEADER) {
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidHeader,
                "X-Alipay-Sim-Scenario must be a scenario name in ASCII",
            )
        })?),
        None => None,
    };
    let prepared = state.prepare_call(&app_id, scenario, request)?;
    let fixture = if prepared.needs_signing() {
        signers().run(move || state.complete_call(prepared)).await?
    } else {
        state.complete_call(prepared)?
    };
    Ok(Json(&*fixture).into_response())
}

/// The `{app_id}` of a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documentation only: the `AppId` extractor reads it
struct AppIdParam {
    /// The app's id.
    app_id: String,
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
            rule: &s.expect.rule,
        })
        .collect();
    Json(list)
}

/// What a strict backend concludes from an envelope, with an app's keys or explicit ones
#[utoipa::path(
    post,
    path = "/api/v1/verify",
    operation_id = "verify",
    request_body = VerifyRequest,
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
    Body(request): Body<VerifyRequest>,
) -> Result<Json<Conclusion>, ApiError> {
    Ok(Json(state.verify(request)?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JournalQuery {
    /// Only this app's calls.
    app_id: Option<String>,
    /// At most this many (default 100; more than 1000 reads as 1000).
    #[param(minimum = 0)]
    limit: Option<usize>,
}

/// Calls, newest first
///
/// The last 1000 calls are kept, fewer when their backend answers pass 8 MiB.
#[utoipa::path(
    get,
    path = "/api/v1/journal",
    operation_id = "readJournal",
    params(JournalQuery),
    responses(
        (status = 200, description = "Entries", body = Vec<JournalEntry>),
        (status = 400, description = "A query that does not parse, or an unknown parameter (invalid_query)", body = ErrorBody),
    ),
)]
async fn read_journal(
    State(state): State<SimState>,
    query: Result<Query<JournalQuery>, QueryRejection>,
) -> Result<Json<Vec<JournalEntry>>, ApiError> {
    let Query(query) = query?;
    let limit = query
        .limit
        .unwrap_or(100)
        .min(crate::sim::state::JOURNAL_CAPACITY);
    Ok(Json(state.journal(query.app_id.as_deref(), limit)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ClearJournalQuery {
    /// Only this app's calls.
    app_id: Option<String>,
}

/// Clear the journal, or one app's entries
#[utoipa::path(
    delete,
    path = "/api/v1/journal",
    operation_id = "clearJournal",
    params(ClearJournalQuery),
    responses(
        (status = 204, description = "Cleared"),
        (status = 400, description = "A query that does not parse, or an unknown parameter (invalid_query)", body = ErrorBody),
    ),
)]
async fn clear_journal(
    State(state): State<SimState>,
    query: Result<Query<ClearJournalQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(query) = query?;
    state.clear_journal(query.app_id.as_deref());
    Ok(StatusCode::NO_CONTENT)
}

/// Everything back to the first-start state
#[utoipa::path(
    post,
    path = "/api/v1/reset",
    operation_id = "resetAll",
    responses(
        (status = 200, description = "The apps", body = Vec<AppView>),
        (status = 500, description = "The state could not be saved (storage_error)", body = ErrorBody),
    ),
)]
async fn reset_all(State(state): State<SimState>) -> Result<Json<Vec<AppView>>, ApiError> {
    let apps = blocking::<_, ApiError>(move || state.reset_all()).await?;
    Ok(Json(apps))
}

pub(crate) async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::RouteNotFound,
        format!("no route {method} {}; see /api/v1/openapi.json", uri.path()),
    )
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not take {method}; see /api/v1/openapi.json",
            uri.path()
        ),
    )
}
