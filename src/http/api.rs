//! The JSON API under `/api/v1`: a thin layer over [`SimState`].
//!
//! Every error is `{"error": {"code": "...", "message": "..."}}` with a 4xx status that says
//! what kind of mistake it was (400 malformed JSON, or a path, query or header that does not
//! decode, 404 unknown app, scenario or route, 405 wrong method, 409 app exists, 413 body over
//! 64 KiB, 422 a field with a bad or unknown name or value, an array where an object belongs);
//! the message names the field, value or part. The OpenAPI document of all routes is served
//! at `/api/v1/openapi.json`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sim::state::{NewApp, PhoneNumberRequest, SimState, StateError, VerifyRequest};
use crate::{catalogue, Error};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The header that applies a catalogue scenario to one `getPhoneNumber` call.
pub const SCENARIO_HEADER: &str = "x-alipay-sim-scenario";
/// The OpenAPI 3 document of every route.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route: method, path, handler. The router is built from this table, and a test checks
/// it against the OpenAPI document.
fn table() -> Vec<(&'static str, &'static str, MethodRouter<SimState>)> {
    vec![
        ("GET", "/healthz", get(healthz)),
        ("GET", "/api/v1/openapi.json", get(openapi)),
        ("GET", "/api/v1/apps", get(list_apps)),
        ("POST", "/api/v1/apps", post(create_app)),
        ("GET", "/api/v1/apps/{app_id}", get(read_app)),
        ("PATCH", "/api/v1/apps/{app_id}", patch(patch_app)),
        ("DELETE", "/api/v1/apps/{app_id}", delete(delete_app)),
        ("POST", "/api/v1/apps/{app_id}/reset", post(reset_app)),
        ("GET", "/api/v1/apps/{app_id}/keys", get(read_keys)),
        (
            "POST",
            "/api/v1/apps/{app_id}/keys/rotate",
            post(rotate_keys),
        ),
        (
            "POST",
            "/api/v1/apps/{app_id}/scenario",
            post(apply_scenario),
        ),
        (
            "POST",
            "/api/v1/apps/{app_id}/getPhoneNumber",
            post(get_phone_number),
        ),
        ("GET", "/api/v1/scenarios", get(list_scenarios)),
        ("POST", "/api/v1/verify", post(verify)),
        ("GET", "/api/v1/journal", get(read_journal)),
        ("DELETE", "/api/v1/journal", delete(clear_journal)),
        ("POST", "/api/v1/reset", post(reset_all)),
    ]
}

/// The (method, path) of every route, as the router serves them.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The API's routes, from the table; `server::router` adds the UI's and the layers.
pub(crate) fn routes() -> Router<SimState> {
    let mut api = Router::new();
    for (_, path, handler) in table() {
        api = api.route(path, handler);
    }
    api
}

/// An error response: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

/// The one table from a state error to its HTTP status and error code, for the API and the UI.
pub(crate) fn status_of(error: &StateError) -> (StatusCode, &'static str) {
    match error {
        StateError::AppNotFound(_) => (StatusCode::NOT_FOUND, "app_not_found"),
        StateError::AppExists(_) => (StatusCode::CONFLICT, "app_exists"),
        StateError::LastApp(_) => (StatusCode::CONFLICT, "last_app"),
        StateError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        StateError::Engine(Error::UnknownScenario(_)) => {
            (StatusCode::NOT_FOUND, "scenario_not_found")
        }
        StateError::Engine(Error::FaultNotApplicable { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "fault_not_applicable")
        }
        StateError::Engine(Error::Invalid { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
        }
        StateError::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        StateError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
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
                "body_timeout",
                "the request body did not arrive in time",
            )
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "body_too_large",
                format!("request body is over the {} KiB limit", BODY_LIMIT / 1024),
            )
        } else {
            ApiError::new(status, "bad_body", rejection.body_text())
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
            "invalid_query",
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
            "internal_error"
        } else {
            "invalid_path"
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
                    "malformed_json",
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
                        "malformed_json",
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
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
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
            "internal_error",
            error.to_string(),
        )
    }
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

async fn list_apps(State(state): State<SimState>) -> Json<impl Serialize> {
    Json(state.list_apps())
}

async fn create_app(
    State(state): State<SimState>,
    Body(new): Body<NewApp>,
) -> Result<(StatusCode, Json<impl Serialize>), ApiError> {
    let view = blocking::<_, ApiError>(move || state.create_app(new)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn read_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(state.app(&app_id)?))
}

async fn patch_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(patch): Body<Value>,
) -> Result<Json<impl Serialize>, ApiError> {
    let view = blocking::<_, ApiError>(move || state.patch_app(&app_id, patch)).await?;
    Ok(Json(view))
}

async fn delete_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<StatusCode, ApiError> {
    blocking::<_, ApiError>(move || state.delete_app(&app_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<impl Serialize>, ApiError> {
    let view = blocking::<_, ApiError>(move || state.reset_app(&app_id)).await?;
    Ok(Json(view))
}

async fn read_keys(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(state.keys(&app_id)?))
}

async fn rotate_keys(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<impl Serialize>, ApiError> {
    let keys = blocking::<_, ApiError>(move || state.rotate_keys(&app_id)).await?;
    Ok(Json(keys))
}

#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ScenarioRequest {
    name: String,
}
crate::de::object_only!(deserialize: ScenarioRequest);

async fn apply_scenario(
    State(state): State<SimState>,
    AppId(app_id): AppId,
    Body(request): Body<ScenarioRequest>,
) -> Result<Json<impl Serialize>, ApiError> {
    let view =
        blocking::<_, ApiError>(move || state.apply_scenario(&app_id, &request.name)).await?;
    Ok(Json(view))
}

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
                "invalid_header",
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
                "internal_error",
                "no signer thread",
            ));
        }
        result
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
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

async fn list_scenarios() -> Json<Value> {
    let list: Vec<Value> = catalogue()
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "title": s.title,
                "description": s.description,
                "source": s.source,
                "verdict": s.expect.verdict,
                "business_result": s.business_result(),
                "rule": s.expect.rule,
            })
        })
        .collect();
    Json(Value::Array(list))
}

async fn verify(
    State(state): State<SimState>,
    Body(request): Body<VerifyRequest>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(state.verify(request)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalQuery {
    app_id: Option<String>,
    limit: Option<usize>,
}

async fn read_journal(
    State(state): State<SimState>,
    query: Result<Query<JournalQuery>, QueryRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let Query(query) = query?;
    let limit = query
        .limit
        .unwrap_or(100)
        .min(crate::sim::state::JOURNAL_CAPACITY);
    Ok(Json(state.journal(query.app_id.as_deref(), limit)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearJournalQuery {
    app_id: Option<String>,
}

async fn clear_journal(
    State(state): State<SimState>,
    query: Result<Query<ClearJournalQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(query) = query?;
    state.clear_journal(query.app_id.as_deref());
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_all(State(state): State<SimState>) -> Result<Json<impl Serialize>, ApiError> {
    let apps = blocking::<_, ApiError>(move || state.reset_all()).await?;
    Ok(Json(apps))
}

pub(crate) async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route {method} {}; see /api/v1/openapi.json", uri.path()),
    )
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not take {method}; see /api/v1/openapi.json",
            uri.path()
        ),
    )
}
