//! The routes of apps: list, create, read, change, delete, reset.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppIdParam, AppPathRefusals, StorageRefusal};
use crate::alipay::fault::Fault;
use crate::alipay::model::{PartialAction, PartialConsole, PartialQuirks, PartialUser};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AppId, Body};
use crate::http::worker::blocking;
use crate::sim::state::{AppView, NewApp, SimState};

pub(super) fn routes() -> OpenApiRouter<SimState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(read_app, patch_app, delete_app))
        .routes(routes!(reset_app))
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
        StorageRefusal,
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
        AppPathRefusals,
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
        StorageRefusal,
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
        AppPathRefusals,
        (status = 409, description = "The app is the only one, and stays: reset it instead (last_app)", body = ErrorBody),
        StorageRefusal,
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
        AppPathRefusals,
        StorageRefusal,
    ),
)]
async fn reset_app(
    State(state): State<SimState>,
    AppId(app_id): AppId,
) -> Result<Json<AppView>, ApiError> {
    let view = blocking::<_, ApiError>(move || state.reset_app(&app_id)).await?;
    Ok(Json(view))
}
