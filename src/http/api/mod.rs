//! The JSON API under `/api/v1`: a thin layer over [`SimState`].
//!
//! Every error is `{"error": {"code": "...", "message": "..."}}` with a 4xx status that says
//! what kind of mistake it was (400 malformed JSON, or a path, query or header that does not
//! decode, 404 unknown app, scenario or route, 405 wrong method, 409 app exists, 413 body over
//! 64 KiB, 422 a field with a bad or unknown name or value, an array where an object belongs);
//! the message names the field, value or part.
//!
//! The OpenAPI document of all routes is served at `/api/v1/openapi.json`. It is generated from
//! the handlers' `#[utoipa::path]` attributes (here, in [`apps`] and in [`alipay`]) and the `ToSchema` of the types they take and give
//! (utoipa-axum builds the router and the document from the same `routes!` calls), and
//! committed as `src/http/openapi.json`, which the binary serves: `tests/it/openapi.rs` regenerates
//! it and fails on any difference (`UPDATE_OPENAPI=1 cargo test --test it openapi` rewrites it),
//! and the API's tests check every answer against it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::Operation;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::Body;
use crate::http::worker::blocking;
use crate::sim::state::{AppView, JournalEntry, SimState};

mod alipay;
mod apps;
pub(crate) mod wechat;

pub use crate::http::error::BODY_LIMIT;
pub use alipay::SCENARIO_HEADER;

/// The OpenAPI 3.1 document of every route, as committed: what [`openapi_document`] generates
/// (a test regenerates it and fails on any difference).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What every route under `/api/v1/apps/{app_id}` may answer besides its own: a path that does
/// not decode, an unknown app. Listed in the routes' `responses(...)`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its documentation is used
pub(super) enum AppPathRefusals {
    #[response(
        status = 400,
        description = "An app id in the path that is not UTF-8 once percent-decoded (invalid_path)"
    )]
    InvalidPath(ErrorBody),
    #[response(status = 404, description = "Unknown app (app_not_found)")]
    AppNotFound(ErrorBody),
}

/// What a route that saves the state may answer when the data directory refuses the write.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its documentation is used
pub(super) enum StorageRefusal {
    #[response(
        status = 500,
        description = "The state could not be saved (storage_error)"
    )]
    StorageError(ErrorBody),
}

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
            handlers (src/http/api/); a test checks that it is the committed src/http/openapi.json.",
    ),
    servers((url = "http://127.0.0.1:8086")),
    components(schemas(ErrorBody))
)]
struct Root;

/// The API's routes and their OpenAPI document, made together: each `routes!` adds a path's
/// handlers to the router and their `#[utoipa::path]` documentation to the document. Routes of
/// apps in general are in [`apps`], those of one platform's flows in a file of their own.
fn api() -> OpenApiRouter<SimState> {
    OpenApiRouter::with_openapi(Root::openapi())
        .routes(routes!(healthz))
        .routes(routes!(openapi))
        .merge(apps::routes())
        .merge(alipay::routes())
        .merge(wechat::routes())
        .routes(routes!(read_journal, clear_journal))
        .routes(routes!(read_journal_history))
        .routes(routes!(export_journal))
        .routes(routes!(reset_all))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(export_snapshot, load_snapshot))
                // A snapshot holds every app: more than an ordinary request.
                .layer(axum::extract::DefaultBodyLimit::max(SNAPSHOT_LIMIT)),
        )
}

/// The largest snapshot `PUT /api/v1/snapshot` takes.
const SNAPSHOT_LIMIT: usize = 8 << 20;

/// Export the whole set-up
///
/// Every app with its console and keys, each Alipay app's call count and the clock's offset:
/// loaded into another instance (`PUT /api/v1/snapshot`), it gives byte-identical answers.
/// It holds private keys (throwaway ones).
#[utoipa::path(
    get,
    path = "/api/v1/snapshot",
    operation_id = "exportSnapshot",
    responses((status = 200, description = "`{snapshot_version, exported_at, state, calls, clock_offset}`", body = Object)),
)]
async fn export_snapshot(State(state): State<SimState>) -> Json<serde_json::Value> {
    Json(state.export_snapshot())
}

/// Load a snapshot
///
/// Replaces every app with the snapshot's (checked as the state file is: on a refusal nothing
/// changes), and clears the journal and recordings.
#[utoipa::path(
    put,
    path = "/api/v1/snapshot",
    operation_id = "loadSnapshot",
    request_body(content = Object, description = "What `GET /api/v1/snapshot` gave"),
    responses(
        (status = 200, description = "The apps now", body = Vec<AppView>),
        (status = 400, description = "Malformed JSON (malformed_json)", body = ErrorBody),
        (status = 413, description = "Over 8 MiB", body = ErrorBody),
        (status = 422, description = "Not a snapshot this alipay-sim reads, naming the field (invalid_request)", body = ErrorBody),
        StorageRefusal,
    ),
)]
async fn load_snapshot(
    State(state): State<SimState>,
    Body(snapshot): Body<serde_json::Value>,
) -> Result<Json<Vec<AppView>>, ApiError> {
    let worker = state.clone();
    Ok(Json(
        blocking::<_, ApiError>(move || worker.load_snapshot(&snapshot)).await?,
    ))
}

/// The OpenAPI document, generated from the handlers and the types they take and give.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = api().split_for_parts();
    for (path, item) in document.paths.paths.iter_mut() {
        let open = matches!(path.as_str(), "/healthz" | "/api/v1/openapi.json");
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            guarded(operation);
            if !open {
                wants_admin_token(operation);
            }
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
/// A shared instance's 401, on every operation but the health check and this document.
fn wants_admin_token(operation: &mut Operation) {
    let response = utoipa::openapi::ResponseBuilder::new()
        .description(
            "A shared instance (started with an admin token) and no `Authorization: Bearer <token>` (unauthorized)",
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
        .insert("401".to_string(), response.into());
}

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

/// The API's routes; [`crate::http::app`] adds the UI's, the endpoints and the layers. Made once: making them
/// makes the document too.
pub(crate) fn routes() -> Router<SimState> {
    static ROUTES: std::sync::OnceLock<Router<SimState>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| api().split_for_parts().0).clone()
}

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
struct Health {
    #[schema(inline)]
    status: Up,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // the document's type: `healthz` sends it written out, as `UP`
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
async fn healthz() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], UP).into_response()
}

/// What `Health` serialises to, written once: the health check is polled.
const UP: &str = r#"{"status":"ok"}"#;

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

/// The `{app_id}` of a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documentation only: the `AppId` extractor reads it
pub(crate) struct AppIdParam {
    /// The app's id.
    app_id: String,
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
        StorageRefusal,
    ),
)]
async fn reset_all(State(state): State<SimState>) -> Result<Json<Vec<AppView>>, ApiError> {
    let apps = blocking::<_, ApiError>(move || state.reset_all()).await?;
    Ok(Json(apps))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// Only this app's calls.
    app_id: Option<String>,
    /// Only calls at or after this time (RFC 3339, e.g. `2026-12-02T08:00:00Z`).
    since: Option<String>,
    /// Only calls before this time (RFC 3339).
    until: Option<String>,
    /// Only calls whose oracle concludes this verdict (`accept`, `reject-signature`…).
    verdict: Option<String>,
    /// Only this flow: `alipay-phone`, `alipay-login` or `wechat`.
    flow: Option<String>,
    /// At most this many (default 100 for the history, every match for the export).
    #[param(minimum = 0)]
    limit: Option<u64>,
}

impl HistoryParams {
    fn query(
        self,
        default_limit: u64,
        oldest_first: bool,
    ) -> Result<crate::sim::journal_db::HistoryQuery, ApiError> {
        let time = |name: &str, text: Option<String>| -> Result<Option<i64>, ApiError> {
            text.map(|text| {
                time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                    .map_err(|e| {
                        ApiError::from(crate::sim::state::StateError::Invalid {
                            field: name.into(),
                            message: format!("{text:?} is not an RFC 3339 time ({e})"),
                        })
                    })
            })
            .transpose()
        };
        if let Some(flow) = &self.flow {
            if !["alipay-phone", "alipay-login", "wechat"].contains(&flow.as_str()) {
                return Err(crate::sim::state::StateError::Invalid {
                    field: "flow".into(),
                    message: format!(
                        "{flow:?} is not a flow: alipay-phone, alipay-login or wechat"
                    ),
                }
                .into());
            }
        }
        Ok(crate::sim::journal_db::HistoryQuery {
            since_ms: time("since", self.since)?,
            until_ms: time("until", self.until)?,
            app_id: self.app_id,
            verdict: self.verdict,
            flow: self.flow,
            limit: self.limit.unwrap_or(default_limit),
            oldest_first,
        })
    }
}

/// The durable journal, newest first
///
/// Every call answered, kept in SQLite in the data directory (the last 50,000 by default,
/// `--journal-retention`): it survives restarts, crashes and SIGKILL, since a call is answered
/// only once its entry is committed. Filter by app, time range, verdict and flow. Each entry
/// is the live journal's shape for its flow. With `--ephemeral`, the live journal's entries
/// (the last 1000), filtered alike.
#[utoipa::path(
    get,
    path = "/api/v1/journal/history",
    operation_id = "readJournalHistory",
    params(HistoryParams),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<Object>),
        (status = 400, description = "An unknown parameter, or one that does not parse (invalid_query)", body = ErrorBody),
        (status = 422, description = "A time that is not RFC 3339, or an unknown flow (invalid_request)", body = ErrorBody),
    ),
)]
async fn read_journal_history(
    State(state): State<SimState>,
    query: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let Query(params) = query?;
    let query = params.query(100, false)?;
    Ok(Json(
        blocking::<_, ApiError>(move || state.journal_history(&query)).await?,
    ))
}

/// The durable journal as JSON Lines
///
/// The same entries and filters as `/api/v1/journal/history`, oldest first, one JSON object
/// per line (`application/x-ndjson`), every match unless `limit` says otherwise.
#[utoipa::path(
    get,
    path = "/api/v1/journal/export",
    operation_id = "exportJournal",
    params(HistoryParams),
    responses(
        (status = 200, description = "One entry per line, oldest first", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "An unknown parameter, or one that does not parse (invalid_query)", body = ErrorBody),
        (status = 422, description = "A time that is not RFC 3339, or an unknown flow (invalid_request)", body = ErrorBody),
    ),
)]
async fn export_journal(
    State(state): State<SimState>,
    query: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = query?;
    let query = params.query(u64::MAX >> 1, true)?;
    let entries = blocking::<_, ApiError>(move || state.journal_history(&query)).await?;
    let mut lines = String::new();
    for entry in entries {
        lines.push_str(&entry.to_string());
        lines.push('\n');
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        lines,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_health_check_answers_what_its_documented_type_serialises_to() {
        let health = super::Health {
            status: super::Up::Ok,
        };
        assert_eq!(serde_json::to_string(&health).unwrap(), super::UP);
    }
}
